"""Explicit withdrawal of published visits by the entity that registered them.

An entity withdraws visits declaratively, with a file in its own landing area whose name
starts with `retiros` (e.g. `retiros-2024-10.csv` or `retiros-octubre.xlsx`, written by hand,
saved from Excel, or written by `visitas withdraw`). Each row names one visit, either by its
published `id_visita` or by its natural key, and says why:

    id_visita,motivo
    3f9a0c1e2b4d5a6f,Registro duplicado por error del operador

    documento,fecha_visita,hora_ingreso,motivo
    DNI 12345678,05/08/2024,10:30,Visita anulada: el visitante no asistió

The file is read by the same reader as visit uploads (`pipeline.sources.readers`): any
encoding and delimiter it accepts, title rows above the header, XLSX and XLS, and row numbers as a
spreadsheet shows them. Labels are matched loosely, as upload labels are (case, accents,
spaces, '_': `Fecha Visita` is `fecha_visita`). The natural key is read with the same
normalisation macros as uploads, so it accepts the formats they do (05/08/2024, 2024-08-05,
10:30, 10:30 a. m., native Excel dates and times).

The file is archived and staged like any batch (by its sha256), so every withdrawal is kept
and audited; consolidation removes the visit from the dataset and records the withdrawal in
the history. A withdrawal only reaches the entity's own visits: the landing folder is the
entity's, and the identifier includes its RUC. A row that cannot be applied is reported with
its row number and the reason, in Spanish.

Each row is checked against the entity's staged batches when the file is staged, and the
summary tells them apart: the visits it withdraws; those that were withdrawn already (by an
earlier file, or an earlier row of the same file), which change nothing and are not recorded
again, so a repeated withdrawal is a no-op; and the rows that match no visit of the entity,
each listed with the identifier it gave, which withdraw nothing (not even a visit uploaded
later: the administrator was told it matched nothing).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.atomic import staged_dir
from pipeline.ingestion.short_tables import (
    cell_issues,
    header_seen,
    join,
    locate,
    named,
    quote,
    read_whole,
    text_rows,
)
from pipeline.ingestion.staging import FILES_KEY, data_files
from pipeline.normalization import install_macros
from pipeline.settings import Settings
from pipeline.sources.readers import ROW_NUMBER, TableStream, UnreadableUpload
from pipeline.spanish import plural
from pipeline.sql import path_list
from pipeline.validation.errors import ERROR_TYPES
from pipeline.validation.report import DEFAULT_ERROR_LIMIT

PREFIX = "retiros"
# Only these names: a visit upload's own labels ("Fecha de Visita", "Motivo") are not taken,
# or a copy of an upload saved as retiros*.csv would withdraw every visit in it, with the
# visit's reason recorded as the reason for withdrawing it.
COLUMNS = ("id_visita", "documento", "fecha_visita", "hora_ingreso", "motivo")
KEY_COLUMNS = ("documento", "fecha_visita", "hora_ingreso")
#: how the administrator reads each key part in a sentence
KEY_NAMES = {"documento": "el documento del visitante", "fecha_visita": "la fecha de visita",
             "hora_ingreso": "la hora de ingreso"}
#: a header holds the reason and one way to name the visit: two known labels suffice to find
#: it below title rows (the upload layouts need three)
HEADER_MIN_KNOWN = 2
#: a document type as named in a sentence ("no es un DNI válido")
DOCUMENT_NAMES = {"DNI": "DNI", "CE": "carné de extranjería", "PASAPORTE": "pasaporte",
                  "RUC": "RUC", "CDI": "CDI", "DMI": "DMI"}
VISIT_ID = re.compile(r"[0-9a-f]{16}")
#: a staged batch's folder name (its sha256)
BATCH_FOLDER = re.compile(r"[0-9a-f]{64}")
#: rows listed one by one in the summary; the report has them all
LISTED_ROWS = 100
#: visits named in the summary's first line
LISTED_IDS = 10
COLUMNS_NEEDED = ("El archivo de retiros debe tener la columna «motivo» y, para identificar la "
                  "visita, «id_visita» o bien «documento», «fecha_visita» y «hora_ingreso».")


def is_withdrawal_file(name: str) -> bool:
    """A `retiros*` file named as a format the upload reader reads (.csv, .txt, .xlsx, .xls…)."""
    return named(name, PREFIX)


@dataclass
class Problem:
    """Why a row (or the file) is not applied: a Frictionless or register error type, the
    column it is about, the cell as written, and a Spanish clause for the administrator."""

    type: str
    text: str
    column: str | None = None
    cell: str | None = None
    row: int | None = None
    #: 1-based position of the column in the file
    column_number: int | None = None

    @property
    def message(self) -> str:
        return f"Fila {self.row}: {self.text}." if self.row is not None else self.text

    def to_dict(self) -> dict[str, Any]:
        spec = ERROR_TYPES[self.type]
        data: dict[str, Any] = {
            "type": self.type, "title": spec.title, "description": spec.fix,
            "message": self.message,
            "tags": ["#table", "#row", "#cell"] if self.row else ["#table", "#header"],
            "note": self.text,
        }
        for key, value in (("rowNumber", self.row), ("fieldName", self.column),
                           ("fieldNumber", self.column_number), ("cell", self.cell)):
            if value is not None:
                data[key] = value
        return data


@dataclass
class WithdrawalOutcome:
    status: str  # 'published' | 'partial' | 'rejected', as for visit batches
    rows: int
    #: rows that withdraw a visit
    accepted: int
    summary: str
    #: False when the file could not be read as a withdrawal table at all
    readable: bool = True
    report: dict[str, Any] = field(default_factory=dict)
    #: rows naming a visit withdrawn already: nothing to do
    repeated: int = 0

    @property
    def rejected(self) -> int:
        """Rows that cannot be applied: an error, or no visit of the entity matches."""
        return self.rows - self.accepted - self.repeated


@dataclass
class _Row:
    number: int
    cells: dict[str, str | None]  # column → cell text; None when the file has no such column
    positions: dict[str, int]  # column → 0-based position in the file
    #: why the row has more cells than the header, if it has
    extra: str = ""
    #: cells the reader could not take at face value (XLSX formulas without a value, errors)
    issues: list[Problem] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    visit: str | None = None
    motivo: str | None = None
    #: the earlier withdrawal of the same visit (a row of this file, or another file)
    repeated: str | None = None

    def problem(self, kind: str, column: str, text: str) -> Problem:
        return Problem(kind, text, column=column, cell=(self.cells[column] or "").strip(),
                       row=self.number, column_number=self.positions[column] + 1
                       if column in self.positions else None)


def stage_withdrawals(path: Path, *, ruc: str, name: str, sha256: str, origin: str, archived: str,
                      size: int, ingested: dt.datetime, target: Path) -> WithdrawalOutcome:
    """Stage one withdrawal file into `target`: withdrawals.parquet (the rows that apply),
    report.json, informe.txt and batch.json."""
    started = time.monotonic()
    labels: list[str] = []
    rows: list[_Row] = []
    try:
        stream, table = _read(path, name)
        labels = stream.labels
        positions, problems, message = _header(stream.labels, stream.header_row)
        if not problems:
            rows = _rows(stream, table, positions)
    except UnreadableUpload as exc:
        problems, message = [Problem(exc.error_type, str(exc))], str(exc)
    with duckdb.connect() as con:
        install_macros(con)
        if rows:
            _resolve(con, rows, ruc)
            _match(con, rows, target)
        accepted = _accepted(con, rows, ruc=ruc, sha256=sha256, name=name, ingested=ingested)
    rejected = [row for row in rows if row.problems]
    repeated = [row for row in rows if row.repeated and not row.problems]
    unmatched = sum(1 for row in rejected if row.problems[0].type == "unknown-visit")

    head = _head(accepted.num_rows, repeated, unmatched, len(rejected) - unmatched)
    if problems:
        status, summary = "rejected", f"✘ {name}: {message}"
    elif rejected:
        status = "partial" if accepted.num_rows or repeated else "rejected"
        summary = "\n".join([
            f"✘ {name}: {head}:",
            *(f"  Fila {row.number}: {'; '.join(p.text for p in row.problems)}."
              for row in rejected[:LISTED_ROWS]),
            *([f"  … y {_rows_text(len(rejected) - LISTED_ROWS)} más."]
              if len(rejected) > LISTED_ROWS else []),
        ])
    elif rows:
        status, summary = "published", f"✔ {name}: {head}."
    else:
        # as a visit upload with only its header: valid, and nothing to do
        status = "published"
        summary = f"✔ {name}: el archivo no tiene filas; no se retira ninguna visita."
    errors = problems or [p for row in rejected for p in row.problems]
    report = _report(name, labels, errors, rows=len(rows), accepted=accepted.num_rows,
                     size=size, sha256=sha256, seconds=time.monotonic() - started)
    meta = {
        "tipo": "retiros", "entidad_ruc": ruc, "archivo": name, "nombres": [name],
        "origen": origin, "archivo_crudo": archived, "sha256": sha256, "bytes": size,
        "ingestado_en": ingested.isoformat(), "estado": status, "rows": len(rows),
        "filas_validas": accepted.num_rows, "filas_rechazadas": len(rejected),
        "filas_ya_retiradas": len(repeated), "filas_sin_visitas": 0,
    }
    # a crash never leaves half a batch: the folder appears whole or not at all
    with staged_dir(target) as scratch:
        pq.write_table(accepted, scratch / "withdrawals.parquet")
        # the record lists its data file as read back, and is written last
        meta[FILES_KEY] = data_files(scratch)
        (scratch / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=2),
                                             encoding="utf-8")
        (scratch / "informe.txt").write_text(summary + "\n", encoding="utf-8")
        (scratch / "batch.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2),
                                            encoding="utf-8")
    return WithdrawalOutcome(status, len(rows), accepted.num_rows, summary,
                             readable=not problems, report=report, repeated=len(repeated))


def _read(path: Path, name: str) -> tuple[TableStream, pa.Table]:
    """The whole file as text cells (withdrawal files are short), with the header's labels."""
    return read_whole(path, name, list(COLUMNS), min_known=HEADER_MIN_KNOWN)


