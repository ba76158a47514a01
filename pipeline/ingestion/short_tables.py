"""Short tables an entity uploads beside its visits: withdrawal files (`retiros*`, see
`pipeline.ingestion.withdrawals`) and the decision-makers register (`decisores*`, see
`pipeline.ingestion.decision_makers`).

Each kind is told by the start of its file name. They hold tens of rows, not millions, so they
are read whole, by the one upload reader (`pipeline.sources.readers`): any encoding and
delimiter it accepts, title rows above the header, XLSX and XLS, row numbers as a spreadsheet
shows them. Their labels are matched loosely, as upload labels are (case, accents, spaces,
'_': `Fecha Visita` is `fecha_visita`, `Área` is `area`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from pipeline.sources.readers import (
    ROW_NUMBER,
    UPLOAD_SUFFIXES,
    CellIssue,
    EncodingMismatch,
    TableStream,
    UnreadableUpload,
    column_names,
    fold,
    open_table,
)


def named(name: str, prefix: str) -> bool:
    """A `<prefix>*` file named as a format the upload reader reads (.csv, .txt, .xlsx, .xls…)."""
    return name.lower().startswith(prefix) and Path(name).suffix.lower() in UPLOAD_SUFFIXES


def read_whole(path: Path, name: str, known: list[str], *,
               min_known: int) -> tuple[TableStream, pa.Table]:
    """The whole file as text cells, with the header's labels. The header is the first of the
    top rows holding `min_known` of the `known` labels (title rows above it are skipped)."""
    encoding: str | None = None
    for _ in range(2):
        stream = open_table(path, name, known, header_search=True, encoding=encoding,
                            min_known=min_known)
        try:
            return stream, pa.Table.from_batches(list(stream.batches), schema=stream.schema)
        except EncodingMismatch as exc:
            # the sample read as UTF-8 but a later block does not: read it again in the fallback
            encoding = exc.fallback
    raise UnreadableUpload("No se pudo determinar la codificación del archivo. "
                           "Guárdelo como 'CSV UTF-8'.", "encoding-error")


def locate(labels: list[str], columns: tuple[str, ...]) -> dict[str, list[int]]:
    """Each of `columns` the header has (matched loosely) → its 0-based positions in the file;
    more than one when the header repeats it."""
    by_fold = {fold(column): column for column in columns}
    found: dict[str, list[int]] = {}
    for index, label in enumerate(labels):
        column = by_fold.get(fold(label))
        if column is not None:
            found.setdefault(column, []).append(index)
    return found


def header_seen(labels: list[str], header_row: int) -> str:
    """What the header has, in a sentence for the administrator whose header lacks a column."""
    shown = [f"«{label.strip()}»" for label in labels if label.strip()]
    return (f"El encabezado, en la fila {header_row}, tiene: {', '.join(shown)}." if shown
            else f"El encabezado, en la fila {header_row}, está vacío.")


@dataclass(frozen=True)
class TextRow:
    """A row with something written in it: its number as a spreadsheet shows it and one cell
    per label of the header."""

    number: int
    cells: list[str]
    #: something is written right of the last label (a cell too many): the row's cells are
    #: likely shifted
    extra: bool = False


def text_rows(stream: TableStream, table: pa.Table) -> list[TextRow]:
    """Every row with something written in it, in file order; blank rows are nothing."""
    width = stream.width
    columns = [table.column(name).to_pylist() for name in column_names(width)]
    rows: list[TextRow] = []
    for j, number in enumerate(table.column(ROW_NUMBER).to_pylist()):
        cells = [column[j] for column in columns]
        if any(c.strip() for c in cells):
            rows.append(TextRow(number, cells))
    for ragged in stream.ragged:
        if not any(c.strip() for c in ragged.cells):
            continue
        # fewer cells than labels: the missing ones are empty, as a spreadsheet shows them;
        # empty cells past the last label (trailing delimiters) are nothing
        cells = ragged.cells[:width] + [""] * (width - len(ragged.cells))
        rows.append(TextRow(ragged.number, cells,
                            extra=any(c.strip() for c in ragged.cells[width:])))
    return sorted(rows, key=lambda r: r.number)


def cell_issues(stream: TableStream, positions: dict[str, int]) -> list[tuple[CellIssue, str]]:
    """The cells of the columns read (column → 0-based position) that the reader could not
    take at face value (XLSX formulas without a value, error cells), with their column."""
    by_position = {index: column for column, index in positions.items()}
    return [(issue, by_position[issue.column - 1]) for issue in stream.issues
            if issue.column - 1 in by_position]


def join(items: list[str]) -> str:
    """'a', 'a y b', 'a, b y c'."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} y {items[-1]}"


def quote(text: str, limit: int = 60) -> str:
    """A cell as quoted in a sentence: a long one is cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"
