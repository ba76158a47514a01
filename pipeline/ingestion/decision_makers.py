"""The decision-makers register of each entity: its officials with public decision-making
capacity ("sujetos con capacidad de decisión pública"), whose meetings with interest
representatives are the "actos de gestión de intereses" the register of visits publishes.

The entity's administrator keeps the list as a file in the entity's landing area whose name
starts with `decisores` (`decisores.csv`, `decisores-2025-01.xlsx`; any suffix the upload
reader reads), one row per person and post:

    Nombre,Cargo,Área,Desde,Hasta
    PAREDES LUNA GLADYS MARLENE,GERENTE MUNICIPAL,GERENCIA MUNICIPAL,02/01/2023,
    MORI TELLO LUIS ENRIQUE,GERENTE,GERENCIA DE SERVICIOS A LA CIUDAD,02/01/2023,30/06/2024

It is read like a visit upload (`pipeline.ingestion.short_tables`: any encoding and delimiter,
title rows, XLSX and XLS, labels matched loosely, row numbers as a spreadsheet shows them) and
checked against its Table Schema, `schemas/decisores-registro.schema.json` (which fields, which
are required, how long, which are dates), with dates in the formats visit uploads accept (the
`parse_date` normalisation macro). Then the register's own rules: `Hasta` is not before
`Desde`, and one person (name with case, accents and spaces folded, as `person_name` and
`fold_text` read it) holds one post (a cargo in an area) in periods that do not overlap. An empty register is
refused too: it would silently leave the entity without decision-makers.

Each upload states the whole list as of its date, so a register with any error is rejected
WHOLE (status 'rejected'): the register in force stays in force, and the report says which.
Every upload is staged as a batch, by its sha256, as visit uploads are
(`var/warehouse/batches/<RUC>/<sha256>/`: batch.json with `"tipo": "decisores"`,
decisores.parquet, report.json, informe.txt, reporte.html), and its raw file is archived: every
version is kept. The accepted ones (status 'published') are the register's versions, oldest
first by reception time; the newest is the register in force. An entity's first accepted
register enables its lobbying acts; an entity without one publishes none.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.atomic import staged_dir
from pipeline.ingestion.short_tables import (
    TextRow,
    cell_issues,
    header_seen,
    join,
    locate,
    named,
    read_whole,
    text_rows,
)
from pipeline.ingestion.staging import FILES_KEY, data_files, sound
from pipeline.normalization import install_macros
from pipeline.settings import Settings
from pipeline.sources.readers import CellIssue, UnreadableUpload
from pipeline.spanish import lima_time, plural
from pipeline.validation.report import Report, ReportError
from pipeline.validation.schema import Field, TableSchema, load_schema

PREFIX = "decisores"
#: the batch kind (`tipo` in batch.json)
KIND = "decisores"
SCHEMA = "decisores-registro"
DATA_FILE = "decisores.parquet"
#: the status of an accepted register, as of a visit batch whose every row is valid
ACCEPTED = "published"
#: a header holds five labels: three of them find it below title rows
HEADER_MIN_KNOWN = 3
#: errors listed one by one in the summary (a register is short: usually all of them)
LISTED_ERRORS = 100
MEMBERS_SCHEMA = pa.schema([("nombre", pa.string()), ("cargo", pa.string()),
                            ("area", pa.string()), ("desde", pa.date32()),
                            ("hasta", pa.date32()), ("fila", pa.int32())])
#: what the note of a required cell left blank says, as frictionless writes it
REQUIRED_NOTE = 'constraint "required" is "True"'


@dataclass(frozen=True)
class DecisionMaker:
    """One row of an accepted register: a person in a post, from `desde` to `hasta` (both
    days included; None while in office). Texts as written, whitespace normalised."""

    nombre: str
    cargo: str
    area: str
    desde: dt.date
    hasta: dt.date | None
    #: the row number in the file, as a spreadsheet shows it
    fila: int


@dataclass(frozen=True)
class RegisterVersion:
    """One accepted upload of an entity's register: the whole list as of `received`."""

    entity_ruc: str
    sha256: str
    #: the file name as uploaded
    name: str
    #: when it was ingested (UTC): the version's date
    received: dt.datetime
    members: tuple[DecisionMaker, ...]


