"""Dictionary encodings of a chunk's columns, made once and shared by every stage that
works per distinct value (the prefilter's checks, normalisation, the domain rules).

A visitor log repeats dates, times, officials and reasons on thousands of rows, so work done
per distinct value is work saved; a column whose values are nearly all different (names,
document numbers) gains nothing from a dictionary and is used as it is.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

#: a column is worked per distinct value when at most this share of a sample is distinct
MAX_DISTINCT_SHARE = 0.2
#: rows sampled to decide
SAMPLE_ROWS = 20_000


def repetitive(values: pa.ChunkedArray | pa.Array) -> bool:
    sample = values.slice(0, SAMPLE_ROWS)
    if not len(sample):
        return False
    return pc.count_distinct(sample, mode="all").as_py() <= MAX_DISTINCT_SHARE * len(sample)


class Encodings:
    """The dictionary encoding of each column of one chunk, computed on first use."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self._encoded: dict[object, pa.DictionaryArray] = {}

    def encode(self, name: object, values: pa.ChunkedArray | pa.Array) -> pa.DictionaryArray:
        """`values` (the chunk's column or key `name`) as one dictionary array."""
        found = self._encoded.get(name)
        if found is None:
            if isinstance(values, pa.ChunkedArray):
                values = values.combine_chunks()
            found = self._encoded[name] = pc.dictionary_encode(values)
        return found
