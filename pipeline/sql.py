"""Quoting for SQL text built in Python: one convention for literals, identifiers and paths.

Values that come from users (cells, file names, folders) are passed as bound parameters
wherever DuckDB accepts one; these helpers are for the places it does not (DDL, COPY targets,
`read_parquet` lists, macros compiled from a schema).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def literal(value: object) -> str:
    """A SQL string literal: `O'Brien` → `'O''Brien'`."""
    return "'" + str(value).replace("'", "''") + "'"


def identifier(name: str) -> str:
    """A quoted SQL identifier: `Hora Ingreso` → `"Hora Ingreso"`."""
    return '"' + name.replace('"', '""') + '"'


def path_literal(path: Path | str) -> str:
    """A file or folder path as a SQL string literal (forward slashes on every system)."""
    return literal(Path(path).as_posix())


def path_list(paths: Iterable[Path | str]) -> str:
    """`['a.parquet', 'b.parquet']` for `read_parquet` and friends."""
    return "[" + ", ".join(path_literal(p) for p in paths) + "]"