def is_register_file(name: str) -> bool:
    """A `decisores*` file named as a format the upload reader reads (.csv, .txt, .xlsx…)."""
    return named(name, PREFIX)


def register_schema(schemas_dir: Path) -> TableSchema:
    return load_schema(schemas_dir / f"{SCHEMA}.schema.json")


@dataclass
class RegisterReport(Report):
    """A register's validation report: the report of a visit upload (same JSON, summary and
    HTML page), with the register's verdict: accepted whole, or rejected whole."""

    upload: bool = False
    #: what stays in force when this register is rejected (a Spanish clause); empty when
    #: unknown (`visitas validate` without an entity)
    fallback: str = ""
    #: why the file as a whole is refused (its header, no rows), and what it must be like
    why: str = ""
    detail: str = ""

    def verdict_es(self) -> str:
        if self.valid:
            return f"registro de decisores aceptado: {_members_text(self.valid_rows)}."
        why = self.why or ("no se pudo leer el archivo" if self.unreadable else self.errors_es())
        fallback = f"; {self.fallback}" if self.fallback else ""
        detail = f" {self.detail}" if self.detail else ""
        return f"registro de decisores rechazado: {why}{fallback}.{detail}"

    def errors_es(self) -> str:
        if not self.rejected_rows:  # only the header's
            return plural(self.error_count, "error", "errores")
        return super().errors_es()

    def rows_outcome_es(self) -> str:
        return "el registro se rechaza entero" + (f" y {self.fallback}" if self.fallback else "")

    def summary_es(self, examples: int = LISTED_ERRORS) -> str:
        return super().summary_es(examples)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        summary = data["tasks"][0]["summary"]
        for visit_only in ("filasSinVisitas", "filasRepetidas"):
            del summary[visit_only]
        return data


def _members_text(count: int) -> str:
    return plural(count, "decisor", "decisores")


def fallback_text(previous: RegisterVersion | None) -> str:
    """What stays in force when a register is rejected, as a clause of its verdict."""
    if previous is None:
        return "la entidad sigue sin registro de decisores"
    return (f"sigue vigente el registro anterior, «{previous.name}», recibido el "
            f"{lima_time(previous.received)}, con {_members_text(len(previous.members))}")


def validate_register(path: Path, name: str, schema: TableSchema, *, sha256: str = "",
                      fallback: str = "", error_limit: int | None = None
                      ) -> tuple[RegisterReport, list[DecisionMaker]]:
    """Check one register file; its report, and its members when it is accepted (none when
    it has any error: a register is taken whole or not at all)."""
    started = time.perf_counter()
    report = RegisterReport(place=name, bytes=path.stat().st_size, sha256=sha256,
                            schema=schema.name, fallback=fallback)
    if error_limit is not None:
        report.error_limit = error_limit
    members = _check(path, name, schema, report)
    report.seconds = time.perf_counter() - started
    return report, members if report.valid else []