def _header(labels: list[str], header_row: int) -> tuple[dict[str, int], list[Problem], str]:
    """Column → 0-based position in the file; the problems that reject the whole file, and
    what the summary says about them."""
    found = locate(labels, COLUMNS)
    problems: list[Problem] = []
    messages: list[str] = []
    for column, indexes in found.items():
        if len(indexes) > 1:
            # which of the two is meant cannot be guessed
            text = (f"La columna «{column}» aparece más de una vez en el encabezado (columnas "
                    f"{join([str(i + 1) for i in indexes])}): deje una sola.")
            problems.append(Problem("duplicate-label", text, column=column,
                                    cell=labels[indexes[1]], column_number=indexes[1] + 1))
            messages.append(text)
    missing: list[Problem] = []
    if "motivo" not in found:
        missing.append(Problem("missing-label", "Falta la columna «motivo» en el encabezado.",
                               column="motivo"))
    if "id_visita" not in found and not all(c in found for c in KEY_COLUMNS):
        missing.append(Problem(
            "missing-label", "Falta la columna «id_visita» (o bien «documento», «fecha_visita» y "
            "«hora_ingreso») en el encabezado.", column="id_visita"))
    if missing:
        messages.append(f"{COLUMNS_NEEDED} {header_seen(labels, header_row)}")
        problems.extend(missing)
    return {column: indexes[0] for column, indexes in found.items()}, problems, " ".join(messages)


