"""Staged batches as later stages read them: the only module outside the writers that knows
where ingestion leaves a batch.

    <warehouse>/batches/<RUC>/<sha256>/batch.json           provenance and counts
                                       valid.parquet         normalised valid rows (+ provenance)
                                       withdrawals.parquet   visits withdrawn (a `retiros*.csv`)
                                       decisores.parquet     the decision-makers register (a
                                                             `decisores*.csv`; read it through
                                                             `pipeline.ingestion.decision_makers`)
                                       quarantine.parquet    rejected rows as uploaded, with why

The writers are `pipeline.ingestion.batches`, `pipeline.ingestion.withdrawals` and
`pipeline.ingestion.decision_makers`; they stage each batch in a scratch folder beside its final
one and rename it in. Only folders named by a sha256 are batches: a scratch folder left by an
interrupted run is never read.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any, Literal

import pyarrow.parquet as pq

from pipeline.ingestion.batches import batch_folders, batches_dir
from pipeline.settings import Settings

__all__ = ["batch_file", "batch_records", "batches_dir", "staged_files",
           "unsound_staged_batches"]

BATCH_FILE = "batch.json"
Kind = Literal["valid", "withdrawals"]
#: the staged file of each kind of batch
FILES: dict[str, str] = {"valid": "valid.parquet", "withdrawals": "withdrawals.parquet"}
QUARANTINE = "quarantine.parquet"


def _batch_folders(settings: Settings, ruc: str | None = None) -> Iterator[Path]:
    return batch_folders(settings, ruc)


def batch_records(settings: Settings, rucs: Collection[str] | None = None) -> list[dict[str, Any]]:
    """Provenance and counts of every staged batch (batch.json), sorted by entity and file;
    of the `rucs` entities only, when given (only their folders are read)."""
    records = []
    folders = (_batch_folders(settings) if rucs is None else
               (f for ruc in sorted(rucs) for f in _batch_folders(settings, ruc)))
    for folder in folders:
        path = folder / BATCH_FILE
        if not path.is_file():
            continue
        meta = json.loads(path.read_text(encoding="utf-8"))
        if rucs is None or meta["entidad_ruc"] in rucs:
            records.append(meta)
    return sorted(records, key=lambda m: (m["entidad_ruc"], m["archivo"], m["sha256"]))


def batch_file(settings: Settings, record: dict[str, Any], name: str) -> Path | None:
    """The data file `name` (`valid.parquet`, `quarantine.parquet`…) of the batch `record`
    describes, when its record lists it (a record is written last, so what it lists is there)."""
    if name not in record.get("archivos", {}):
        return None
    return batches_dir(settings, record["entidad_ruc"]) / record["sha256"] / name


def staged_files(settings: Settings, ruc: str, kind: Kind) -> list[Path]:
    """The entity's staged files of `kind` ("valid" rows or "withdrawals"), in path order."""
    name = FILES[kind]
    return [folder / name for folder in _batch_folders(settings, ruc)
            if (folder / name).is_file()]


def unsound_staged_batches(settings: Settings, expected: list[str]) -> list[str]:
    """Staged valid-row files that are unreadable or miss a column consolidation needs."""
    bad = []
    for folder in _batch_folders(settings):
        path = folder / FILES["valid"]
        if not path.is_file():
            continue
        try:
            names = set(pq.read_schema(path).names)
        except Exception as exc:  # a damaged file must be named, whatever the cause
            bad.append(f"{folder.parent.name}/{folder.name}: {exc}")
            continue
        missing = [c for c in expected if c not in names]
        if missing:
            bad.append(f"{folder.parent.name}/{folder.name}: faltan {', '.join(missing)}")
    return bad