def _check(path: Path, name: str, schema: TableSchema, report: RegisterReport
           ) -> list[DecisionMaker]:
    columns = tuple(schema.field_names)
    try:
        stream, table = read_whole(path, name, list(columns), min_known=HEADER_MIN_KNOWN)
    except UnreadableUpload as exc:
        report.add(ReportError(exc.error_type, note=str(exc)))
        return []
    report.labels = list(stream.labels)
    report.warnings.extend(stream.notes)
    found = locate(stream.labels, columns)
    positions = {column: indexes[0] for column, indexes in found.items()}
    report.field_columns = {column: index + 1 for column, index in positions.items()}
    for column, indexes in found.items():
        # which of the two is meant cannot be guessed
        for index in indexes[1:]:
            report.add(ReportError("duplicate-label", fieldName=column, fieldNumber=index + 1,
                                   cell=stream.labels[index]))
    titles = {f.name: f.title or f.name for f in schema.fields}
    missing = [column for column in columns if column not in found]
    if missing:
        # every column is needed, `Hasta` too (blank while in office): a register without it
        # would say nobody ever left
        shown = join([f"«{titles[c]}»" for c in missing])
        report.why = (f"falta la columna {shown}" if len(missing) == 1 else
                      f"faltan las columnas {shown}")
        report.detail = (f"El registro debe tener las columnas "
                         f"{join([f'«{titles[c]}»' for c in columns])}, en cualquier orden. "
                         f"{header_seen(stream.labels, stream.header_row)}")
        for column in missing:
            report.add(ReportError("missing-label", fieldName=column, note=report.detail))
        return []
    rows = text_rows(stream, table)
    report.rows = len(rows)
    if not rows:
        report.why = "no tiene ninguna fila de decisores"
        report.add(ReportError("empty-register"))
        return []
    checked = _check_rows(rows, positions, schema, cell_issues(stream, positions))
    errors = sorted((e for row in checked for e in row.errors),
                    key=lambda e: (e.rowNumber or 0, e.fieldNumber or 0))
    for error in errors:
        report.add(error)
    report.rejected_rows = sum(1 for row in checked if row.errors)
    if report.error_count:
        return []
    report.valid_rows = len(checked)
    return [row.member() for row in checked]


@dataclass
class _Row:
    number: int
    raw: dict[str, str]  # column → cell as written, stripped
    values: dict[str, Any]  # column → clean text or date; None when blank or unreadable
    person: str | None  # the name and the post, folded: who holds which post
    post: str | None
    errors: list[ReportError]

    def member(self) -> DecisionMaker:
        v = self.values
        return DecisionMaker(v["nombre"], v["cargo"], v["area"], v["desde"], v["hasta"],
                             self.number)


def _check_rows(rows: list[TextRow], positions: dict[str, int], schema: TableSchema,
                issues: list[tuple[CellIssue, str]]) -> list[_Row]:
    """Each row with its values and its errors: the schema's checks on each cell, then the
    register's rules across cells and rows."""
    columns = schema.field_names
    dates = [f.name for f in schema.fields if f.type == "date"]
    with duckdb.connect() as con:
        install_macros(con)
        con.register("lines", pa.table({
            "_i": pa.array(range(len(rows)), pa.int64()),
            **{c: pa.array([row.cells[positions[c]] for row in rows], pa.string())
               for c in columns}}))
        # texts as written with whitespace normalised; dates in every format uploads accept;
        # the person and the post (cargo in its area: two homonyms may each be "DIRECTOR" of
        # another office) folded (case, accents, spaces; 'APELLIDOS, NOMBRES')
        found = con.execute(f"""
            SELECT {', '.join(f'parse_date({c})' if c in dates else f'clean_text({c})'
                              for c in columns)},
                   fold_text(person_name(nombre)),
                   fold_text(cargo) || ' | ' || coalesce(fold_text(area), '')
            FROM lines ORDER BY _i""").fetchall()
    unread = {(issue.row, column): issue for issue, column in issues}
    checked: list[_Row] = []
    for line, values in zip(rows, found, strict=True):
        raw = {c: line.cells[positions[c]].strip() for c in columns}
        row = _Row(line.number, raw, dict(zip(columns, values[:len(columns)], strict=True)),
                   values[-2], values[-1], [])
        checked.append(row)
        if line.extra:  # the cells are shifted: nothing in the row can be trusted
            row.errors.append(ReportError("extra-cell", rowNumber=line.number))
            continue
        for f in schema.fields:
            error = _cell_error(f, line.number, positions[f.name] + 1, raw[f.name],
                                row.values[f.name], unread.get((line.number, f.name)))
            if error is not None:
                row.errors.append(error)
                row.values[f.name] = None  # a value with an error is no value
        start, end = row.values["desde"], row.values["hasta"]
        if start is not None and end is not None and end < start:
            row.errors.append(ReportError("end-before-start", rowNumber=line.number,
                                          fieldName="hasta",
                                          fieldNumber=positions["hasta"] + 1,
                                          cell=raw["hasta"], note=raw["desde"]))
    _overlaps(checked, positions)
    return checked


