"""The one validation driver: any table stream against any Table Schema, in one streaming pass.

`visitas validate --schema`, `visitas validate FILE` and the pipeline's ingestion all run here.
The reader streams record batches of text cells; they are gathered into chunks of CHUNK_ROWS
rows, and for each chunk:

1. the prefilter (`prefilter.py`) picks the rows that may fail a schema check, and the query
   compiled from the schema (`engine.py`) checks those rows in full;
2. a `ChunkHook`, when given, does the rest on the same chunk: upload layouts normalise the
   rows and apply the register's domain rules (`upload.py`);
3. the chunk's errors go to a DuckDB table that spills to disk, and, when a `RowSink` is
   given, its valid rows and its rejected rows are handed over and released.

Parsing (Arrow, in a reader thread) and checking (DuckDB's threads) overlap. Rows with another
number of cells than the header are checked last, as one more chunk. `unique` and
`primaryKey` keys collect in a state table and are compared once the file has been read.
Memory is therefore bounded by a few chunks, whatever the size of the file.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.normalization.encoding import Encodings
from pipeline.normalization.project import Output, project
from pipeline.sources.readers import ROW_NUMBER, RaggedRow, TableStream, column_names
from pipeline.validation.connection import validation_cursor
from pipeline.validation.engine import (
    ERROR_COLUMNS,
    Check,
    cell_errors_sql,
    compile_conditions,
    per_value_checks,
)
from pipeline.validation.errors import ERROR_TYPES
from pipeline.validation.keys import key_errors, key_exprs, keys_select
from pipeline.validation.prefilter import Prefilter
from pipeline.validation.report import QUOTE_CHARS, Report, ReportError
from pipeline.validation.schema import TableSchema

#: column of rejected rows holding the row as written, for rows cut or padded to the header
ROW_TEXT = "texto_fila"
#: column of rejected rows giving, in Spanish, the row number and each error's title and cell
REASONS = "detalle_errores"
#: rejected rows' cells of a column outside the schema, by its position: `_columna13`
OTHER_COLUMN = "_columna"
#: rows checked per DuckDB query (a few dozen record batches, scanned in parallel)
CHUNK_ROWS = 400_000
#: chunks smaller than this are checked whole, without the prefilter
PREFILTER_MIN_ROWS = 5_000
#: errors kept in memory before they go to DuckDB's table (which spills to disk)
ERRORS_IN_MEMORY = 50_000

ERRORS_SCHEMA = pa.schema([("rowNumber", pa.int64()), ("type", pa.string()),
                           ("fieldName", pa.string()), ("fieldNumber", pa.int32()),
                           ("cell", pa.string()), ("note", pa.string()),
                           ("cellLength", pa.int64())])
assert tuple(ERRORS_SCHEMA.names) == ERROR_COLUMNS


_TITLES = pa.table({"type": list(ERROR_TYPES), "title": [e.title for e in ERROR_TYPES.values()]})


def errors_table(rows: list[dict[str, object]]) -> pa.Table:
    """Errors built in Python (ragged rows, reader issues) in the engine's column layout."""
    return pa.Table.from_pylist(rows, schema=ERRORS_SCHEMA)


class ChunkHook(Protocol):
    """What an upload layout adds to the schema checks, chunk by chunk."""

    def records(self, con: duckdb.DuckDBPyConnection, chunk: pa.Table) -> pa.Table:
        """The rows that are records (an upload drops its 'no visits today' placeholders)."""
        ...

    #: computed per distinct value with the chunk's check flags, when the driver projects a
    #: small chunk itself (then passed to `check` as `projected`)
    outputs: list[Output]

    def check(self, con: duckdb.DuckDBPyConnection, chunk: pa.Table, cell_errors: pa.Table,
              encodings: Encodings, projected: pa.Table | None
              ) -> tuple[pa.Table, pa.Table | None]:
        """(every error of the chunk, given its schema errors; its rows as they will be
        staged). `projected` holds `outputs` already, or is None."""
        ...


