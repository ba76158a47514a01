"""The whole dataset in one download per format, built from the release's monthly files.

* `<table>-completo.csv.gz`: the monthly CSVs one after the other, the header once, gzip.
  Made from the monthly files' own bytes (not written again by DuckDB), so it holds exactly
  what the Data Package's multi-part CSV resource describes: the size and sha256 of that
  stream, measured here, are the resource's `bytes` and `hash`.
* `<table>-completo.parquet`: every month's Parquet rows in one file, in publication order.
* `<table>.duckdb`: a DuckDB database holding the rows as a table (not views over relative
  paths), so it works wherever it is opened: downloaded, in `latest/`, or attached over HTTP.

Each costs a pass over the whole dataset: the monthly Parquet is read once for the Parquet and
the database, the monthly CSVs once for the gzip.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline.publication import layout
from pipeline.publication.dataset import DatasetMeta
from pipeline.publication.manifest import ReleaseFile
from pipeline.publication.months import columns
from pipeline.publication.writers import PARQUET_ROW_GROUP
from pipeline.sql import identifier, literal, path_literal
from pipeline.storage.base import sha256_file

#: what the `partition` of the whole-dataset files says (it titles them in the catalogues)
PARTITION = "todos los meses"
#: gzip level 6 (gzip's own default): CSV shrinks about 8x, at some 50 MB/s per core
GZIP_LEVEL = 6
_CHUNK = 1 << 20


@dataclass(frozen=True)
class WholeFiles:
    files: list[tuple[Path, ReleaseFile]]
    #: size and sha256 of the monthly CSVs read as one (headers after the first dropped), as
    #: Frictionless reads a multi-part resource; None when there are no months
    csv_stream: dict[str, object] | None


def write(meta: DatasetMeta, rows: int, csv_parts: list[Path], parquet_parts: list[Path],
          out: Path, connect: Callable[[Path], duckdb.DuckDBPyConnection]) -> WholeFiles:
    """Write the three whole-dataset files under `out` from the monthly files, month order.

    `connect(path)` opens a DuckDB database at `path` with the publication's resource limits.
    """
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / layout.complete_file(meta.table, "csv.gz")
    stream = _concatenate_csv(csv_parts, csv_path, ",".join(columns(meta)) + "\n")
    parquet_path = out / layout.complete_file(meta.table, "parquet")
    db_path = out / layout.DUCKDB
    db_path.unlink(missing_ok=True)
    table = identifier(meta.table)
    with connect(db_path) as con:
        # The monthly files are each sorted and named in month order: read in list order,
        # their rows are already in publication order, with no sort of the whole table.
        con.execute("SET preserve_insertion_order = true")
        if parquet_parts:
            # hive_partitioning off: the `anio=` folders would add a column the files lack
            files = ", ".join(path_literal(p) for p in parquet_parts)
            source = f"read_parquet([{files}], hive_partitioning = false)"
        else:
            source = f"(SELECT {_empty_columns(meta)} LIMIT 0)"
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM {source}")
        con.execute(f"COPY {table} TO {path_literal(parquet_path)} "
                    f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {PARQUET_ROW_GROUP})")
        _describe(con, meta)
    files = [(csv_path, layout.complete_file(meta.table, "csv.gz"), "csv.gz"),
             (parquet_path, layout.complete_file(meta.table, "parquet"), "parquet"),
             (db_path, layout.DUCKDB, "duckdb")]
    return WholeFiles(
        [(path, ReleaseFile(name, fmt, path.stat().st_size, sha256_file(path), rows,
                            PARTITION if fmt != "duckdb" else ""))
         for path, name, fmt in files],
        stream)


def _concatenate_csv(parts: list[Path], dest: Path, header: str) -> dict[str, object] | None:
    digest = hashlib.sha256()
    size = 0
    # mtime 0 and no file name in the gzip header: the same rows give the same bytes
    with open(dest, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                                                compresslevel=GZIP_LEVEL, mtime=0) as gz:
        if not parts:
            gz.write(header.encode("utf-8"))
            return None
        for number, part in enumerate(parts):
            with open(part, "rb") as fh:
                if number:
                    fh.readline()  # the header, said once
                while block := fh.read(_CHUNK):
                    digest.update(block)
                    size += len(block)
                    gz.write(block)
    return {"bytes": size, "sha256": digest.hexdigest()}


def _empty_columns(meta: DatasetMeta) -> str:
    types = {"string": "VARCHAR", "date": "DATE", "time": "TIME", "integer": "BIGINT",
             "number": "DOUBLE", "boolean": "BOOLEAN", "datetime": "TIMESTAMP"}
    return ", ".join(f"NULL::{types.get(f.get('type', 'string'), 'VARCHAR')} AS {identifier(f['name'])}"
                     for f in meta.schema["fields"])


def _describe(con: duckdb.DuckDBPyConnection, meta: DatasetMeta) -> None:
    """The schema's Spanish titles and descriptions as comments, for `duckdb_columns()`."""
    table = identifier(meta.table)
    con.execute(f"COMMENT ON TABLE {table} IS {literal(meta.title)}")
    for field in meta.schema["fields"]:
        text = " — ".join(t for t in (field.get("title"), field.get("description")) if t)
        if text:
            con.execute(f"COMMENT ON COLUMN {table}.{identifier(field['name'])} IS {literal(text)}")