def _cell_error(f: Field, row: int, column: int, raw: str, value: object,
                issue: CellIssue | None) -> ReportError | None:
    """The schema's verdict on one cell (`value`: read from `raw`, None when blank or not a
    date), or the reader's finding on it, which explains the cell best."""
    where = {"rowNumber": row, "fieldName": f.name, "fieldNumber": column}
    if issue is not None:
        return ReportError(issue.kind, cell=issue.text, **where)
    if value is None and not raw:
        return ReportError("constraint-error", cell="", note=REQUIRED_NOTE, **where) \
            if f.required else None
    if value is None:  # written, but no date in any format uploads accept
        return ReportError("invalid-date", cell=raw, **where)
    limit = f.constraints.get("maxLength")
    if limit is not None and len(str(value)) > int(limit):
        return ReportError("constraint-error", cell=raw, note=f'constraint "maxLength" is '
                           f'"{limit}"', **where)
    return None


def _overlaps(rows: list[_Row], positions: dict[str, int]) -> None:
    """One person holds one post (a cargo in an area) in periods that do not overlap (both
    ends are days in the post). Each overlap is reported once, on the later row of the file,
    naming the earlier."""
    groups: dict[tuple[str, str], list[_Row]] = {}
    for row in rows:
        if not row.errors and row.person and row.post:
            groups.setdefault((row.person, row.post), []).append(row)
    for group in groups.values():
        for j, later in enumerate(group):
            for earlier in group[:j]:
                if _overlap(earlier, later):
                    later.errors.append(ReportError(
                        "overlapping-period", rowNumber=later.number, fieldName="desde",
                        fieldNumber=positions["desde"] + 1, cell=later.raw["desde"],
                        note=(f"el periodo de «{later.values['nombre']}» como "
                              f"«{later.values['cargo']}»{_in_area(later)} ({_period(later)}) "
                              "se superpone con "
                              f"el de la fila {earlier.number} ({_period(earlier)})")))
                    break


def _in_area(row: _Row) -> str:
    return f" en «{row.values['area']}»" if row.values.get("area") else ""


def _overlap(a: _Row, b: _Row) -> bool:
    never = dt.date.max  # in office: the period has no end yet
    return max(a.values["desde"], b.values["desde"]) <= min(a.values["hasta"] or never,
                                                              b.values["hasta"] or never)


def _period(row: _Row) -> str:
    start, end = row.values["desde"], row.values["hasta"]
    return (f"del {start:%d/%m/%Y} al {end:%d/%m/%Y}" if end is not None
            else f"del {start:%d/%m/%Y} en adelante")


@dataclass
class RegisterOutcome:
    status: str  # 'published' (accepted) | 'rejected'
    rows: int
    #: decision-makers registered (every row, or none: a register is taken whole)
    accepted: int
    #: rows with errors
    rejected: int
    summary: str
    #: False when the file could not be read as a register table at all
    readable: bool = True
    report: dict[str, Any] | None = None


