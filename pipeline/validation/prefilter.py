"""Which rows of a chunk may hold an error? Answered cheaply, on the Arrow side.

The engine's query checks every cell of every row, and most of its time went to a few costly
checks (a date parse, a regular expression, an enum) on rows that are almost all valid. The
prefilter answers "may this row fail?" for a whole chunk at a fraction of that cost, and the
engine's full query then runs on the suspect rows alone:

- **Repetitive columns** (dates, times, RUCs, document types, entity names repeat thousands
  of times in a visitor log): every check of a cell depends on its text alone, so the column's
  checks run once per distinct value, found by Arrow's dictionary encoding, and the answers are
  mapped back to the rows with a `take`: one hash per cell instead of one parse per cell.
- **Single-class patterns** such as `[0-9a-f]{64}` on columns whose values are all different
  (identifiers, digests): two vector comparisons per byte of the column's buffer and a length
  test, in NumPy, instead of a regular expression per cell.
- **Missing cells and lengths** (`required`, `minLength`, `maxLength`, blank rows): offsets
  and UTF-8 lengths straight from the Arrow buffers.
- Any other costly check on a non-repetitive column runs as a query over the whole chunk.

A row is a suspect when any answer says it may fail, so the full query sees every row that
does: reports are the same with or without the prefilter (tests/test_validation_prefilter.py).
"""

from __future__ import annotations

import re._parser as sre_parse  # `re`'s own parser (Python 3.11+): frictionless matches with `re`
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from duckdb import DuckDBPyConnection

from pipeline.normalization.encoding import Encodings, repetitive
from pipeline.sources.readers import ROW_NUMBER
from pipeline.validation.engine import Check, violation_sql
from pipeline.validation.schema import TableSchema

#: more byte ranges than this and the regular expression is as fast
MAX_RANGES = 4


@dataclass(frozen=True)
class CharClassPattern:
    """A pattern that is one ASCII character class repeated between `least` and `most` times."""

    ranges: tuple[tuple[int, int], ...]  # allowed bytes, as inclusive (first, last) runs
    least: int
    most: int | None

    def violations(self, values: pa.StringArray) -> np.ndarray:
        """True where a cell does not match (or is NULL)."""
        if values.null_count:  # only padded short rows have NULLs: the full query takes them
            return np.ones(len(values), dtype=bool)
        offsets, lengths = _offsets(values)
        # lengths are in bytes, and in characters too wherever every byte is allowed
        buffer = values.buffers()[2]
        data = (np.frombuffer(buffer, dtype=np.uint8) if buffer is not None
                else np.zeros(0, dtype=np.uint8))[offsets[0]:offsets[-1]]
        bad = lengths < self.least
        if self.most is not None:
            bad |= lengths > self.most
        # byte in [first, last] ⇔ (byte - first) mod 256 <= last - first: two vector passes
        allowed = np.zeros(len(data), dtype=bool)
        shifted = np.empty_like(data)
        within = np.empty(len(data), dtype=bool)
        for first, last in self.ranges:
            np.subtract(data, first, out=shifted, dtype=np.uint8)
            np.less_equal(shifted, last - first, out=within)
            allowed |= within
        if not allowed.all():
            # disallowed bytes are rare: find the cells that hold them
            positions = np.flatnonzero(~allowed)
            bad[np.searchsorted(offsets[1:] - offsets[0], positions, side="right")] = True
        return bad


def _offsets(values: pa.StringArray) -> tuple[np.ndarray, np.ndarray]:
    """The string array's offsets (as NumPy, no copy) and each cell's length in bytes."""
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32, count=len(values) + 1,
                            offset=values.offset * 4)
    return offsets, np.diff(offsets)


@lru_cache(maxsize=256)
def char_class_pattern(pattern: str) -> CharClassPattern | None:
    """The pattern as a CharClassPattern, or None when it is anything else."""
    try:
        return _char_class_pattern(pattern)
    except (sre_parse.error, AttributeError, TypeError, ValueError):
        # not a valid `re` pattern, or a parser whose internals differ: the regex decides
        return None


def _char_class_pattern(pattern: str) -> CharClassPattern | None:
    parsed = sre_parse.parse(pattern)
    items = list(parsed)
    if parsed.state.flags & ~sre_parse.SRE_FLAG_UNICODE or len(items) != 1:
        return None
    op, av = items[0]
    if op not in (sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT):
        return None
    least, most, sub = av
    sub = list(sub)
    if len(sub) != 1:
        return None
    allowed = np.zeros(128, dtype=bool)
    kind, value = sub[0]
    members = [(kind, value)] if kind == sre_parse.LITERAL else value if kind == sre_parse.IN else None
    for member_kind, member in members or [(None, None)]:
        if member_kind == sre_parse.LITERAL and member < 128:
            allowed[member] = True
        elif member_kind == sre_parse.RANGE and member[1] < 128:
            allowed[member[0]:member[1] + 1] = True
        else:  # a negated class, a category, a non-ASCII character: leave it to the regex
            return None
    edges = np.flatnonzero(np.diff(np.concatenate([[False], allowed, [False]]).astype(np.int8)))
    ranges = tuple((int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True))
    if len(ranges) > MAX_RANGES:
        return None
    return CharClassPattern(ranges, least, None if most == sre_parse.MAXREPEAT else most)


