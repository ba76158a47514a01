"""One reader for every uploaded table: CSV and TXT (any delimiter and encoding seen in the
wild, title rows) and XLSX, streamed as Arrow record batches of text cells.

Every cell is kept as text exactly as the entity wrote it (only the encoding is converted), so
validation can quote it back and nothing is lost. Each row carries `_fila`, its row number in
the file as a spreadsheet shows it.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.sources.readers.delimited import open_delimited
from pipeline.sources.readers.header import MIN_KNOWN, column_names, fold
from pipeline.sources.readers.table import (
    ROW_NUMBER,
    CellIssue,
    EncodingMismatch,
    RaggedRow,
    TableStream,
    UnreadableUpload,
)
from pipeline.sources.readers.xlsx import open_xlsx

TEXT_SUFFIXES = (".csv", ".txt")
SPREADSHEET_SUFFIXES = (".xlsx",)


def open_table(path: Path, filename: str, known_labels: list[str], *,
               header_search: bool = True, encoding: str | None = None,
               min_known: int = MIN_KNOWN) -> TableStream:
    """Open an upload for streaming; raise UnreadableUpload with a Spanish message otherwise.

    With `header_search`, title rows above the header are skipped (the header is the first of
    the top rows holding at least `min_known` of `known_labels`; three by default, fewer for a
    layout with fewer columns); without it the first row is the header, as Frictionless reads
    a file.
    """
    suffix = Path(filename).suffix.lower()
    if suffix in SPREADSHEET_SUFFIXES:
        return open_xlsx(path, known_labels, header_search=header_search, min_known=min_known)
    if suffix in TEXT_SUFFIXES:
        return open_delimited(path, known_labels, header_search=header_search, encoding=encoding,
                              min_known=min_known)
    raise UnreadableUpload(
        f"Formato no admitido: {suffix or 'sin extensión'}. Suba un archivo .csv o .xlsx.",
        "format-error")


__all__ = ["ROW_NUMBER", "CellIssue", "EncodingMismatch", "RaggedRow", "TableStream",
           "UnreadableUpload", "column_names", "fold", "open_table"]
