"""Stage an upload's rows as validation finds them: valid rows and quarantine, in Parquet.

The driver hands over each chunk's rows and releases them, so staging a large upload takes no
more memory than a chunk.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.normalization.project import NORMALISED_SCHEMA, ROW_NUMBER

#: provenance of every staged row, after the visit's columns
PROVENANCE = ("_entidad_ruc", "_lote", "_archivo", "_fila", "_ingestado_en")
VALID_SCHEMA = pa.schema(
    [f for f in NORMALISED_SCHEMA if f.name != ROW_NUMBER]
    + [pa.field("_entidad_ruc", pa.string()), pa.field("_lote", pa.string()),
       pa.field("_archivo", pa.string()), pa.field("_fila", pa.int64()),
       pa.field("_ingestado_en", pa.timestamp("s", tz="UTC"))])


#: the data files a batch may stage, and the record key that lists them in batch.json
DATA_FILES = ("valid.parquet", "quarantine.parquet", "withdrawals.parquet",
              "decisores.parquet")
FILES_KEY = "archivos"


def data_files(folder: Path) -> dict[str, dict[str, object]]:
    """The batch's data files as its record lists them: size, sha256 and rows of each, read
    back from disk (a Parquet file that does not open is not recorded: it raises)."""
    from pipeline.storage.base import sha256_file

    found: dict[str, dict[str, object]] = {}
    for name in DATA_FILES:
        path = folder / name
        if path.is_file():
            rows = pq.read_metadata(path).num_rows
            found[name] = {"bytes": path.stat().st_size, "sha256": sha256_file(path),
                           "filas": rows}
    return found


def sound(folder: Path, meta: dict[str, object]) -> bool:
    """Whether the batch's data files are there as its record says (sizes: cheap enough for
    every run). A record from before records listed their files needs its rows' file."""
    listed = meta.get(FILES_KEY)
    if isinstance(listed, dict):
        for name, info in listed.items():
            path = folder / name
            if not path.is_file() or path.stat().st_size != info.get("bytes"):
                return False
        return True
    if meta.get("tipo") == "retiros":
        return (folder / "withdrawals.parquet").is_file() or not meta.get("filas_validas")
    return (folder / "valid.parquet").is_file() or not meta.get("legible", True)


class ParquetSink:
    """A `RowSink` writing `valid.parquet` and `quarantine.parquet` into a folder."""

    def __init__(self, folder: Path, *, ruc: str, batch: str, name: str,
                 ingested: dt.datetime) -> None:
        self.valid_path = folder / "valid.parquet"
        self.quarantine_path = folder / "quarantine.parquet"
        self._provenance = {"_entidad_ruc": ruc, "_lote": batch, "_archivo": name}
        self._ingested = ingested
        self._valid: pq.ParquetWriter | None = None
        self._quarantine: pq.ParquetWriter | None = None

    def valid(self, rows: pa.Table) -> None:
        n = rows.num_rows
        columns = [rows.column(f.name) for f in VALID_SCHEMA if f.name in NORMALISED_SCHEMA.names
                   and f.name != ROW_NUMBER]
        columns += [pa.array([value] * n, pa.string()) for value in self._provenance.values()]
        columns += [rows.column(ROW_NUMBER),
                    pa.array([self._ingested] * n, pa.timestamp("s", tz="UTC"))]
        if self._valid is None:
            self._valid = pq.ParquetWriter(self.valid_path, VALID_SCHEMA)
        self._valid.write_table(pa.Table.from_arrays(columns, schema=VALID_SCHEMA))

    def rejected(self, rows: pa.Table) -> None:
        if self._quarantine is None:
            self._quarantine = pq.ParquetWriter(self.quarantine_path, rows.schema)
        self._quarantine.write_table(rows)

    def reset(self) -> None:
        self._close()
        self.valid_path.unlink(missing_ok=True)
        self.quarantine_path.unlink(missing_ok=True)

    def close(self, *, keep_valid: bool) -> None:
        """Finish both files; without `keep_valid` (the file was rejected whole) no valid rows
        are staged, and a readable file with none gets an empty `valid.parquet`."""
        self._close()
        if not keep_valid:
            self.valid_path.unlink(missing_ok=True)
        elif not self.valid_path.exists():
            pq.write_table(VALID_SCHEMA.empty_table(), self.valid_path)

    def _close(self) -> None:
        for writer in (self._valid, self._quarantine):
            if writer is not None:
                writer.close()
        self._valid = self._quarantine = None
