"""Compile a Table Schema into one vectorised DuckDB query over a whole batch.

Every cell check becomes a SQL predicate; adding a constraint to a schema file changes
validation with no code change. The query returns one row per error, as Arrow.

The semantics follow frictionless-py 5 (`frictionless.fields.*.create_value_reader` and
`Field.create_cell_reader`), because the reports must agree with the reference library:
- a cell equal to one of `missingValues` is missing (no stripping) and only `required` applies;
- a cell that does not parse as its type gets one `type-error` and no constraint checks;
- otherwise each violated constraint gives a `constraint-error`;
- a row whose cells are all missing is one `blank-row` and nothing else (but it still takes
  part in `primaryKey`, as in frictionless).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pipeline.sources.readers import ROW_NUMBER
from pipeline.sql import identifier
from pipeline.sql import literal as lit
from pipeline.validation.report import QUOTE_CHARS
from pipeline.validation.schema import Field, TableSchema

ERROR_COLUMNS = ("rowNumber", "type", "fieldName", "fieldNumber", "cell", "note", "cellLength")

# Python's int() after str.strip(): sign, digits, single underscores between digits.
_INT_RE = r"\s*[+-]?[0-9](_?[0-9])*\s*"
# Python's Decimal() after str.strip(): also exponents, infinities and NaN.
_DEC_RE = (r"\s*[+-]?(([0-9](_?[0-9])*)(\.([0-9](_?[0-9])*)?)?|\.[0-9](_?[0-9])*)"
           r"([eE][+-]?[0-9](_?[0-9])*)?\s*|\s*[+-]?(?i:inf|infinity|s?nan)\s*")
_UUID_RE = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
# dateutil's isoparse accepts an optional fraction and offset after HH:MM:SS.
_TZ_RE = r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?"
_TIME_RE = rf"[0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}([.,][0-9]+)?{_TZ_RE}"
# isoparse takes any single character between the date and the time
_DATETIME_RE = rf"[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}.{_TIME_RE}"

#: types and formats the engine checks exactly like frictionless; others are only read as text
SUPPORTED_TYPES = {"string", "integer", "number", "boolean", "date", "time", "datetime", "year",
                   "any"}


def quoted_cell(cell: str) -> str:
    """SQL for the struct fields quoting a cell: a bounded prefix, and its length when cut."""
    return (f"'cell': left({cell}, {QUOTE_CHARS}), "
            f"'cellLength': CASE WHEN length({cell}) > {QUOTE_CHARS} THEN length({cell}) END")


def _number_text(f: Field, cell: str) -> str:
    """The cell as Decimal() would see it, after bareNumber/groupChar/decimalChar processing."""
    d = f.descriptor
    text = f"trim({cell})"
    if d.get("bareNumber") is False:
        text = f"regexp_replace(regexp_replace({text}, '^[^-0-9]*', ''), '[^0-9]*$', '')"
    if d.get("groupChar"):
        text = f"replace({text}, {lit(d['groupChar'])}, '')"
    decimal = d.get("decimalChar", ".")
    if decimal != ".":
        # frictionless refuses a '.' when another decimal character is declared
        text = f"CASE WHEN contains({text}, '.') THEN NULL ELSE replace({text}, {lit(decimal)}, '.') END"
    return text


def _typed(f: Field, cell: str) -> str | None:
    """SQL expression of the cell's typed value; NULL when it does not parse."""
    t, fmt = f.type, f.format
    if t == "integer":
        text = f"trim({cell})"
        if f.descriptor.get("bareNumber") is False:
            text = f"regexp_replace(regexp_replace({text}, '^[^-0-9]*', ''), '[^0-9]*$', '')"
        return (f"CASE WHEN regexp_full_match({text}, '{_INT_RE}') "
                f"THEN try_cast(replace({text}, '_', '') AS HUGEINT) END")
    if t == "number":
        text = _number_text(f, cell)
        return (f"CASE WHEN regexp_full_match({text}, '{_DEC_RE}') "
                f"THEN try_cast(replace(trim({text}), '_', '') AS DOUBLE) END")
    if t == "boolean":
        true_values = f.descriptor.get("trueValues", ["true", "True", "TRUE", "1"])
        false_values = f.descriptor.get("falseValues", ["false", "False", "FALSE", "0"])
        return (f"CASE WHEN {cell} IN ({', '.join(lit(v) for v in true_values)}) THEN true "
                f"WHEN {cell} IN ({', '.join(lit(v) for v in false_values)}) THEN false END")
    if t == "date":
        pattern = "%Y-%m-%d" if fmt == "default" else fmt
        if fmt == "any":
            return f"try_cast({cell} AS DATE)"
        # a strptime format with a time part must land on midnight to be a date
        return f"try_strptime({cell}, {lit(pattern)})::DATE"
    if t == "time":
        if fmt == "default":
            return (f"CASE WHEN regexp_full_match({cell}, '{_TIME_RE}') "
                    f"THEN try_cast(substr({cell}, 1, 8) AS TIME) END")
        if fmt == "any":
            return f"try_cast({cell} AS TIME)"
        return f"try_strptime({cell}, {lit(fmt)})::TIME"
    if t == "datetime":
        if fmt == "default":
            return (f"CASE WHEN regexp_full_match({cell}, '{_DATETIME_RE}') "
                    f"THEN try_cast(substr({cell}, 1, 10) || ' ' || substr({cell}, 12, 8) AS TIMESTAMP) END")
        if fmt == "any":
            return f"try_cast({cell} AS TIMESTAMP)"
        return f"try_strptime({cell}, {lit(fmt)})"
    if t == "year":
        return (f"CASE WHEN length({cell}) = 4 AND regexp_full_match({cell}, '{_INT_RE}') "
                f"AND try_cast(trim({cell}) AS INTEGER) BETWEEN 0 AND 9999 "
                f"THEN try_cast(trim({cell}) AS INTEGER) END")
    if t == "string" and fmt == "uuid":
        return f"CASE WHEN regexp_full_match({cell}, '{_UUID_RE}') THEN {cell} END"
    return None  # string (other formats) and any: every text is valid


