"""DuckDB macros that turn the values seen in the wild into one canonical form.

They run vectorised over whole batches; tests call them one value at a time
(`SELECT doc_type(?)`). Each macro is one family of DESIGN §2's quirks.
"""

from __future__ import annotations

import duckdb

from pipeline.identifiers import (
    DNI_CHECK_DIGITS,
    DNI_CHECK_LETTERS,
    DNI_WEIGHTS,
    DOCUMENT_PATTERNS,
    RUC_PREFIXES,
    RUC_WEIGHTS,
)
from pipeline.sql import literal


def let(value: str, name: str, body: str) -> str:
    """`body` with `name` bound to `value`, computed once.

    A macro's argument is pasted wherever the macro names it, so a body that names a costly
    expression five times evaluates it five times (and compiles its regular expressions five
    times: that, not the rows, was most of the cost of a small upload). A one-element lambda
    evaluates it once.
    """
    return f"list_transform([{value}], {name} -> {body})[1]"


def _weighted_sum(number: str, weights: tuple[int, ...]) -> str:
    """Σ wᵢ·dᵢ over the first digits of `number`. As a list lambda: a few expression nodes to
    plan instead of forty (planning, not rows, is the cost of a small upload's query); the
    callers reach it only for the rare values that need it (a CASE on the length or type)."""
    return (f"list_sum(list_transform(range(1, {len(weights) + 1}), "
            f"i -> {list(weights)}[i] * (ascii(substr({number}, i, 1)) - 48)))::BIGINT")


