"""The rejected rows of an upload as a CSV the administrator can fix and upload again.

Its columns are the upload's own, in the file's order and with its labels, holding the cells
as they were typed, plus one column, «Errores de validación», saying per row what is wrong.
The upload reader recognises that column and ignores it, so the corrected file can be
uploaded as it is. Semicolons and UTF-8 with a BOM: what Excel in Spanish opens as columns.

The rows come from the quarantine the driver hands to a `RowSink` (`quarantine.parquet` of an
ingested batch, or `RejectedRows` for `visitas validate --rechazadas`): only rejected rows are
ever turned into Python values here.
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.sources.readers import ROW_NUMBER
from pipeline.sql import identifier, path_literal
from pipeline.validation.driver import OTHER_COLUMN, REASONS
from pipeline.validation.labels import REASONS_LABEL
from pipeline.validation.report import Report

__all__ = ["REASONS_LABEL", "REJECTED_FILE", "RejectedRows", "write_csv"]
#: the file written beside an ingested batch's report.json
REJECTED_FILE = "rechazadas.csv"


class RejectedRows:
    """A `RowSink` keeping only the rejected rows, in a Parquet file, for `write_csv`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: pq.ParquetWriter | None = None

    def valid(self, rows: pa.Table) -> None:
        pass  # checked, not kept: `visitas validate` stages nothing

    def rejected(self, rows: pa.Table) -> None:
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, rows.schema)
        self._writer.write_table(rows)

    def reset(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def write_csv(report: Report, quarantine: Path | None, out: Path) -> int:
    """Write the rejected rows of `quarantine` (None or missing: none) to `out` in the
    upload's columns; returns how many rows were written."""
    columns: list[str] = []
    by_position = {position: name for name, position in report.field_columns.items()}
    for position in range(1, len(report.labels) + 1):
        name = by_position.get(position, f"{OTHER_COLUMN}{position}")
        columns.append(name)
    written = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
        writer.writerow([*report.labels, REASONS_LABEL])
        if quarantine is None or not quarantine.is_file():
            return 0
        present = set(pq.read_schema(quarantine).names)
        cells = ", ".join(identifier(c) if c in present else "NULL" for c in [*columns, REASONS])
        with duckdb.connect() as con:
            result = con.sql(f"SELECT {cells} FROM read_parquet({path_literal(quarantine)}) "
                             f"ORDER BY {identifier(ROW_NUMBER)}")
            while batch := result.fetchmany(10_000):
                writer.writerows(["" if v is None else v for v in row] for row in batch)
                written += len(batch)
    return written
