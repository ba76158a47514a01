"""Validate any CSV against any Table Schema, streaming, as frictionless-py 5 would.

This is `visitas validate FILE --schema SCHEMA.json`: the schema's checks only, no domain
rules. The file is read in Arrow record batches (bounded memory: a few chunks at a time). For
each chunk the prefilter (`prefilter.py`) picks the rows that may hold an error, and the query
the engine compiles from the schema checks those rows in full. Only `unique` and
`primaryKey` need state across batches: their keys go to a DuckDB temporary table, which
stays in memory up to STATE_MEMORY and spills to a temporary directory beyond it.

Fields are matched to columns by position, and header labels are compared to field names
exactly, because that is what frictionless does for a schema-driven CSV.
"""

from __future__ import annotations

import concurrent.futures
import csv
import hashlib
import queue
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from pipeline.sources.readers import ROW_NUMBER, column_names
from pipeline.validation.engine import cell_errors_sql, compile_conditions, lit, typed_value
from pipeline.validation.prefilter import Prefilter
from pipeline.validation.report import Report, ReportError
from pipeline.validation.schema import TableSchema

BLOCK_SIZE = 2 << 20
#: rows checked per DuckDB query (a few dozen record batches, scanned in parallel)
CHUNK_ROWS = 400_000
#: DuckDB's memory for the errors and keys tables and their queries; beyond it they spill
STATE_MEMORY = "256MB"
DELIMITERS = (",", ";", "\t", "|")


@dataclass
class _Header:
    labels: list[str]
    delimiter: str
    encoding: str


def _read_header(path: Path) -> _Header:
    with open(path, "rb") as fh:
        head = fh.read(64 * 1024)
    encoding = "utf-8-sig" if head.startswith(b"\xef\xbb\xbf") else "utf-8"
    text = head.decode(encoding, errors="replace")
    first = text.splitlines()[0] if text else ""
    delimiter = max(DELIMITERS, key=first.count) if first else ","
    labels = next(csv.reader([first], delimiter=delimiter), [])
    return _Header(labels, delimiter, encoding)


def label_errors(labels: list[str], schema: TableSchema) -> list[ReportError]:
    """Header errors exactly as frictionless reports them for a schema-driven CSV."""
    errors: list[ReportError] = []
    names = schema.field_names
    seen: dict[str, int] = {}
    for number, label in enumerate(labels, 1):
        if number > len(names):
            errors.append(ReportError("extra-label", fieldName="", fieldNumber=number, cell=label))
            continue
        name = names[number - 1]
        if not label:
            errors.append(ReportError("blank-label", fieldName=name, fieldNumber=number, cell=label))
        elif label in seen:
            errors.append(ReportError("duplicate-label", fieldName=name, fieldNumber=number,
                                      cell=label, note=f'at position "{seen[label]}"'))
        elif label != name:
            errors.append(ReportError("incorrect-label", fieldName=name, fieldNumber=number,
                                      cell=label))
        seen.setdefault(label, number)
    for number in range(len(labels) + 1, len(names) + 1):
        errors.append(ReportError("missing-label", fieldName=names[number - 1], fieldNumber=number))
    return errors


def _stream(path: Path, header: _Header, width: int, ragged: list[tuple[int, str]],
            counter: list[int]) -> pa.RecordBatchReader:
    """A stream of record batches of text cells with `_fila`, frictionless's row number.

    Rows with another number of cells than the header are set aside in `ragged` as
    (row number, text): they are checked apart. A single-threaded reader knows where each one
    was (a threaded one does not) and parses as fast: Arrow's streaming reader works on one
    core either way. (A memory map would read faster, but its pages count as the process's
    memory, which would then grow with the file.)
    """
    names = column_names([""] * width)

    def on_invalid(row: pacsv.InvalidRow) -> str:
        ragged.append((row.number or 0, row.text))
        return "skip"

    read = pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=BLOCK_SIZE,
                             use_threads=False, encoding="utf8")
    parse = pacsv.ParseOptions(delimiter=header.delimiter, invalid_row_handler=on_invalid,
                               ignore_empty_lines=False)
    convert = pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                   strings_can_be_null=False, quoted_strings_can_be_null=False)
    reader = pacsv.open_csv(path, read, parse, convert)
    out_schema = pa.schema([(ROW_NUMBER, pa.int64()), *((n, pa.string()) for n in names)])

    def batches() -> Iterator[pa.RecordBatch]:
        next_number = 2
        for batch in reader:
            n = batch.num_rows
            skipped = np.array(sorted(r for r, _ in ragged if r >= next_number), dtype=np.int64)
            candidates = np.arange(next_number, next_number + n + len(skipped), dtype=np.int64)
            if len(skipped):
                candidates = candidates[~np.isin(candidates, skipped)]
            numbers = candidates[:n]
            if n:
                next_number = int(numbers[-1]) + 1
            counter[0] += n
            yield pa.RecordBatch.from_arrays([pa.array(numbers), *batch.columns], schema=out_schema)

    return pa.RecordBatchReader.from_batches(out_schema, batches())