def _typed_literal(f: Field, value: Any) -> str:
    """A constraint value (minimum, maximum, enum item) as a SQL literal of the field's type."""
    if f.type in ("integer", "number", "year") and not isinstance(value, str):
        return repr(value) if not isinstance(value, bool) else str(int(value))
    if f.type == "boolean" and isinstance(value, bool):
        return "true" if value else "false"
    # Strings go through the same parser as the cells (e.g. a date minimum "2024-01-01").
    typed = _typed(f, lit(value))
    return typed if typed is not None else lit(value)


def _constraint_checks(f: Field, cell: str, typed: str) -> list[tuple[str, str, str]]:
    """(constraint, predicate true on a violation, note) for each constraint but 'required'."""
    c = f.constraints
    checks: list[tuple[str, str, str]] = []

    def note(name: str) -> str:
        value = c[name]
        shown = json.dumps(value, ensure_ascii=False) if name == "enum" else value
        shown = "True" if value is True else shown
        return f'constraint "{name}" is "{shown if name != "enum" else value}"'

    def add(name: str, violated: str) -> None:
        checks.append((name, violated, note(name)))

    # frictionless checks lengths on strings only (and on arrays/objects, not supported here)
    if "minLength" in c and f.type == "string":
        add("minLength", f"length({cell}) < {int(c['minLength'])}")
    if "maxLength" in c and f.type == "string":
        add("maxLength", f"length({cell}) > {int(c['maxLength'])}")
    if "minimum" in c and f.type not in ("string", "boolean"):
        add("minimum", f"{typed} < {_typed_literal(f, c['minimum'])}")
    if "maximum" in c and f.type not in ("string", "boolean"):
        add("maximum", f"{typed} > {_typed_literal(f, c['maximum'])}")
    if "exclusiveMinimum" in c and f.type not in ("string", "boolean"):
        add("exclusiveMinimum", f"{typed} <= {_typed_literal(f, c['exclusiveMinimum'])}")
    if "exclusiveMaximum" in c and f.type not in ("string", "boolean"):
        add("exclusiveMaximum", f"{typed} >= {_typed_literal(f, c['exclusiveMaximum'])}")
    if "pattern" in c and f.type == "string":
        add("pattern", f"NOT regexp_full_match({cell}, {lit(c['pattern'])})")
    if "enum" in c:
        values = ", ".join(_typed_literal(f, v) for v in c["enum"])
        add("enum", f"{typed} NOT IN ({values})")
    return checks


def missing_sql(schema: TableSchema, cell: str) -> str:
    values = ", ".join(lit(v) for v in schema.missing_values)
    return f"({cell} IS NULL OR {cell} IN ({values}))" if values else f"({cell} IS NULL)"


def typed_value(f: Field, cell: str, schema: TableSchema) -> str:
    """The typed value of a cell, NULL when missing or unparseable (as frictionless stores it)."""
    typed = _typed(f, cell) or cell
    return f"CASE WHEN NOT {missing_sql(schema, cell)} THEN {typed} END"


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one object per check
class Check:
    """One check of one field: a SQL condition true on a violation, and the error it reports."""

    field: Field
    #: the relation's column holding the field's cells
    column: str
    #: "type", or the constraint checked ("required", "pattern", "maxLength"…)
    constraint: str
    condition: str
    error: str
    #: the error's type and note, as the `error` struct holds them
    kind: str = ""
    note: str = ""
    number: int = 0

    @property
    def costly(self) -> bool:
        """Parses or matches the cell, rather than comparing it or measuring its length."""
        return self.constraint not in ("required", "minLength", "maxLength")