def _rows(stream: TableStream, table: pa.Table, positions: dict[str, int]) -> list[_Row]:
    """Every row with something written in it, in file order, with the reader's own findings
    (cells too many, XLSX cells without a value) already noted."""
    rows: list[_Row] = []
    for line in text_rows(stream, table):  # a blank row names no visit
        row = _row(line.number, line.cells, positions)
        if line.extra:
            row.extra = _extra_cells_text(stream)
        rows.append(row)
    by_number = {row.number: row for row in rows}
    for issue, column in cell_issues(stream, positions):
        row = by_number.get(issue.row)
        if row is None:
            continue
        label = stream.labels[issue.column - 1].strip()
        text = (f"la celda de la columna «{label}» tiene la fórmula «{quote(issue.text)}» sin "
                "valor calculado (ábrala en Excel, recalcule y guarde el archivo)"
                if issue.kind == "formula-without-value" else
                f"la celda de la columna «{label}» muestra el error de Excel «{issue.text}» "
                "(corrija la fórmula o el dato que lo produce)")
        row.issues.append(Problem(issue.kind, text, column=column, cell=issue.text,
                                  row=issue.row, column_number=issue.column))
    return rows


def _row(number: int, cells: list[str], positions: dict[str, int]) -> _Row:
    return _Row(number, {column: cells[positions[column]] if column in positions else None
                         for column in COLUMNS}, positions)


def _extra_cells_text(stream: TableStream) -> str:
    if stream.file_format != "csv":
        return ("tiene datos a la derecha de la última columna del encabezado (bórrelos o "
                "ponga nombre a esa columna)")
    shown = "un tabulador" if stream.delimiter == "\t" else f"«{stream.delimiter}»"
    return f"tiene más celdas que el encabezado (si un valor lleva {shown}, enciérrelo entre comillas)"