class Prefilter:
    """Per chunk of a stream, the rows that may fail a check or be blank; the others pass."""

    def __init__(self, schema: TableSchema, checks: list[Check], columns: list[str]) -> None:
        self._missing = pa.array(list(schema.missing_values), pa.string())
        self._columns = columns
        self._by_column: dict[str, list[Check]] = {}
        for check in checks:
            self._by_column.setdefault(check.column, []).append(check)
        self._patterns = {check: simple for check in checks
                          if check.constraint == "pattern"
                          and (simple := char_class_pattern(check.field.constraints["pattern"]))}
        #: columns whose checks run per distinct value, decided on the first chunk
        self._distinct: list[str] | None = None
        #: the checks left to a query over the whole chunk
        self._rest: list[Check] = []

    def suspects(self, con: DuckDBPyConnection, table: pa.Table,
                 encodings: Encodings | None = None) -> pa.Table:
        """The rows of `table` that may fail a check or be blank, for the engine's full query."""
        encodings = encodings or Encodings(table)
        if self._distinct is None:
            self._choose(table)
        missing = {c: self._is_missing(table.column(c)) for c in self._columns}
        # a blank row (every cell missing) is an error of its own
        suspect = np.logical_and.reduce(list(missing.values())) if missing else \
            np.zeros(table.num_rows, dtype=bool)
        for column, checks in self._by_column.items():
            if column in (self._distinct or ()):
                suspect |= self._distinct_flag(con, column,
                                               encodings.encode(column, table.column(column)))
                continue
            for check in checks:
                if check in self._rest:
                    continue
                suspect |= self._flag(check, table.column(column), missing[column])
        if self._rest:
            con.register("_chunk", table)
            try:
                numbers = con.sql(f'SELECT "{ROW_NUMBER}" FROM _chunk WHERE '
                                  + violation_sql(self._rest)).fetchnumpy()[ROW_NUMBER]
            finally:
                con.unregister("_chunk")
            suspect |= np.isin(table.column(ROW_NUMBER).to_numpy(), numbers)
        return table.filter(pa.array(suspect))

    def _choose(self, table: pa.Table) -> None:
        self._distinct = [c for c, checks in self._by_column.items()
                          if any(x.costly for x in checks) and repetitive(table.column(c))]
        self._rest = [x for c, checks in self._by_column.items() if c not in self._distinct
                      for x in checks if x.costly and x not in self._patterns]

    def _is_missing(self, values: pa.ChunkedArray) -> np.ndarray:
        if values.null_count:
            return np.asarray(pc.or_kleene(pc.is_in(values, value_set=self._missing),
                                           pc.is_null(values)))
        if self._missing.to_pylist() == [""]:  # the usual case: a length test, no hashing
            return np.concatenate([_offsets(chunk)[1] == 0 for chunk in values.chunks]
                                  or [np.zeros(0, dtype=bool)])
        return np.asarray(pc.is_in(values, value_set=self._missing))

    def _flag(self, check: Check, values: pa.ChunkedArray, missing: np.ndarray) -> np.ndarray:
        """Where one cheap check fails (or might: the full query decides)."""
        if check.constraint == "required":
            return missing
        limit = check.field.constraints.get(check.constraint)
        if check.constraint == "maxLength" and not values.null_count:
            # a cell has at least as many bytes as characters: within the limit in bytes, it
            # is within it in characters; beyond it, the full query counts the characters
            return np.concatenate([_offsets(chunk)[1] > int(limit) for chunk in values.chunks]
                                  or [np.zeros(0, dtype=bool)]) & ~missing
        if check.constraint in ("minLength", "maxLength"):
            lengths = pc.utf8_length(values).to_numpy(zero_copy_only=False)
            wrong = lengths < int(limit) if check.constraint == "minLength" else lengths > int(limit)
            return wrong & ~missing
        pattern = self._patterns[check]
        return np.concatenate([pattern.violations(chunk) for chunk in values.chunks]
                              or [np.zeros(0, dtype=bool)]) & ~missing

    def _distinct_flag(self, con: DuckDBPyConnection, column: str,
                       encoded: pa.DictionaryArray) -> np.ndarray:
        dictionary = encoded.dictionary
        distinct = pa.table({"_i": pa.array(np.arange(len(dictionary), dtype=np.int64)),
                             column: dictionary})
        con.register("_distinct", distinct)
        try:
            failing = con.sql("SELECT _i FROM _distinct WHERE "
                              + violation_sql(self._by_column[column])).fetchnumpy()["_i"]
        finally:
            con.unregister("_distinct")
        answers = np.zeros(len(dictionary), dtype=bool)
        answers[failing] = True
        # a NULL (a cell padded onto a short row) is left to the full query
        return np.asarray(pc.take(pa.array(answers), encoded.indices).fill_null(True))
