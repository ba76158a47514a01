"""Small tables published whole in every release beside `visitas` (compliance, the
decision-makers register, lobbying acts and their indicators): their CSV, Parquet and schema,
the fingerprint that tells whether a release must be cut for them, and what changed since the
previous release.

Each is a temporary table on the publisher's DuckDB connection, computed by its own module
(`compliance`, `lobbying`); this module only writes and compares them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from pipeline.publication import layout
from pipeline.publication.dataset import DatasetMeta
from pipeline.publication.manifest import ReleaseFile
from pipeline.publication.writers import write_file
from pipeline.sql import identifier, path_literal
from pipeline.storage.base import sha256_file


@dataclass(frozen=True)
class WholeTable:
    """How a whole table is published: its metadata, columns in order, sort order and key.

    `arrival`: columns that depend only on when batches arrived, left out of the fingerprint
    (re-ingesting the same uploads on a new machine must publish nothing new)."""

    meta: DatasetMeta
    columns: tuple[str, ...]
    order_by: tuple[str, ...]
    key: tuple[str, ...]
    arrival: tuple[str, ...] = ()

    @property
    def table(self) -> str:
        return self.meta.table


@dataclass(frozen=True)
class StagedTable:
    """A table's files of a release, written locally: CSV, Parquet and schema."""

    rows: int
    files: list[tuple[Path, ReleaseFile]]
    #: what the manifest keeps to tell whether the next release changes the table
    fingerprint: dict[str, Any]
    #: rows added, changed and removed since the previous release's Parquet of the table
    changes: dict[str, int] = field(default_factory=dict)


def _order(spec: WholeTable) -> str:
    return ", ".join(identifier(c) for c in spec.order_by)


def csv_query(con: duckdb.DuckDBPyConnection, spec: WholeTable) -> str:
    """The table as its CSV shows it: timestamps in UTC as Table Schema's default datetime
    (`2024-11-01T12:00:00Z`)."""
    types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {identifier(spec.table)})")
                 .fetchall())
    cols = [f"strftime({identifier(c)} AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') AS {identifier(c)}"
            if types.get(c, "").startswith("TIMESTAMP WITH TIME ZONE") else identifier(c)
            for c in spec.columns]
    return f"SELECT {', '.join(cols)} FROM {identifier(spec.table)} ORDER BY {_order(spec)}"


def parquet_query(spec: WholeTable) -> str:
    return (f"SELECT {', '.join(identifier(c) for c in spec.columns)} "
            f"FROM {identifier(spec.table)} ORDER BY {_order(spec)}")


def fingerprint(con: duckdb.DuckDBPyConnection, spec: WholeTable) -> str:
    """sha256 of the table's rows, in publication order, without the arrival columns."""
    cols = ", ".join(identifier(c) for c in spec.columns if c not in spec.arrival)
    digest = hashlib.sha256()
    for row in con.execute(f"SELECT {cols} FROM {identifier(spec.table)} "
                           f"ORDER BY {_order(spec)}").fetchall():
        digest.update(json.dumps(row, ensure_ascii=False, default=str).encode("utf-8") + b"\n")
    return digest.hexdigest()


def changes(con: duckdb.DuckDBPyConnection, spec: WholeTable,
            previous: Path | None) -> dict[str, int]:
    """Rows added, changed and removed against the previous release's Parquet of the table
    (joined on its key; a row changes when any published column does). With no previous
    file, every row is added."""
    table = identifier(spec.table)
    if previous is None:
        added = int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        return {"agregadas": added, "modificadas": 0, "retiradas": 0}
    present = {r[0] for r in con.execute(
        f"DESCRIBE SELECT * FROM read_parquet({path_literal(previous)})").fetchall()}
    # a column the previous release did not have reads as NULL: its rows count as changed
    cols = [c for c in spec.columns if c not in spec.arrival]
    prev_cols = ", ".join(identifier(c) if c in present else f"NULL AS {identifier(c)}"
                          for c in cols)
    keys = ", ".join(identifier(c) for c in spec.key)
    row = f"hash(row({', '.join(identifier(c) for c in cols)}))"
    on = " AND ".join(f"cur.{identifier(c)} IS NOT DISTINCT FROM prev.{identifier(c)}"
                      for c in spec.key)
    added, changed, removed = con.execute(f"""
        WITH cur AS (SELECT {keys}, {row} AS _h, true AS _here FROM {table}),
             prev AS (SELECT {keys}, {row} AS _h, true AS _here
                      FROM (SELECT {prev_cols} FROM read_parquet({path_literal(previous)})))
        SELECT count(*) FILTER (WHERE prev._here IS NULL),
               count(*) FILTER (WHERE cur._here AND prev._here AND cur._h <> prev._h),
               count(*) FILTER (WHERE cur._here IS NULL)
        FROM cur FULL OUTER JOIN prev ON {on}""").fetchone()
    return {"agregadas": int(added), "modificadas": int(changed), "retiradas": int(removed)}


def write(con: duckdb.DuckDBPyConnection, spec: WholeTable, out: Path,
          previous: Path | None = None) -> StagedTable:
    """Write the table's CSV, Parquet and schema under `out`; `previous`: the previous
    release's Parquet of it, to count what changed."""
    rows = int(con.execute(f"SELECT count(*) FROM {identifier(spec.table)}").fetchone()[0])
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for fmt, query in (("csv", csv_query(con, spec)), ("parquet", parquet_query(spec))):
        name = layout.table_file(spec.table, fmt)
        wf = write_file(con, query, out / name, name, fmt, rows=rows)
        files.append((wf.path, ReleaseFile(name, fmt, wf.bytes, wf.sha256, rows)))
    schema = out / spec.meta.schema_path.name
    schema.write_bytes(json.dumps(spec.meta.schema, ensure_ascii=False, indent=2).encode("utf-8"))
    files.append((schema, ReleaseFile(schema.name, "json", schema.stat().st_size,
                                      sha256_file(schema))))
    return StagedTable(rows, files, {"huella": fingerprint(con, spec),
                                     "esquema": files[2][1].sha256, "filas": rows},
                       changes(con, spec, previous))
