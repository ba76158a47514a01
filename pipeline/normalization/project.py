"""Project an upload (in either accepted format) onto the normalised visit columns.

The official format's composite fields are split into atomic fields here; the normalised
format already has one field per fact and only gets its values cleaned.
"""

from __future__ import annotations

OFFICIAL = "upload-oficial"
NORMALISED = "upload-normalizado"

# Canonical normalised columns (all text but dates and times) in published order.
NORMALISED_COLUMNS = (
    "fecha_registro", "fecha_visita", "hora_ingreso", "hora_salida",
    "visitante_nombre", "visitante_tipo_documento", "visitante_numero_documento",
    "visitante_tipo_entidad", "visitante_entidad",
    "funcionario_nombre", "funcionario_area", "funcionario_cargo",
    "motivo", "motivo_detalle", "lugar", "observacion",
)

# Each normalised column is a function of one key: an upload cell, or, for the document in
# the normalised layout, two cells joined by a space. (key cells, expression of {v}).
_OFFICIAL_SQL = {
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

# Type and number go through the same parser as the official composite field.
_DOCUMENT = ("visitante_tipo_documento", "visitante_numero_documento")
_NORMALISED_SQL = {
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

#: normalised column -> the upload field it comes from (to point errors at the right cell)
SOURCE_FIELD = {
    OFFICIAL: {
        "fecha_registro": "Fecha de Registro", "fecha_visita": "Fecha de Visita",
        "hora_ingreso": "Hora Ingreso", "hora_salida": "Hora Salida",
        "visitante_nombre": "Visitante", "visitante_tipo_documento": "Documento del visitante",
        "visitante_numero_documento": "Documento del visitante",
        "funcionario_nombre": "Funcionario visitado", "motivo": "Motivo",
    },
    NORMALISED: {c: c for c in NORMALISED_COLUMNS},
}

#: which upload field holds the visitor's name (placeholder rows are detected there)
VISITOR_FIELD = {OFFICIAL: "Visitante", NORMALISED: "visitante_nombre"}


def normalised_select(layout: str, relation: str) -> str:
    """SQL selecting `_fila` and the normalised columns from a canonical upload view.

    A visitor log repeats the same dates, officials, reasons and entities on thousands of
    rows, and the macros that split them are costly per cell. So each expression runs once
    per distinct key (the cells it reads) and the results are joined back to the rows: for an
    official's "NOMBRE - ÁREA - CARGO" cell that is one split per official, not per visit.
    """
    exprs = _OFFICIAL_SQL if layout == OFFICIAL else _NORMALISED_SQL
    keys: dict[tuple[str, ...], str] = {}  # key cells -> alias of its table of distinct values
    for key, _ in exprs.values():
        keys.setdefault(key, f"k{len(keys)}")
    ctes = []
    for key, alias in keys.items():
        outputs = ", ".join(f"{expr.format(v='v')} AS {column}"
                            for column, (k, expr) in exprs.items() if k == key)
        ctes.append(f"{alias} AS (SELECT v, {outputs} FROM (SELECT DISTINCT {_key_sql(key)} AS v "
                    f"FROM {relation}))")
    columns = ",\n    ".join(f"{keys[key]}.{column}" for column, (key, _) in exprs.items())
    joins = "\n".join(f"LEFT JOIN {alias} ON {_key_sql(key, 'r.')} IS NOT DISTINCT FROM {alias}.v"
                      for key, alias in keys.items())
    return (f"WITH {', '.join(ctes)}\nSELECT r.\"_fila\",\n    {columns}\n"
            f"FROM {relation} r\n{joins}")


def _key_sql(cells: tuple[str, ...], prefix: str = "") -> str:
    if len(cells) == 1:
        return f'{prefix}"{cells[0]}"'
    return f"concat_ws(' ', {', '.join(f'{prefix}{chr(34)}{c}{chr(34)}' for c in cells)})"
