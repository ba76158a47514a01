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

_OFFICIAL_SQL = {
    "fecha_registro": 'parse_date("Fecha de Registro")',
    "fecha_visita": 'parse_date("Fecha de Visita")',
    "hora_ingreso": 'parse_time("Hora Ingreso")',
    "hora_salida": 'parse_time("Hora Salida")',
    "visitante_nombre": 'person_name("Visitante")',
    "visitante_tipo_documento": 'doc_type("Documento del visitante")',
    "visitante_numero_documento": 'doc_number("Documento del visitante")',
    "visitante_tipo_entidad": 'visitor_entity_kind("Entidad del visitante")',
    "visitante_entidad": 'visitor_entity_name("Entidad del visitante")',
    "funcionario_nombre": 'official_name("Funcionario visitado")',
    "funcionario_area": 'official_area("Funcionario visitado")',
    "funcionario_cargo": 'official_post("Funcionario visitado")',
    "motivo": 'reason_category("Motivo")',
    "motivo_detalle": 'reason_detail("Motivo")',
    "lugar": 'clean_text("Lugar específico")',
    "observacion": 'clean_text("Observación")',
}

_NORMALISED_SQL = {
    "fecha_registro": "parse_date(fecha_registro)",
    "fecha_visita": "parse_date(fecha_visita)",
    "hora_ingreso": "parse_time(hora_ingreso)",
    "hora_salida": "parse_time(hora_salida)",
    "visitante_nombre": "person_name(visitante_nombre)",
    # Type and number go through the same parser as the official composite field.
    "visitante_tipo_documento": "doc_type(concat_ws(' ', visitante_tipo_documento, visitante_numero_documento))",
    "visitante_numero_documento": "doc_number(concat_ws(' ', visitante_tipo_documento, visitante_numero_documento))",
    "visitante_tipo_entidad": "visitor_entity_kind(visitante_tipo_entidad)",
    "visitante_entidad": "clean_text(visitante_entidad)",
    "funcionario_nombre": "person_name(funcionario_nombre)",
    "funcionario_area": "clean_text(funcionario_area)",
    "funcionario_cargo": "clean_text(funcionario_cargo)",
    "motivo": "reason_category(motivo)",
    "motivo_detalle": "clean_text(motivo_detalle)",
    "lugar": "clean_text(lugar)",
    "observacion": "clean_text(observacion)",
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
    """SQL selecting `_fila` and the normalised columns from a canonical upload view."""
    exprs = _OFFICIAL_SQL if layout == OFFICIAL else _NORMALISED_SQL
    columns = ",\n    ".join(f"{exprs[c]} AS {c}" for c in NORMALISED_COLUMNS)
    return f'SELECT "_fila",\n    {columns}\nFROM {relation}'
