"""Synthetic uploads in both layouts, the typed Table Schemas frictionless-py checks them
against, and a way to run a command and read its own peak memory.

An upload is what one entity sends: its visits of a stretch of days, sorted by day, with the
repetition of a real visitor log (a few thousand visitors, about fifty officials, a few dozen
reasons and rooms) and about 0.3 % of rows broken in ways that both frictionless-py, given
the typed schema below, and our validation detect:

- `fecha`: an impossible date (31/02/2024, 31/04/2024…) in the visit date;
- `hora`: a malformed entry time, either off the pattern (`8h15`) or out of range (`25:70`);
- `vacio`: an empty required cell (the visitor, or the official visited);
- `largo`: a cell over its maxLength (the reason's detail, or the observation: 1,001+ chars).

Every other cell is valid for the register's domain rules too (documents well formed, exit
after entry, registration on or after the visit, dates in the past), so the errors found are
exactly the broken cells.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OFFICIAL = "upload-oficial"
NORMALISED = "upload-normalizado"
LAYOUTS = (NORMALISED, OFFICIAL)
#: one row in BREAK_EVERY is broken, by one of the four kinds in turn (4 / 1,333 ≈ 0.3 %)
BREAK_EVERY = 1333
BROKEN_KINDS = ("fecha", "hora", "vacio", "largo")

_SURNAMES = ["QUISPE", "FLORES", "SÁNCHEZ", "RODRÍGUEZ", "GARCÍA", "ROJAS", "MAMANI",
             "HUAMÁN", "CHÁVEZ", "TORRES", "RAMÍREZ", "MENDOZA", "VARGAS", "CASTILLO",
             "ESPINOZA", "GUTIÉRREZ", "DÍAZ", "LÓPEZ", "PÉREZ", "MUÑOZ"]
_NAMES = ["JUAN CARLOS", "MARÍA ELENA", "LUIS ALBERTO", "ROSA", "JOSÉ LUIS", "CARMEN",
          "JORGE", "ANA LUCÍA", "MIGUEL ÁNGEL", "GLADYS"]
_AREAS = ["GERENCIA MUNICIPAL", "OFICINA GENERAL DE ADMINISTRACIÓN",
          "GERENCIA DE DESARROLLO URBANO - SUBGERENCIA DE CATASTRO", "PROCURADURÍA PÚBLICA",
          "OFICINA DE ASESORÍA JURÍDICA", "DESPACHO DE ALCALDÍA", "GERENCIA DE RENTAS",
          "OFICINA DE TECNOLOGÍAS DE LA INFORMACIÓN"]
_POSTS = ["GERENTE", "DIRECTOR GENERAL", "ESPECIALISTA", "ASESOR", "JEFE DE OFICINA"]
_REASONS = ["Reunión de trabajo", "Gestión de intereses", "Otros Motivos",
            "Trámite documentario"]
_DETAILS = ["Coordinación de actividades", "Entrega de documentos", "Seguimiento de trámite",
            "Solicitud de información", "Presentación de propuesta", "Consulta sobre expediente",
            "Revisión de convenio", "Mesa de trabajo"]
_PLACES = ["Sala de reuniones", "Despacho de Alcaldía", "Mesa de partes", "Oficina 201",
           "Auditorio", "Sede central"]


def _list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _pick(values: list[str], index: str) -> str:
    return f"{_list(values)}[1 + ({index}) % {len(values)}]"


def visits_sql(rows: int, *, days: int = 300, start: str = "2024-01-01", seed: int = 0,
               entity_name: str = "MUNICIPALIDAD DISTRITAL DE EJEMPLO",
               entity_ruc: str = "20999100016") -> str:
    """A query of `rows` visits over `days` days, every fact in its own column (as text)."""
    def draw(k: int, n: int) -> str:  # a deterministic pseudo-random 0..n-1 per row
        return f"(hash(i, {seed}, {k}) % {n})::BIGINT"

    entry = f"(480 + {draw(3, 540)})"  # minutes after midnight, 08:00–16:59
    stay = f"(15 + {draw(4, 106)})"
    broken = draw(9, BREAK_EVERY)
    surname = _pick(_SURNAMES, "v") + " || ' ' || " + _pick(_SURNAMES, "v // 20")
    return f"""
        SELECT
            i + 2 AS fila,
            CASE {broken} WHEN 0 THEN 'fecha' WHEN 1 THEN 'hora' WHEN 2 THEN 'vacio'
                          WHEN 3 THEN 'largo' END AS roto,
            strftime(dia + CASE WHEN {draw(5, 4)} = 0 THEN 1 ELSE 0 END, '%d/%m/%Y')
                AS fecha_registro,
            CASE WHEN {broken} = 0 THEN {_pick(['31/02/2024', '30/02/2024', '31/04/2024',
                                                '31/06/2024', '31/09/2024', '31/11/2024'],
                                               'i')}
                 ELSE strftime(dia, '%d/%m/%Y') END AS fecha_visita,
            CASE WHEN {broken} = 1 THEN CASE WHEN i % 2 = 0 THEN '8h' || lpad((i % 60)::VARCHAR, 2, '0')
                                             ELSE '25:70' END
                 ELSE lpad(({entry} // 60)::VARCHAR, 2, '0') || ':'
                      || lpad(({entry} % 60)::VARCHAR, 2, '0') END AS hora_ingreso,
            CASE WHEN {draw(6, 5)} = 0 THEN ''
                 ELSE lpad((({entry} + {stay}) // 60)::VARCHAR, 2, '0') || ':'
                      || lpad((({entry} + {stay}) % 60)::VARCHAR, 2, '0') END AS hora_salida,
            CASE WHEN {broken} = 2 AND i % 2 = 0 THEN ''
                 ELSE {surname} || ' ' || {_pick(_NAMES, "v // 400")} END AS visitante_nombre,
            CASE WHEN v % 25 = 0 THEN 'CE' WHEN v % 50 = 1 THEN 'PASAPORTE' ELSE 'DNI' END
                AS visitante_tipo_documento,
            CASE WHEN v % 25 = 0 THEN lpad((v * 7919 % 1000000000)::VARCHAR, 9, '0')
                 WHEN v % 50 = 1 THEN 'PE' || lpad((v * 104729 % 10000000)::VARCHAR, 7, '0')
                 ELSE lpad((10000000 + v * 15485863 % 89999999)::VARCHAR, 8, '0') END
                AS visitante_numero_documento,
            ['Entidad privada', 'Entidad pública', 'Persona natural'][1 + v % 3]
                AS visitante_tipo_entidad,
            CASE v % 3 WHEN 0 THEN 'EMPRESA ' || (v % 300) || ' S.A.C.'
                       WHEN 1 THEN 'MUNICIPALIDAD PROVINCIAL ' || (v % 150) END
                AS visitante_entidad,
            CASE WHEN {broken} = 2 AND i % 2 = 1 THEN ''
                 ELSE {_pick(_SURNAMES, "o * 7")} || ' ' || {_pick(_SURNAMES, "o * 3")} || ' '
                      || {_pick(_NAMES, "o")} END AS funcionario_nombre,
            {_pick(_AREAS, "o")} AS funcionario_area,
            {_pick(_POSTS, "o // 8")} AS funcionario_cargo,
            {_pick(_REASONS, draw(7, 7))} AS motivo,
            {_pick(_DETAILS, draw(8, 37))} || ' ' || {draw(8, 37)} AS motivo_detalle,
            {_pick(_PLACES, "o")} AS lugar,
            CASE WHEN {broken} = 3 THEN repeat('Observación extensa. ', 48 + (i % 20))
                 WHEN {draw(10, 50)} = 0 THEN 'Visita reprogramada'
                 ELSE '' END AS observacion,
            '{entity_name.replace("'", "''")}' AS entidad_nombre,
            '{entity_ruc}' AS entidad_ruc
        FROM (SELECT i, DATE '{start}' + (i * {days} // {rows})::INTEGER AS dia,
                     {draw(1, 4000)} AS v, {draw(2, 50)} AS o
              FROM range({rows}) t(i))
    """


#: the columns of each layout, as SQL over `visits_sql`'s columns; the normalised layout's
#: columns are its schema's fields in order (frictionless meets fields and columns by position)
_NORMALISED_OVERRIDES = {
    "motivo_detalle": "CASE WHEN roto = 'largo' THEN repeat(motivo_detalle || ' ', 60) "
                      "ELSE motivo_detalle END",
    "observacion": "CASE WHEN roto = 'largo' THEN '' ELSE observacion END",
}


def _normalised_select() -> str:
    fields = json.loads((ROOT / "schemas" / f"{NORMALISED}.schema.json").read_text("utf-8"))
    return ", ".join(f"{_NORMALISED_OVERRIDES.get(f['name'], f['name'])} AS {f['name']}"
                     for f in fields["fields"])


_OFFICIAL_SELECT = """fecha_registro AS "Fecha de Registro", fecha_visita AS "Fecha de Visita",
    entidad_nombre AS "Entidad visitada", visitante_nombre AS "Visitante",
    visitante_tipo_documento || ' ' || visitante_numero_documento AS "Documento del visitante",
    visitante_tipo_entidad || ' - ' || coalesce(visitante_entidad, 'a titulo personal')
        AS "Entidad del visitante",
    CASE WHEN funcionario_nombre = '' THEN ''
         ELSE funcionario_nombre || ' - ' || funcionario_area || ' - ' || funcionario_cargo END
        AS "Funcionario visitado",
    hora_ingreso AS "Hora Ingreso", hora_salida AS "Hora Salida",
    motivo || ' - ' || motivo_detalle AS "Motivo", lugar AS "Lugar específico",
    observacion AS "Observación\""""


def write_upload(path: Path, rows: int, layout: str, **options: object) -> None:
    """Write a CSV upload of `rows` visits in `layout` (seeded: the same file every time)."""
    import duckdb

    with duckdb.connect() as con:
        select = _normalised_select() if layout == NORMALISED else _OFFICIAL_SELECT
        con.execute(f"""COPY (SELECT {select} FROM ({visits_sql(rows, **options)})
                              ORDER BY fila)
                        TO '{path.as_posix()}' (HEADER, DELIMITER ',')""")


def head(src: Path, dest: Path, rows: int) -> None:
    """The header and the first `rows` data rows of a CSV (no cell holds a line break)."""
    with open(src, encoding="utf-8") as fh, open(dest, "w", encoding="utf-8") as out:
        for i, line in enumerate(fh):
            if i > rows:
                break
            out.write(line)


def typed_schema(layout: str) -> dict[str, object]:
    """The upload schema with dates and times typed, for frictionless-py.

    Dates become `type: date, format: %d/%m/%Y` and times `type: time, format: %H:%M` in
    place of their patterns; `required` and `maxLength` stay as they are; composite fields of
    the official layout stay strings (frictionless does not split them).
    """
    schema = json.loads((ROOT / "schemas" / f"{layout}.schema.json").read_text("utf-8"))
    fields = []
    for f in schema["fields"]:
        f = {k: v for k, v in f.items() if k in ("name", "type", "constraints")}
        constraints = dict(f.get("constraints", {}))
        name = f["name"].lower()
        if name.startswith("fecha"):
            constraints.pop("pattern", None)
            f.update(type="date", format="%d/%m/%Y")
        elif name.startswith("hora"):
            constraints.pop("pattern", None)
            f.update(type="time", format="%H:%M")
        f["constraints"] = constraints
        fields.append(f)
    return {"fields": fields, "missingValues": schema.get("missingValues", [""])}


# ------------------------------------------------------------------ measuring a command


def run_measured(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path = ROOT,
                 stdout: int | None = subprocess.DEVNULL,
                 on_line=None) -> dict[str, float | int]:
    """Run `cmd` and return its wall time (start-up included), exit code and peak RSS.

    Peak RSS is the process's own VmHWM, read from /proc while it runs (the high-water mark
    only grows, so the last reading before it exits is its peak, to within one poll). With
    `on_line`, stdout is read line by line and each line passed with its time since start and
    the peak RSS so far (MiB).
    """
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, text=True,
                            stdout=subprocess.PIPE if on_line else stdout,
                            stderr=subprocess.PIPE)
    peak = [0.0]
    done = threading.Event()

    def poll() -> None:
        status = Path(f"/proc/{proc.pid}/status")
        while not done.is_set():
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak[0] = max(peak[0], int(line.split()[1]) / 1024)
                        break
            except (FileNotFoundError, ProcessLookupError, ValueError):
                break
            done.wait(0.02)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    errors: list[str] = []
    reader = threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True)
    reader.start()
    if on_line is not None:
        for line in proc.stdout:
            on_line(time.perf_counter() - started, line.rstrip("\n"), peak[0])
    code = proc.wait()
    seconds = time.perf_counter() - started
    done.set()
    watcher.join()
    reader.join()
    return {"seconds": seconds, "code": code, "maxrss_mb": peak[0],
            "stderr": "".join(errors)[-4000:]}


def bench_env(**extra: str) -> dict[str, str]:
    """This environment, for children: the project importable, no bytecode writes."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **extra}
    return env