def _ragged_table(ragged: list[tuple[int, str]], header: _Header, width: int,
                  report: Report, schema: TableSchema) -> pa.Table:
    """The set-aside rows padded to the header's width, with their missing/extra-cell errors."""
    names = column_names([""] * width)
    columns: dict[str, list[str | None]] = {n: [] for n in names}
    numbers: list[int] = []
    missing = set(schema.missing_values)
    for number, text in sorted(ragged):
        cells = next(csv.reader([text], delimiter=header.delimiter), [])
        numbers.append(number)
        for i, name in enumerate(names):
            columns[name].append(cells[i] if i < len(cells) else None)
        if all(c in missing for c in cells):
            continue  # a blank row, reported (alone) by the cell query
        for i in range(len(cells), width):
            # beyond the schema's fields frictionless names the cell after its label
            name = schema.fields[i].name if i < len(schema.fields) else header.labels[i]
            report.add(ReportError("missing-cell", rowNumber=number, fieldName=name,
                                   fieldNumber=i + 1))
        for i in range(width, len(cells)):
            report.add(ReportError("extra-cell", rowNumber=number, fieldName="",
                                   fieldNumber=i + 1, cell=cells[i]))
    return pa.table({ROW_NUMBER: pa.array(numbers, pa.int64()),
                     **{n: pa.array(v, pa.string()) for n, v in columns.items()}})


def validate_table(path: Path, schema: TableSchema, *, error_limit: int | None = None,
                   place: str | None = None) -> Report:
    """Validate a CSV against a Table Schema; the report matches frictionless's errors."""
    started = time.perf_counter()
    report = Report(place=place or str(path), bytes=path.stat().st_size, schema=schema.name)
    if error_limit is not None:
        report.error_limit = error_limit
    # Hashing runs beside the scan (hashlib releases the GIL on large blocks).
    hashing = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    digest = hashing.submit(_sha256, path)
    header = _read_header(path)
    for error in label_errors(header.labels, schema):
        report.add(error)
    width = len(header.labels)
    # Cells are checked against the field in the same position, up to the shorter of the two.
    mapping = {f.name: f"c{i}" for i, f in enumerate(schema.fields[:width], 1)}
    keys = _key_exprs(schema, mapping)
    ragged: list[tuple[int, str]] = []
    with tempfile.TemporaryDirectory(prefix="visitas-validate-") as tmp:
        # Temporary tables are several times cheaper to fill than a database file's (no
        # compression pass, no checkpoints); the memory limit makes DuckDB evict them to
        # `tmp` when they outgrow it, so memory stays bounded whatever the file size.
        con = duckdb.connect()
        try:
            con.execute(f"SET temp_directory = {lit(tmp)}")
            con.execute(f"SET memory_limit = {lit(STATE_MEMORY)}")
            # Errors and keys are sorted when read back, so inserts need not keep their order;
            # order-preserving inserts would make DuckDB buffer and serialise batches.
            con.execute("SET preserve_insertion_order = false")
            rows = [0]
            try:
                _scan(con, path, header, width, ragged, rows, schema, mapping, keys)
            except (pa.ArrowInvalid, UnicodeDecodeError, duckdb.Error) as exc:
                # Arrow only gives up on bytes that are not UTF-8 or on an empty file.
                text = str(exc)
                kind = "encoding-error" if "UTF8" in text or "utf-8" in text else "source-error"
                report.add(ReportError(kind, note=text))
                ragged.clear()
                report.rows = rows[0]
                return _finish(report, digest, hashing, started)
            if ragged:
                extra = _ragged_table(ragged, header, width, report, schema)
                con.register("ragged", extra)
                sql = cell_errors_sql(schema, mapping, "ragged", blank_row=True)
                if sql:
                    con.execute(f"INSERT INTO errs {sql}")
                if keys:
                    con.execute(f"INSERT INTO keys {_keys_select(keys, 'ragged')}")
                rows[0] += extra.num_rows
            _collect(con, report)
            _key_errors(con, keys, report, schema)
            report.rows = rows[0]
        finally:
            con.close()
    return _finish(report, digest, hashing, started)


