"""The shape every reader hands to validation: a header and a stream of Arrow record batches."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pyarrow as pa

#: the column holding each row's number in the file, as a spreadsheet shows it (header = 1 in a
#: plain CSV, as in Frictionless reports)
ROW_NUMBER = "_fila"


class UnreadableUpload(ValueError):
    """Raised by the readers when a file cannot be read as a table at all.

    `error_type` is the Frictionless error type (`source-error`, `encoding-error`,
    `format-error`); the message is in Spanish, for the entity's administrator.
    """

    def __init__(self, message: str, error_type: str = "source-error") -> None:
        super().__init__(message)
        self.error_type = error_type


class EncodingMismatch(Exception):
    """Raised while streaming when bytes far into a file are not in the sniffed encoding.

    The sample decoded as UTF-8 but a later block does not: the validation starts over with
    the fallback encoding, as it would have if the sample had shown it.
    """

    def __init__(self, fallback: str) -> None:
        super().__init__(fallback)
        self.fallback = fallback


@dataclass
class RaggedRow:
    """A row with another number of cells than the header: checked apart, never dropped."""

    number: int
    cells: list[str]
    #: the row as written in the file
    text: str


@dataclass
class CellIssue:
    """A cell the reader could not take at face value (a formula without a value, an error)."""

    row: int
    column: int  # 1-based position in the file
    kind: str  # error type
    text: str  # what the cell holds (the formula, the error code)
    note: str = ""  # what the message adds (the date format a value did not match)


@dataclass
class TableStream:
    """A file read as text cells: header labels and a one-pass stream of record batches.

    Each batch has ROW_NUMBER and one string column per label (`c1`…`cN`). Ragged rows and
    cell issues are collected while the stream is consumed: read them after it ends.
    """

    labels: list[str]
    header_row: int
    file_format: str  # 'csv' | 'xlsx' | 'xls' | 'ods' | 'html' | 'json'
    batches: Iterator[pa.RecordBatch]
    encoding: str | None = None
    delimiter: str | None = None
    #: the sheet read, in a workbook
    sheet: str | None = None
    #: what the administrator should know about how the file was read (Spanish sentences):
    #: which sheet of several, a file whose name says another format
    notes: list[str] = field(default_factory=list)
    ragged: list[RaggedRow] = field(default_factory=list)
    issues: list[CellIssue] = field(default_factory=list)
    #: the title rows in force, as (first row they apply to, their text), in row order: the
    #: rows above the header, and in a web page each title between its tables. A mapping may
    #: read a date from them; they grow while the stream is consumed
    titles: list[tuple[int, str]] = field(default_factory=list)

    @property
    def width(self) -> int:
        return len(self.labels)

    @property
    def schema(self) -> pa.Schema:
        from pipeline.sources.readers.header import column_names

        return pa.schema([(ROW_NUMBER, pa.int64()),
                          *((name, pa.string()) for name in column_names(self.width))])


#: rows per record batch of the spreadsheet and web-page readers
BATCH_ROWS = 65_536


class RowBatcher:
    """Rows of text cells gathered into record batches of a stream's schema (ROW_NUMBER and
    one string column per label), the way the spreadsheet and web-page readers hand them
    over: a row with cells beyond the header's width is set apart as ragged, a shorter one
    padded with empty cells."""

    def __init__(self, stream: TableStream, size: int = BATCH_ROWS) -> None:
        self.stream = stream
        self.size = size
        self.numbers: list[int] = []
        self.columns: list[list[str]] = [[] for _ in range(stream.width)]

    def add(self, number: int, cells: list[str]) -> pa.RecordBatch | None:
        """Take one row; the batch it completes, if any."""
        width = self.stream.width
        if any(c.strip() for c in cells[width:]):
            # more cells than the header has labels: checked apart, as in a CSV
            self.stream.ragged.append(RaggedRow(number, cells, "\t".join(cells)))
            return None
        self.numbers.append(number)
        for j, column in enumerate(self.columns):
            column.append(cells[j] if j < len(cells) else "")
        return self.flush() if len(self.numbers) >= self.size else None

    def flush(self) -> pa.RecordBatch | None:
        """The rows taken since the last batch, as one; None when there are none."""
        if not self.numbers:
            return None
        batch = pa.RecordBatch.from_arrays(
            [pa.array(self.numbers, pa.int64()), *(pa.array(c, pa.string()) for c in self.columns)],
            schema=self.stream.schema)
        self.numbers.clear()
        for column in self.columns:
            column.clear()
        return batch
