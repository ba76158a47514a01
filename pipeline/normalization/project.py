"""Project an upload (in either accepted layout) onto the normalised visit columns.

The official layout's composite fields are split into atomic fields here; the normalised
layout already has one field per fact and only gets its values cleaned. The columns and their
types are those of `schemas/upload-normalizado.schema.json` and `schemas/visitas.schema.json`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.sql import identifier

OFFICIAL = "upload-oficial"
NORMALISED = "upload-normalizado"
ROW_NUMBER = "_fila"
SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"
#: columns of the normalised layout that name the entity rather than describe the visit
ENTITY_FIELDS = ("entidad_ruc", "entidad_nombre")
#: the upload field naming the visited entity, per layout (compared with its registration)
ENTITY_NAME_FIELD = {OFFICIAL: "Entidad visitada", NORMALISED: "entidad_nombre"}


def _fields(name: str) -> list[dict[str, object]]:
    return json.loads((SCHEMAS_DIR / f"{name}.schema.json").read_text("utf-8"))["fields"]


#: normalised visit columns, in published order (the normalised upload layout's own fields)
NORMALISED_COLUMNS: tuple[str, ...] = tuple(
    str(f["name"]) for f in _fields(NORMALISED) if f["name"] not in ENTITY_FIELDS)
_ARROW_TYPES = {"date": pa.date32(), "time": pa.time64("us"), "string": pa.string()}
_SQL_TYPES = {"date": "DATE", "time": "TIME", "string": "VARCHAR"}
_PUBLISHED_TYPES = {str(f["name"]): str(f.get("type", "string")) for f in _fields("visitas")}


def sql_type(column: str) -> str:
    """The DuckDB type of a normalised column, from the published Table Schema."""
    return _SQL_TYPES[_PUBLISHED_TYPES[column]]


#: the Arrow schema of normalised rows: `_fila` then every normalised column
NORMALISED_SCHEMA = pa.schema([(ROW_NUMBER, pa.int64())] + [
    (c, _ARROW_TYPES[_PUBLISHED_TYPES[c]]) for c in NORMALISED_COLUMNS])


@dataclass(frozen=True)
class Output:
    """One computed column: an SQL expression of the cells of `key` (written `{v}`).

    The expression may name outputs of the same key listed before it. Because an output
    depends on its key alone, it can be computed once per distinct key.
    """

    name: str
    key: tuple[str, ...]
    sql: str


# Type and number of the document go through the same parser in both layouts.
_DOCUMENT = ("visitante_tipo_documento", "visitante_numero_documento")

_OFFICIAL = {
    "fecha_registro": (("Fecha de Registro",), "parse_date({v})"),
    "fecha_visita": (("Fecha de Visita",), "parse_date({v})"),
    "hora_ingreso": (("Hora Ingreso",), "parse_time({v})"),
    "hora_salida": (("Hora Salida",), "parse_time({v})"),
    "visitante_nombre": (("Visitante",), "person_name({v})"),
    "visitante_tipo_documento": (("Documento del visitante",), "doc_type({v})"),
    "visitante_numero_documento": (("Documento del visitante",), "doc_number({v})"),
    "visitante_tipo_entidad": (("Entidad del visitante",), "visitor_entity_kind({v})"),
    "visitante_entidad": (("Entidad del visitante",), "visitor_entity_name({v})"),
    "funcionario_nombre": (("Funcionario visitado",), "official_name({v})"),
    "funcionario_area": (("Funcionario visitado",), "official_area({v})"),
    "funcionario_cargo": (("Funcionario visitado",), "official_post({v})"),
    "motivo": (("Motivo",), "reason_category({v})"),
    "motivo_detalle": (("Motivo",), "reason_detail({v})"),
    "lugar": (("Lugar específico",), "clean_text({v})"),
    "observacion": (("Observación",), "clean_text({v})"),
}
_NORMALISED = {
    "fecha_registro": (("fecha_registro",), "parse_date({v})"),
    "fecha_visita": (("fecha_visita",), "parse_date({v})"),
    "hora_ingreso": (("hora_ingreso",), "parse_time({v})"),
    "hora_salida": (("hora_salida",), "parse_time({v})"),
    "visitante_nombre": (("visitante_nombre",), "person_name({v})"),
    "visitante_tipo_documento": (_DOCUMENT, "doc_type({v})"),
    "visitante_numero_documento": (_DOCUMENT, "doc_number({v})"),
    "visitante_tipo_entidad": (("visitante_tipo_entidad",), "visitor_entity_kind({v})"),
    "visitante_entidad": (("visitante_entidad",), "clean_text({v})"),
    "funcionario_nombre": (("funcionario_nombre",), "person_name({v})"),
    "funcionario_area": (("funcionario_area",), "clean_text({v})"),
    "funcionario_cargo": (("funcionario_cargo",), "clean_text({v})"),
    "motivo": (("motivo",), "reason_category({v})"),
    "motivo_detalle": (("motivo_detalle",), "clean_text({v})"),
    "lugar": (("lugar",), "clean_text({v})"),
    "observacion": (("observacion",), "clean_text({v})"),
}
assert tuple(_OFFICIAL) == tuple(_NORMALISED) == NORMALISED_COLUMNS

#: normalised column -> the upload field it comes from (to point errors at the right cell)
SOURCE_FIELD = {
    OFFICIAL: {c: key[0] for c, (key, _) in _OFFICIAL.items()},
    NORMALISED: {c: c for c in NORMALISED_COLUMNS},
}

#: which upload field holds the visitor's name (placeholder rows are detected there)
VISITOR_FIELD = {OFFICIAL: "Visitante", NORMALISED: "visitante_nombre"}


@cache
def visit_outputs(layout: str) -> tuple[Output, ...]:
    """The normalised columns of a layout, as outputs of the upload's cells."""
    table = _OFFICIAL if layout == OFFICIAL else _NORMALISED
    return tuple(Output(name, key, sql) for name, (key, sql) in table.items())


