"""Web pages holding tables (spreadsheets saved as HTML, registers' "export to Excel") as a
stream of Arrow record batches.

Such a page may hold several tables (one per day, one per printed page), title rows inside a
table ("Fecha: 12/03/2015" in one cell spanning the row) and headings between tables. The page
is parsed once, streamed (libxml2's HTML parser through lxml's `iterparse`: memory stays flat
whatever the page's size), and read as one table:

- the header is the first row holding enough known labels (else the first row with two cells);
- a row repeating the header (each table's own, a page break's) is no record;
- a row with one filled cell, a caption or a heading outside the tables is a title: the text
  of the titles met since the last record is kept in `TableStream.titles`, in force for the
  records that follow (a mapping may take the visit's date from it);
- empty rows are layout, not records; a row with more filled cells than the header is ragged.

Each record's number is its row's position among the page's rows (`<tr>`), from 1.
The encoding is the page's BOM, else UTF-8 when the whole file decodes as such, else the
charset its `<meta>` declares, else Windows-1252 (what Excel writes).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
from lxml import etree

from pipeline.sources.readers.header import (
    MIN_KNOWN,
    SEARCH_ROWS,
    fold,
    known_hits,
)
from pipeline.sources.readers.table import BATCH_ROWS, RowBatcher, TableStream, UnreadableUpload

HEAD_BYTES = 64 * 1024
FALLBACK_ENCODING = "cp1252"
_TITLE_TAGS = ("caption", "h1", "h2", "h3", "h4", "h5", "h6", "p")
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
#: charsets that browsers read as Windows-1252 (HTML Living Standard, "encodings")
_AS_CP1252 = {"iso-8859-1", "latin1", "latin-1", "us-ascii", "ascii", "windows-1252", "cp1252",
              "iso8859-1", "l1"}

NO_TABLE = "La página web no tiene ninguna tabla con filas."


def page_encoding(path: Path) -> str:
    """The page's encoding: its BOM; UTF-8 if every byte decodes as such (a page that
    declares Windows-1252 but was saved again as UTF-8 is common, and text in Windows-1252
    with accents practically never decodes as UTF-8); else the charset it declares, Windows-1252
    when it declares none or a Latin-1 one (as browsers read them)."""
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _decodes(path, "utf-8"):
        return "utf-8"
    declared = _CHARSET.search(head)
    if declared:
        name = declared.group(1).decode("ascii", "replace").lower()
        try:
            codec = codecs.lookup(name).name
        except LookupError:
            codec = None
        if name not in _AS_CP1252 and codec not in (None, "utf-8"):
            return codec
    return FALLBACK_ENCODING


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with open(path, "rb") as fh:
            while block := fh.read(1 << 20):
                decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _text(element: etree._Element) -> str:
    """A cell's text as a browser shows it: whitespace runs (line breaks, `<br>`) as one
    space, no leading or trailing space."""
    if len(element) == 0:  # no markup inside, as in nearly every cell: no tree walk
        return " ".join((element.text or "").split())
    return " ".join(" ".join(element.itertext()).split())


def _cells(row: etree._Element) -> list[str]:
    """The row's cells; a cell spanning several columns is followed by empty ones, so the
    columns after it stay in place."""
    cells: list[str] = []
    for cell in row.iterchildren("td", "th"):
        cells.append(_text(cell))
        span = cell.get("colspan")
        if span is not None and span.strip() != "1":
            try:
                extra = min(max(int(span), 1), 1000) - 1
            except ValueError:
                extra = 0
            cells.extend([""] * extra)
    return cells


def _inside_cell(element: etree._Element) -> bool:
    return any(True for _ in element.iterancestors("td", "th"))


def _events(path: Path, encoding: str) -> Iterator[tuple[str, list[str] | str]]:
    """('row', cells) for each table row and ('title', text) for each heading or caption
    outside the tables' cells, in page order; parsed elements are freed as it goes."""
    parser = etree.iterparse(str(path), events=("end",), tag=("tr", *_TITLE_TAGS), html=True,
                             encoding=encoding, recover=True, huge_tree=True,
                             remove_comments=True)
    try:
        for _, element in parser:
            if element.tag == "tr":
                yield "row", _cells(element)
            elif not _inside_cell(element):
                text = _text(element)
                if text:
                    yield "title", text
            else:
                continue  # a paragraph inside a cell: its row reads it
            element.clear(keep_tail=True)
            # the rows already read are dropped too (lxml keeps them attached otherwise)
            while element.getprevious() is not None:
                del element.getparent()[0]
    except etree.Error as exc:
        raise UnreadableUpload(f"La página web no se pudo leer: {exc}.", "format-error") from exc


def open_html(path: Path, known_labels: list[str], *, min_known: int = MIN_KNOWN
              ) -> TableStream:
    """Open a web page's tables for streaming (see the module's docstring)."""
    encoding = page_encoding(path)
    events = _events(path, encoding)
    known = {fold(label) for label in known_labels}
    needed = min(min_known, len(known)) or 1
    # the header: the first row with enough known labels among the first rows; else the
    # first row with at least two filled cells, as a spreadsheet's first row would be
    looked: list[tuple[str, list[str] | str, int]] = []
    number = 0
    header: int | None = None
    for kind, value in events:
        if kind == "row":
            number += 1
        looked.append((kind, value, number))
        if kind == "row" and known_hits(value, known) >= needed:  # type: ignore[arg-type]
            header = len(looked) - 1
            break
        if number >= SEARCH_ROWS:
            break
    if header is None:
        header = next((i for i, (kind, value, _) in enumerate(looked) if kind == "row"
                       and sum(1 for c in value if c.strip()) >= 2), None)
    if header is None:
        raise UnreadableUpload(NO_TABLE, "format-error")
    labels = list(looked[header][1])  # type: ignore[arg-type]
    while labels and not labels[-1].strip():
        labels.pop()
    stream = TableStream(labels=labels, header_row=looked[header][2], file_format="html",
                         batches=iter(()), encoding=encoding)
    titles = [str(v) if k == "title" else " ".join(c for c in v if c.strip())
              for k, v, _ in looked[:header]]
    rest = _chain(looked[header + 1:], events, number)
    stream.batches = _batches(rest, stream, [t for t in titles if t])
    return stream


def _chain(looked: list[tuple[str, list[str] | str, int]],
           events: Iterator[tuple[str, list[str] | str]], number: int
           ) -> Iterator[tuple[str, list[str] | str, int]]:
    yield from looked
    for kind, value in events:
        if kind == "row":
            number += 1
        yield kind, value, number


def _batches(rows: Iterator[tuple[str, list[str] | str, int]], stream: TableStream,
             pending_titles: list[str]) -> Iterator[pa.RecordBatch]:
    width = stream.width
    header = [fold(label) for label in stream.labels]
    batcher = RowBatcher(stream, BATCH_ROWS)
    block = list(pending_titles)  # titles met since the last record
    for kind, value, number in rows:
        if kind == "title":
            block.append(str(value))
            continue
        cells: list[str] = value  # type: ignore[assignment]
        filled = [c for c in cells if c.strip()]
        if not filled:
            continue  # spacing rows of the page's layout
        if width > 1 and len(filled) == 1:
            block.append(filled[0])
            continue
        if fold(cells[0]) == header[0] and [fold(c) for c in cells[:width]] == header:
            continue  # the header again: a later table's, a printed page's
        if block:
            stream.titles.append((number, " ".join(block)))
            block = []
        if (batch := batcher.add(number, cells)) is not None:
            yield batch
    if (batch := batcher.flush()) is not None:
        yield batch


__all__ = ["open_html", "page_encoding"]
