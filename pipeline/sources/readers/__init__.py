"""One reader for every uploaded table: CSV and TXT (any delimiter and encoding seen in the
wild, title rows) and spreadsheets (XLSX, Excel 97-2003 XLS, ODS), streamed as Arrow record
batches of text cells; for entities whose source declares a mapping, also web pages holding
tables (`html.py`) and JSON records (`jsonfile.py`).

The format is told by the file's first bytes, not by its name (`sniff.py`): a workbook saved as
`.csv` is read as a workbook, and the report says so. Every cell is kept as text exactly as the
entity wrote it (only the encoding is converted), so validation can quote it back and nothing
is lost. Each row carries `_fila`, its row number in the file as a spreadsheet shows it.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.sources.readers.delimited import EMPTY, open_delimited
from pipeline.sources.readers.header import MIN_KNOWN, column_names, fold
from pipeline.sources.readers.html import open_html
from pipeline.sources.readers.jsonfile import open_json
from pipeline.sources.readers.sniff import (
    DESCRIPTIONS,
    EMPTY_FILE,
    HTML,
    JSON,
    KIND_BY_SUFFIX,
    SPREADSHEETS,
    TEXT,
    expected_kind,
    sniff,
)
from pipeline.sources.readers.spreadsheet import open_workbook
from pipeline.sources.readers.table import (
    ROW_NUMBER,
    CellIssue,
    EncodingMismatch,
    RaggedRow,
    TableStream,
    UnreadableUpload,
)

#: the suffixes uploads are expected under (any other is read too, if its content is a table)
UPLOAD_SUFFIXES = tuple(KIND_BY_SUFFIX)
SEND_INSTEAD = "Suba un archivo .csv, .xlsx o .xls."
SEND_INSTEAD_EXTENDED = "Suba un archivo .csv, .xlsx, .xls, .html o .json."


def open_table(path: Path, filename: str, known_labels: list[str], *,
               header_search: bool = True, encoding: str | None = None,
               min_known: int = MIN_KNOWN, extended: bool = False,
               record_keys: tuple[str, ...] = ()) -> TableStream:
    """Open an upload for streaming; raise UnreadableUpload with a Spanish message otherwise.

    With `header_search`, title rows above the header are skipped (the header is the first of
    the top rows holding at least `min_known` of `known_labels`; three by default, fewer for a
    layout with fewer columns); without it the first row is the header, as Frictionless reads
    a file.

    With `extended` (an entity whose source declares a mapping) web pages holding tables and
    JSON records are read too; `record_keys` are where a JSON object may hold its records.
    Without it they are what they always were: a web page is refused, JSON is read as text.
    """
    try:
        found = sniff(path)
    except IsADirectoryError as exc:
        raise UnreadableUpload(f"«{filename}» es una carpeta, no un archivo.") from exc
    except OSError as exc:
        raise UnreadableUpload(f"No se pudo abrir «{filename}»: {exc.strerror or exc}.") from exc
    if found.kind == EMPTY_FILE:
        raise UnreadableUpload(EMPTY)
    if found.kind == "damaged-zip" and expected_kind(filename) in SPREADSHEETS:
        raise UnreadableUpload(
            f"El archivo está dañado o incompleto: no se puede abrir como libro de Excel "
            f"({found.what}). Vuelva a guardarlo desde Excel como 'Libro de Excel (.xlsx)' y "
            "súbalo de nuevo.", "format-error")
    kind, what = found.kind, found.what
    if kind == JSON and not extended:
        kind = TEXT
    if extended and kind in (HTML, JSON):
        what = DESCRIPTIONS[kind]
    elif not found.readable and kind != TEXT:
        send = SEND_INSTEAD_EXTENDED if extended else SEND_INSTEAD
        raise UnreadableUpload(f"Formato no admitido: «{filename}» es {what}. {send}",
                               "format-error")
    if kind in SPREADSHEETS:
        stream = open_workbook(path, kind, known_labels, header_search=header_search,
                               min_known=min_known)
    elif kind == HTML:
        stream = open_html(path, known_labels, min_known=min_known)
    elif kind == JSON:
        stream = open_json(path, record_keys)
    else:
        stream = open_delimited(path, known_labels, header_search=header_search,
                                encoding=encoding, min_known=min_known)
    if expected_kind(filename, extended) != kind:
        stream.notes.insert(0, f"El archivo se llama «{filename}» pero es {what}: se leyó "
                               "como tal.")
    return stream


__all__ = ["ROW_NUMBER", "SEND_INSTEAD", "TEXT", "UPLOAD_SUFFIXES", "CellIssue",
           "EncodingMismatch", "RaggedRow", "TableStream", "UnreadableUpload", "column_names",
           "fold", "open_table"]