class RowSink(Protocol):
    """Receives each chunk's valid and rejected rows as they are found."""

    def valid(self, rows: pa.Table) -> None: ...

    def rejected(self, rows: pa.Table) -> None: ...

    def reset(self) -> None:
        """Forget every row received: the file is read again from the start."""
        ...


@dataclass
class Target:
    """Where a stream's columns meet a schema's fields."""

    schema: TableSchema
    #: field name → the stream's column (`c1`…) holding it; unmapped fields are not checked
    mapping: dict[str, str]
    #: labels of the stream, to name cells beyond the schema's fields
    labels: list[str]
    #: field name → its number in reports
    numbers: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.numbers:
            self.numbers = {f.name: i for i, f in enumerate(self.schema.fields, 1)}

    @property
    def fields(self) -> list[str]:
        return [f.name for f in self.schema.fields if f.name in self.mapping]

    def canonical(self, batch: pa.Table | pa.RecordBatch) -> pa.Table:
        """The stream's columns renamed to the fields they hold (unmapped columns dropped)."""
        arrays = [batch.column(ROW_NUMBER)] + [batch.column(self.mapping[f]) for f in self.fields]
        return pa.Table.from_arrays(arrays, names=[ROW_NUMBER, *self.fields])


def run(stream: TableStream, target: Target, report: Report, *, hook: ChunkHook | None = None,
        sink: RowSink | None = None) -> None:
    """Validate the whole stream into `report` (rows, errors, counts); feed `sink` as it goes."""
    schema = target.schema
    identity = {name: name for name in target.fields}
    keys = key_exprs(schema, identity)
    if keys and sink is not None:
        # rows found repeated at the end could no longer be kept out of the staged rows
        raise ValueError("A schema with unique or primaryKey constraints cannot stage rows.")
    con = validation_cursor()
    try:
        sql = cell_errors_sql(schema, identity, "chunk", blank_row=True, numbers=target.numbers)
        if keys:
            con.register("chunk", target.canonical(_empty(stream)))
            con.execute(f"CREATE OR REPLACE TEMP TABLE keys AS {keys_select(keys, 'chunk')}")
        prefilter = Prefilter(schema, compile_conditions(schema, identity, target.numbers),
                              target.fields)
        checker = _Checker(con, target, sql, prefilter, keys, hook, sink, report,
                           per_value_checks(schema, target.fields))
        for chunk in _chunks(stream):
            checker.check(chunk)
        if stream.ragged:
            ragged = sorted(stream.ragged, key=lambda r: r.number)
            checker.check(_ragged_table(ragged, stream.width), _ragged_errors(stream, target),
                          texts=pa.array([r.text for r in ragged], pa.string()))
        if keys:
            checker.insert(errors_table(key_errors(con, keys, target.numbers)))
        checker.collect()
    finally:
        con.close()


def _empty(stream: TableStream) -> pa.Table:
    return stream.schema.empty_table()


