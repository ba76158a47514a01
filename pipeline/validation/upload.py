"""Validate one upload in either layout: the schema's checks, normalisation and domain rules,
in the one streaming driver (`driver.py`).

`visitas validate FILE` and the pipeline's ingestion both call `validate_file`; ingestion
passes a `RowSink` that stages the valid normalised rows and the quarantine as they come.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.normalization.encoding import Encodings
from pipeline.normalization.project import (
    ENTITY_NAME_FIELD,
    NORMALISED_SCHEMA,
    ROW_NUMBER,
    VISITOR_FIELD,
    project,
)
from pipeline.sources.mapping import Choice, SourceMapping, applies_to, choose_layout, mapped_stream
from pipeline.sources.readers import (
    EncodingMismatch,
    TableStream,
    UnreadableUpload,
    fold,
    open_table,
)
from pipeline.spanish import plural
from pipeline.sql import identifier
from pipeline.storage.base import sha256_file
from pipeline.validation import driver
from pipeline.validation.driver import RowSink, Target, errors_table
from pipeline.validation.labels import by_name, choose_schema
from pipeline.validation.report import Report, ReportError
from pipeline.validation.rules import (
    control_character_rows,
    describe_control,
    layout_rules,
    rule_errors,
    rule_outputs,
)
from pipeline.validation.schema import TableSchema, load_schema

UPLOAD_SCHEMAS = ("upload-oficial", "upload-normalizado")
#: below this size (a few thousand rows, one chunk) rows are hashed in Python
SMALL_FILE_BYTES = 1 << 20


def upload_schemas(schemas_dir: Path) -> list[TableSchema]:
    return [load_schema(schemas_dir / f"{name}.schema.json") for name in UPLOAD_SCHEMAS]


def known_labels(schemas: list[TableSchema]) -> list[str]:
    return [name for s in schemas for name in s.field_names]


class EntityRef(Protocol):
    """The entity an upload is for, as registered (to compare with what the file says)."""

    ruc: str
    name: str


@dataclass
class UploadHook:
    """The upload layouts' part of each chunk: placeholders, normalisation, domain rules,
    reader issues, control characters, and what the file says about its entity."""

    layout: str
    target: Target
    stream: TableStream
    today: dt.date
    entity: EntityRef | None = None
    #: upload RUCs that are not the entity's: value → first row
    other_rucs: dict[str, int] = field(default_factory=dict)
    #: names of the visited entity that differ from the registered one, with their rows
    other_names: Counter[str] = field(default_factory=Counter)
    #: every name of the visited entity (folded) with its rows, and how it was first written
    names: Counter[str] = field(default_factory=Counter)
    written: dict[str, str] = field(default_factory=dict)
    #: per chunk, each record's row number and a hash of its cells (to find exact repeats)
    row_numbers: list[np.ndarray] = field(default_factory=list)
    row_hashes: list[np.ndarray] = field(default_factory=list)
    #: a small file's rows are hashed in Python: a query costs more than the rows
    small: bool = False

    def __post_init__(self) -> None:
        self.rules = layout_rules(self.today)
        self.outputs = rule_outputs(self.layout, self.rules)
        self._issues_taken = 0

    # ---------------------------------------------------------------- records

    def records(self, con: duckdb.DuckDBPyConnection, chunk: pa.Table) -> pa.Table:
        """Drop the 'No se recibieron visitas' rows: a day without visits, not a visit."""
        visitor = VISITOR_FIELD[self.layout]
        if visitor not in chunk.column_names or not chunk.num_rows:
            return chunk
        # a cheap test first: only cells mentioning 'visitas' go to the macro
        maybe = pc.fill_null(pc.match_substring(chunk.column(visitor), "visitas",
                                                ignore_case=True), False)
        if not pc.any(maybe).as_py():
            return chunk
        candidates = chunk.filter(maybe).select([ROW_NUMBER, visitor])
        con.register("placeholder_candidates", candidates)
        try:
            rows = con.sql(f"SELECT {ROW_NUMBER} FROM placeholder_candidates "
                           f"WHERE is_placeholder({identifier(visitor)})").to_arrow_table()
        finally:
            con.unregister("placeholder_candidates")
        if not rows.num_rows:
            return chunk
        return chunk.filter(pc.invert(pc.is_in(chunk.column(ROW_NUMBER),
                                               value_set=rows.column(ROW_NUMBER))))

    # ---------------------------------------------------------------- checks

    def check(self, con: duckdb.DuckDBPyConnection, chunk: pa.Table, cell_errors: pa.Table,
              encodings: Encodings, projected: pa.Table | None = None
              ) -> tuple[pa.Table, pa.Table]:
        """All the chunk's errors (a cell keeps only its first kind of error) and its rows,
        normalised, ready to stage."""
        self._entity(chunk)
        self._fingerprint(con, chunk)
        # cells the reader could not take at face value: the schema's complaint about them
        # (an empty required cell) would only hide the cause
        issues = self._issues(chunk)
        cell_errors = _without(cell_errors, issues)
        if projected is None:
            projected = project(con, chunk, self.outputs, encodings=encodings)
        by_rules = errors_table(rule_errors(self.layout, self.rules, self.target.numbers,
                                            projected, chunk))
        by_rules = _without(by_rules, driver.concat_errors([issues, cell_errors]))
        controls = self._controls(chunk)
        errors = driver.concat_errors([issues, cell_errors, by_rules,
                                       _without(controls, issues)])
        staged = projected.select(NORMALISED_SCHEMA.names).cast(NORMALISED_SCHEMA)
        return errors, staged

    def _issues(self, chunk: pa.Table) -> pa.Table:
        """Reader issues (XLSX formulas without a value, error cells) in this chunk's rows."""
        pending = self.stream.issues[self._issues_taken:]
        if not pending:
            return errors_table([])
        rows = set(chunk.column(ROW_NUMBER).to_pylist())
        fields = {int(c[1:]): name for name, c in self.target.mapping.items()}
        taken = [i for i in pending if i.row in rows]
        # issues are found in row order: those of later rows stay pending
        self._issues_taken += sum(1 for i in pending if i.row <= max(rows, default=0))
        return errors_table([{
            "rowNumber": i.row, "type": i.kind,
            "fieldName": fields.get(i.column, self.stream.labels[i.column - 1]
                                    if i.column <= self.stream.width else ""),
            "fieldNumber": i.column, "cell": i.text, "note": i.note} for i in taken])

    def _controls(self, chunk: pa.Table) -> pa.Table:
        """One rule for control characters, wherever they are in the file."""
        errors: list[dict[str, object]] = []
        numbers = chunk.column(ROW_NUMBER)
        for name in self.target.fields:
            positions = control_character_rows(chunk.column(name))
            for position in positions.tolist():
                shown, note = describe_control(chunk.column(name)[position].as_py())
                errors.append({"rowNumber": numbers[position].as_py(),
                               "type": "control-character", "fieldName": name,
                               "fieldNumber": self.target.numbers[name], "cell": shown,
                               "note": note})
        errors.sort(key=lambda e: (e["rowNumber"], e["fieldNumber"]))
        return errors_table(errors)

    def _fingerprint(self, con: duckdb.DuckDBPyConnection, chunk: pa.Table) -> None:
        """A hash of each record's cells: rows repeated cell for cell are counted at the end."""
        if not chunk.num_rows:
            return
        fields = self.target.fields
        if self.small:
            rows = zip(*(chunk.column(f).to_pylist() for f in fields), strict=True)
            self.row_numbers.append(chunk.column(ROW_NUMBER).to_numpy())
            self.row_hashes.append(np.fromiter(map(hash, rows), np.int64, chunk.num_rows))
            return
        con.register("records_chunk", chunk.select([ROW_NUMBER, *fields]))
        try:
            cells = ", ".join(identifier(f) for f in fields)
            hashed = con.sql(f"SELECT {ROW_NUMBER}, hash({cells}) AS h FROM records_chunk"
                             ).to_arrow_table()
        finally:
            con.unregister("records_chunk")
        self.row_numbers.append(hashed.column(ROW_NUMBER).to_numpy())
        self.row_hashes.append(hashed.column("h").to_numpy())

    def _entity(self, chunk: pa.Table) -> None:
        """Tally what the file says of its own entity, to compare with the registration."""
        if not chunk.num_rows:
            return
        if self.entity is not None and "entidad_ruc" in chunk.column_names:
            values = pc.utf8_trim_whitespace(chunk.column("entidad_ruc"))
            other = pc.and_(pc.not_equal(values, ""), pc.not_equal(values, self.entity.ruc))
            if pc.any(other).as_py():
                rows = chunk.filter(other)
                for ruc, row in zip(pc.utf8_trim_whitespace(rows.column("entidad_ruc")).to_pylist(),
                                    rows.column(ROW_NUMBER).to_pylist(), strict=True):
                    self.other_rucs.setdefault(ruc, row)
        name_field = ENTITY_NAME_FIELD[self.layout]
        if name_field in chunk.column_names:
            counts = pc.value_counts(chunk.column(name_field))
            expected = fold(self.entity.name) if self.entity is not None else None
            for item in counts.to_pylist():
                value = item["values"]
                if not value or not value.strip():
                    continue
                key = fold(value)
                self.names[key] += item["counts"]
                self.written.setdefault(key, value.strip())
                if expected is not None and key != expected:
                    self.other_names[value.strip()] += item["counts"]

    def finish(self, report: Report) -> None:
        """What the file says of its entity, and its repeated rows, once it has all been read."""
        if report.rows == 0:
            report.warnings.append("El archivo no tiene ninguna fila de datos: solo el "
                                   "encabezado.")
        self._duplicates(report)
        field_name = ENTITY_NAME_FIELD[self.layout]
        if self.entity is None:
            if len(self.names) > 1:
                report.warnings.append(
                    f"La columna «{field_name}» nombra "
                    f"{plural(len(self.names), 'entidad', 'entidades distintas')}: "
                    + _tally({self.written[k]: n for k, n in self.names.items()})
                    + ". Un archivo debe ser de una sola entidad: verifique que corresponda a "
                    "la suya.")
            return
        if self.other_rucs:
            ruc, row = min(self.other_rucs.items(), key=lambda kv: kv[1])
            others = len(self.other_rucs) - 1
            report.add(ReportError("wrong-entity", note=(
                f"El archivo es de otra entidad: la columna entidad_ruc dice {ruc} (fila {row}"
                + (f", y {plural(others, 'RUC distinto', 'RUC distintos')} más" if others else "")
                + f"), pero se cargó para {self.entity.name} (RUC {self.entity.ruc}). "
                "No se publica ninguna de sus filas.")))
        if self.other_names:
            report.warnings.append(
                f"La columna «{field_name}» nombra otra entidad: {_tally(self.other_names)}"
                f"; la entidad registrada es «{self.entity.name}». Verifique que el archivo "
                "corresponda a esta entidad.")

    def _duplicates(self, report: Report) -> None:
        """Records repeated cell for cell: counted, and warned with the first few."""
        if not self.row_hashes:
            return
        hashes = np.concatenate(self.row_hashes)
        rows = np.concatenate(self.row_numbers)
        order = np.lexsort((rows, hashes))  # by hash, then the earliest row first
        hashes, rows = hashes[order], rows[order]
        first = np.ones(len(hashes), dtype=bool)
        first[1:] = hashes[1:] != hashes[:-1]
        if first.all():
            return
        # each repeat points at the first row of its group of equal hashes
        start = np.maximum.accumulate(np.where(first, np.arange(len(first)), 0))
        repeats, originals = rows[~first], rows[start][~first]
        shown = np.argsort(repeats, kind="stable")[:3]
        pairs = [(int(repeats[i]), int(originals[i])) for i in shown]
        said = [f"la fila {pairs[0][0]} repite la fila {pairs[0][1]}"]
        said += [f"la {r} la {o}" for r, o in pairs[1:]]
        count = len(repeats)
        if count > len(pairs):
            said.append(f"{count - len(pairs)} más")
        examples = said[0] if len(said) == 1 else ", ".join(said[:-1]) + " y " + said[-1]
        records = len(hashes)
        report.duplicate_rows = count
        report.warnings.append(
            f"{plural(count, 'fila repite', 'filas repiten')} exactamente otra fila del archivo "
            f"({examples}): el archivo tiene "
            f"{plural(records - count, 'visita distinta', 'visitas distintas')}, no {records}. "
            "Cada visita se publica una sola vez; elimine las filas repetidas si sobran.")


