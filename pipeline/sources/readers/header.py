"""What the CSV and XLSX readers share: label folding, internal column names, the header row."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache

#: rows searched for the header (title rows above it are skipped)
SEARCH_ROWS = 20
#: known labels a row must hold to be taken for the header
MIN_KNOWN = 3


@lru_cache(maxsize=8192)
def fold(text: str) -> str:
    """Compare labels loosely: no accents, case, underscores, or doubled spaces."""
    text = unicodedata.normalize("NFKD", text.replace("\u00a0", " "))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(text.casefold().replace("_", " ").split())


def column_names(width: int) -> list[str]:
    """Internal column names by position (`c1`, `c2`…), so blank or repeated labels stay apart."""
    return [f"c{i + 1}" for i in range(width)]


def known_hits(row: Sequence[str], known: set[str]) -> int:
    # a cell longer than any label is no label: not worth folding (most cells are data)
    longest = max((len(k) for k in known), default=0) + 8
    return sum(1 for cell in row if len(cell) <= longest and fold(cell) in known)


def title_text(rows: Iterable[Sequence[str]]) -> str:
    """Title rows above a header as one line of text: their non-empty cells, in order."""
    return " ".join(" ".join(str(c).split()) for row in rows for c in row if str(c).strip())


def find_header(rows: Iterable[Sequence[str]], known: Iterable[str],
                min_known: int = MIN_KNOWN) -> tuple[int, int]:
    """(index, known labels found) of the first row holding at least `min_known` known labels.

    (0, hits of the first row) when no row does: the first row is the header, as in
    Frictionless.
    """
    folded = {fold(label) for label in known}
    first = None
    for index, row in enumerate(rows):
        if index >= SEARCH_ROWS:
            break
        hits = known_hits(row, folded)
        if first is None:
            first = hits
        if hits >= min_known:
            return index, hits
    return 0, first or 0
