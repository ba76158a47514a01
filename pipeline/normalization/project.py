"""Project an upload (in either accepted layout) onto the normalised visit columns.

The official layout's composite fields are split into atomic fields here; the normalised
layout already has one field per fact and only gets its values cleaned. The columns and their
types are those of `schemas/upload-normalizado.schema.json` and `schemas/visitas.schema.json`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.normalization.encoding import Encodings, repetitive
from pipeline.sources.readers.table import ROW_NUMBER
from pipeline.sql import identifier

OFFICIAL = "upload-oficial"
NORMALISED = "upload-normalizado"
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
    "visitante_tipo_documento": (("Documento del visitante",), "_documento.type"),
    "visitante_numero_documento": (("Documento del visitante",), "_documento.number"),
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
    "visitante_tipo_documento": (_DOCUMENT, "_documento.type"),
    "visitante_numero_documento": (_DOCUMENT, "_documento.number"),
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


#: computed once per document and split into type and number (a visitor's document is nearly
#: always one of its kind: this is the costliest key of an upload)
_DOCUMENT_PARTS = {OFFICIAL: Output("_documento", ("Documento del visitante",), "doc_parts({v})"),
                   NORMALISED: Output("_documento", _DOCUMENT, "doc_parts({v})")}


@cache
def visit_outputs(layout: str) -> tuple[Output, ...]:
    """The normalised columns of a layout, as outputs of the upload's cells (with the
    intermediate ones, named with a leading '_', that they read)."""
    table = _OFFICIAL if layout == OFFICIAL else _NORMALISED
    return (_DOCUMENT_PARTS[layout],
            *(Output(name, key, sql) for name, (key, sql) in table.items()))


def _key_sql(key: tuple[str, ...]) -> str:
    if len(key) == 1:
        return identifier(key[0])
    return f"concat_ws(' ', {', '.join(identifier(c) for c in key)})"


def _key_array(table: pa.Table, key: tuple[str, ...]) -> pa.Array:
    """The key's cells as one array, as `_key_sql` computes them (absent columns are NULL)."""
    arrays = [table.column(c).combine_chunks() if c in table.column_names
              else pa.nulls(table.num_rows, pa.string()) for c in key]
    # concat_ws skips NULLs and gives '' when all are NULL. (Arrow's join with
    # null_handling='skip' would say so too, but it drops rows when a column is mostly NULL.)
    joined = arrays[0]
    for array in arrays[1:]:
        both = pc.binary_join_element_wise(joined, array, " ")
        joined = pc.if_else(pc.is_null(joined), array,
                            pc.if_else(pc.is_null(array), joined, both))
    return joined if len(arrays) == 1 else pc.fill_null(joined, "")


def _missing_columns(table: pa.Table, outputs: tuple[Output, ...] | list[Output]) -> pa.Table:
    """`table` with a NULL column for every key cell it lacks (an optional column left out)."""
    for name in sorted({c for o in outputs for c in o.key} - set(table.column_names)):
        table = table.append_column(name, pa.nulls(table.num_rows, pa.string()))
    return table


#: below this many rows every key is worked per distinct value, whatever its repetition (a
#: query per key would cost more than the rows)
PER_VALUE_MIN_ROWS = 5_000
#: rows per record batch handed to DuckDB (each batch can go to another thread)
BATCH_ROWS = 65_536


class Memo:
    """Outputs of key values computed earlier in this process, per group of outputs."""

    #: values kept per group; beyond it the group starts afresh (a bound, not an eviction policy)
    CAPACITY = 200_000

    def __init__(self) -> None:
        self._groups: dict[tuple[object, ...], tuple[dict[object, tuple[object, ...]],
                                                     list[pa.DataType]]] = {}

    def group(self, key: tuple[str, ...], outputs: list[Output]
              ) -> tuple[dict[object, tuple[object, ...]], list[pa.DataType]]:
        signature = (key, *((o.name, o.sql) for o in outputs))
        found = self._groups.get(signature)
        if found is None or len(found[0]) > self.CAPACITY:
            found = self._groups[signature] = ({}, [])
        return found


MEMO = Memo()