def _tally(counts: Counter[str] | dict[str, int], shown: int = 3) -> str:
    """'«A» (2 filas), «B» (1 fila) y 3 nombres más': the most frequent first."""
    items = sorted(counts.items(), key=lambda kv: -kv[1])
    text = ", ".join(f"«{name}» ({plural(n, 'fila', 'filas')})" for name, n in items[:shown])
    more = len(items) - shown
    return text + (f" y {plural(more, 'nombre', 'nombres')} más" if more > 0 else "")


def _without(errors: pa.Table, earlier: pa.Table) -> pa.Table:
    """`errors` but those on a cell (row and field) that already has one of `earlier`."""
    if not errors.num_rows or not earlier.num_rows:
        return errors
    keys = earlier.select(["rowNumber", "fieldName"]).group_by(["rowNumber", "fieldName"]
                                                             ).aggregate([])
    kept = errors.join(keys, ["rowNumber", "fieldName"], join_type="left anti")
    return kept.sort_by([("rowNumber", "ascending"), ("fieldNumber", "ascending")]
                        ).select(errors.column_names)


def validate_file(path: Path, filename: str, schemas: list[TableSchema], *,
                  entity: EntityRef | None = None, sha256: str = "", size: int | None = None,
                  today: dt.date | None = None, error_limit: int | None = None,
                  max_bytes: int | None = None, sink: RowSink | None = None,
                  mapping: SourceMapping | None = None) -> Report:
    """Read, validate and normalise one uploaded file. Never raises for bad content: it reports.

    With the entity's `mapping` (its registration's `source.mapping` or `source.layouts`), the
    file is read in the entity's own shape (web pages and JSON too) through the layout its
    header fits, whatever source it came from (see `pipeline.sources.mapping`); withdrawal and
    decision-makers files keep their own formats.

    When the whole file is rejected (unreadable, a required column missing, another
    entity's file) the sink may have received rows already: the report says so
    (`report.readable` is False) and the caller discards them.
    """
    started = time.perf_counter()
    size = path.stat().st_size if size is None else size
    hashing = None
    if not sha256:  # computed beside the scan (hashlib releases the GIL on large blocks)
        hashing = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        digest = hashing.submit(sha256_file, path)
    encoding: str | None = None
    while True:
        report = Report(place=filename, sha256=sha256, bytes=size)
        if error_limit is not None:
            report.error_limit = error_limit
        try:
            _validate(path, filename, schemas, report, entity=entity,
                      today=today or dt.date.today(), max_bytes=max_bytes, sink=sink,
                      encoding=encoding,
                      mapping=mapping if mapping is not None and applies_to(filename) else None)
        except EncodingMismatch as exc:
            # bytes beyond the sample are not UTF-8: the file is read again as the fallback
            encoding = exc.fallback
            if sink is not None:
                sink.reset()
            continue
        break
    if hashing is not None:
        report.sha256 = digest.result()
        hashing.shutdown()
    finish(report)
    report.seconds = time.perf_counter() - started
    return report


