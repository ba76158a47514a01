"""Write a consolidated table's rows as CSV, JSON and Parquet with DuckDB COPY (streamed,
never through pandas). The caller's query fixes which rows and in what order."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline.publication.spreadsheet import csv_safe_query
from pipeline.sql import path_literal
from pipeline.storage.base import sha256_file

#: Parquet row groups of 500k rows sit inside the 100k–1M range readers handle best: big
#: enough for zstd and min/max statistics to pay off, small enough to skip by date. Files are
#: monthly, so a month of up to 500k rows is one row group (a month with fewer than 100k rows
#: has a smaller one: splitting it further would only add overhead).
PARQUET_ROW_GROUP = 500_000

FORMATS = {
    "csv": ("text/csv", "(FORMAT csv, HEADER true, DELIMITER ',', QUOTE '\"')"),
    "json": ("application/json", "(FORMAT json, ARRAY true)"),
    "parquet": ("application/vnd.apache.parquet",
                f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {PARQUET_ROW_GROUP})"),
}


@dataclass(frozen=True)
class WrittenFile:
    path: Path
    name: str  # relative path in the published tree
    format: str
    mediatype: str
    bytes: int
    sha256: str
    rows: int
    partition: str = ""


def write_file(con: duckdb.DuckDBPyConnection, query: str, path: Path, name: str, fmt: str,
               *, rows: int, partition: str = "") -> WrittenFile:
    """COPY the query's rows to `path` in format `fmt`."""
    mediatype, options = FORMATS[fmt]
    path.parent.mkdir(parents=True, exist_ok=True)
    # Only the CSV is opened in spreadsheets, so only it neutralises formula-like cells.
    source = csv_safe_query(con, query) if fmt == "csv" else query
    con.execute(f"COPY ({source}) TO {path_literal(path)} {options}")
    return WrittenFile(path, name, fmt, mediatype, path.stat().st_size, sha256_file(path), rows,
                       partition)
