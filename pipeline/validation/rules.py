"""Domain rules of the register: named error types over an upload's normalised rows.

A rule that reads one key (the cells one normalised column comes from) is computed with that
key's normalisation, once per distinct value (`pipeline.normalization.project`); a rule that
compares columns (exit before entry) runs per row, as a cheap comparison. Identifier rules
(RUC, DNI, other documents) are the SQL macros of `pipeline.normalization.macros`, the one
definition of each, whose Python twins in `pipeline.identifiers` are property-tested against
them. A rule error is never reported on a cell that already has a schema error.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from pipeline.normalization.project import SOURCE_FIELD, Output, visit_outputs
from pipeline.sql import literal
from pipeline.validation.engine import quoted_cell


@dataclass(frozen=True)
class Rule:
    """One rule: an SQL condition, true on a violation, and the error it reports."""

    type: str
    #: the normalised column the rule is about; errors point at the upload field it comes from
    column: str
    #: over the normalised columns (and, for a per-value rule, `{v}`: the key's cells)
    when: str
    #: SQL of the note (the rule's other operand, the document type…)
    note: str = "''"
    #: SQL of the quoted value; the upload cell when None
    cell: str | None = None
    #: computed once per distinct key of `column`: the rule reads nothing else
    per_value: bool = True


def _unparsed(column: str) -> str:
    """The column did not parse although its cell holds something. (A CASE, not an AND: the
    cell is cleaned again only for the rare values that did not parse.)"""
    return f"CASE WHEN {column} IS NULL THEN clean_text({{v}}) IS NOT NULL ELSE false END"


def layout_rules(today: dt.date) -> list[Rule]:
    """Every rule, in both layouts (the same normalised columns)."""
    t = today.isoformat()
    return [
        Rule("invalid-date", "fecha_visita", _unparsed("fecha_visita")),
        Rule("invalid-date", "fecha_registro", _unparsed("fecha_registro")),
        Rule("invalid-time", "hora_ingreso", _unparsed("hora_ingreso")),
        Rule("invalid-time", "hora_salida", _unparsed("hora_salida")),
        Rule("future-date", "fecha_visita", f"fecha_visita > DATE {literal(t)}",
             note=literal(t), cell="fecha_visita::VARCHAR"),
        Rule("unknown-document-type", "visitante_tipo_documento",
             _unparsed("visitante_tipo_documento")),
        Rule("invalid-document-number", "visitante_numero_documento",
             "CASE WHEN visitante_tipo_documento <> 'RUC' THEN NOT doc_number_valid("
             "visitante_tipo_documento, visitante_numero_documento) ELSE false END",
             note="visitante_tipo_documento"),
        # a visitor identified by RUC (a company, or a person with a business) must carry a
        # real one: its own error type, with the RUC's rule in the message
        Rule("invalid-ruc", "visitante_numero_documento",
             "CASE WHEN visitante_tipo_documento = 'RUC' THEN NOT ruc_valid("
             "visitante_numero_documento) ELSE false END"),
        # The law requires the official visited and the reason: a cell holding only the area
        # or only a detail (' - ÁREA - CARGO', ' - detalle') has no official or no reason.
        Rule("missing-official", "funcionario_nombre",
             r"NOT coalesce(regexp_matches(funcionario_nombre, '^\pL'), false)"),
        Rule("missing-reason", "motivo",
             r"NOT coalesce(regexp_matches(motivo, '^\pL'), false)"),
        Rule("exit-before-entry", "hora_salida", "hora_salida < hora_ingreso",
             note="raw_hora_ingreso", per_value=False),
        Rule("visit-after-registration", "fecha_visita", "fecha_visita > fecha_registro",
             note="fecha_registro::VARCHAR", cell="fecha_visita::VARCHAR", per_value=False),
    ]


def flag_name(index: int) -> str:
    return f"_regla{index}"


def rule_outputs(layout: str, rules: list[Rule]) -> list[Output]:
    """The normalised columns plus, per per-value rule, its flag computed with its key."""
    outputs = list(visit_outputs(layout))
    by_name = {o.name: o for o in outputs}
    for i, rule in enumerate(rules):
        if rule.per_value:
            outputs.append(Output(flag_name(i), by_name[rule.column].key, rule.when))
    return outputs


def raw_name(column: str) -> str:
    return f"raw_{column}"


def rule_errors_sql(layout: str, rules: list[Rule], numbers: dict[str, int],
                    relation: str) -> str:
    """One row per rule error of `relation`: the projected rows (flags, normalised columns)
    beside each rule's upload cell as `raw_<column>`."""
    source = SOURCE_FIELD[layout]
    structs, conditions = [], []
    for i, rule in enumerate(rules):
        condition = flag_name(i) if rule.per_value else f"coalesce({rule.when}, false)"
        field = source[rule.column]
        cell = rule.cell or raw_name(rule.column)
        structs.append(f"CASE WHEN {condition} THEN {{'type': {literal(rule.type)}, "
                       f"'fieldName': {literal(field)}, 'fieldNumber': {numbers.get(field, 0)}, "
                       f"{quoted_cell(cell)}, 'note': {rule.note}}} END")
        conditions.append(condition)
    return f"""
        SELECT _fila AS rowNumber, e.type, e.fieldName, e.fieldNumber::INTEGER AS fieldNumber,
               e.cell, e.note, e.cellLength::BIGINT AS cellLength
        FROM (SELECT _fila, unnest(list_filter([{', '.join(structs)}], x -> x IS NOT NULL)) AS e
              FROM {relation} WHERE {' OR '.join(conditions)})
    """