def project(con: duckdb.DuckDBPyConnection, table: pa.Table,
            outputs: tuple[Output, ...] | list[Output], *, mode: str | None = None,
            memo: Memo = MEMO, encodings: Encodings | None = None) -> pa.Table:
    """`_fila` and every output, in the rows' order.

    A visitor log repeats the same dates, officials, reasons and entities on thousands of
    rows, and across the uploads of a day; the macros that split them are costly per cell,
    and a query costs more for its expressions than for its rows. So, by default:
    - a key whose values repeat is worked per distinct value (Arrow's dictionary encoding,
      shared with the prefilter through `encodings`); values met before in this process come
      from `memo`, and the new values of every such key go to DuckDB in one query; results
      are mapped back to the rows with a `take`;
    - a key whose values are nearly all different (a visitor's name, their document) goes
      to DuckDB as it is, one query per key.
    `mode="per_row"` runs every expression on every row: the plain reference the default way
    must equal (tests).
    """
    if mode == "per_row":
        return _per_row(con, table, outputs)
    groups: dict[tuple[str, ...], list[Output]] = {}
    for output in outputs:
        groups.setdefault(output.key, []).append(output)
    encodings = encodings or Encodings(table)
    columns: dict[str, pa.Array] = {}
    remembered: dict[tuple[str, ...], pa.DictionaryArray] = {}
    for key, group in groups.items():
        cells = _key_array(table, key)
        if table.num_rows < PER_VALUE_MIN_ROWS or repetitive(cells):
            remembered[key] = encodings.encode(key[0] if len(key) == 1 else key, cells)
        else:  # nearly all different: a dictionary or a memo would only cost
            columns.update(_per_row_of_key(con, cells, group))
    columns.update(_remembered(con, remembered, groups, memo))
    return pa.table({ROW_NUMBER: table.column(ROW_NUMBER),
                     **{o.name: columns[o.name] for o in outputs}})


def _per_row_of_key(con: duckdb.DuckDBPyConnection, cells: pa.Array,
                    group: list[Output]) -> dict[str, pa.Array]:
    """A key's outputs for every row: what Arrow's fast paths give (see FAST) from Arrow, the
    rest from DuckDB, which computes a fast output only where Arrow left it NULL."""
    given = _fast_outputs(cells, group)
    computed = {name: values for name, values in given.items() if not values.null_count}
    partly = {name: values for name, values in given.items() if name not in computed}
    rest = [o for o in group if o.name not in computed]
    if rest:
        computed.update(_query_key(con, cells, rest, computed, partly))
    return computed


def _names_outputs(output: Output, group: list[Output]) -> bool:
    return any(re.search(rf"\b{re.escape(o.name)}\b", output.sql) for o in group
               if o is not output)


def _query_key(con: duckdb.DuckDBPyConnection, cells: pa.Array, group: list[Output],
               given: dict[str, pa.Array], partly: dict[str, pa.Array]) -> dict[str, pa.Array]:
    """The outputs of `group` for every cell, by DuckDB; `given` outputs are read, not made,
    and `partly` given ones are made only where they are NULL."""
    values = pa.table({"_i": pa.array(np.arange(len(cells), dtype=np.int64)), "v": cells,
                       **given, **{f"{name}__dado": v for name, v in partly.items()}})
    # in batches, so that DuckDB scans them on every core; the results come back in any order
    # and `_i` puts them back in place
    con.register("key_cells", pa.Table.from_batches(values.to_batches(BATCH_ROWS)))
    try:
        result = con.sql(_layered(group, "key_cells", values.column_names, lambda o: "v",
                                  partly_given=partly)).to_arrow_table()
    finally:
        con.unregister("key_cells")
    where = np.empty(len(cells), dtype=np.int64)
    where[result.column("_i").to_numpy()] = np.arange(len(cells), dtype=np.int64)
    rows = pa.array(where)
    return {o.name: pc.take(result.column(o.name), rows).combine_chunks() for o in group}


_STRUCT_FIELD = re.compile(r"(_\w+)\.(\w+)")



# ------------------------------------------------------------------ ordinary cells in Arrow

def _no_low_bytes(values: pa.Array) -> np.ndarray:
    """True where a cell has no byte below 32 (no control character, tab or line break)."""
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32, count=len(values) + 1,
                            offset=values.offset * 4)
    buffer = values.buffers()[2]
    data = (np.frombuffer(buffer, dtype=np.uint8) if buffer is not None
            else np.zeros(0, dtype=np.uint8))[offsets[0]:offsets[-1]]
    clean = np.ones(len(values), dtype=bool)
    low = np.flatnonzero(data < 32)
    if len(low):
        clean[np.searchsorted(offsets[1:] - offsets[0], low, side="right")] = False
    return clean


def _true(mask: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(mask, False))


