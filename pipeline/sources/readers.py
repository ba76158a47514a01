"""Read an uploaded file (CSV or XLSX) into an Arrow table of text cells.

Every cell is kept as text exactly as the entity wrote it (only the encoding is converted),
so validation can quote it back and nothing is lost. Each row carries `_fila`, its physical row
number in the file (the header row of a plain CSV is row 1, as in Frictionless reports).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

ROW_NUMBER = "_fila"
DELIMITERS = (";", ",", "\t", "|")
SNIFF_BYTES = 64 * 1024
SNIFF_LINES = 20


class UnreadableUpload(ValueError):
    """Raised by the readers when a file cannot be read as a table at all.

    `error_type` is the Frictionless error type (`source-error`, `encoding-error`,
    `format-error`); the message is in Spanish, for the entity's administrator.
    """

    def __init__(self, message: str, error_type: str = "source-error") -> None:
        super().__init__(message)
        self.error_type = error_type


@dataclass
class RowProblem:
    """A physical row that could not be split into the header's columns."""

    row_number: int
    error_type: str  # 'extra-cell' | 'missing-cell'
    text: str


@dataclass
class UploadTable:
    table: pa.Table  # `_fila` + one string column per header label, in file order
    labels: list[str]  # header labels as written (may repeat or be blank)
    header_row: int
    file_format: str  # 'csv' | 'xlsx'
    encoding: str | None = None
    delimiter: str | None = None
    problems: list[RowProblem] = field(default_factory=list)


def fold(text: str) -> str:
    """Compare labels loosely: no accents, case, or doubled spaces."""
    text = unicodedata.normalize("NFKD", text.replace("\u00a0", " "))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(text.casefold().replace("_", " ").split())


def column_names(labels: list[str]) -> list[str]:
    """Internal column names: position-based, so blank or repeated labels stay distinct."""
    return [f"c{i + 1}" for i in range(len(labels))]


def _header_index(rows: list[list[str]], known: set[str]) -> int:
    """Index of the first row that looks like the header (holds at least 3 known labels)."""
    for i, row in enumerate(rows):
        if sum(1 for cell in row if fold(str(cell or "")) in known) >= 3:
            return i
    return 0


# ---------------------------------------------------------------- CSV


def detect_encoding(path: Path) -> str:
    """'utf-8-sig' (BOM), 'utf-8' if the whole file decodes as UTF-8, else 'cp1252'."""
    with open(path, "rb") as fh:
        head = fh.read(3)
        if head == codecs.BOM_UTF8:
            return "utf-8-sig"
        fh.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while block := fh.read(1 << 20):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8"