# Order matters: later macros call earlier ones.
MACROS: dict[str, str] = {
    # NBSP and other odd spaces, doubled and trailing spaces; '' becomes NULL.
    # (No `let` here: the argument is nearly always a column or a bound name, and a list per
    # cell costs more than naming a column twice; callers bind costly arguments themselves.)
    "clean_text(x)": r"""nullif(trim(CASE
        WHEN contains(x::VARCHAR, chr(160)) OR contains(x::VARCHAR, chr(8203))
             OR contains(x::VARCHAR, '  ') OR contains(x::VARCHAR, chr(9))
             OR contains(x::VARCHAR, chr(10)) OR contains(x::VARCHAR, chr(12))
             OR contains(x::VARCHAR, chr(13))
        THEN regexp_replace(nfc_normalize(replace(replace(x::VARCHAR, chr(160), ' '),
                                                  chr(8203), '')), '\s+', ' ', 'g')
        ELSE nfc_normalize(x::VARCHAR) END), '')""",
    # Accent- and case-insensitive comparison key.
    "fold_text(x)": "lower(strip_accents(clean_text(x)))",
    # 'APELLIDOS, NOMBRES' and 'APELLIDOS NOMBRES' are the same person; names upper-cased.
    "person_name(x)": let("clean_text(x)", "_c", r"""upper(CASE WHEN contains(_c, ',')
        THEN """ + let(r"regexp_replace(_c, '\s*,\s*', ' ', 'g')", "_r", "clean_text(_r)")
        + """ ELSE _c END)"""),
    # --- Documento del visitante: type then number, many historical spellings.
    # Accents are folded so 'CARNÉ DE EXTRANJERÍA' and 'CARNE DE EXTRANJERIA' meet.
    "doc_clean(x)": r"""upper(strip_accents(clean_text(x)))""",
    "doc_prefix_re()": r"""'^(DNI\s*/\s*LE|DOCUMENTO NACIONAL DE IDENTIDAD|D\.?N\.?I\.?|L\.?E\.?|CARNE?T? DE EXTRANJERIA|C\.?\s?EXT\.?|CEX|C\.?E\.?|CDI|DMI|PASAPORTE|PSP|PAS|PASS|R\.?U\.?C\.?|OTROS|OTRO|OTR)(\s*[:.\-#]?\s*|$)'""",
    "doc_prefix(x)": r"""regexp_extract(doc_clean(x), doc_prefix_re(), 1)""",
    "doc_prefix_key(x)": r"""regexp_replace(doc_prefix(x), '[\s.]', '', 'g')""",
    # Type and number at once. Nearly every visitor has a document of their own, so this runs
    # once per visit: the usual 'DNI 12345678' (or a bare 8-digit DNI) takes one short match;
    # other spellings go through the prefix table.
    "doc_parts(x)": let("doc_clean(x)", "_c", r"""CASE
        WHEN regexp_full_match(_c, '(DNI ?)?[0-9]{8}')
            THEN {'type': 'DNI', 'number': right(_c, 8)}
        ELSE """ + let(r"regexp_extract(_c, doc_prefix_re(), 1)", "_p", let(
            r"regexp_replace(_p, '[\s.]', '', 'g')", "_k", r"""{'type': CASE
                WHEN _k IN ('DNI', 'DNI/LE', 'LE', 'DOCUMENTONACIONALDEIDENTIDAD') THEN 'DNI'
                WHEN _k IN ('CE', 'CEX', 'CEXT') OR _k LIKE 'CARN%' THEN 'CE'
                WHEN _k IN ('PASAPORTE', 'PSP', 'PAS', 'PASS') THEN 'PASAPORTE'
                WHEN _k IN ('CDI', 'DMI', 'RUC') THEN _k
                WHEN _k IN ('OTR', 'OTRO', 'OTROS') THEN 'OTRO'
                END,
            -- the number keeps letters, dashes and leading zeros (it is text); spaces go
            'number': CASE WHEN _p <> '' THEN nullif(regexp_replace(
                regexp_replace(_c, doc_prefix_re(), ''), '\s', '', 'g'), '') END}""")) + """
        END"""),
    "doc_type(x)": "doc_parts(x).type",
    "doc_number(x)": "doc_parts(x).number",
    # RUC: 11 digits, a known prefix, check digit (11 - Σ w·d mod 11) mod 10; the weights,
    # prefixes and check characters are pipeline.identifiers' (whose functions are the Python
    # twins of these macros, property-tested against them).
    "ruc_valid(n)": f"""coalesce(CASE WHEN regexp_full_match(n, '({'|'.join(sorted(RUC_PREFIXES))})[0-9]{{9}}')
        THEN (11 - ({_weighted_sum("n", RUC_WEIGHTS)}) % 11) % 10 = ascii(substr(n, 11, 1)) - 48
        ELSE false END, false)""",
    # DNI: 8 digits, optionally followed by the card's check character, a digit or a letter
    # indexed by Σ w·d mod 11.
    "dni_check_index(n)": f"({_weighted_sum('n', DNI_WEIGHTS)}) % 11",
    "dni_valid(n)": f"""coalesce(CASE length(n)
        WHEN 8 THEN regexp_full_match(n, '[0-9]{{8}}')
        WHEN 9 THEN regexp_full_match(n, '[0-9]{{8}}[0-9A-K]') AND {let("dni_check_index(n) + 1", "_i", f"contains(substr('{DNI_CHECK_DIGITS}', _i, 1) || substr('{DNI_CHECK_LETTERS}', _i, 1), substr(n, 9, 1))")}
        ELSE false END, false)""",
    # Whether a number is well formed for its (normalised) type; NULL type or number is false.
    # The patterns are pipeline.identifiers.DOCUMENT_PATTERNS, the one definition of each.
    "doc_number_valid(t, n)": "coalesce(CASE t WHEN 'DNI' THEN dni_valid(n) WHEN 'RUC' THEN ruc_valid(n) "
        + " ".join(f"WHEN {literal(kind)} THEN regexp_full_match(n, {literal(pattern)})"
                   for kind, pattern in DOCUMENT_PATTERNS.items())
        + " END, false)",
    # --- Entidad del visitante: 'Entidad pública - X', 'Entidad privada - X', 'Persona natural - …'.
    "visitor_entity_kind(x)": let("fold_text(x)", "_f", r"""CASE
        WHEN regexp_matches(_f, '^entidad publica(\s|-|$)') THEN 'Entidad pública'
        WHEN regexp_matches(_f, '^entidad privada(\s|-|$)') THEN 'Entidad privada'
        WHEN regexp_matches(_f, '^persona natural(\s|-|$)') THEN 'Persona natural'
        END"""),
    # (clean_text is idempotent: the kind of the cleaned cell is the kind of the cell)
    "visitor_entity_name(x)": let("clean_text(x)", "_c", let("visitor_entity_kind(_c)", "_k", r"""CASE
        WHEN _k = 'Persona natural' THEN NULL
        WHEN _k IS NOT NULL THEN """ + let(r"regexp_replace(_c, '^[^-]*-\s*', '')", "_r",
                                           "clean_text(_r)") + r"""
        ELSE _c
        END""")),
    # --- Funcionario visitado: 'NOMBRE - AREA - CARGO'; the area may hold ' - ' itself,
    # so the name is the first part, the post the last, the area everything between.
    # padded with spaces so that a dash at either end separates too (" - ÁREA - CARGO" has
    # no name); an empty part is NULL
    "official_parts(x)": r"""list_transform(string_split(regexp_replace(' ' || clean_text(x) || ' ',
        '\s+-\s+', ' - ', 'g'), ' - '), p -> clean_text(p))""",
    "official_name(x)": "person_name(official_parts(x)[1])",
    "official_area(x)": let("official_parts(x)", "_p", r"""CASE WHEN len(_p) >= 3
        THEN clean_text(array_to_string(_p[2:len(_p) - 1], ' - ')) END"""),
    "official_post(x)": let("official_parts(x)", "_p",
                            "CASE WHEN len(_p) >= 2 THEN clean_text(_p[len(_p)]) END"),
    # --- Motivo: '<categoría> - <detalle>'; known categories get one spelling.
    "reason_parts(x)": r"""regexp_extract(regexp_replace(clean_text(x), '\s+-\s+', ' - ', 'g'),
        '^(.*?)(?: - (.*))?$', ['cat', 'det'])""",
    "reason_category(x)": let("reason_parts(x).cat", "_k", r"""CASE lower(strip_accents(clean_text(_k)))
        WHEN 'reunion de trabajo' THEN 'Reunión de trabajo'
        WHEN 'gestion de intereses' THEN 'Gestión de intereses'
        WHEN 'otros motivos' THEN 'Otros Motivos'
        WHEN 'tramite documentario' THEN 'Trámite documentario'
        WHEN 'entrevista' THEN 'Entrevista'
        WHEN 'provision de servicios' THEN 'Provisión de servicios'
        ELSE clean_text(_k) END"""),
    "reason_detail(x)": let("reason_parts(x).det", "_d", "clean_text(_d)"),
    # --- Excel serial numbers: a native date/time cell exported as text. Day 0 is
    # 1899-12-30 (Excel's 1900 leap-year bug makes that the right origin for every date after
    # February 1900); the fraction is the time of day.
    "excel_serial(x)": let("clean_text(x)", "_c", r"""CASE WHEN regexp_full_match(_c, '[0-9]+([.,][0-9]+)?')
        THEN try_cast(replace(_c, ',', '.') AS DOUBLE) END"""),
    # --- Dates: DD/MM/AAAA, AAAA-MM-DD, DD/MM/AA, optionally followed by a time, or an Excel
    # serial (only 1982-2064 are taken, so a stray number is not read as a date).
    "date_token(x)": r"""regexp_extract(clean_text(x), '^([0-9]{1,4}[/\-.][0-9]{1,2}[/\-.][0-9]{1,4})', 1)""",
    "parse_date(x)": let("clean_text(x)", "_c", let(
        r"regexp_extract(_c, '^([0-9]{1,4}[/\-.][0-9]{1,2}[/\-.][0-9]{1,4})', 1)", "_t", let(
            "excel_serial(_c)", "_s", r"""CASE
        WHEN regexp_full_match(_t, '[0-9]{1,2}[/\-.][0-9]{1,2}[/\-.][0-9]{4}')
            THEN try_strptime(regexp_replace(_t, '[\-.]', '/', 'g'), '%d/%m/%Y')::DATE
        WHEN regexp_full_match(_t, '[0-9]{1,2}/[0-9]{1,2}/[0-9]{2}')
            THEN try_strptime(_t, '%d/%m/%y')::DATE
        WHEN regexp_full_match(_t, '[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}')
            THEN try_strptime(_t, '%Y-%m-%d')::DATE
        WHEN _s >= 30000 AND _s < 60000
            THEN DATE '1899-12-30' + floor(_s)::INTEGER
        END"""))),
    # --- Times: HH:MM, HH:MM:SS, with or without a.m./p.m.; a date before it is ignored;
    # an Excel time is the fraction of a day (alone, or after a serial date's integer part).
    "time_token(x)": r"""regexp_extract(regexp_replace(upper(clean_text(x)), '([AP])\.?\s*M\.?', ' \1M', 'g'),
        '([0-9]{1,2}:[0-9]{2}(:[0-9]{2})?)(\s*[AP]M)?\s*$', 0)""",
    "parse_time(x)": let("clean_text(x)", "_c", let("time_token(_c)", "_t", let("excel_serial(_c)", "_s", r"""CASE
        WHEN regexp_matches(_t, '[AP]M$') THEN """ + let(r"regexp_replace(_t, '\s*([AP]M)$', ' \1')", "_u", """coalesce(
            try_strptime(_u, '%I:%M:%S %p'), try_strptime(_u, '%I:%M %p'))::TIME""") + r"""
        WHEN _t <> '' THEN coalesce(try_strptime(trim(_t), '%H:%M:%S'),
                                    try_strptime(trim(_t), '%H:%M'))::TIME
        WHEN _s IS NOT NULL AND (_s < 1 OR _s >= 30000)
            -- rounded to the second; 23:59:59.6 would round to 24:00, so it is capped
            THEN TIME '00:00:00' + to_seconds(least(round((_s - floor(_s)) * 86400), 86399)::BIGINT)
        END"""))),
    # --- Identity of a visit: the natural key (entity, document type and number, visit date,
    # entry time) after normalisation, fingerprinted so it stays stable across runs.
    "visit_id(ruc, doc_type, doc_number, visit_date, entry_time)": r"""substr(sha256(concat_ws('|',
        ruc, doc_type, coalesce(doc_number, ''), visit_date::VARCHAR, entry_time::VARCHAR)), 1, 16)""",
    # Days without visits are reported with a placeholder row instead of a visit.
    "is_placeholder(x)": r"""coalesce(regexp_matches(fold_text(x), 'no se (recibieron|registraron) visitas'), false)""",
}


def install_macros(con: duckdb.DuckDBPyConnection, *, temporary: bool = True) -> None:
    """Create every normalisation macro (idempotent).

    Temporary macros belong to this connection alone; others are seen by every cursor of the
    database (the validation database shares them).
    """
    kind = "TEMP MACRO" if temporary else "MACRO"
    for signature, body in MACROS.items():
        con.execute(f"CREATE OR REPLACE {kind} {signature} AS ({body})")
