"""Write a consolidated table as CSV, JSON and Parquet with DuckDB (streamed, never in pandas)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline.publication.spreadsheet import csv_safe_query
from pipeline.storage.base import sha256_file

FORMATS = {
    "csv": ("text/csv", "(FORMAT csv, HEADER true, DELIMITER ',', QUOTE '\"')"),
    "json": ("application/json", "(FORMAT json, ARRAY true)"),
    "parquet": ("application/vnd.apache.parquet", "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 500000)"),
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


def write_table_files(con: duckdb.DuckDBPyConnection, query: str, outdir: Path,
                      stem: str) -> list[WrittenFile]:
    """Write the query's rows in every format; the query fixes the row order."""
    outdir.mkdir(parents=True, exist_ok=True)
    rows = con.execute(f"SELECT count(*) FROM ({query})").fetchone()[0]
    written = []
    for fmt, (mediatype, options) in FORMATS.items():
        path = outdir / f"{stem}.{fmt}"
        # only the CSV is opened in spreadsheets, so only it neutralises formula-like cells
        source = csv_safe_query(con, query) if fmt == "csv" else query
        con.execute(f"COPY ({source}) TO '{path.as_posix()}' {options}")
        written.append(WrittenFile(path, path.name, fmt, mediatype, path.stat().st_size,
                                   sha256_file(path), rows))
    return written