def stage_register(path: Path, *, ruc: str, name: str, sha256: str, origin: str,
                   archived: str, size: int, ingested: dt.datetime, target: Path,
                   schema: TableSchema, previous: RegisterVersion | None) -> RegisterOutcome:
    """Stage one register upload into `target`: decisores.parquet (its members; none when it
    is rejected), report.json, informe.txt, reporte.html and batch.json. `previous`: the
    register in force before this one, which stays in force if this one is rejected."""
    from pipeline.validation.html import render_html

    report, members = validate_register(path, name, schema, sha256=sha256,
                                        fallback=fallback_text(previous))
    report.bytes = size
    status = ACCEPTED if report.valid else "rejected"
    summary = report.summary_es()
    meta = {
        "tipo": KIND, "entidad_ruc": ruc, "archivo": name, "nombres": [name],
        "origen": origin, "archivo_crudo": archived, "sha256": sha256, "bytes": size,
        "ingestado_en": ingested.isoformat(), "formato": schema.name, "estado": status,
        "legible": report.readable, "rows": report.rows, "filas_validas": report.valid_rows,
        "filas_rechazadas": report.rejected_rows,
    }
    # a crash never leaves half a batch: the folder appears whole or not at all
    with staged_dir(target) as scratch:
        pq.write_table(_members_table(members), scratch / DATA_FILE)
        # the record lists its data file as read back, and is written last
        meta[FILES_KEY] = data_files(scratch)
        (scratch / "report.json").write_text(report.to_json(), encoding="utf-8")
        (scratch / "informe.txt").write_text(summary + "\n", encoding="utf-8")
        (scratch / "reporte.html").write_text(render_html(report), encoding="utf-8")
        (scratch / "batch.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2),
                                            encoding="utf-8")
    return RegisterOutcome(status, report.rows, report.valid_rows, report.rejected_rows,
                           summary, readable=report.readable, report=report.to_dict())


def _members_table(members: list[DecisionMaker]) -> pa.Table:
    return pa.table({
        "nombre": [m.nombre for m in members], "cargo": [m.cargo for m in members],
        "area": [m.area for m in members], "desde": [m.desde for m in members],
        "hasta": [m.hasta for m in members], "fila": [m.fila for m in members],
    }, schema=MEMBERS_SCHEMA)


def register_versions(settings: Settings, ruc: str) -> list[RegisterVersion]:
    """The entity's accepted registers, oldest first (by reception, then sha256)."""
    from pipeline.ingestion.staged import batch_records

    versions = []
    for record in batch_records(settings, {ruc}):
        path = _accepted_data(settings, record)
        if path is None:
            continue
        members = tuple(DecisionMaker(**row) for row in pq.read_table(path).to_pylist())
        versions.append(RegisterVersion(
            entity_ruc=ruc, sha256=record["sha256"], name=record["archivo"],
            received=dt.datetime.fromisoformat(record["ingestado_en"]), members=members))
    return sorted(versions, key=lambda v: (v.received, v.sha256))


def register_in_force(settings: Settings, ruc: str) -> RegisterVersion | None:
    """The entity's newest accepted register; None when it has none (it publishes no
    lobbying acts)."""
    versions = register_versions(settings, ruc)
    return versions[-1] if versions else None


def register_before(settings: Settings, ruc: str, received: dt.datetime,
                    sha256: str) -> RegisterVersion | None:
    """The register in force when the upload (`received`, `sha256`) arrived."""
    earlier = [v for v in register_versions(settings, ruc)
               if (v.received, v.sha256) < (received, sha256)]
    return earlier[-1] if earlier else None


def entities_with_register(settings: Settings) -> list[str]:
    """The entities (RUC, sorted) with at least one accepted register."""
    from pipeline.ingestion.batches import batch_folders

    found: set[str] = set()
    for folder in batch_folders(settings):
        # only a register's folder holds its data file: the records of the many batches of
        # visits are not read
        if folder.parent.name in found or not (folder / DATA_FILE).is_file():
            continue
        try:
            record = json.loads((folder / "batch.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a damaged record: the next ingestion repairs it or sets it aside
        if _accepted_data(settings, record) is not None:
            found.add(record["entidad_ruc"])
    return sorted(found)


def _accepted_data(settings: Settings, record: dict[str, Any]) -> Path | None:
    """The members' file of an accepted register's batch `record`; None for another batch,
    or one whose data is not there as its record says (not trusted: the next ingestion stages
    it again from the raw archive)."""
    from pipeline.ingestion.staged import batch_file

    if record.get("tipo") != KIND or record.get("estado") != ACCEPTED:
        return None
    path = batch_file(settings, record, DATA_FILE)
    return path if path is not None and sound(path.parent, record) else None
