"""Apply an entity's mapping to a file as it is read: choose the layout its header fits, and
turn the reader's stream of the source's columns into a stream of an upload layout's columns,
which the validation driver then checks, normalises and stages like any upload.

Row numbers stay the source's (provenance: a rejected row is found in the original file),
and so do the reader's notes, ragged rows and cell issues (moved to the upload columns they
feed). A value that does not meet its declared date or time format becomes a cell issue of
its own type, quoting the value as read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.sources.mapping.language import (
    TARGET_NAMES,
    FieldRule,
    Layout,
    SourceMapping,
    upload_fields,
)
from pipeline.sources.mapping.values import formats_note, transform
from pipeline.sources.readers.header import fold
from pipeline.sources.readers.table import CellIssue, RaggedRow, TableStream


@dataclass
class Choice:
    """Which layout reads a file: `layout`, or none (`as_is`: the file already is an upload
    layout, e.g. a corrected `rechazadas.csv`), or nothing fits (`missing`: per layout, the
    headers it lacks)."""

    layout: Layout | None = None
    as_is: bool = False
    missing: dict[str, list[str]] = field(default_factory=dict)
    #: per layout, how many of its headers the file has
    present: dict[str, int] = field(default_factory=dict)

    @property
    def fits(self) -> bool:
        return self.layout is not None or self.as_is


def holds_upload_layout(labels: list[str]) -> bool:
    """Whether a header has every required column of one of the upload layouts."""
    have = {fold(label) for label in labels}
    for target in TARGET_NAMES:
        required = [name for name, _, req in upload_fields(target) if req]
        if all(fold(name) in have for name in required):
            return True
    return False


def choose_layout(labels: list[str], mapping: SourceMapping) -> Choice:
    """The first declared layout whose `when_headers` the file has all of; else the file as
    it is when it already is an upload layout; else what each layout lacks."""
    missing: dict[str, list[str]] = {}
    present: dict[str, int] = {}
    for layout in mapping.layouts:
        lacks = layout.missing_headers(labels)
        if not lacks:
            return Choice(layout=layout)
        missing[layout.name] = lacks
        present[layout.name] = len(layout.when_headers) - len(lacks)
    if holds_upload_layout(labels):
        return Choice(as_is=True)
    return Choice(missing=missing, present=present)


@dataclass
class _Resolved:
    """A rule bound to a file: the source columns (0-based, -1 absent) it reads."""

    rule: FieldRule
    number: int  # the upload field's column in the mapped stream, 1-based
    indexes: tuple[int, ...] = ()
    cache: dict[str, tuple[str, str | None]] = field(default_factory=dict)


def _index(labels: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for i, label in enumerate(labels):
        found.setdefault(fold(label), i)
    return found


def mapped_stream(stream: TableStream, layout: Layout, filename: str) -> TableStream:
    """The file's rows as the layout's upload columns (see the module's docstring)."""
    targets = [name for name, _, _ in upload_fields(layout.target)]
    by_label = _index(stream.labels)
    resolved: dict[str, _Resolved] = {}
    notes = list(stream.notes)
    notes.append(f"Se leyó con el formato «{layout.name}» de la correspondencia de la entidad "
                 f"({TARGET_NAMES[layout.target]}).")
    for rule in layout.fields:
        bound = _Resolved(rule, targets.index(rule.field) + 1)
        if rule.origin == "column":
            index = next((by_label[fold(a)] for a in rule.columns if fold(a) in by_label), -1)
            bound.indexes = (index,)
            if index < 0:
                notes.append(f"La columna «{rule.columns[0]}», que el formato usa para "
                             f"«{rule.field}», no está en el archivo: «{rule.field}» queda vacía.")
        elif rule.origin == "template":
            bound.indexes = tuple(by_label.get(fold(c), -1) for c in rule.columns)
            absent = [c for c, i in zip(rule.columns, bound.indexes, strict=True) if i < 0]
            if absent:
                notes.append(f"{'La columna' if len(absent) == 1 else 'Las columnas'} "
                             + ", ".join(f"«{c}»" for c in absent)
                             + f" de la plantilla de «{rule.field}» no "
                             + ("está" if len(absent) == 1 else "están")
                             + " en el archivo: se leen vacías.")
        resolved[rule.field] = bound
    unmapped = [name for name, _, required in upload_fields(layout.target)
                if required and name not in resolved]
    if unmapped:
        notes.append("El formato no asigna "
                     + ", ".join(f"«{n}»" for n in unmapped)
                     + (", obligatoria" if len(unmapped) == 1 else ", obligatorias")
                     + " en el formato de carga: las filas sin ese dato se rechazan.")
    mapped = TableStream(labels=targets, header_row=stream.header_row,
                         file_format=stream.file_format, batches=iter(()),
                         encoding=stream.encoding, delimiter=stream.delimiter,
                         sheet=stream.sheet, notes=notes, titles=stream.titles)
    mapped.batches = _batches(stream, mapped, [resolved.get(n) for n in targets], filename)
    return mapped


def _batches(source: TableStream, mapped: TableStream, rules: list[_Resolved | None],
             filename: str) -> Iterator[pa.RecordBatch]:
    schema = mapped.schema
    taken = 0  # source issues already moved
    for batch in source.batches:
        rows = batch.column(0)
        issues: list[CellIssue] = []
        arrays = [rows]
        for bound in rules:
            if bound is None:
                arrays.append(pa.array([""] * batch.num_rows, pa.string()))
                continue
            column, failed = _column(bound, batch, source, filename)
            arrays.append(column)
            if failed is not None:
                numbers = rows.to_numpy(zero_copy_only=False)
                for at, (text, kind) in failed:
                    issues.append(CellIssue(int(numbers[at]), bound.number, kind, text,
                                            formats_note(bound.rule)))
        fresh = source.issues[taken:]
        taken = len(source.issues)
        issues.extend(_moved(fresh, rules))
        issues.sort(key=lambda i: (i.row, i.column))
        mapped.issues.extend(issues)
        yield pa.RecordBatch.from_arrays(arrays, schema=schema)
    _ragged(source, mapped, rules, filename)


def _moved(issues: list[CellIssue], rules: list[_Resolved | None]) -> list[CellIssue]:
    """The reader's issues on source cells, on the upload columns those cells feed."""
    moved = []
    for issue in issues:
        for bound in rules:
            if bound is not None and bound.rule.origin in ("column", "template") \
                    and issue.column - 1 in bound.indexes:
                moved.append(CellIssue(issue.row, bound.number, issue.kind, issue.text,
                                       issue.note))
    return moved


def _source_array(bound: _Resolved, batch: pa.RecordBatch, source: TableStream,
                  filename: str) -> pa.Array | None:
    """The text a rule starts from, one per row (None for a constant: computed once)."""
    n = batch.num_rows
    rule = bound.rule
    if rule.origin == "column":
        index = bound.indexes[0]
        return batch.column(index + 1) if index >= 0 else pa.array([""] * n, pa.string())
    if rule.origin == "template":
        pieces: list[pa.Array | str] = []
        present = None
        for (literal, column), index in zip(rule.template,
                                            _template_indexes(bound), strict=True):
            if literal:
                pieces.append(literal)
            if column is None:
                continue
            cells = batch.column(index + 1) if index >= 0 else pa.array([""] * n, pa.string())
            pieces.append(cells)
            filled = pc.not_equal(pc.utf8_trim_whitespace(cells), "")
            present = filled if present is None else pc.or_(present, filled)
        joined = pc.binary_join_element_wise(*pieces, "")
        # a template whose columns are all empty yields nothing, not its literal text alone
        return pc.if_else(present, pc.utf8_trim_whitespace(joined), "")
    if rule.origin == "title":
        return _titles(batch.column(0), source.titles)
    return None


def _template_indexes(bound: _Resolved) -> list[int]:
    """Each template piece's source column (-1 for a piece without one)."""
    out, at = [], 0
    for _, column in bound.rule.template:
        if column is None:
            out.append(-1)
        else:
            out.append(bound.indexes[at])
            at += 1
    return out


def _titles(rows: pa.Array, titles: list[tuple[int, str]]) -> pa.Array:
    """The title in force at each row (the last one starting at or before it)."""
    if not titles:
        return pa.array([""] * len(rows), pa.string())
    starts = np.array([t[0] for t in titles], dtype=np.int64)
    texts = pa.array([""] + [t[1] for t in titles], pa.string())
    at = np.searchsorted(starts, rows.to_numpy(), side="right")
    return pc.take(texts, pa.array(at))


def _column(bound: _Resolved, batch: pa.RecordBatch, source: TableStream, filename: str
            ) -> tuple[pa.Array, list[tuple[int, tuple[str, str]]] | None]:
    """The upload column of one rule over a batch, and the rows whose value failed its
    declared format (position, (value, error type))."""
    rule = bound.rule
    if rule.plain:
        return _source_array(bound, batch, source, filename), None  # type: ignore[return-value]
    cells = _source_array(bound, batch, source, filename)
    if cells is None:  # a constant or the file's name: one value for every row
        text = rule.value if rule.origin == "value" else filename
        out, kind = _once(bound, text)
        column = pa.array([out] * batch.num_rows, pa.string())
        failed = [(i, (out, kind)) for i in range(batch.num_rows)] if kind else None
        return column, failed
    encoded = pc.dictionary_encode(cells)
    dictionary = encoded.dictionary.to_pylist()
    results = [_once(bound, value or "") for value in dictionary]
    values = pa.array([r[0] for r in results], pa.string())
    column = pc.take(values, encoded.indices)
    bad = [i for i, r in enumerate(results) if r[1]]
    if not bad:
        return column, None
    positions = np.flatnonzero(np.isin(encoded.indices.to_numpy(zero_copy_only=False), bad))
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    return column, [(int(p), results[indices[p]]) for p in positions]  # type: ignore[misc]


def _once(bound: _Resolved, text: str) -> tuple[str, str | None]:
    found = bound.cache.get(text)
    if found is None:
        found = bound.cache[text] = transform(bound.rule, text)
    return found


def _ragged(source: TableStream, mapped: TableStream, rules: list[_Resolved | None],
            filename: str) -> None:
    """The reader's ragged rows, mapped: cells beyond the header stay beyond (extra-cell),
    and a source cell a row lacks is a missing-cell issue on the column it feeds."""
    width = source.width
    for row in sorted(source.ragged, key=lambda r: r.number):
        cells = [row.cells[i] if i < len(row.cells) else "" for i in range(width)]
        batch = pa.RecordBatch.from_arrays(
            [pa.array([row.number], pa.int64()), *(pa.array([c], pa.string()) for c in cells)],
            schema=source.schema)
        out: list[str] = []
        for bound in rules:
            if bound is None:
                out.append("")
                continue
            column, failed = _column(bound, batch, source, filename)
            out.append(column[0].as_py() or "")
            if any(i >= len(row.cells) for i in bound.indexes):  # -1 (absent) never is
                mapped.issues.append(CellIssue(row.number, bound.number, "missing-cell", ""))
            elif failed:
                mapped.issues.append(CellIssue(row.number, bound.number, failed[0][1][1],
                                               failed[0][1][0], formats_note(bound.rule)))
        mapped.ragged.append(RaggedRow(row.number, out + row.cells[width:], row.text))


__all__ = ["Choice", "choose_layout", "holds_upload_layout", "mapped_stream"]
