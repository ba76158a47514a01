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
import pyarrow.compute as pc

from pipeline.normalization.project import SOURCE_FIELD, Output, visit_outputs
from pipeline.sources.readers import ROW_NUMBER
from pipeline.sql import literal
from pipeline.validation.report import QUOTE_CHARS

#: where an error's quoted cell or note comes from: ("raw", field) the upload's cell,
#: ("value", column) a normalised value as text, ("text", words) a constant
Quote = tuple[str, str]


@dataclass(frozen=True)
class Rule:
    """One rule: a condition, true on a violation, and the error it reports."""

    type: str
    #: the normalised column the rule is about; errors point at the upload field it comes from
    column: str
    #: SQL computed once per distinct key of `column`, over its outputs and `{v}` (its cells)
    when: str | None = None
    #: or a comparison of two normalised columns on each row, in Arrow
    compare: tuple[str, str, str] | None = None
    cell: Quote | None = None  # the rule's column's upload cell when None
    note: Quote = ("text", "")


_COMPARE = {"<": pc.less, ">": pc.greater}


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
        # dates are quoted as the administrator typed them (15/03/2031), today as they write it
        Rule("future-date", "fecha_visita", f"fecha_visita > DATE {literal(t)}",
             note=("text", today.strftime("%d/%m/%Y"))),
        Rule("unknown-document-type", "visitante_tipo_documento",
             _unparsed("visitante_tipo_documento")),
        Rule("invalid-document-number", "visitante_numero_documento",
             "CASE WHEN visitante_tipo_documento <> 'RUC' THEN NOT doc_number_valid("
             "visitante_tipo_documento, visitante_numero_documento) ELSE false END",
             note=("value", "visitante_tipo_documento")),
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
        Rule("exit-before-entry", "hora_salida", compare=("hora_salida", "<", "hora_ingreso"),
             note=("raw", "hora_ingreso")),
        Rule("visit-after-registration", "fecha_visita",
             compare=("fecha_visita", ">", "fecha_registro"), note=("raw", "fecha_registro")),
    ]


def flag_name(index: int) -> str:
    return f"_regla{index}"


def rule_outputs(layout: str, rules: list[Rule]) -> list[Output]:
    """The normalised columns plus, per per-value rule, its flag computed with its key."""
    outputs = list(visit_outputs(layout))
    by_name = {o.name: o for o in outputs}
    for i, rule in enumerate(rules):
        if rule.when is not None:
            outputs.append(Output(flag_name(i), by_name[rule.column].key, rule.when))
    return outputs


def rule_errors(layout: str, rules: list[Rule], numbers: dict[str, int],
                projected: pa.Table, cells: pa.Table) -> list[dict[str, object]]:
    """Every rule error of a chunk: `projected` holds its normalised values and flags (see
    `rule_outputs`), `cells` its upload cells by field, both in the rows' order."""
    source = SOURCE_FIELD[layout]
    rows = cells.column(ROW_NUMBER)
    errors: list[dict[str, object]] = []

    def quote(spec: Quote, at: pa.Array) -> list[str | None]:
        kind, name = spec
        if kind == "text":
            return [name] * len(at)
        if kind == "value":
            return pc.take(projected.column(name), at).cast(pa.string()).to_pylist()
        field = source[name]
        if field not in cells.column_names:
            return [None] * len(at)
        return pc.take(cells.column(field), at).to_pylist()

    for i, rule in enumerate(rules):
        if rule.compare is not None:
            left, operator, right = rule.compare
            flag = _COMPARE[operator](projected.column(left), projected.column(right))
        else:
            flag = projected.column(flag_name(i))
        at = pa.array(np.flatnonzero(np.asarray(pc.fill_null(flag, False))))
        if not len(at):
            continue
        field = source[rule.column]
        for row, cell, note in zip(pc.take(rows, at).to_pylist(),
                                   quote(rule.cell or ("raw", rule.column), at),
                                   quote(rule.note, at), strict=True):
            error: dict[str, object] = {"rowNumber": row, "type": rule.type, "fieldName": field,
                                        "fieldNumber": numbers.get(field, 0), "cell": cell,
                                        "note": note or ""}
            if cell is not None and len(cell) > QUOTE_CHARS:
                error.update(cell=cell[:QUOTE_CHARS], cellLength=len(cell))
            errors.append(error)
    return errors


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