def _transcode_to_utf8(path: Path, encoding: str, dest: Path) -> None:
    """Stream the file into plain UTF-8 (no BOM), block by block."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    with open(path, "rb") as src, open(dest, "wb") as out:
        while block := src.read(1 << 20):
            out.write(decoder.decode(block).encode("utf-8"))
        out.write(decoder.decode(b"", final=True).encode("utf-8"))


def read_csv(path: Path, known_labels: Iterable[str]) -> UploadTable:
    if path.stat().st_size == 0:
        raise UnreadableUpload("El archivo está vacío: no tiene encabezados ni filas.")
    encoding = detect_encoding(path)
    try:
        with open(path, encoding=encoding, newline="") as fh:
            sample = fh.read(SNIFF_BYTES)
    except UnicodeDecodeError as exc:
        raise UnreadableUpload(
            f"No se pudo leer el archivo con la codificación {encoding}: {exc}. "
            "Guárdelo como CSV UTF-8.",
            "encoding-error",
        ) from exc
    if not sample.strip():
        raise UnreadableUpload("El archivo está vacío: no tiene encabezados ni filas.")
    if "\x00" in sample:
        raise UnreadableUpload(
            "El archivo no es un CSV de texto (contiene bytes nulos). Si es una hoja de cálculo, "
            "súbala como .xlsx o expórtela como CSV UTF-8.",
            "format-error",
        )
    lines = sample.splitlines()[:SNIFF_LINES]
    known = {fold(x) for x in known_labels}

    def split(line: str, delim: str) -> list[str]:
        return next(csv.reader([line], delimiter=delim), [])

    # The delimiter is the one that splits the most known labels out of some line;
    # without a recognisable header, the most frequent candidate on the first line.
    best = (-1, 0, DELIMITERS[0])
    for delim in DELIMITERS:
        rows = [split(line, delim) for line in lines]
        idx = _header_index(rows, known)
        hits = sum(1 for c in rows[idx] if fold(c) in known) if rows else 0
        if hits > best[0]:
            best = (hits, idx, delim)
    hits, header_idx, delimiter = best
    if hits < 3:
        delimiter = max(DELIMITERS, key=lambda d: lines[0].count(d))
        header_idx = 0
    labels = [c.strip() for c in split(lines[header_idx], delimiter)]
    header_row = header_idx + 1

    with tempfile.TemporaryDirectory(prefix="visitas-csv-") as tmp:
        source = path
        if encoding != "utf-8":
            source = Path(tmp) / "utf8.csv"
            _transcode_to_utf8(path, encoding, source)
        table, problems = _arrow_csv(source, labels, header_row, delimiter)
    return UploadTable(table, labels, header_row, "csv", encoding, delimiter, problems)


def _arrow_csv(path: Path, labels: list[str], header_row: int,
               delimiter: str) -> tuple[pa.Table, list[RowProblem]]:
    names = column_names(labels)
    problems: list[RowProblem] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        # Rows with too many or too few cells are kept aside, not dropped silently.
        kind = "extra-cell" if row.actual_columns > row.expected_columns else "missing-cell"
        # `number` is the physical line in the file (header and title rows included).
        number = row.number or 0
        problems.append(RowProblem(number, kind, row.text))
        return "skip"

    # Single-threaded: only then does Arrow report the line number of an invalid row.
    read = pacsv.ReadOptions(column_names=names, skip_rows=header_row, block_size=8 << 20,
                             use_threads=False)
    parse = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                               invalid_row_handler=on_invalid)
    convert = pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                   strings_can_be_null=False, quoted_strings_can_be_null=False)
    try:
        table = pacsv.read_csv(path, read, parse, convert)
    except pa.ArrowInvalid as exc:
        raise UnreadableUpload(f"El CSV no se pudo interpretar: {exc}", "format-error") from exc
    # Physical row numbers: rows are numbered after the header, skipping nothing but the
    # invalid rows (whose numbers were recorded above).
    numbers = _row_numbers(table.num_rows, header_row, [p.row_number for p in problems])
    table = table.add_column(0, ROW_NUMBER, numbers)
    return table, problems


def _row_numbers(count: int, header_row: int, skipped: list[int]) -> pa.Array:
    import numpy as np

    total = count + len(skipped)
    all_numbers = np.arange(header_row + 1, header_row + 1 + total, dtype=np.int64)
    if skipped:
        all_numbers = all_numbers[~np.isin(all_numbers, np.asarray(skipped, dtype=np.int64))]
    return pa.array(all_numbers, pa.int64())


# ---------------------------------------------------------------- XLSX


def _cell_text(value: object) -> str:
    """Native Excel values as the text a person would read (ISO dates and times)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        if value.date() == dt.date(1899, 12, 30) or value.date() == dt.date(1899, 12, 31):
            return value.time().isoformat(timespec="seconds")  # a time-only cell
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat(timespec="seconds")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_xlsx(path: Path, known_labels: Iterable[str]) -> UploadTable:
    import openpyxl

    if path.stat().st_size == 0:
        raise UnreadableUpload("El archivo está vacío: no tiene encabezados ni filas.")
    if not zipfile.is_zipfile(path):
        raise UnreadableUpload(
            "El archivo .xlsx está dañado o no es un libro de Excel (no es un ZIP válido). "
            "Vuelva a guardarlo desde Excel como 'Libro de Excel (.xlsx)'.",
            "format-error",
        )
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many unrelated types for damaged files
        raise UnreadableUpload(
            f"El archivo .xlsx está dañado y no se pudo abrir ({type(exc).__name__}: {exc}). "
            "Vuelva a guardarlo desde Excel como 'Libro de Excel (.xlsx)'.",
            "format-error",
        ) from exc
    try:
        sheet = workbook.worksheets[0]
        rows = [[_cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()
    while rows and not any(c.strip() for c in rows[-1]):
        rows.pop()
    if not rows:
        raise UnreadableUpload("La hoja de cálculo está vacía: no tiene encabezados ni filas.")
    known = {fold(x) for x in known_labels}
    header_idx = _header_index(rows[:SNIFF_LINES], known)
    labels = [c.strip() for c in rows[header_idx]]
    while labels and not labels[-1]:
        labels.pop()
    width = len(labels)
    body = rows[header_idx + 1:]
    numbers = list(range(header_idx + 2, header_idx + 2 + len(body)))
    keep = [i for i, r in enumerate(body) if any(c.strip() for c in r)]  # skip blank rows
    columns = {
        ROW_NUMBER: pa.array([numbers[i] for i in keep], pa.int64()),
        **{
            name: pa.array([(body[i][j] if j < len(body[i]) else "") for i in keep], pa.string())
            for j, name in enumerate(column_names(labels))
        },
    }
    problems = [
        RowProblem(numbers[i], "extra-cell", "\t".join(body[i]))
        for i in keep
        if any(c.strip() for c in body[i][width:])
    ]
    return UploadTable(pa.table(columns), labels, header_idx + 1, "xlsx", problems=problems)


def read_upload(path: Path, filename: str, known_labels: Iterable[str]) -> UploadTable:
    """Read a CSV or XLSX upload; raise UnreadableUpload with a Spanish message otherwise."""
    suffix = Path(filename).suffix.lower()
    known = list(known_labels)
    if suffix == ".xlsx":
        return read_xlsx(path, known)
    if suffix in (".csv", ".txt"):
        return read_csv(path, known)
    raise UnreadableUpload(
        f"Formato no admitido: {suffix or 'sin extensión'}. Suba un archivo .csv o .xlsx.",
        "format-error",
    )