@dataclass
class _Checker:
    con: duckdb.DuckDBPyConnection
    target: Target
    sql: str | None
    prefilter: Prefilter
    keys: dict[str, str]
    hook: ChunkHook | None
    sink: RowSink | None
    report: Report
    #: the schema's checks over one cell, for small chunks (see `_checked_per_value`)
    value_checks: list[tuple[Check, str]] = field(default_factory=list)
    #: errors not yet in DuckDB's table (most files have few: they never go there)
    pending: list[pa.Table] = field(default_factory=list)
    pending_rows: int = 0
    spilled: bool = False

    def check(self, raw: pa.Table, extra_errors: pa.Table | None = None,
              texts: pa.Array | None = None) -> None:
        """Check one chunk; `texts` are its rows as written, for rows the reader set aside."""
        con, report = self.con, self.report
        chunk = self.target.canonical(raw)
        if self.sink is not None:  # rejected rows keep the row as written when it was cut
            chunk = chunk.append_column(
                ROW_TEXT, texts if texts is not None else pa.nulls(chunk.num_rows, pa.string()))
        report.rows += chunk.num_rows
        if self.hook is not None:
            records = self.hook.records(con, chunk)
            report.placeholder_rows += chunk.num_rows - records.num_rows
            chunk = records
        errors = [extra_errors] if extra_errors is not None else []
        encodings = Encodings(chunk)  # shared by the prefilter and the hook
        projected = None
        if self.sql is not None and chunk.num_rows >= PREFILTER_MIN_ROWS:
            con.register("chunk", self.prefilter.suspects(con, chunk, encodings))
            errors.append(con.sql(self.sql).to_arrow_table())
            con.unregister("chunk")
        elif self.sql is not None:
            # the checks and the hook's outputs run as one projection: one query at most
            checks = self._check_outputs()
            projected = project(con, chunk, [*checks, *(self.hook.outputs if self.hook else [])],
                                encodings=encodings)
            errors.append(self._checked_per_value(chunk, projected, checks))
        cell_errors = concat_errors(errors)
        staged = None
        if self.hook is not None:
            cell_errors, staged = self.hook.check(con, chunk, cell_errors, encodings, projected)
        self.insert(cell_errors)
        if self.keys:
            con.register("chunk", chunk)
            con.execute(f"INSERT INTO keys {keys_select(self.keys, 'chunk')}")
            con.unregister("chunk")
        if self.sink is not None:
            self._stage(chunk, staged, cell_errors, raw)

    def _check_outputs(self) -> list[Output]:
        return [Output(f"_chequeo{i}", (check.field.name,), condition)
                for i, (check, condition) in enumerate(self.value_checks)]

    def _checked_per_value(self, chunk: pa.Table, flags: pa.Table,
                           outputs: list[Output]) -> pa.Table:
        """The schema's errors of a small chunk, from each check run once per distinct cell
        value not met before in this process (`flags`: a few thousand rows would not repay
        the prefilter, and a query's cost is mostly its expressions: these run only for new
        values). The same errors as the compiled query's (the differential tests run both)."""
        missing = [np.asarray(pc.fill_null(flags.column(o.name), False))
                   for (check, _), o in zip(self.value_checks, outputs, strict=True)
                   if check.constraint == "missing"]
        blank = np.logical_and.reduce(missing) if missing else np.zeros(chunk.num_rows, bool)
        rows = chunk.column(ROW_NUMBER).to_numpy()
        errors: list[dict[str, object]] = [
            {"rowNumber": int(row), "type": "blank-row", "note": ""} for row in rows[blank]]
        for (check, _), output in zip(self.value_checks, outputs, strict=True):
            if check.constraint == "missing":
                continue
            hits = np.flatnonzero(np.asarray(pc.fill_null(flags.column(output.name), False))
                                  & ~blank)
            if not len(hits):
                continue
            name = check.field.name
            cells = pc.take(chunk.column(name), pa.array(hits)).to_pylist()
            for at, cell in zip(hits.tolist(), cells, strict=True):
                errors.append({"rowNumber": int(rows[at]), "type": check.kind, "fieldName": name,
                               "fieldNumber": self.target.numbers[name], **_quote(cell),
                               "note": check.note})
        return errors_table(errors)

    def _stage(self, chunk: pa.Table, staged: pa.Table | None, errors: pa.Table,
               raw: pa.Table) -> None:
        """Hand the chunk's valid rows and its rejected rows (with their reasons) to the sink.

        Rejected rows keep every cell of the file, those of columns outside the schema too
        (`_columnaN`), so they can be written back in the upload's own columns."""
        bad = pc.unique(errors.column("rowNumber"))
        if staged is not None:
            keep = pc.invert(pc.is_in(staged.column(ROW_NUMBER), value_set=bad))
            valid = staged.filter(keep)
            if valid.num_rows:
                self.sink.valid(valid)
        if len(bad):
            con = self.con
            con.register("chunk_errors", errors)
            con.register("error_titles", _TITLES)
            order = "ORDER BY fieldNumber NULLS FIRST, type"
            reasons = con.sql(f"""
                SELECT rowNumber AS _fila,
                       string_agg(type || coalesce(': ' || fieldName, ''), '; ' {order})
                           AS errores,
                       'Fila ' || rowNumber || ': ' || string_agg(
                           coalesce(t.title, type)
                           || coalesce(' en «' || nullif(fieldName, '') || '»', '')
                           || coalesce(' («' || nullif(cell, '') || '»)', ''),
                           '; ' {order}) AS {REASONS}
                FROM chunk_errors LEFT JOIN error_titles t USING (type)
                GROUP BY rowNumber""").to_arrow_table()
            con.unregister("chunk_errors")
            con.unregister("error_titles")
            rejected = chunk.filter(pc.is_in(chunk.column(ROW_NUMBER), value_set=bad))
            mapped = set(self.target.mapping.values())
            others = [c for c in raw.column_names if c != ROW_NUMBER and c not in mapped]
            if others:
                cells = raw.select([ROW_NUMBER, *others]).filter(
                    pc.is_in(raw.column(ROW_NUMBER), value_set=bad))
                rejected = rejected.join(cells.rename_columns(
                    [ROW_NUMBER, *(f"{OTHER_COLUMN}{c[1:]}" for c in others)]), ROW_NUMBER)
            rejected = rejected.join(reasons, ROW_NUMBER).sort_by(ROW_NUMBER)
            self.sink.rejected(rejected)

    def insert(self, errors: pa.Table) -> None:
        if errors.num_rows:
            self.pending.append(errors)
            self.pending_rows += errors.num_rows
        if self.pending_rows > ERRORS_IN_MEMORY:
            self._spill()

    def _spill(self) -> None:
        """Move the pending errors to DuckDB's table, which spills to disk beyond its memory."""
        con = self.con
        con.register("chunk_errors", concat_errors(self.pending))
        if self.spilled:
            con.execute("INSERT INTO errs SELECT * FROM chunk_errors")
        else:
            con.execute("CREATE OR REPLACE TEMP TABLE errs AS SELECT * FROM chunk_errors")
            self.spilled = True
        con.unregister("chunk_errors")
        self.pending, self.pending_rows = [], 0

    def collect(self) -> None:
        """Counts over every error, and the first ones in full up to the error limit."""
        if not self.spilled:
            self._collect_in_memory()
            return
        self._spill()
        con, report = self.con, self.report
        counts = con.sql("SELECT type, fieldName, count(*) FROM errs GROUP BY ALL").fetchall()
        room = max(0, report.error_limit - len(report.errors))
        # frictionless's order: per row its cells in field order, then unique, then primary key
        first = con.sql(f"""
            SELECT * FROM errs
            ORDER BY rowNumber, CASE type WHEN 'unique-error' THEN 1 WHEN 'primary-key' THEN 2
                                          ELSE 0 END, fieldNumber NULLS FIRST, type
            LIMIT {room}""").to_arrow_table() if room else errors_table([])
        report.record([ReportError(**row) for row in first.to_pylist()], counts)
        report.rejected_rows = con.sql(
            "SELECT count(DISTINCT rowNumber) FROM errs").fetchone()[0]

    def _collect_in_memory(self) -> None:
        """`collect` for errors that never left memory: the same answers, from Arrow."""
        report = self.report
        errors = concat_errors(self.pending)
        counts = errors.group_by(["type", "fieldName"], use_threads=False).aggregate(
            [("rowNumber", "count")])
        room = max(0, report.error_limit - len(report.errors))
        rank = pc.if_else(pc.equal(errors.column("type"), "unique-error"), 1,
                          pc.if_else(pc.equal(errors.column("type"), "primary-key"), 2, 0))
        # a row's own errors (no field number) come first, as NULLS FIRST does in SQL
        field = pc.fill_null(errors.column("fieldNumber"), -1)
        ordered = errors.append_column("_rank", rank).append_column("_field", field).sort_by(
            [("rowNumber", "ascending"), ("_rank", "ascending"), ("_field", "ascending"),
             ("type", "ascending")]).drop_columns(["_rank", "_field"])
        first = ordered.slice(0, room)
        report.record([ReportError(**row) for row in first.to_pylist()],
                      [(r["type"], r["fieldName"], r["rowNumber_count"])
                       for r in counts.to_pylist()])
        report.rejected_rows = pc.count_distinct(errors.column("rowNumber")).as_py() \
            if errors.num_rows else 0


