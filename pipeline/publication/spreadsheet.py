"""Spreadsheet safety of the CSV distribution (CSV/formula injection, OWASP).

A spreadsheet opening the CSV runs any cell that starts with `=`, `+`, `-` or `@` (and, in some
programs, a tab or carriage return) as a formula: a visitor could register `=HYPERLINK(...)`
as their organisation. In the CSV only, such text cells get a leading single quote, which
spreadsheets show as text; Parquet and JSON are read by programs, not spreadsheets, and keep
the value exactly as registered.
"""

from __future__ import annotations

import duckdb

from pipeline.sql import identifier

#: first characters a spreadsheet treats as the start of a formula
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
TEXT_TYPES = ("VARCHAR",)


def neutralise_sql(column_sql: str) -> str:
    """SQL expression: the text value, with a `'` prefixed when it would run as a formula."""
    triggers = ", ".join(f"chr({ord(c)})" for c in TRIGGERS)
    return (f"CASE WHEN left({column_sql}, 1) IN ({triggers}) "
            f"THEN '''' || {column_sql} ELSE {column_sql} END")


def csv_safe_query(con: duckdb.DuckDBPyConnection, query: str) -> str:
    """Wrap `query` so every text column is neutralised; column names, types and order stay."""
    columns = con.execute(f"DESCRIBE ({query})").fetchall()
    exprs = ", ".join(
        f"{neutralise_sql(identifier(name))} AS {identifier(name)}" if ctype in TEXT_TYPES
        else identifier(name)
        for name, ctype, *_ in columns)
    return f"SELECT {exprs} FROM ({query})"