def fast_person_name(cells: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Rows where `person_name(x)` is `x` itself: upper-case text already in NFC (as nearly
    every name is, accents included), without commas, control characters, odd spaces (no-break,
    zero-width) or spaces at the ends or doubled."""
    mask = (~_true(pc.match_substring(cells, ","))
            & ~_true(pc.match_substring(cells, "  "))
            & ~_true(pc.match_substring(cells, "\u00a0"))
            & ~_true(pc.match_substring(cells, "\u200b"))
            & _true(pc.greater(pc.binary_length(cells), 0)) & _no_low_bytes(cells))
    ascii = _true(pc.string_is_ascii(cells))
    # ASCII text is NFC and its case is ASCII's; other text is compared with its NFC form and
    # its Unicode upper case (both utf8proc's, as DuckDB's are)
    upper = np.where(ascii, _true(pc.equal(pc.ascii_upper(cells), cells)),
                     _true(pc.equal(pc.utf8_upper(cells), cells))
                     & _true(pc.equal(pc.utf8_normalize(cells, form="NFC"), cells)))
    trimmed = _true(pc.equal(pc.utf8_trim_whitespace(cells), cells))
    return mask & upper & trimmed, cells


_DOCUMENT_TYPE = pa.struct([("type", pa.string()), ("number", pa.string())])


def fast_doc_parts(cells: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Rows where `doc_parts(x)` is a DNI written plainly, `12345678` or `DNI 12345678` (the
    macro's first branch, on a cell that cleaning leaves as it is)."""
    mask = _true(pc.match_substring_regex(cells, "^(DNI ?)?[0-9]{8}$"))
    number = pc.utf8_slice_codeunits(cells, -8)
    kind = pa.repeat(pa.scalar("DNI", pa.string()), len(cells))
    return mask, pa.StructArray.from_arrays([kind, number], fields=list(_DOCUMENT_TYPE))


#: outputs whose ordinary cells Arrow computes without DuckDB, by their SQL: the two keys whose
#: values are nearly all different (a visitor's name and document), where DuckDB would run
#: its macro once per visit. Property tests check them against the macros.
FAST: dict[str, Callable[[pa.Array], tuple[np.ndarray, pa.Array]]] = {
    "person_name({v})": fast_person_name,
    "doc_parts({v})": fast_doc_parts,
}


def _remembered(con: duckdb.DuckDBPyConnection, encoded: dict[tuple[str, ...], pa.DictionaryArray],
                groups: dict[tuple[str, ...], list[Output]], memo: Memo) -> dict[str, pa.Array]:
    distinct: dict[tuple[str, ...], list[object]] = {}
    missing: dict[tuple[str, ...], list[object]] = {}
    for key, array in encoded.items():
        # NULL is a key of its own (the outputs of NULL, not NULL): the last entry
        values = [*array.dictionary.to_pylist(), None]
        known, _ = memo.group(key, groups[key])
        distinct[key] = values
        new = [v for v in values if v not in known]
        if new:
            missing[key] = new
    if missing:
        _compute_new(con, missing, groups, memo)
    columns: dict[str, pa.Array] = {}
    for key, array in encoded.items():
        group = groups[key]
        known, types = memo.group(key, group)
        found = [known[v] for v in distinct[key]]
        indices = pc.fill_null(array.indices, len(found) - 1)
        for j, output in enumerate(group):
            columns[output.name] = pc.take(pa.array([f[j] for f in found], types[j]), indices)
    return columns


def _compute_new(con: duckdb.DuckDBPyConnection, missing: dict[tuple[str, ...], list[object]],
                 groups: dict[tuple[str, ...], list[Output]], memo: Memo) -> None:
    """Outputs of keys' new values into `memo`: what Arrow's fast paths take (see FAST) from
    Arrow, the rest from one DuckDB query for every key, each key's values in a column of its
    own (padded with NULL, whose outputs are as valid as any)."""
    width = max(len(v) for v in missing.values())
    given: dict[str, pa.Array] = {}  # output -> its values where Arrow gave them, else NULL
    for key, values in missing.items():
        given.update(_fast_outputs(pa.array(values, pa.string()), groups[key]))
    complete = {name for name, values in given.items() if not values.null_count}
    wanted = [o for key in missing for o in groups[key] if o.name not in complete]
    if wanted:
        column = {key: f"_g{i}" for i, key in enumerate(missing)}
        padded = {f"{name}__dado": pa.concat_arrays([values, pa.nulls(width - len(values),
                                                                      values.type)])
                  for name, values in given.items() if name not in complete}
        complete_used = {name: pa.concat_arrays([values, pa.nulls(width - len(values),
                                                                   values.type)])
                         for name, values in given.items() if name in complete}
        wide = pa.table({"_i": pa.array(np.arange(width, dtype=np.int64)), **{
            column[key]: pa.array(values + [None] * (width - len(values)), pa.string())
            for key, values in missing.items()}, **padded, **complete_used})
        con.register("new_keys", wide)
        try:
            query = _layered(wanted, "new_keys", wide.column_names, lambda o: column[o.key],
                             partly_given={name.removesuffix("__dado") for name in padded})
            result = con.sql(f"{query} ORDER BY _i").to_arrow_table()
        finally:
            con.unregister("new_keys")
    for key, values in missing.items():
        group = groups[key]
        known, types = memo.group(key, group)
        columns = [given[o.name] if o.name in complete else result.column(o.name)
                   for o in group]
        results = [c.to_pylist() for c in columns]
        for i, value in enumerate(values):
            known[value] = tuple(r[i] for r in results)
        if not types:
            types.extend(c.type for c in columns)


def _fast_outputs(cells: pa.Array, group: list[Output]) -> dict[str, pa.Array]:
    """The outputs of `group` that Arrow's fast paths give, NULL where a cell is not one they
    take; with the fields of structs they give."""
    first = [o for o in group if not _names_outputs(o, group) and o.sql in FAST]
    if not first:
        return {}
    answers = [FAST[o.sql](cells) for o in first]
    ordinary = pa.array(np.logical_and.reduce([mask for mask, _ in answers]))
    given = {o.name: pc.if_else(ordinary, values, pa.nulls(len(cells), values.type))
             for o, (_, values) in zip(first, answers, strict=True)}
    for output in group:
        field = _STRUCT_FIELD.fullmatch(output.sql)
        if field and field.group(1) in given:
            given[output.name] = pc.struct_field(given[field.group(1)], field.group(2))
    return given


def _per_row(con: duckdb.DuckDBPyConnection, table: pa.Table,
             outputs: tuple[Output, ...] | list[Output]) -> pa.Table:
    table = _missing_columns(table, outputs)
    # cells get positional names: an output may share a cell's name (`fecha_visita` is both a
    # text cell and a date), and an expression naming an output must find the output
    cells = sorted({c for o in outputs for c in o.key})
    alias = {c: f"_k{j}" for j, c in enumerate(cells)}
    table = pa.Table.from_arrays([table.column(ROW_NUMBER), *(table.column(c) for c in cells)],
                                 names=[ROW_NUMBER, *(alias[c] for c in cells)])
    query = _layered(outputs, "rows_to_project", [ROW_NUMBER, *alias.values()],
                     lambda o: _key_sql(tuple(alias[c] for c in o.key)))
    con.register("rows_to_project", table)
    try:
        result = con.sql(f'{query} ORDER BY "{ROW_NUMBER}"').to_arrow_table()
    finally:
        con.unregister("rows_to_project")
    return result.select([ROW_NUMBER, *(o.name for o in outputs)])


def _layered(outputs: tuple[Output, ...] | list[Output], relation: str, carried: list[str],
             key_sql: Callable[[Output], str], partly_given: Collection[str] = ()) -> str:
    """One SELECT per layer: an output that names other outputs is computed a layer after
    them, over their values. (Naming an output in the same SELECT would paste its whole
    expression again wherever it is named.) An output in `partly_given` is read from the
    column `<name>__dado` where that is not NULL, and computed elsewhere."""
    names = {o.name for o in outputs}
    layer: dict[str, int] = {}
    for output in outputs:  # outputs name only outputs listed before them
        used = [n for n in names if n in layer and re.search(rf"\b{re.escape(n)}\b", output.sql)]
        layer[output.name] = 1 + max((layer[n] for n in used), default=-1)
    query = f"SELECT {', '.join(identifier(c) for c in carried)} FROM {relation}"
    for depth in range(max(layer.values(), default=-1) + 1):
        selected = ", ".join(f"{_given_or(o, key_sql(o), partly_given)} AS {identifier(o.name)}"
                             for o in outputs if layer[o.name] == depth)
        query = f"SELECT *, {selected} FROM ({query})"
    return query


def _given_or(output: Output, key: str, partly_given: Collection[str]) -> str:
    expression = output.sql.format(v=key)
    if output.name not in partly_given:
        return expression
    given = identifier(f"{output.name}__dado")
    return f"CASE WHEN {given} IS NOT NULL THEN {given} ELSE {expression} END"