def concat_errors(tables: list[pa.Table]) -> pa.Table:
    """Error tables as one, in the engine's column layout."""
    tables = [t.cast(ERRORS_SCHEMA) if t.schema != ERRORS_SCHEMA else t for t in tables]
    return pa.concat_tables(tables) if tables else errors_table([])


def _chunks(stream: TableStream) -> Iterator[pa.Table]:
    """The stream's batches gathered into chunks, read one chunk ahead in a thread.

    Parsing (Arrow, one core) and checking (DuckDB) overlap, so neither leaves a core idle.
    The queue holds one chunk, which bounds memory to about three chunks.
    """
    chunks: queue.Queue[list[pa.RecordBatch] | BaseException | None] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(item: list[pa.RecordBatch] | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                chunks.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        pending: list[pa.RecordBatch] = []
        size = 0
        try:
            for batch in stream.batches:
                pending.append(batch)
                size += batch.num_rows
                if size >= CHUNK_ROWS:
                    if not put(pending):
                        return
                    pending, size = [], 0
            if pending and not put(pending):
                return
            put(None)
        except BaseException as exc:  # re-raised in the consumer, which knows what to report
            put(exc)

    reader = threading.Thread(target=produce, name="visitas-validate-reader", daemon=True)
    reader.start()
    schema = stream.schema
    try:
        while (item := chunks.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield pa.Table.from_batches(item, schema=schema)
            del item
    finally:
        stop.set()
        reader.join()


def _ragged_table(rows: list[RaggedRow], width: int) -> pa.Table:
    """The rows set aside by the reader, cut or padded to the header's width (NULL = absent)."""
    names = column_names(width)
    columns: dict[str, list[str | None]] = {n: [] for n in names}
    for row in rows:
        for i, name in enumerate(names):
            columns[name].append(row.cells[i] if i < len(row.cells) else None)
    return pa.table({ROW_NUMBER: pa.array([r.number for r in rows], pa.int64()),
                     **{n: pa.array(v, pa.string()) for n, v in columns.items()}})


def _ragged_errors(stream: TableStream, target: Target) -> pa.Table:
    """missing-cell and extra-cell errors of the set-aside rows, named as frictionless does."""
    missing = set(target.schema.missing_values)
    by_column = {column: name for name, column in target.mapping.items()}
    errors: list[dict[str, object]] = []
    for row in sorted(stream.ragged, key=lambda r: r.number):
        if all(c in missing for c in row.cells):
            continue  # a blank row, reported (alone) by the cell query
        for i in range(len(row.cells), stream.width):
            # a cell of no field is named after its label
            name = by_column.get(f"c{i + 1}", stream.labels[i])
            errors.append({"rowNumber": row.number, "type": "missing-cell", "fieldName": name,
                           "fieldNumber": i + 1, "note": ""})
        for i in range(stream.width, len(row.cells)):
            if stream.file_format != "csv" and not row.cells[i].strip():
                continue  # an empty cell beyond a sheet's header is no cell at all
            errors.append({"rowNumber": row.number, "type": "extra-cell", "fieldName": "",
                           "fieldNumber": i + 1, **_quote(row.cells[i]), "note": ""})
    return errors_table(errors)


def _quote(cell: str | None) -> dict[str, object]:
    if cell is not None and len(cell) > QUOTE_CHARS:
        return {"cell": cell[:QUOTE_CHARS], "cellLength": len(cell)}
    return {"cell": cell}