def compile_conditions(schema: TableSchema, mapping: dict[str, str],
                       numbers: dict[str, int] | None = None) -> list[Check]:
    """Every check of every mapped field, in frictionless's order (field, then check).

    Errors carry the field's number in `numbers` (its position in the schema by default).
    """
    checks: list[Check] = []
    for position, f in enumerate(schema.fields, 1):
        column = mapping.get(f.name)
        if column is None:
            continue
        number = numbers.get(f.name, position) if numbers else position
        cell = identifier(column)
        is_missing = missing_sql(schema, cell)

        def check(constraint: str, condition: str, kind: str, note: str, _f: Field = f,
                  _n: int = number, _c: str = cell, _col: str = column) -> Check:
            error = (f"{{'type': {lit(kind)}, 'fieldName': {lit(_f.name)}, "
                     f"'fieldNumber': {_n}, {quoted_cell(_c)}, 'note': {lit(note)}}}")
            return Check(_f, _col, constraint, condition, error, kind, note, _n)

        if f.required:
            checks.append(check("required", is_missing, "constraint-error",
                                'constraint "required" is "True"'))
        typed = _typed(f, cell)
        type_ok = f"({typed}) IS NOT NULL" if typed is not None else None
        if type_ok:
            checks.append(check("type", f"NOT {is_missing} AND NOT ({type_ok})", "type-error",
                                f'type is "{f.type}/{f.format}"'))
        for constraint, violated, note in _constraint_checks(f, cell, f"({typed or cell})"):
            guard = f"NOT {is_missing}" + (f" AND {type_ok}" if type_ok else "")
            checks.append(check(constraint, f"{guard} AND ({violated})", "constraint-error",
                                note))
    return checks


#: the column name checks are compiled against when they are to run per value
_PLACEHOLDER = "__valor__"


def per_value_checks(schema: TableSchema, fields: list[str]) -> list[tuple[Check, str]]:
    """Every check of `fields` with its condition over `{v}` (one cell), and per field the
    condition of a missing cell (constraint "missing"): checks that need only the cell can
    run once per distinct value."""
    def over_v(sql: str) -> str:
        return (sql.replace("{", "{{").replace("}", "}}")
                .replace(identifier(_PLACEHOLDER), "{v}"))

    found: list[tuple[Check, str]] = []
    for f in schema.fields:
        if f.name not in fields:
            continue
        for check in compile_conditions(schema, {f.name: _PLACEHOLDER}):
            found.append((check, over_v(check.condition)))
        missing = Check(f, _PLACEHOLDER, "missing", "", "")
        found.append((missing, over_v(missing_sql(schema, identifier(_PLACEHOLDER)))))
    return found


def violation_sql(checks: list[Check]) -> str:
    """True when any of `checks` is violated (NULL-safe)."""
    return " OR ".join(f"coalesce({c.condition}, false)" for c in checks) or "false"


def cell_errors_sql(schema: TableSchema, mapping: dict[str, str], relation: str,
                    blank_row: bool = False, numbers: dict[str, int] | None = None) -> str | None:
    """SQL returning one row per cell error of `relation` (columns: ERROR_COLUMNS).

    With `blank_row`, a row whose mapped cells are all missing yields only a `blank-row`
    error, as frictionless does.
    """
    conditions = compile_conditions(schema, mapping, numbers)
    structs = [f"CASE WHEN {c.condition} THEN {c.error} END" for c in conditions]
    checks = f"list_filter([{', '.join(structs)}], x -> x IS NOT NULL)" if structs else "[]"
    # Most rows are valid: a cheap filter (no structs, no lists) keeps them out of the
    # error-building projection, which is what makes the scan run near DuckDB's plain speed.
    any_violation = violation_sql(conditions)
    if blank_row and mapping:
        blank = " AND ".join(missing_sql(schema, identifier(c)) for c in mapping.values())
        blank_error = ("{'type': 'blank-row', 'fieldName': NULL::VARCHAR, "
                       "'fieldNumber': NULL::INTEGER, 'cell': NULL::VARCHAR, "
                       "'cellLength': NULL::BIGINT, 'note': ''}")
        checks = f"CASE WHEN {blank} THEN [{blank_error}] ELSE {checks} END"
        any_violation = f"({blank}) OR {any_violation}"
    elif not structs:
        return None
    return f"""
        SELECT "{ROW_NUMBER}" AS rowNumber, e.type, e.fieldName, e.fieldNumber::INTEGER AS fieldNumber,
               e.cell, e.note, e.cellLength::BIGINT AS cellLength
        FROM (
            SELECT "{ROW_NUMBER}", unnest({checks}) AS e
            FROM {relation}
            WHERE {any_violation}
        )
    """