def _key_sql(key: tuple[str, ...]) -> str:
    if len(key) == 1:
        return identifier(key[0])
    return f"concat_ws(' ', {', '.join(identifier(c) for c in key)})"


def _key_array(table: pa.Table, key: tuple[str, ...]) -> pa.Array:
    """The key's cells as one array, as `_key_sql` computes them (absent columns are NULL)."""
    arrays = [table.column(c).combine_chunks() if c in table.column_names
              else pa.nulls(table.num_rows, pa.string()) for c in key]
    if len(arrays) == 1:
        return arrays[0]
    # concat_ws skips NULLs, and so does Arrow's join with null_handling='skip'
    return pc.binary_join_element_wise(*arrays, " ", null_handling="skip")


def _missing_columns(table: pa.Table, outputs: tuple[Output, ...] | list[Output]) -> pa.Table:
    """`table` with a NULL column for every key cell it lacks (an optional column left out)."""
    for name in sorted({c for o in outputs for c in o.key} - set(table.column_names)):
        table = table.append_column(name, pa.nulls(table.num_rows, pa.string()))
    return table


#: below this many rows, every output is computed per row in one query: one query costs less
#: than one per key, and there are few repeats to save
PER_VALUE_MIN_ROWS = 5_000


def project(con: duckdb.DuckDBPyConnection, table: pa.Table,
            outputs: tuple[Output, ...] | list[Output], *, per_value: bool | None = None
            ) -> pa.Table:
    """`_fila` and every output, in the rows' order.

    A visitor log repeats the same dates, officials, reasons and entities on thousands of
    rows, and the macros that split them are costly per cell. So (per_value) each key's
    outputs run once per distinct key, found by Arrow's dictionary encoding, and are mapped
    back to the rows with a `take`: for an official's "NOMBRE - ÁREA - CARGO" that is one
    split per official, not per visit. Both ways give the same values (tests).
    """
    if per_value is None:
        per_value = table.num_rows >= PER_VALUE_MIN_ROWS
    if not per_value:
        return _per_row(con, table, outputs)
    columns: dict[str, pa.Array] = {}
    groups: dict[tuple[str, ...], list[Output]] = {}
    for output in outputs:
        groups.setdefault(output.key, []).append(output)
    for key, group in groups.items():
        encoded = pc.dictionary_encode(_key_array(table, key))
        values = encoded.dictionary
        indices = encoded.indices
        if indices.null_count:  # NULL is a key of its own: the outputs of NULL, not NULL
            indices = pc.fill_null(indices, len(values))
            values = pa.concat_arrays([values, pa.nulls(1, values.type)])
        distinct = pa.table({"_i": pa.array(np.arange(len(values), dtype=np.int64)),
                             "v": values})
        con.register("distinct_keys", distinct)
        try:
            selected = ", ".join(f"{o.sql.format(v='v')} AS {identifier(o.name)}" for o in group)
            result = con.sql(f"SELECT _i, {selected} FROM distinct_keys ORDER BY _i"
                             ).to_arrow_table()
        finally:
            con.unregister("distinct_keys")
        for output in group:
            columns[output.name] = pc.take(result.column(output.name), indices)
    return pa.table({ROW_NUMBER: table.column(ROW_NUMBER),
                     **{o.name: columns[o.name] for o in outputs}})


def _per_row(con: duckdb.DuckDBPyConnection, table: pa.Table,
             outputs: tuple[Output, ...] | list[Output]) -> pa.Table:
    table = _missing_columns(table, outputs)
    # cells get positional names: an output may share a cell's name (`fecha_visita` is both a
    # text cell and a date), and an expression naming an output must find the output
    cells = sorted({c for o in outputs for c in o.key})
    alias = {c: f"_k{j}" for j, c in enumerate(cells)}
    table = pa.Table.from_arrays([table.column(ROW_NUMBER), *(table.column(c) for c in cells)],
                                 names=[ROW_NUMBER, *(alias[c] for c in cells)])
    selected = ", ".join(
        f"{o.sql.format(v=_key_sql(tuple(alias[c] for c in o.key)))} AS {identifier(o.name)}"
        for o in outputs)
    con.register("rows_to_project", table)
    try:
        return con.sql(f'SELECT "{ROW_NUMBER}", {selected} FROM rows_to_project '
                       f'ORDER BY "{ROW_NUMBER}"').to_arrow_table()
    finally:
        con.unregister("rows_to_project")


def normalise(con: duckdb.DuckDBPyConnection, table: pa.Table, layout: str, *,
              per_value: bool | None = None) -> pa.Table:
    """The upload rows of `table` (columns named by the layout's fields) as normalised visits."""
    return project(con, table, visit_outputs(layout), per_value=per_value).cast(NORMALISED_SCHEMA)