def _validate(path: Path, filename: str, schemas: list[TableSchema], report: Report, *,
              entity: EntityRef | None, today: dt.date, max_bytes: int | None,
              sink: RowSink | None, encoding: str | None,
              mapping: SourceMapping | None = None) -> None:
    if max_bytes is not None and report.bytes > max_bytes:
        report.add(ReportError("source-error", note=(
            f"El archivo pesa {report.bytes / 2**20:,.0f} MB y el máximo admitido es "
            f"{max_bytes / 2**20:,.0f} MB. Divídalo en partes (por ejemplo, un archivo por mes) "
            "y súbalas por separado.")))
        return
    try:
        if mapping is None:
            stream = open_table(path, filename, known_labels(schemas), encoding=encoding)
        else:
            stream = open_table(path, filename, [*known_labels(schemas), *mapping.known_labels],
                                encoding=encoding, extended=True,
                                record_keys=mapping.record_keys)
            choice = choose_layout(stream.labels, mapping)
            if not choice.fits:
                _no_layout(stream, choice, report)
                return
            if choice.layout is not None:
                stream = mapped_stream(stream, choice.layout, filename)
                report.layout = choice.layout.name
        report.warnings.extend(stream.notes)  # the sheet read, a format other than the name's
        schema = choose_schema(stream.labels, schemas)
        report.schema = schema.name
        header = by_name(stream.labels, schema)
        report.labels = list(stream.labels)
        report.field_columns = {name: int(column[1:])
                                for name, column in header.target.mapping.items()}
        for error in header.errors:
            report.add(error)
        if header.blocking:
            # the rows cannot be read as visits: counted, and all rejected
            report.rows = sum(b.num_rows for b in stream.batches) + len(stream.ragged)
            report.rejected_rows = report.rows
            return
        hook = UploadHook(schema.name, header.target, stream, today, entity,
                          small=report.bytes < SMALL_FILE_BYTES)
        driver.run(stream, header.target, report, hook=hook, sink=sink)
        hook.finish(report)
    except UnreadableUpload as exc:
        report.add(ReportError(exc.error_type, note=str(exc)))