def _finish(report: Report, digest: concurrent.futures.Future[str],
            hashing: concurrent.futures.ThreadPoolExecutor, started: float) -> Report:
    report.sha256 = digest.result()
    hashing.shutdown()
    # frictionless's order: header errors, then per row its cells in field order, then the
    # row's unique and primary-key errors.
    rank = {"unique-error": 1, "primary-key": 2}
    report.errors.sort(key=lambda e: (e.rowNumber or 0, rank.get(e.type, 0), e.fieldNumber or 0))
    report.rejected_rows = len({e.rowNumber for e in report.errors if e.rowNumber})
    report.valid_rows = report.rows - report.rejected_rows
    report.seconds = time.perf_counter() - started
    return report


def _scan(con: duckdb.DuckDBPyConnection, path: Path, header: _Header, width: int,
          ragged: list[tuple[int, str]], rows: list[int], schema: TableSchema,
          mapping: dict[str, str], keys: dict[str, str]) -> None:
    """One pass over the file: cell errors into `errs`, unique/primary keys into `keys`.

    Batches are checked a chunk at a time (several record batches, which DuckDB scans in
    parallel) and released afterwards: that, not one query over the whole stream, keeps
    memory flat, because DuckDB holds on to the Arrow batches of a stream until it ends.
    """
    for table in ("errs", "keys"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    sql = cell_errors_sql(schema, mapping, "chunk", blank_row=True) or (
        "SELECT NULL::BIGINT AS rowNumber, NULL::VARCHAR AS type, NULL::VARCHAR AS fieldName, "
        "NULL::INTEGER AS fieldNumber, NULL::VARCHAR AS cell, NULL::VARCHAR AS note WHERE false")
    stream = _stream(path, header, width, ragged, rows)
    empty = pa.Table.from_batches([], schema=stream.schema)
    con.register("chunk", empty)
    con.execute(f"CREATE TEMP TABLE errs AS {sql}")
    if keys:
        con.execute(f"CREATE TEMP TABLE keys AS {_keys_select(keys, 'chunk')}")
    # Parsing (Arrow's threads) and checking (DuckDB's threads) overlap: a reader thread fills
    # the next chunk while DuckDB checks the current one, so neither leaves a core idle. The
    # queue holds one chunk, which bounds memory to about three chunks whatever the file size.
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
            for batch in stream:
                pending.append(batch)
                size += batch.num_rows
                if size >= CHUNK_ROWS:
                    if not put(pending):
                        return
                    pending, size = [], 0
            if pending and not put(pending):
                return
            put(None)
        except BaseException as exc:  # re-raised by the consumer, which knows what to report
            put(exc)

    reader = threading.Thread(target=produce, name="visitas-validate-reader", daemon=True)
    reader.start()
    prefilter = Prefilter(schema, compile_conditions(schema, mapping), list(mapping.values()))
    try:
        while (item := chunks.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            table = pa.Table.from_batches(item, schema=stream.schema)
            # the full query runs only on the rows that may hold an error
            con.register("chunk", prefilter.suspects(con, table))
            con.execute(f"INSERT INTO errs {sql}")
            con.register("chunk", table)
            if keys:
                con.execute(f"INSERT INTO keys {_keys_select(keys, 'chunk')}")
            con.unregister("chunk")
            del item, table
    finally:
        stop.set()
        reader.join()


def _collect(con: duckdb.DuckDBPyConnection, report: Report) -> None:
    """Counts over every cell error, and the first ones in full up to the error limit."""
    for kind, field_name, n in con.sql("SELECT type, fieldName, count(*) FROM errs GROUP BY ALL").fetchall():
        report.error_count += n
        report.counts_by_type[kind] = report.counts_by_type.get(kind, 0) + n
        if field_name:
            report.counts_by_field[field_name] = report.counts_by_field.get(field_name, 0) + n
    room = max(0, report.error_limit - len(report.errors))
    if room:
        first = con.sql("SELECT * FROM errs ORDER BY rowNumber, fieldNumber NULLS FIRST, type "
                        f"LIMIT {room}").to_arrow_table()
        report.errors.extend(ReportError(**row) for row in first.to_pylist())


def _key_exprs(schema: TableSchema, mapping: dict[str, str]) -> dict[str, str]:
    """Per unique field (and the primary key, '#pk'): a text key of the typed values.

    NULL means "no key" (a missing or unparseable cell), which never repeats; for the primary
    key, all-NULL is itself an error and is encoded as NULL.
    """
    by_name = {f.name: f for f in schema.fields}
    keys: dict[str, str] = {}
    for f in schema.fields:
        if f.constraints.get("unique") and f.name in mapping:
            keys[f.name] = f'({typed_value(f, chr(34) + mapping[f.name] + chr(34), schema)})::VARCHAR'
    pk = [n for n in schema.primary_key if n in mapping]
    if pk:
        parts = [f'({typed_value(by_name[n], chr(34) + mapping[n] + chr(34), schema)})::VARCHAR'
                 for n in pk]
        if len(parts) == 1:
            # one field: its value is the key (NULL when missing), the same expression as its
            # `unique` key if it has one, so both share a column of the state table
            keys["#pk"] = parts[0]
        else:
            # to_json keeps NULLs apart from the text 'null' and keeps the tuple's structure
            keys["#pk"] = (f"CASE WHEN {' AND '.join(f'{p} IS NULL' for p in parts)} THEN NULL "
                           f"ELSE to_json([{', '.join(parts)}])::VARCHAR END")
    return keys


def _key_columns(keys: dict[str, str]) -> dict[str, str]:
    """Column of the `keys` table holding each key; equal expressions share one column."""
    columns: dict[str, str] = {}
    by_expr: dict[str, str] = {}
    for name, expr in keys.items():
        columns[name] = by_expr.setdefault(expr, f"k{len(by_expr)}")
    return columns


def _keys_select(keys: dict[str, str], relation: str) -> str:
    """One row per row of `relation`: its number and every key, for a single insert per chunk."""
    exprs = {column: keys[name] for name, column in reversed(_key_columns(keys).items())}
    parts = ", ".join(f"{expr} AS {column}" for column, expr in sorted(exprs.items()))
    return f'SELECT "{ROW_NUMBER}" AS rowNumber, {parts} FROM {relation}'


def _key_errors(con: duckdb.DuckDBPyConnection, keys: dict[str, str], report: Report,
                schema: TableSchema) -> None:
    """unique-error / primary-key at every occurrence after the first, as frictionless does.

    Repeated keys are found by aggregation (one hash table of the keys) and only their rows are
    joined back, which is far cheaper than a window over every row when repeats are rare.
    """
    field_numbers = {f.name: i for i, f in enumerate(schema.fields, 1)}
    columns = _key_columns(keys)
    repeated: dict[str, list[tuple[int, str, int]]] = {}
    for name in keys:
        column = columns[name]
        if column not in repeated:  # a unique field that is also the primary key: one query
            repeated[column] = con.sql(f"""
                WITH d AS (SELECT {column} AS k, min(rowNumber) AS first FROM keys
                           WHERE {column} IS NOT NULL GROUP BY ALL HAVING count(*) > 1)
                SELECT keys.rowNumber, d.k, d.first FROM keys JOIN d ON keys.{column} = d.k
                WHERE keys.rowNumber > d.first
            """).fetchall()
        rows: list[tuple[int, str | None, int | None]] = list(repeated[column])
        if name == "#pk":
            # NULL is "no key": never a repeat, but for the primary key an error of its own
            rows += con.sql(f"SELECT rowNumber, NULL, NULL FROM keys WHERE {column} IS NULL").fetchall()
            for row_number, _, first in rows:
                note = ('cells composing the primary keys are all "None"' if first is None
                        else f"the same as in the row at position {first}")
                report.add(ReportError("primary-key", rowNumber=row_number, note=note))
        else:
            for row_number, value, first in rows:
                report.add(ReportError("unique-error", rowNumber=row_number, fieldName=name,
                                       fieldNumber=field_numbers[name], cell=value,
                                       note=f"the same as in the row at position {first}"))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