def _resolve(con: duckdb.DuckDBPyConnection, rows: list[_Row], ruc: str) -> None:
    """Name each row's visit (its id_visita, or its natural key through the normalisation
    macros), or say why it cannot be named."""
    con.register("lines", pa.table(
        {"_i": pa.array(range(len(rows)), pa.int64()),
         **{column: pa.array([row.cells[column] for row in rows], pa.string())
            for column in COLUMNS}}))
    # a natural key only counts when every part of it is there and parses
    found = con.execute("""
        SELECT nullif(lower(clean_text(id_visita)), '') AS given_id,
               clean_text(motivo) AS motivo,
               doc_type(documento) AS doc_type,
               doc_number(documento) IS NOT NULL AS has_number,
               -- as validation checks the number of an uploaded visit
               CASE WHEN doc_type(documento) = 'RUC' THEN ruc_valid(doc_number(documento))
                    ELSE doc_number_valid(doc_type(documento), doc_number(documento))
               END AS number_ok,
               parse_date(fecha_visita) IS NOT NULL AS date_ok,
               parse_time(hora_ingreso) IS NOT NULL AS time_ok,
               CASE WHEN doc_type(documento) IS NOT NULL AND parse_date(fecha_visita) IS NOT NULL
                         AND parse_time(hora_ingreso) IS NOT NULL
                    THEN visit_id(?, doc_type(documento), doc_number(documento),
                                  parse_date(fecha_visita), parse_time(hora_ingreso))
               END AS by_key
        FROM lines ORDER BY _i""", [ruc]).fetchall()
    con.unregister("lines")
    for row, (given_id, motivo, doc_type, has_number, number_ok, date_ok, time_ok,
              by_key) in zip(rows, found, strict=True):
        if row.extra:  # the cells are shifted: nothing in the row can be trusted
            row.problems = [Problem("extra-cell", row.extra, row=row.number)]
            continue
        problems: list[Problem] = []
        cells = {column: (cell or "").strip() for column, cell in row.cells.items()}
        has_id_column = row.cells["id_visita"] is not None
        has_key_columns = all(row.cells[c] is not None for c in KEY_COLUMNS)
        if given_id is not None:
            if VISIT_ID.fullmatch(given_id):
                row.visit = given_id
            else:
                problems.append(row.problem(
                    "constraint-error", "id_visita",
                    f"el id_visita «{quote(cells['id_visita'])}» no es válido (el identificador "
                    "publicado tiene 16 caracteres: dígitos y letras de la a a la f)"))
        elif has_key_columns and (any(cells[c] for c in KEY_COLUMNS) or not has_id_column):
            missing = [c for c in KEY_COLUMNS if not cells[c]]
            if missing:
                verb = "falta" if len(missing) == 1 else "faltan"
                problems.append(row.problem(
                    "constraint-error", missing[0],
                    f"{verb} {join([KEY_NAMES[c] for c in missing])} para identificar la visita"))
            document = quote(cells["documento"])
            if cells["documento"] and doc_type is None:
                problems.append(row.problem(
                    "unknown-document-type", "documento",
                    f"no se reconoce el tipo de documento en «{document}» (escriba el tipo y el "
                    "número, por ejemplo DNI 12345678)"))
            elif cells["documento"] and not has_number:
                problems.append(row.problem("invalid-document-number", "documento",
                                            f"falta el número del documento «{document}»"))
            elif cells["documento"] and not number_ok:
                problems.append(row.problem(
                    "invalid-document-number", "documento",
                    f"«{document}» no es un {DOCUMENT_NAMES.get(doc_type, 'documento')} válido"))
            if cells["fecha_visita"] and not date_ok:
                problems.append(row.problem(
                    "invalid-date", "fecha_visita",
                    f"«{quote(cells['fecha_visita'])}» no es una fecha de visita válida (use "
                    "DD/MM/AAAA, por ejemplo 05/08/2024)"))
            if cells["hora_ingreso"] and not time_ok:
                problems.append(row.problem(
                    "invalid-time", "hora_ingreso",
                    f"«{quote(cells['hora_ingreso'])}» no es una hora de ingreso válida (use "
                    "HH:MM de 24 horas, por ejemplo 14:30)"))
            if not problems:
                row.visit = by_key
        elif has_key_columns:
            problems.append(row.problem(
                "constraint-error", "id_visita",
                "no identifica la visita (escriba su id_visita, o bien documento, fecha_visita "
                "y hora_ingreso)"))
        else:
            problems.append(row.problem("constraint-error", "id_visita", "falta el id_visita"))
        row.motivo = motivo
        if motivo is None:
            problems.append(row.problem("constraint-error", "motivo", "falta el motivo del retiro"))
        # a cell the reader could not read explains the problem of its column better
        unread = {p.column for p in row.issues}
        row.problems = [p for p in problems if p.column not in unread] + row.issues


