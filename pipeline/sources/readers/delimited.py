"""Delimited text uploads (CSV, TXT) as a stream of Arrow record batches.

The first 64 KiB decide the encoding (a BOM, else UTF-8 if it decodes, else Windows-1252), the
delimiter and the header row; Arrow's streaming reader then parses the whole file once, in
blocks, on one thread (only then does it report the row number of a ragged row). Rows are
split only at CR and LF, and quoted cells may hold line breaks, by Arrow and by the header
search alike: a title row holding a form feed or U+2028 cannot shift the row numbers.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from pipeline.sources.readers.header import (
    MIN_KNOWN,
    SEARCH_ROWS,
    column_names,
    find_header,
    title_text,
)
from pipeline.sources.readers.table import (
    ROW_NUMBER,
    EncodingMismatch,
    RaggedRow,
    TableStream,
    UnreadableUpload,
)

SNIFF_BYTES = 64 * 1024
#: Arrow parses this much at a time; a block's rows become one record batch
BLOCK_SIZE = 2 << 20
DELIMITERS = (",", ";", "\t", "|")
FALLBACK_ENCODING = "cp1252"
_ARROW_ENCODING = {"utf-8": "utf8", "utf-8-sig": "utf8", "utf-16": "utf-16",
                   FALLBACK_ENCODING: FALLBACK_ENCODING}

EMPTY = "El archivo está vacío: no tiene encabezados ni filas."


def sniff_encoding(head: bytes) -> str:
    """'utf-8-sig' or 'utf-16' by their BOM, 'utf-8' if the sample decodes, else cp1252."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        # not final: the sample may end inside a multi-byte character
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return FALLBACK_ENCODING
    return "utf-8"


def _records(text: str, delimiter: str) -> list[list[str]]:
    """The sample's first records, split as Arrow splits them (CR/LF only, quotes honoured)."""
    reader = csv.reader(io.StringIO(text.replace("\0", ""), newline=""), delimiter=delimiter)
    try:
        return list(islice(reader, SEARCH_ROWS))
    except csv.Error:  # an unclosed quote in the sample: what was read so far
        return []


def split_row(text: str, delimiter: str) -> list[str]:
    return next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])


def open_delimited(path: Path, known_labels: list[str], *, header_search: bool = True,
                   encoding: str | None = None, min_known: int = MIN_KNOWN) -> TableStream:
    """Open a delimited file for streaming. Raises UnreadableUpload when it is not a table.

    Files that are not text at all (a workbook, a PDF) never get here: `sniff.py` tells them.
    """
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if not head:
        raise UnreadableUpload(EMPTY)
    encoding = encoding or sniff_encoding(head)
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
    except UnicodeDecodeError as exc:
        raise UnreadableUpload(
            f"No se pudo leer el archivo con la codificación {encoding}: {exc}. "
            "Guárdelo como 'CSV UTF-8'.", "encoding-error") from exc
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise UnreadableUpload(EMPTY)

    # The delimiter is the one that splits the most known labels out of a row; without a
    # recognisable header, the most frequent candidate on the first line.
    best: tuple[int, int, str, list[list[str]]] | None = None
    for candidate in DELIMITERS:
        records = _records(text, candidate)
        index, hits = find_header(records, known_labels, min_known)
        if not header_search:
            index = 0
        if best is None or hits > best[1]:
            best = (index, hits, candidate, records)
    assert best is not None
    index, hits, delimiter, records = best
    if hits < min_known:
        first_line = text[:min(p for p in (text.find("\r"), text.find("\n"), len(text))
                                if p >= 0)]
        delimiter = max(DELIMITERS, key=first_line.count)
        records = _records(text, delimiter)
        index = 0
    if not records:
        raise UnreadableUpload(EMPTY)
    labels = records[index]
    stream = TableStream(labels=labels, header_row=index + 1, file_format="csv",
                         batches=iter(()), encoding=encoding, delimiter=delimiter)
    if title := title_text(records[:index]):
        stream.titles.append((index + 2, title))
    stream.batches = _batches(path, stream)
    return stream


def _batches(path: Path, stream: TableStream) -> Iterator[pa.RecordBatch]:
    names = column_names(stream.width)
    delimiter = stream.delimiter or ","
    ragged = stream.ragged

    def on_invalid(row: pacsv.InvalidRow) -> str:
        # the physical row (record) number, counted from the top of the file
        ragged.append(RaggedRow(row.number or 0, split_row(row.text, delimiter), row.text))
        return "skip"

    read = pacsv.ReadOptions(column_names=names, skip_rows=stream.header_row,
                             block_size=BLOCK_SIZE, use_threads=False,
                             encoding=_ARROW_ENCODING[stream.encoding or "utf-8"])
    parse = pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid,
                               newlines_in_values=True, ignore_empty_lines=False)
    convert = pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                   strings_can_be_null=False, quoted_strings_can_be_null=False)
    schema = stream.schema
    try:
        reader = pacsv.open_csv(path, read, parse, convert)
        next_number = stream.header_row + 1
        seen = 0
        pending = np.zeros(0, dtype=np.int64)  # set-aside rows not yet passed
        for batch in reader:
            n = batch.num_rows
            # Rows set aside while parsing keep their numbers and the others fill the gaps.
            # (The handler may already have seen rows of the next block: they stay pending.)
            pending = np.union1d(pending, np.array([r.number for r in ragged[seen:]],
                                                   dtype=np.int64))
            seen = len(ragged)
            pending = pending[pending >= next_number]
            candidates = np.arange(next_number, next_number + n + len(pending), dtype=np.int64)
            if len(pending):
                candidates = candidates[~np.isin(candidates, pending)]
            numbers = candidates[:n]
            if n:
                next_number = int(numbers[-1]) + 1
            yield pa.RecordBatch.from_arrays([pa.array(numbers), *batch.columns], schema=schema)
    except pa.ArrowInvalid as exc:
        text = str(exc)
        if "UTF8" in text and stream.encoding == "utf-8":
            raise EncodingMismatch(FALLBACK_ENCODING) from exc
        if "UTF8" in text or "decode" in text or "codec" in text:
            raise UnreadableUpload(
                f"No se pudo leer el archivo con la codificación {stream.encoding}. "
                "Guárdelo como 'CSV UTF-8'.", "encoding-error") from exc
        if "straddling" in text or "block size" in text:
            text = ("una fila no termina: probablemente hay comillas (\") sin cerrar en una "
                    "celda")
        raise UnreadableUpload(f"El CSV no se pudo interpretar: {text}.", "format-error") from exc
    except UnicodeDecodeError as exc:
        raise UnreadableUpload(
            f"No se pudo leer el archivo con la codificación {stream.encoding}: {exc}. "
            "Guárdelo como 'CSV UTF-8'.", "encoding-error") from exc


__all__ = ["ROW_NUMBER", "open_delimited", "sniff_encoding"]
