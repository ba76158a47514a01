"""XLSX uploads as a stream of Arrow record batches, read with calamine (Rust).

calamine returns each cell's cached value: native dates and times become ISO text, as a
person reads them. Two kinds of cells it would hand back as empty are found in the sheet's
XML instead and reported per cell: a formula without a computed value (a workbook written by
a program that never calculated it) and an Excel error value such as `#N/A`.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re
import zipfile
from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path
from xml.etree import ElementTree

import pyarrow as pa
import python_calamine

from pipeline.sources.readers.header import MIN_KNOWN, SEARCH_ROWS, column_names, find_header
from pipeline.sources.readers.table import (
    ROW_NUMBER,
    CellIssue,
    RaggedRow,
    TableStream,
    UnreadableUpload,
)

BATCH_ROWS = 65_536
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_REF = re.compile(r"([A-Z]+)([0-9]+)")
DAMAGED = ("El archivo .xlsx está dañado o no es un libro de Excel ({detail}). "
           "Vuelva a guardarlo desde Excel como 'Libro de Excel (.xlsx)'.")


def cell_text(value: object) -> str:
    """A native cell value as the text a person would read (ISO dates and times)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        if value.date() in (dt.date(1899, 12, 30), dt.date(1899, 12, 31)):
            return value.time().isoformat(timespec="seconds")  # a time-only cell
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.timedelta):  # a duration format such as [h]:mm
        seconds = round(value.total_seconds())
        return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _first_sheet_part(archive: zipfile.ZipFile) -> str | None:
    """The zip member holding the workbook's first sheet (the one calamine reads)."""
    try:
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError):
        return None
    sheet = workbook.find(f"{_MAIN}sheets/{_MAIN}sheet")
    if sheet is None:
        return None
    rid = sheet.get(f"{_REL}id")
    for rel in rels.iter(f"{_PKG_REL}Relationship"):
        if rel.get("Id") == rid:
            target = rel.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else \
                posixpath.normpath(posixpath.join("xl", target))
    return None


def _holds_marker(archive: zipfile.ZipFile, part: str) -> bool:
    """Whether the sheet holds any formula or error cell at all (a byte search, streamed)."""
    tail = b""
    with archive.open(part) as fh:
        while block := fh.read(1 << 20):
            chunk = tail + block
            if b"<f" in chunk or b't="e"' in chunk:
                return True
            tail = chunk[-8:]
    return False


def problem_cells(path: Path) -> dict[tuple[int, int], tuple[str, str]]:
    """(row, column) → (error type, text) of formula cells without a value and error cells."""
    found: dict[tuple[int, int], tuple[str, str]] = {}
    with zipfile.ZipFile(path) as archive:
        part = _first_sheet_part(archive)
        if part is None or part not in archive.namelist() or not _holds_marker(archive, part):
            return found
        with archive.open(part) as fh:
            for _, element in ElementTree.iterparse(fh, events=("end",)):
                if element.tag != f"{_MAIN}c":
                    if element.tag == f"{_MAIN}row":
                        element.clear()  # memory stays flat on long sheets
                    continue
                match = _REF.fullmatch(element.get("r", ""))
                if match is None:
                    continue
                letters, row = match.groups()
                column = 0
                for letter in letters:
                    column = column * 26 + ord(letter) - 64
                formula = element.find(f"{_MAIN}f")
                value = element.find(f"{_MAIN}v")
                value_text = value.text if value is not None else None
                if element.get("t") == "e":
                    found[int(row), column] = ("spreadsheet-error", value_text or "#ERROR")
                elif formula is not None and not value_text:
                    text = f"={formula.text}" if formula.text else "(fórmula compartida)"
                    found[int(row), column] = ("formula-without-value", text)
    return found


def open_xlsx(path: Path, known_labels: list[str], *, header_search: bool = True,
              min_known: int = MIN_KNOWN) -> TableStream:
    """Open the workbook's first sheet for streaming. Raises UnreadableUpload when it is not one."""
    if path.stat().st_size == 0:
        raise UnreadableUpload("El archivo está vacío: no tiene encabezados ni filas.")
    if not zipfile.is_zipfile(path):
        raise UnreadableUpload(DAMAGED.format(detail="no es un ZIP válido"), "format-error")
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
        sheet = workbook.get_sheet_by_index(0)
        problems = problem_cells(path)
    except Exception as exc:  # calamine and zipfile raise many types for damaged files
        raise UnreadableUpload(DAMAGED.format(detail=f"{type(exc).__name__}: {exc}"),
                               "format-error") from exc
    first_row, first_column = sheet.start or (0, 0)
    rows = (list(row) for row in sheet.iter_rows())
    top = [[cell_text(v) for v in row] for row in islice(rows, SEARCH_ROWS)]
    if not any(any(c.strip() for c in row) for row in top):
        raise UnreadableUpload("La hoja de cálculo está vacía: no tiene encabezados ni filas.")
    index, _ = find_header(top, known_labels, min_known) if header_search else (0, 0)
    labels = list(top[index])
    while labels and not labels[-1].strip():
        labels.pop()
    stream = TableStream(labels=labels, header_row=first_row + index + 1, file_format="xlsx",
                         batches=iter(()))
    body = _chain(top[index + 1:], rows)
    stream.batches = _batches(body, stream, first_row + index + 2, first_column, problems)
    return stream


def _chain(head: list[list[str]], rest: Iterator[list[object]]) -> Iterator[Sequence[object]]:
    yield from head
    yield from rest


def _batches(body: Iterator[Sequence[object]], stream: TableStream, first_number: int,
             first_column: int, problems: dict[tuple[int, int], tuple[str, str]]
             ) -> Iterator[pa.RecordBatch]:
    width = stream.width
    names = column_names(width)
    schema = stream.schema
    numbers: list[int] = []
    columns: list[list[str]] = [[] for _ in names]
    blank_run: list[int] = []  # blank rows not yet known to be followed by data

    def flush() -> pa.RecordBatch:
        batch = pa.RecordBatch.from_arrays(
            [pa.array(numbers, pa.int64()), *(pa.array(c, pa.string()) for c in columns)],
            schema=schema)
        numbers.clear()
        for c in columns:
            c.clear()
        return batch

    for number, row in enumerate(body, first_number):
        cells = [cell_text(v) for v in row]
        if not any(c.strip() for c in cells) and not any(
                (number, first_column + j + 1) in problems for j in range(len(cells))):
            blank_run.append(number)
            continue
        for blank in blank_run:  # blank rows between rows with data are rows of the table
            numbers.append(blank)
            for c in columns:
                c.append("")
        blank_run.clear()
        for j in range(len(cells)):
            problem = problems.get((number, first_column + j + 1))
            if problem is not None:
                stream.issues.append(CellIssue(number, j + 1, problem[0], problem[1]))
        if any(c.strip() for c in cells[width:]):
            # more cells than the header has labels: checked apart, as in a CSV
            stream.ragged.append(RaggedRow(number, cells, "\t".join(cells)))
            continue
        numbers.append(number)
        for j, c in enumerate(columns):
            c.append(cells[j] if j < len(cells) else "")
        if len(numbers) >= BATCH_ROWS:
            yield flush()
    # blank rows after the last row with data are a sheet's formatted but empty rows: no rows
    if numbers:
        yield flush()


__all__ = ["ROW_NUMBER", "cell_text", "open_xlsx", "problem_cells"]