#: how the report says that no layout of the entity's mapping fits a file
NO_LAYOUT_WARNING = ("El encabezado del archivo no corresponde a ningún formato de la "
                     "correspondencia de la entidad ni a un formato de carga.")


def _no_layout(stream: TableStream, choice: Choice, report: Report) -> None:
    """No layout of the entity fits the file's header: its rows are counted and rejected,
    and the report names, for the layout that came closest, the headers it lacks."""
    report.warnings.extend(stream.notes)
    report.labels = list(stream.labels)
    name, lacks = min(choice.missing.items(), key=lambda kv: (-choice.present[kv[0]],
                                                            len(kv[1])))
    others = len(choice.missing) - 1
    report.warnings.append(
        f"{NO_LAYOUT_WARNING} El más cercano es «{name}», al que "
        f"{'le falta' if len(lacks) == 1 else 'le faltan'} "
        + ", ".join(f"«{c}»" for c in lacks)
        + (f" ({plural(others, 'otro formato', 'otros formatos')} también se "
           f"{'probó' if others == 1 else 'probaron'})" if others else "")
        + ". Revise el archivo o agregue su formato a source.layouts (vea docs/fuentes.md).")
    for label in lacks:
        report.add(ReportError("missing-label", fieldName=label,
                               note=f"columna que el formato «{name}» necesita"))
    report.rows = sum(b.num_rows for b in stream.batches) + len(stream.ragged)
    report.rejected_rows = report.rows


def finish(report: Report) -> None:
    """Final counts and frictionless's order: header errors, then rows in order."""
    rank = {"unique-error": 1, "primary-key": 2}
    report.errors.sort(key=lambda e: (e.rowNumber or 0, rank.get(e.type, 0), e.fieldNumber or 0))
    if not report.readable:
        report.rejected_rows = report.rows - report.placeholder_rows
    report.valid_rows = report.rows - report.placeholder_rows - report.rejected_rows
