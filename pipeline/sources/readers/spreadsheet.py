"""Spreadsheet uploads (XLSX, Excel 97-2003 XLS, ODS) as a stream of Arrow record batches,
read with calamine (Rust).

calamine returns each cell's cached value (a formula's last computed result): native dates and
times become ISO text, as a person reads them. In an XLSX, the cells calamine would hand back as
empty (a formula without a value, an Excel error) are found in the sheet's XML (`xlsx.py`).

A workbook may hold several sheets (a cover, the register, a summary): the sheet read is the
first whose top rows hold the header, visible sheets before hidden ones; when none does, the
first sheet with data. The report says which sheet was read, and why, whenever there are several.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import pyarrow as pa
import python_calamine

from pipeline.sources.readers.header import (
    MIN_KNOWN,
    SEARCH_ROWS,
    find_header,
    fold,
    known_hits,
    title_text,
)
from pipeline.sources.readers.sniff import XLSX
from pipeline.sources.readers.table import (
    BATCH_ROWS,
    ROW_NUMBER,
    CellIssue,
    RowBatcher,
    TableStream,
    UnreadableUpload,
)
from pipeline.sources.readers.xlsx import problem_cells

#: how each kind is saved again from Excel, when it cannot be read
SAVE_AS = "Vuelva a guardarlo desde Excel como 'Libro de Excel (.xlsx)'."
DAMAGED = {
    "xlsx": "El archivo .xlsx está dañado o no es un libro de Excel ({detail}). " + SAVE_AS,
    "xls": ("El archivo parece de Excel 97-2003 (.xls) pero no se pudo abrir como libro de "
            "Excel: puede estar dañado, protegido con contraseña o ser otro documento de Office "
            "(Word, PowerPoint) ({detail}). " + SAVE_AS),
    "ods": "El archivo .ods está dañado o no es una hoja de cálculo ({detail}). " + SAVE_AS,
}


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


@dataclass
class _Sheet:
    name: str
    hidden: bool
    start: tuple[int, int]
    top: list[list[str]]
    rest: Iterator[list[object]]
    header: int  # index of the header among the top rows
    hits: int  # known labels in the header row


def open_workbook(path: Path, kind: str, known_labels: list[str], *,
                  header_search: bool = True, min_known: int = MIN_KNOWN) -> TableStream:
    """Open the sheet holding the header for streaming (see the module's docstring).

    Raises UnreadableUpload when the file is no workbook calamine can open, or every sheet is
    empty.
    """
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
        metadata = [m for m in workbook.sheets_metadata
                    if m.typ == python_calamine.SheetTypeEnum.WorkSheet]
    except Exception as exc:  # calamine raises many types for damaged files
        raise UnreadableUpload(DAMAGED[kind].format(detail=f"{type(exc).__name__}: {exc}"),
                               "format-error") from exc
    visible = python_calamine.SheetVisibleEnum.Visible
    # visible sheets first, each group in the workbook's order
    order = sorted(metadata, key=lambda m: m.visible != visible)
    needed = min(min_known, len({fold(label) for label in known_labels})) or 1
    chosen: _Sheet | None = None
    first_with_data: _Sheet | None = None
    for meta in order:
        sheet = _open_sheet(workbook, kind, meta.name, meta.visible != visible, known_labels,
                            header_search, min_known)
        if sheet is None:
            continue
        first_with_data = first_with_data or sheet
        if sheet.hits >= needed:
            chosen = sheet
            break
    if first_with_data is None:
        raise UnreadableUpload("La hoja de cálculo está vacía: no tiene encabezados ni filas."
                               if len(metadata) <= 1 else
                               "Todas las hojas del libro están vacías: no tienen encabezados "
                               "ni filas.")
    sheet = chosen or first_with_data
    try:
        problems = problem_cells(path, sheet.name) if kind == XLSX else {}
    except Exception as exc:
        raise UnreadableUpload(DAMAGED[kind].format(detail=f"{type(exc).__name__}: {exc}"),
                               "format-error") from exc
    first_row, first_column = sheet.start
    labels = list(sheet.top[sheet.header])
    while labels and not labels[-1].strip():
        labels.pop()
    stream = TableStream(labels=labels, header_row=first_row + sheet.header + 1,
                         file_format=kind, batches=iter(()), sheet=sheet.name)
    if title := title_text(sheet.top[:sheet.header]):
        stream.titles.append((first_row + sheet.header + 2, title))
    if len(metadata) > 1:
        stream.notes.append(_sheet_note(sheet, [m.name for m in metadata], chosen is not None))
    body = _chain(sheet.top[sheet.header + 1:], sheet.rest)
    stream.batches = _batches(body, stream, first_row + sheet.header + 2, first_column,
                              problems)
    return stream


def _open_sheet(workbook: python_calamine.CalamineWorkbook, kind: str, name: str,
                hidden: bool, known_labels: list[str], header_search: bool,
                min_known: int) -> _Sheet | None:
    """A sheet's top rows and where its header is; None when the top rows are empty."""
    try:
        sheet = workbook.get_sheet_by_name(name)
    except Exception as exc:
        raise UnreadableUpload(DAMAGED[kind].format(detail=f"{type(exc).__name__}: {exc}"),
                               "format-error") from exc
    rows = (list(row) for row in sheet.iter_rows())
    top = [[cell_text(v) for v in row] for row in islice(rows, SEARCH_ROWS)]
    if not any(any(c.strip() for c in row) for row in top):
        return None
    if header_search:
        index, hits = find_header(top, known_labels, min_known)
    else:  # the first row is the header, as in Frictionless
        index, hits = 0, known_hits(top[0], {fold(label) for label in known_labels})
    return _Sheet(name, hidden, sheet.start or (0, 0), top, rows, index, hits)


def _sheet_note(sheet: _Sheet, names: list[str], has_header: bool) -> str:
    """Which sheet of several was read, and why."""
    listed = ", ".join(f"«{n}»" for n in names[:-1]) + f" y «{names[-1]}»"
    hidden = " (oculta)" if sheet.hidden else ""
    if has_header:
        why = "la primera que tiene el encabezado del formato"
    else:
        why = ("ninguna hoja tiene el encabezado del formato, así que se leyó la primera con "
               "datos")
    return (f"Se leyó la hoja «{sheet.name}»{hidden}: {why}. El libro tiene "
            f"{len(names)} hojas: {listed}.")


def _chain(head: list[list[str]], rest: Iterator[list[object]]) -> Iterator[Sequence[object]]:
    yield from head
    yield from rest


def _batches(body: Iterator[Sequence[object]], stream: TableStream, first_number: int,
             first_column: int, problems: dict[tuple[int, int], tuple[str, str]]
             ) -> Iterator[pa.RecordBatch]:
    rows = RowBatcher(stream, BATCH_ROWS)
    blank_run: list[int] = []  # blank rows not yet known to be followed by data
    for number, row in enumerate(body, first_number):
        cells = [cell_text(v) for v in row]
        if not any(c.strip() for c in cells) and not any(
                (number, first_column + j + 1) in problems for j in range(len(cells))):
            blank_run.append(number)
            continue
        for blank in blank_run:  # blank rows between rows with data are rows of the table
            if (batch := rows.add(blank, [])) is not None:
                yield batch
        blank_run.clear()
        for j in range(len(cells)):
            problem = problems.get((number, first_column + j + 1))
            if problem is not None:
                stream.issues.append(CellIssue(number, j + 1, problem[0], problem[1]))
        if (batch := rows.add(number, cells)) is not None:
            yield batch
    # blank rows after the last row with data are a sheet's formatted but empty rows: no rows
    if (batch := rows.flush()) is not None:
        yield batch


__all__ = ["ROW_NUMBER", "cell_text", "open_workbook"]
