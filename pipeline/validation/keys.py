"""`unique` and `primaryKey`: the only checks that need state across chunks.

Every chunk's keys go to a DuckDB temporary table (which spills to disk beyond the memory
limit); repeats are found once the whole file has been read.
"""

from __future__ import annotations

import duckdb

from pipeline.sources.readers import ROW_NUMBER
from pipeline.sql import identifier
from pipeline.validation.engine import typed_value
from pipeline.validation.schema import TableSchema


def key_exprs(schema: TableSchema, mapping: dict[str, str]) -> dict[str, str]:
    """Per unique field (and the primary key, '#pk'): a text key of the typed values.

    NULL means "no key" (a missing or unparseable cell), which never repeats; for the primary
    key, all-NULL is itself an error and is encoded as NULL.
    """
    by_name = {f.name: f for f in schema.fields}
    keys: dict[str, str] = {}
    for f in schema.fields:
        if f.constraints.get("unique") and f.name in mapping:
            keys[f.name] = f'({typed_value(f, identifier(mapping[f.name]), schema)})::VARCHAR'
    pk = [n for n in schema.primary_key if n in mapping]
    if pk:
        parts = [f'({typed_value(by_name[n], identifier(mapping[n]), schema)})::VARCHAR' for n in pk]
        if len(parts) == 1:
            # one field: its value is the key (NULL when missing), the same expression as its
            # `unique` key if it has one, so both share a column of the state table
            keys["#pk"] = parts[0]
        else:
            # to_json keeps NULLs apart from the text 'null' and keeps the tuple's structure
            keys["#pk"] = (f"CASE WHEN {' AND '.join(f'{p} IS NULL' for p in parts)} THEN NULL "
                           f"ELSE to_json([{', '.join(parts)}])::VARCHAR END")
    return keys


def key_columns(keys: dict[str, str]) -> dict[str, str]:
    """Column of the `keys` table holding each key; equal expressions share one column."""
    columns: dict[str, str] = {}
    by_expr: dict[str, str] = {}
    for name, expr in keys.items():
        columns[name] = by_expr.setdefault(expr, f"k{len(by_expr)}")
    return columns


def keys_select(keys: dict[str, str], relation: str) -> str:
    """One row per row of `relation`: its number and every key, for a single insert per chunk."""
    exprs = {column: keys[name] for name, column in reversed(key_columns(keys).items())}
    parts = ", ".join(f"{expr} AS {column}" for column, expr in sorted(exprs.items()))
    return f'SELECT "{ROW_NUMBER}" AS rowNumber, {parts} FROM {relation}'


def key_errors(con: duckdb.DuckDBPyConnection, keys: dict[str, str],
               numbers: dict[str, int]) -> list[dict[str, object]]:
    """unique-error / primary-key at every occurrence after the first, as frictionless does.

    Repeated keys are found by aggregation (one hash table of the keys) and only their rows are
    joined back, which is far cheaper than a window over every row when repeats are rare.
    """
    errors: list[dict[str, object]] = []
    columns = key_columns(keys)
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
                errors.append({"rowNumber": row_number, "type": "primary-key", "note": note})
        else:
            for row_number, value, first in rows:
                errors.append({"rowNumber": row_number, "type": "unique-error",
                               "fieldName": name, "fieldNumber": numbers[name], "cell": value,
                               "note": f"the same as in the row at position {first}"})
    return errors