def raw_columns(layout: str, rules: list[Rule]) -> dict[str, str]:
    """`raw_<column>` → the upload field whose cells the rules quote."""
    source = SOURCE_FIELD[layout]
    columns = {raw_name(r.column): source[r.column] for r in rules if r.cell is None}
    columns[raw_name("hora_ingreso")] = source["hora_ingreso"]  # exit-before-entry's note
    return columns


# ------------------------------------------------------------------ control characters

#: bytes that are control characters in UTF-8 text (C0 but tab, LF and CR; and DEL)
_CONTROL = np.zeros(256, dtype=bool)
_CONTROL[[*range(0, 9), 11, 12, *range(14, 32), 127]] = True


def control_character_rows(values: pa.ChunkedArray) -> np.ndarray:
    """Positions of the cells holding a control character (NUL, form feed, escape…).

    One vector pass over the column's bytes: UTF-8 never uses these bytes inside another
    character, so a byte test finds them exactly.
    """
    found: list[np.ndarray] = []
    start = 0
    for chunk in values.chunks:
        chunk = chunk.cast(pa.string())
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int32, count=len(chunk) + 1,
                                offset=chunk.offset * 4)
        buffer = chunk.buffers()[2]
        data = (np.frombuffer(buffer, dtype=np.uint8) if buffer is not None
                else np.zeros(0, dtype=np.uint8))[offsets[0]:offsets[-1]]
        # one comparison over the bytes first: control characters are rare, and tab, LF and
        # CR (which are allowed) are the only other bytes below 32
        low = np.flatnonzero((data < 32) | (data == 127))
        hits = low[_CONTROL[data[low]]] if len(low) else low
        if len(hits):
            cells = np.searchsorted(offsets[1:] - offsets[0], hits, side="right")
            found.append(np.unique(cells) + start)
        start += len(chunk)
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


def describe_control(text: str) -> tuple[str, str]:
    """(the cell with its control characters shown as U+XXXX, a note naming the first)."""
    shown = "".join(f"[U+{ord(c):04X}]" if ord(c) < 128 and _CONTROL[ord(c)] else c
                    for c in text)
    first = next(i for i, c in enumerate(text) if ord(c) < 128 and _CONTROL[ord(c)])
    return shown, f"U+{ord(text[first]):04X} en la posición {first + 1}"