def _match(con: duckdb.DuckDBPyConnection, rows: list[_Row], target: Path) -> None:
    """Among the rows naming a visit, note those withdrawn already (by another staged file of
    the entity, or an earlier row) and those no staged visit of the entity matches."""
    named = [row for row in rows if row.visit and not row.problems]
    if not named:
        return
    # the entity's other staged batches: `target`'s siblings (a batch being repaired is
    # staged again in place, and is not its own earlier withdrawal)
    siblings = [f for f in sorted(target.parent.glob("*")) if f.name != target.name
                and BATCH_FOLDER.fullmatch(f.name)] if target.parent.is_dir() else []
    known, withdrawn = _staged_states(con, siblings, {r.visit for r in named if r.visit})
    first: dict[str, int] = {}
    for row in named:
        assert row.visit is not None
        if row.visit in withdrawn:
            row.repeated = "otro archivo"
        elif row.visit in first:
            row.repeated = f"fila {first[row.visit]}"
        elif row.visit in known:
            first[row.visit] = row.number
        elif (row.cells["id_visita"] or "").strip():
            row.problems.append(row.problem(
                "unknown-visit", "id_visita", "ninguna visita de la entidad tiene el id_visita "
                f"«{quote(row.cells['id_visita'] or '')}»"))
        else:
            document, date, time = (quote(row.cells[c] or "") for c in KEY_COLUMNS)
            row.problems.append(row.problem(
                "unknown-visit", "documento", f"ninguna visita de la entidad tiene el documento "
                f"«{document}», la fecha de visita «{date}» y la hora de ingreso «{time}»"))


def _staged_states(con: duckdb.DuckDBPyConnection, folders: list[Path], ids: set[str]
                   ) -> tuple[set[str], set[str]]:
    """Of `ids`, those visits the staged batches in `folders` hold, and those they withdraw."""
    uploads = [f / "valid.parquet" for f in folders if (f / "valid.parquet").is_file()]
    earlier = [f / "withdrawals.parquet" for f in folders
               if (f / "withdrawals.parquet").is_file()]
    known: set[str] = set()
    withdrawn: set[str] = set()
    con.register("wanted", pa.table({"id_visita": pa.array(sorted(ids), pa.string())}))
    if uploads:
        from pipeline.consolidation.visitas import ID_SQL

        known = {r[0] for r in con.execute(f"""
            SELECT DISTINCT id_visita FROM (
                SELECT {ID_SQL} AS id_visita
                FROM read_parquet({path_list(uploads)}, union_by_name = true))
            WHERE id_visita IN (SELECT id_visita FROM wanted)""").fetchall()}
    if earlier:
        withdrawn = {r[0] for r in con.execute(f"""
            SELECT DISTINCT id_visita FROM read_parquet({path_list(earlier)},
                                                        union_by_name = true)
            WHERE id_visita IN (SELECT id_visita FROM wanted)""").fetchall()}
    con.unregister("wanted")
    return known, withdrawn


def visit_states(settings: Settings, ruc: str, ids: list[str]) -> dict[str, str]:
    """For `visitas withdraw`: each id → 'visit' (a visit of the entity, to withdraw),
    'withdrawn' (withdrawn already, or named by a withdrawal file waiting in the landing area)
    or 'unknown' (no visit of the entity has it)."""
    from pipeline.ingestion.batches import batch_folders
    from pipeline.storage import open_storage
    from pipeline.workdir import temporary_dir

    pending: set[str] = set()
    landing = open_storage(settings.landing_url, base_dir=settings.root)
    with temporary_dir(settings.temp_dir, f"retiros_{ruc}") as tmp:
        for i, obj in enumerate(landing.list(f"{ruc}/")):
            name = obj.key.rsplit("/", 1)[-1]
            if not is_withdrawal_file(name):
                continue
            local = Path(tmp) / f"{i:05d}-{name}"
            landing.download(obj.key, local)
            pending |= _named_visits(local, name, ruc)
    with duckdb.connect() as con:
        install_macros(con)
        known, withdrawn = _staged_states(con, list(batch_folders(settings, ruc)), set(ids))
    return {i: "withdrawn" if i in withdrawn or i in pending else
            "visit" if i in known else "unknown" for i in ids}


