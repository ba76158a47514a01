"""Matching visits to decision-makers: quality on the labelled scenario, and throughput.

The seeded scenario of `benchmarks/_decision_makers_scenario.py` (one entity's register of
about OFFICIALS people over 2024, VISITS visits with known outcomes) goes through
`match_visits`:

- quality: precision and recall of "match" (a predicted match is correct when it names the
  expected entry), the outcomes against the truth, how many true matches went to "uncertain";
- throughput: visits per second of `match_visits` over all the visits, REPEATS times, each
  with a fresh `Matcher` (index built, caches empty: what one entity's pass costs), then
  REPEATS times over a warm `Matcher`; and the cost of scoring the similarity of one name that
  has no exact or variant hit (the only per-name work that grows with the register).

    python -m benchmarks decision_makers   (BENCH_DECISION_MAKERS_VISITS, default 1,000,000)
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections import Counter

from benchmarks._decision_makers_scenario import scenario
from benchmarks._host import machine_line
from pipeline.consolidation import decision_makers as dm

SECTION = "decision_makers"
VISITS = int(os.environ.get("BENCH_DECISION_MAKERS_VISITS", "1000000"))
OFFICIALS = 200
SEED = 2024
REPEATS = 3
OUTCOMES = ("match", "uncertain", "none")
_NO_HIT_KINDS = ("errata", "nombre_parecido", "no_decisor")


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}".replace(",", " ")


def _n(value: int) -> str:
    return f"{value:,}".replace(",", " ")


def run() -> str:
    started = time.perf_counter()
    before = machine_line()
    t0 = time.perf_counter()
    case = scenario(SEED, VISITS, OFFICIALS)
    generated = time.perf_counter() - t0

    # quality
    results = list(dm.match_visits(case.visits, case.register))
    confusion: Counter[tuple[str, str]] = Counter()
    correct = 0
    for result in results:
        outcome, official = case.truth[result.id_visita]
        confusion[outcome, result.outcome] += 1
        if result.outcome == "match" and outcome == "match" and result.official == official:
            correct += 1
    predicted = sum(confusion[t, "match"] for t in OUTCOMES)
    true = sum(confusion["match", p] for p in OUTCOMES)
    precision = correct / predicted if predicted else 1.0
    recall = correct / true if true else 1.0
    wrong_kinds = Counter(case.kinds[r.id_visita] for r in results
                          if (r.outcome, r.official) != case.truth[r.id_visita])

    # throughput: a fresh matcher each time, then a warm one. The scenario's million visits
    # are frozen out of the garbage collector's scans: a pass streams its visits and would
    # not keep them all as Python objects, so their scanning is not the matcher's cost.
    del results
    gc.collect()
    gc.freeze()
    cold: list[float] = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        matcher = dm.Matcher(case.register)
        for visit in case.visits:
            matcher.match(visit)
        cold.append(time.perf_counter() - t0)
    warm_runs: list[float] = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        for visit in case.visits:
            matcher.match(visit)
        warm_runs.append(time.perf_counter() - t0)
    warm = min(warm_runs)
    distinct_triples = len({(v.funcionario_nombre, v.funcionario_cargo, v.funcionario_area)
                            for v in case.visits})
    no_hit = sorted({dm.normalise_name(v.funcionario_nombre or "") for v in case.visits
                     if case.kinds[v.id_visita] in _NO_HIT_KINDS})
    choices = list(dict.fromkeys(dm.normalise_name(o.nombre) for o in case.register))
    rounds = max(1, 20_000 // max(1, len(no_hit)))
    t0 = time.perf_counter()
    for _ in range(rounds):
        for name in no_hit:
            dm._similar_names(name, choices)
    per_name_us = (time.perf_counter() - t0) / (rounds * len(no_hit)) * 1e6

    best, median = min(cold), statistics.median(cold)
    people = len({o.nombre for o in case.register})
    lines = [
        "## Cruce de visitas con decisores (`benchmarks/decision_makers.py`)",
        "",
        f"Comando: `make bench` (`python -m benchmarks decision_makers`). Medido el "
        f"{time.strftime('%Y-%m-%d')}; la sección tardó "
        f"{time.perf_counter() - started:.0f} s.",
        f"Máquina al inicio: {before}.",
        f"Máquina al final: {machine_line()}.",
        "",
        f"Conjunto etiquetado: `scenario(seed={SEED}, visits={VISITS})` de "
        f"`benchmarks/_decision_makers_scenario.py`, generado en {generated:.1f} s: un registro "
        f"de {len(case.register)} entradas ({people} nombres distintos: cambios de cargo, "
        "ceses e ingresos a mitad de año, homónimos vigentes a la vez en otras áreas, "
        "decisores con un homónimo que no lo es) y "
        f"{_n(len(case.visits))} visitas de 2024 con su resultado esperado, de "
        f"{len(set(case.kinds.values()))} tipos (variantes de escritura del nombre, primer y "
        "último día de vigencia y el día siguiente, erratas, personal con nombres parecidos…).",
        "El resultado esperado de cada visita sigue las reglas de `docs/decisores.md`: estas "
        "cifras comprueban que el cruce las aplica en todos esos casos, no miden su acierto "
        "sobre registros reales.",
        "",
        "| esperado \\ obtenido | match | uncertain | none |",
        "|---|---:|---:|---:|",
    ]
    for t in OUTCOMES:
        lines.append(f"| {t} | " + " | ".join(_n(confusion[t, p]) for p in OUTCOMES) + " |")
    lines += [
        "",
        f"- **Precisión de «match»: {precision:.4f}** ({_n(correct)} correctos de "
        f"{_n(predicted)} predichos; correcto = la entrada del registro esperada).",
        f"- **Exhaustividad de «match»: {recall:.4f}** ({_n(correct)} de {_n(true)} "
        "coincidencias verdaderas).",
        f"- «uncertain»: {_n(sum(confusion[t, 'uncertain'] for t in OUTCOMES))} visitas para "
        f"revisión; coincidencias verdaderas que quedaron en «uncertain»: "
        f"{_n(confusion['match', 'uncertain'])}; en «none»: {_n(confusion['match', 'none'])}.",
        f"- Visitas cuyo resultado difiere del esperado: {_n(sum(wrong_kinds.values()))}"
        + (f" ({', '.join(f'{k}: {v}' for k, v in wrong_kinds.most_common())})."
           if wrong_kinds else "."),
        "",
        f"Velocidad: `Matcher(register)` nuevo y `match` de las {_n(len(case.visits))} visitas, "
        f"{REPEATS} veces ({_n(distinct_triples)} combinaciones distintas de nombre, cargo y área; "
        f"{_n(len(no_hit))} nombres sin coincidencia exacta ni variante, cuya similitud se "
        "calcula una vez por nombre).",
        "",
        "| medición | s | visitas/s |",
        "|---|---:|---:|",
        f"| en frío (índice y cachés nuevos), la mejor de {REPEATS} | {best:.2f} | "
        f"{_rate(len(case.visits), best)} |",
        f"| en frío, mediana | {median:.2f} | {_rate(len(case.visits), median)} |",
        f"| en caliente (mismo `Matcher`, todo en caché), la mejor de {REPEATS} | {warm:.2f} | "
        f"{_rate(len(case.visits), warm)} |",
        "",
        f"- Similitud de un nombre nuevo sin coincidencia contra los {len(choices)} nombres del "
        f"registro (rapidfuzz `token_sort_ratio`): {per_name_us:.0f} µs por nombre.",
        f"- A ese ritmo, 10 millones de visitas se cruzan en unos "
        f"{10_000_000 / (len(case.visits) / best):.0f} s en un núcleo.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
