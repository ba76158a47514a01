"""Pipeline: a full pass over a national dataset, then one entity's new upload (incremental).

Synthetic staged batches for 2,500 entities (default 10 million visits over two years) are
written straight into the warehouse as the ingestion stage leaves them (`valid.parquet` +
`batch.json` per batch: each entity's 2023 and 2024 files plus a late follow-up that fills the
exit time of 5 % of its 2024 visits), so validation is not part of this figure (see the
validation section). Then, each phase in its own process so its peak RSS is its own:

1. full: consolidation of every entity + full publication;
2. incremental: one entity's new upload (one day of visits, a real CSV in the official format)
   ingested with `ingest_entity`, consolidated (only that entity is recomputed) and published;
3. unchanged: consolidation and publication with nothing new.

    python -m benchmarks.pipeline [--rows N] [--no-docs]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from benchmarks._host import cpu_model, memory_gib, peak_rss_mib
from benchmarks._synthetic import PEOPLE_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
SECTION = "pipeline"
ENTITIES = 2500
DAYS = 730  # 2023-01-01 .. 2024-12-30
TARGET = 42  # the entity that uploads one new day
NEW_DAY = dt.date(2024, 12, 30)
NEW_ROWS = 40
TODAY = dt.date(2024, 12, 31)
HEADER = ("Fecha de Registro,Fecha de Visita,Entidad visitada,Visitante,Documento del visitante,"
          "Entidad del visitante,Funcionario visitado,Hora Ingreso,Hora Salida,Motivo,"
          "Lugar específico,Observación\n")


def ruc(k: int) -> str:
    return "20" + str(k).zfill(9)


def entities() -> list:
    from pipeline.registry import Entity

    return [Entity(ruc(k), f"Entidad {k}", "production", {"kind": "files"}, {})
            for k in range(ENTITIES)]


def settings(var: Path):
    from pipeline.settings import Settings

    return Settings(var_dir=var, pseudonym_key="clave-de-benchmark")


def generate(var: Path, rows: int) -> int:
    """Staged batches as ingestion writes them; returns the number of staged rows."""
    out = var / "gen"
    var.mkdir(parents=True, exist_ok=True)
    visits = f"""SELECT i, '20' || lpad((i % {ENTITIES})::VARCHAR, 9, '0') AS _entidad_ruc,
               DATE '2023-01-01' + (i * {DAYS} // {rows})::INTEGER AS fecha_visita,
               TIME '08:00' + INTERVAL ((i // {ENTITIES}) % 600) MINUTE AS hora_ingreso
        FROM range({rows}) t(i)"""
    fields = """fecha_visita AS fecha_registro, fecha_visita, hora_ingreso,
               {salida} AS hora_salida,
               """ + PEOPLE_COLUMNS + """, _entidad_ruc,
               sha256(_entidad_ruc || _archivo) AS _lote, _archivo,
               row_number() OVER (PARTITION BY _entidad_ruc, _archivo ORDER BY i) + 1 AS _fila,
               TIMESTAMPTZ '2025-01-01 00:00:00+00' AS _ingestado_en"""
    with duckdb.connect() as con:
        con.execute("SET preserve_insertion_order = false")
        # one file per batch: never close and reopen a partition while writing
        con.execute("SET partitioned_write_max_open_files = 10000")
        con.execute(f"""COPY (
            SELECT {fields.format(salida="CASE WHEN i % 20 = 0 THEN NULL ELSE hora_ingreso + INTERVAL 30 MINUTE END")}
            FROM (SELECT *, 'visitas-' || year(fecha_visita) || '.csv' AS _archivo FROM ({visits}))
            UNION ALL
            SELECT {fields.format(salida="hora_ingreso + INTERVAL 45 MINUTE")}
            FROM (SELECT *, 'visitas-2024-b.csv' AS _archivo FROM ({visits}))
            WHERE i % 20 = 0 AND year(fecha_visita) = 2024
            ) TO '{out.as_posix()}' (FORMAT parquet, PARTITION_BY (_entidad_ruc, _archivo),
                                      WRITE_PARTITION_COLUMNS true)""")
        counts = con.execute(f"""SELECT _entidad_ruc, _archivo, _lote, count(*)
            FROM read_parquet('{out.as_posix()}/*/*/*.parquet', hive_partitioning = false)
            GROUP BY ALL""").fetchall()
    # Metadata only (a few thousand small JSON files), as ingestion leaves it per batch.
    for entity, name, sha, n in counts:
        target = var / "warehouse" / "batches" / entity / sha
        target.mkdir(parents=True)
        [part] = (out / f"_entidad_ruc={entity}" / f"_archivo={name}").glob("*.parquet")
        part.rename(target / "valid.parquet")
        (target / "batch.json").write_text(json.dumps({
            "tipo": "visitas", "entidad_ruc": entity, "archivo": name, "nombres": [name],
            "sha256": sha, "ingestado_en": "2025-01-01T00:00:00+00:00", "estado": "published",
            "rows": n, "filas_validas": n, "filas_rechazadas": 0}), encoding="utf-8")
    return sum(c[3] for c in counts)


def new_day_csv() -> bytes:
    lines = [HEADER]
    day = NEW_DAY.strftime("%d/%m/%Y")
    for j in range(NEW_ROWS):
        hour = dt.time(8 + j // 6, (j % 6) * 10).strftime("%H:%M")
        lines.append(f"{day},{day},Entidad {TARGET},VISITANTE NUEVO {j},DNI {70000000 + j!s},"
                     f"Persona natural,FUNCIONARIO 1 - OFICINA - DIRECTOR,{hour},,"
                     f"Reunión de trabajo - Coordinación,Sede central,\n")
    return "".join(lines).encode("utf-8")


def child(phase: str, var: Path, when: str) -> None:
    """One phase, in this process; prints its timings and peak RSS as JSON."""
    from pipeline.consolidation.visitas import consolidate
    from pipeline.ingestion.batches import ingest_entity
    from pipeline.publication.publisher import publish

    s = settings(var)
    regs = entities()
    times: dict[str, float] = {}
    start = time.perf_counter()
    if phase == "incremental":
        folder = Path(s.landing_url) / ruc(TARGET)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"visitas-{NEW_DAY.isoformat()}.csv").write_bytes(new_day_csv())
        outcome = ingest_entity(s, regs[TARGET], today=TODAY, now=dt.datetime.fromisoformat(when))
        assert outcome.error is None and outcome.count("valid_rows") == NEW_ROWS, outcome
        times["ingest"] = time.perf_counter() - start
    t0 = time.perf_counter()
    cons = consolidate(s, regs)
    times["consolidate"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pub = publish(s, now=dt.datetime.fromisoformat(when))
    times["publish"] = time.perf_counter() - t0
    times["total"] = time.perf_counter() - start
    print(json.dumps({"times": times, "rss_mib": peak_rss_mib(), "rows": cons.rows,
                      "staged_rows": cons.staged_rows, "recomputed": len(cons.recomputed_entities),
                      "changes": cons.changes, "written": len(pub.written),
                      "reused": len(pub.reused), "new_release": pub.new_release,
                      "published_changes": pub.changes}))



def _run(phase: str, var: Path, when: str) -> dict:
    result = subprocess.run([sys.executable, "-m", "benchmarks.pipeline", "--child", phase,
                             str(var), when], capture_output=True, text=True, cwd=ROOT)
    if result.returncode:
        raise RuntimeError(result.stderr[-4000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def machine() -> str:
    load = Path("/proc/loadavg").read_text().split()[:3]
    return (f"nproc {os.cpu_count()}, {cpu_model()}, {memory_gib():.0f} GiB RAM, "
            f"carga (uptime) {' '.join(load)}, Python {platform.python_version()}, "
            f"DuckDB {duckdb.__version__}")


def measure(rows: int) -> str:
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        var = Path(tmp) / "var"
        t0 = time.perf_counter()
        staged = generate(var, rows)
        gen = time.perf_counter() - t0
        before = machine()
        full = _run("full", var, "2025-01-01T00:00:00+00:00")
        inc = _run("incremental", var, "2025-01-02T00:00:00+00:00")
        same = _run("unchanged", var, "2025-01-03T00:00:00+00:00")
    memory = os.environ.get("VISITAS_DUCKDB_MEMORY", "2GB")

    def row(label: str, r: dict) -> str:
        t = r["times"]
        ingest = f"{t['ingest']:.1f} s" if "ingest" in t else "—"
        return (f"| {label} | {ingest} | {t['consolidate']:.1f} s | {t['publish']:.1f} s | "
                f"{t['total']:.1f} s | {r['rss_mib']:.0f} MiB | {r['recomputed']} | "
                f"{r['written']} / {r['reused']} |")

    lines = [
        "## Pipeline completo e incremental",
        "",
        f"Comando: `python -m benchmarks pipeline` (o `python -m benchmarks.pipeline --rows {rows}`), "
        f"{dt.date.today().isoformat()}.",
        f"Máquina: {before}.",
        "",
        f"{rows:,} visitas sintéticas de {ENTITIES} entidades en 24 meses, escritas directamente "
        f"como lotes ya validados (`valid.parquet` + `batch.json`; {staged:,} filas en "
        f"{ENTITIES * 3:,} lotes: 2023, 2024 y un seguimiento que completa la hora de salida del "
        f"5 % de 2024), generadas en {gen:.1f} s; la validación no entra en estas cifras. "
        f"La carga nueva sí es un CSV real de {NEW_ROWS} visitas de un día, ingerido con "
        f"`ingest_entity`. Límite de memoria de DuckDB en la consolidación: {memory}. "
        "Cada fase corre en su propio proceso (RSS máx. = VmHWM).",
        "",
        "| Fase | Ingesta | Consolidación | Publicación | Total | RSS máx. | Entidades recalculadas | Archivos escritos / reutilizados |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        row(f"Completa ({full['rows']:,} visitas)", full),
        row(f"Una entidad, un día ({NEW_ROWS} visitas nuevas)", inc),
        row("Sin cambios", same),
        "",
        f"Cambios publicados en la versión incremental: {inc['published_changes']}. "
        f"La consolidación incremental recalcula solo la entidad que cargó y reemplaza en "
        f"`visitas.duckdb` solo sus filas; las demás {ENTITIES - 1} entidades conservan su "
        "Parquet consolidado tal cual. En el total incremental pesa sobre todo la publicación "
        "(reescritura del mes y del año tocados; ver la sección de publicación).",
    ]
    return "\n".join(lines)


def run() -> str:
    """The section for docs/benchmarks.md (used by `python -m benchmarks`)."""
    return measure(int(os.environ.get("VISITAS_BENCH_ROWS", "10000000")))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pipeline")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--child", nargs=3, metavar=("PHASE", "VAR", "WHEN"))
    args = parser.parse_args(argv)
    if args.child:
        phase, var, when = args.child
        child(phase, Path(var), when)
        return
    section = measure(args.rows)
    print(section)
    if not args.no_docs:
        from benchmarks.__main__ import DOC, HEADER, replace_section

        text = DOC.read_text("utf-8") if DOC.exists() else HEADER
        DOC.write_text(replace_section(text, SECTION, section), encoding="utf-8")


if __name__ == "__main__":
    main()