def _named_visits(path: Path, name: str, ruc: str) -> set[str]:
    """The visits a withdrawal file names in rows without errors."""
    try:
        stream, table = _read(path, name)
    except UnreadableUpload:
        return set()
    positions, problems, _ = _header(stream.labels, stream.header_row)
    if problems:
        return set()
    rows = _rows(stream, table, positions)
    if not rows:
        return set()
    with duckdb.connect() as con:
        install_macros(con)
        _resolve(con, rows, ruc)
    return {row.visit for row in rows if row.visit and not row.problems}


def _accepted(con: duckdb.DuckDBPyConnection, rows: list[_Row], *, ruc: str, sha256: str,
              name: str, ingested: dt.datetime) -> pa.Table:
    """withdrawals.parquet: one row per withdrawal that applies, as consolidation reads it."""
    good = [row for row in rows if row.visit and not row.problems and not row.repeated]
    con.register("good", pa.table({
        ROW_NUMBER: pa.array([row.number for row in good], pa.int64()),
        "id_visita": pa.array([row.visit for row in good], pa.string()),
        "motivo": pa.array([row.motivo for row in good], pa.string())}))
    return con.execute(f"""
        SELECT ?::VARCHAR AS _entidad_ruc, ?::VARCHAR AS _lote, ?::VARCHAR AS _archivo,
               {ROW_NUMBER}, id_visita, motivo, ?::TIMESTAMPTZ AS _ingestado_en
        FROM good ORDER BY {ROW_NUMBER}""", [ruc, sha256, name, ingested]).to_arrow_table()


def _report(name: str, labels: list[str], errors: list[Problem], *, rows: int, accepted: int,
            size: int, sha256: str, seconds: float) -> dict[str, Any]:
    """report.json, in the shape of a visit batch's (Frictionless)."""
    valid = not errors
    stats = {"errors": len(errors), "warnings": 0, "seconds": round(seconds, 3), "rows": rows,
             "bytes": size, "sha256": sha256}
    by_type = Counter(e.type for e in errors)
    by_column = Counter(e.column for e in errors if e.column)
    return {
        "valid": valid, "stats": {**stats, "tasks": 1}, "warnings": [], "errors": [],
        "tasks": [{
            "name": name, "type": "table", "valid": valid, "place": name, "labels": labels,
            "stats": stats, "warnings": [],
            # as in a visit batch's report: the first errors in full, counts over all of them
            "errors": [e.to_dict() for e in errors[:DEFAULT_ERROR_LIMIT]],
            "schema": "retiros",
            "summary": {"filasLeidas": rows, "filasValidas": accepted,
                        "filasRechazadas": rows - accepted,
                        "erroresPorTipo": dict(sorted(by_type.items())),
                        "erroresPorColumna": dict(sorted(by_column.items())),
                        "erroresOmitidos": max(0, len(errors) - DEFAULT_ERROR_LIMIT)},
        }],
    }


def _head(withdrawn: int, repeated: list[_Row], unmatched: int, errors: int) -> str:
    """What the file does, each kind of row apart: '2 visitas retiradas; 1 ya estaba
    retirada (3f9a0c1e2b4d5a6f); 1 fila no corresponde a ninguna visita de la entidad'."""
    parts = ["ninguna visita retirada" if withdrawn == 0 else
             plural(withdrawn, "visita retirada", "visitas retiradas")]
    if repeated:
        ids = sorted({row.visit or "" for row in repeated})
        listed = ", ".join(ids[:LISTED_IDS]) + (" …" if len(ids) > LISTED_IDS else "")
        parts.append(f"1 ya estaba retirada ({listed})" if len(repeated) == 1 else
                     f"{len(repeated)} ya estaban retiradas ({listed})")
    if unmatched:
        parts.append("1 fila no corresponde a ninguna visita de la entidad" if unmatched == 1
                     else f"{unmatched} filas no corresponden a ninguna visita de la entidad")
    if errors:
        parts.append(plural(errors, "fila con errores", "filas con errores"))
    return "; ".join(parts)


def _rows_text(n: int) -> str:
    return "1 fila" if n == 1 else f"{n} filas"

