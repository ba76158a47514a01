"""Compile a Table Schema into one vectorised DuckDB query over a whole batch.

Every cell check becomes a SQL predicate; adding a constraint to a schema file changes
validation with no code change. The query returns one row per error, as Arrow.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from pipeline.sources.readers import ROW_NUMBER
from pipeline.validation.schema import Field, TableSchema


def _lit(value: object) -> str:
    text = str(value).replace("'", "''")
    return f"'{text}'"


def _type_ok(f: Field, cell: str) -> str | None:
    """SQL predicate that is true when the (non-missing) cell parses as the field's type."""
    t = f.type
    if t == "integer":
        return f"try_cast({cell} AS BIGINT) IS NOT NULL AND regexp_full_match({cell}, '[+-]?[0-9]+')"
    if t == "number":
        return f"try_cast({cell} AS DOUBLE) IS NOT NULL"
    if t == "boolean":
        return f"lower({cell}) IN ('true', 'false', 'yes', 'no', '1', '0')"
    if t == "date":
        return f"try_strptime({cell}, '%Y-%m-%d') IS NOT NULL"
    if t == "time":
        return f"try_strptime({cell}, '%H:%M:%S') IS NOT NULL"
    if t == "datetime":
        return f"try_cast({cell} AS TIMESTAMP) IS NOT NULL"
    return None


def _typed(f: Field, cell: str) -> str:
    return {
        "integer": f"try_cast({cell} AS BIGINT)",
        "number": f"try_cast({cell} AS DOUBLE)",
        "date": f"try_strptime({cell}, '%Y-%m-%d')::DATE",
        "time": f"try_strptime({cell}, '%H:%M:%S')::TIME",
    }.get(f.type, cell)


def _constraint_checks(f: Field, cell: str) -> list[tuple[str, str]]:
    """(predicate that is true on a violation, note) for each constraint but 'required'."""
    c = f.constraints
    checks: list[tuple[str, str]] = []
    if "pattern" in c:
        checks.append((f"NOT regexp_full_match({cell}, {_lit(c['pattern'])})",
                       f'constraint "pattern" is "{c["pattern"]}"'))
    if "enum" in c:
        values = ", ".join(_lit(v) for v in c["enum"])
        checks.append((f"{cell} NOT IN ({values})", f'constraint "enum" is "{c["enum"]}"'))
    if "minLength" in c:
        checks.append((f"length({cell}) < {int(c['minLength'])}",
                       f'constraint "minLength" is "{c["minLength"]}"'))
    if "maxLength" in c:
        checks.append((f"length({cell}) > {int(c['maxLength'])}",
                       f'constraint "maxLength" is "{c["maxLength"]}"'))
    typed = _typed(f, cell)
    if "minimum" in c:
        checks.append((f"{typed} < {c['minimum']!r}", f'constraint "minimum" is "{c["minimum"]}"'))
    if "maximum" in c:
        checks.append((f"{typed} > {c['maximum']!r}", f'constraint "maximum" is "{c["maximum"]}"'))
    return checks


def compile_checks(schema: TableSchema, mapping: dict[str, str]) -> list[str]:
    """One SQL struct expression per check; NULL when the check passes."""
    missing = ", ".join(_lit(v) for v in schema.missing_values) or "''"
    structs: list[str] = []
    for number, f in enumerate(schema.fields, 1):
        column = mapping.get(f.name)
        if column is None:
            continue
        cell = f'"{column}"'
        is_missing = f"({cell} IS NULL OR {cell} IN ({missing}))"

        def err(kind: str, note: str, _f: Field = f, _n: int = number, _c: str = cell) -> str:
            return (f"{{'type': {_lit(kind)}, 'fieldName': {_lit(_f.name)}, "
                    f"'fieldNumber': {_n}, 'cell': {_c}, 'note': {_lit(note)}}}")

        if f.required:
            required_error = err("constraint-error", 'constraint "required" is "True"')
            structs.append(f"CASE WHEN {is_missing} THEN {required_error} END")
        type_ok = _type_ok(f, cell)
        if type_ok:
            type_error = err("type-error", f'type is "{f.type}/{f.format}"')
            structs.append(f"CASE WHEN NOT {is_missing} AND NOT ({type_ok}) THEN {type_error} END")
        for violated, note in _constraint_checks(f, cell):
            guard = f"NOT {is_missing}" + (f" AND ({type_ok})" if type_ok else "")
            error = err("constraint-error", note)
            structs.append(f"CASE WHEN {guard} AND ({violated}) THEN {error} END")
    return structs


def check_cells(con: duckdb.DuckDBPyConnection, relation: str, schema: TableSchema,
                mapping: dict[str, str]) -> pa.Table:
    """All cell errors of the batch in one scan: rowNumber, type, fieldName, fieldNumber, cell, note."""
    structs = compile_checks(schema, mapping)
    if not structs:
        return _empty_errors(con)
    checks = ",\n".join(structs)
    sql = f"""
        SELECT "{ROW_NUMBER}" AS rowNumber, e.type, e.fieldName, e.fieldNumber, e.cell, e.note
        FROM (
            SELECT "{ROW_NUMBER}", unnest(list_filter([{checks}], x -> x IS NOT NULL)) AS e
            FROM {relation}
        )
    """
    return con.sql(sql).to_arrow_table()


def _empty_errors(con: duckdb.DuckDBPyConnection) -> pa.Table:
    return con.sql("SELECT NULL::BIGINT AS rowNumber, NULL::VARCHAR AS type, NULL::VARCHAR AS fieldName,"
                   " NULL::INTEGER AS fieldNumber, NULL::VARCHAR AS cell, NULL::VARCHAR AS note"
                   " WHERE false").to_arrow_table()
