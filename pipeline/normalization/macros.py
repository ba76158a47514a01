"""DuckDB macros that turn the values seen in the wild into one canonical form.

They run vectorised over whole batches; tests call them one value at a time
(`SELECT doc_type(?)`). Each macro is one family of DESIGN §2's quirks.
"""

from __future__ import annotations

import duckdb

# Order matters: later macros call earlier ones.
MACROS: dict[str, str] = {
    # NBSP and other odd spaces, doubled and trailing spaces; '' becomes NULL.
    "clean_text(x)": r"""nullif(trim(regexp_replace(nfc_normalize(replace(replace(x::VARCHAR,
        chr(160), ' '), chr(8203), '')), '\s+', ' ', 'g')), '')""",
    # Accent- and case-insensitive comparison key.
    "fold_text(x)": "lower(strip_accents(clean_text(x)))",
    # 'APELLIDOS, NOMBRES' and 'APELLIDOS NOMBRES' are the same person; names upper-cased.
    "person_name(x)": r"""upper(clean_text(regexp_replace(clean_text(x), '\s*,\s*', ' ', 'g')))""",
    # --- Documento del visitante: type then number, many historical spellings.
    "doc_clean(x)": r"""upper(clean_text(x))""",
    "doc_prefix(x)": r"""regexp_extract(doc_clean(x),
        '^(DNI\s*/\s*LE|DNI|L\.?E\.?|CEX|C\.?E\.?|CDI|DMI|PASAPORTE|PSP|PAS|RUC|OTROS|OTRO|OTR)(\s*[:.\-]?\s*|$)', 1)""",
    "doc_type(x)": r"""CASE
        WHEN regexp_full_match(doc_clean(x), '[0-9]{8}') THEN 'DNI'
        WHEN regexp_replace(doc_prefix(x), '[\s.]', '', 'g') IN ('DNI', 'DNI/LE', 'LE') THEN 'DNI'
        WHEN regexp_replace(doc_prefix(x), '[\s.]', '', 'g') IN ('CE', 'CEX') THEN 'CE'
        WHEN doc_prefix(x) IN ('PASAPORTE', 'PSP', 'PAS') THEN 'PASAPORTE'
        WHEN doc_prefix(x) IN ('CDI', 'DMI', 'RUC') THEN doc_prefix(x)
        WHEN doc_prefix(x) IN ('OTR', 'OTRO', 'OTROS') THEN 'OTRO'
        END""",
    "doc_number(x)": r"""CASE
        WHEN regexp_full_match(doc_clean(x), '[0-9]{8}') THEN doc_clean(x)
        WHEN doc_prefix(x) <> '' THEN nullif(regexp_replace(
            regexp_replace(doc_clean(x), '^(DNI\s*/\s*LE|DNI|L\.?E\.?|CEX|C\.?E\.?|CDI|DMI|PASAPORTE|PSP|PAS|RUC|OTROS|OTRO|OTR)\s*[:.\-]?\s*', ''),
            '\s', '', 'g'), '')
        END""",
    # --- Entidad del visitante: 'Entidad pública - X', 'Entidad privada - X', 'Persona natural - …'.
    "visitor_entity_kind(x)": r"""CASE
        WHEN regexp_matches(fold_text(x), '^entidad publica(\s|-|$)') THEN 'Entidad pública'
        WHEN regexp_matches(fold_text(x), '^entidad privada(\s|-|$)') THEN 'Entidad privada'
        WHEN regexp_matches(fold_text(x), '^persona natural(\s|-|$)') THEN 'Persona natural'
        END""",
    "visitor_entity_name(x)": r"""CASE
        WHEN visitor_entity_kind(x) = 'Persona natural' THEN NULL
        WHEN visitor_entity_kind(x) IS NOT NULL
            THEN clean_text(regexp_replace(clean_text(x), '^[^-]*-\s*', ''))
        ELSE clean_text(x)
        END""",
    # --- Funcionario visitado: 'NOMBRE - AREA - CARGO'; the area may hold ' - ' itself,
    # so the name is the first part, the post the last, the area everything between.
    "official_parts(x)": r"""string_split(regexp_replace(clean_text(x), '\s+-\s+', ' - ', 'g'), ' - ')""",
    "official_name(x)": "person_name(official_parts(x)[1])",
    "official_area(x)": r"""CASE WHEN len(official_parts(x)) >= 3 THEN clean_text(array_to_string(
        official_parts(x)[2:len(official_parts(x)) - 1], ' - ')) END""",
    "official_post(x)": r"""CASE WHEN len(official_parts(x)) >= 2
        THEN clean_text(official_parts(x)[len(official_parts(x))]) END""",
    # --- Motivo: '<categoría> - <detalle>'; known categories get one spelling.
    "reason_parts(x)": r"""regexp_extract(regexp_replace(clean_text(x), '\s+-\s+', ' - ', 'g'),
        '^(.*?)(?: - (.*))?$', ['cat', 'det'])""",
    "reason_category(x)": r"""CASE lower(strip_accents(clean_text(reason_parts(x).cat)))
        WHEN 'reunion de trabajo' THEN 'Reunión de trabajo'
        WHEN 'gestion de intereses' THEN 'Gestión de intereses'
        WHEN 'otros motivos' THEN 'Otros Motivos'
        WHEN 'tramite documentario' THEN 'Trámite documentario'
        WHEN 'entrevista' THEN 'Entrevista'
        WHEN 'provision de servicios' THEN 'Provisión de servicios'
        ELSE clean_text(reason_parts(x).cat) END""",
    "reason_detail(x)": "clean_text(reason_parts(x).det)",
    # --- Dates: DD/MM/AAAA, AAAA-MM-DD, DD/MM/AA, optionally followed by a time.
    "date_token(x)": r"""regexp_extract(clean_text(x), '^([0-9]{1,4}[/\-][0-9]{1,2}[/\-][0-9]{1,4})', 1)""",
    "parse_date(x)": r"""CASE
        WHEN regexp_full_match(date_token(x), '[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}')
            THEN try_strptime(date_token(x), '%d/%m/%Y')::DATE
        WHEN regexp_full_match(date_token(x), '[0-9]{1,2}/[0-9]{1,2}/[0-9]{2}')
            THEN try_strptime(date_token(x), '%d/%m/%y')::DATE
        WHEN regexp_full_match(date_token(x), '[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}')
            THEN try_strptime(date_token(x), '%Y-%m-%d')::DATE
        END""",
    # --- Times: HH:MM, HH:MM:SS, with or without a.m./p.m.; a date before it is ignored.
    "time_token(x)": r"""regexp_extract(regexp_replace(upper(clean_text(x)), '([AP])\.?\s*M\.?', ' \1M', 'g'),
        '([0-9]{1,2}:[0-9]{2}(:[0-9]{2})?)(\s*[AP]M)?\s*$', 0)""",
    "parse_time(x)": r"""CASE
        WHEN regexp_matches(time_token(x), '[AP]M$') THEN coalesce(
            try_strptime(regexp_replace(time_token(x), '\s*([AP]M)$', ' \1'), '%I:%M:%S %p'),
            try_strptime(regexp_replace(time_token(x), '\s*([AP]M)$', ' \1'), '%I:%M %p'))::TIME
        WHEN time_token(x) <> '' THEN coalesce(
            try_strptime(trim(time_token(x)), '%H:%M:%S'),
            try_strptime(trim(time_token(x)), '%H:%M'))::TIME
        END""",
    # Days without visits are reported with a placeholder row instead of a visit.
    "is_placeholder(x)": r"""coalesce(regexp_matches(fold_text(x), 'no se (recibieron|registraron) visitas'), false)""",
}


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Create every normalisation macro on this connection (idempotent)."""
    for signature, body in MACROS.items():
        con.execute(f"CREATE OR REPLACE TEMP MACRO {signature} AS ({body})")
