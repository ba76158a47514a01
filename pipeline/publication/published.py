"""The datasets a release publishes, each its own entry in the catalogues: the main one
(`visitas`) and every companion published beside it (`DatasetMeta.companions`), with the
files that are each one's data and what the release records of each as a version of it.

A release is a version of every dataset it publishes. What the catalogues say of that version
(when the dataset was first published, when its content last changed, the previous version,
the version notes, the period its rows cover) is decided when the release is cut, with the
previous release at hand, and kept in the manifest (`Manifest.datasets`): latest/'s documents
are written again later (a repair after a crash) from the manifest alone.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb

from pipeline.publication import layout
from pipeline.publication.dataset import DatasetMeta
from pipeline.publication.manifest import Manifest, ReleaseFile
from pipeline.spanish import plural
from pipeline.sql import identifier, path_literal

#: the formats of a companion's data files (`<table>.<format>`); its schema and page are not
#: distributions of it
DATA_FORMATS = ("csv", "csv.gz", "json", "parquet", "duckdb")
#: the companion's YAML key naming the column whose first and last values are the period its
#: rows cover (the main dataset's is `release.date_field`)
TEMPORAL_FIELD = "temporal_field"
#: the partition of a monthly file (a year's, in releases cut before the monthly files)
_MONTHLY = re.compile(r"\d{4}(-\d{2})?")


def datasets(meta: DatasetMeta) -> list[DatasetMeta]:
    """Every dataset a release of `meta` publishes, the main one first."""
    return [meta, *meta.companions]


def data_files(meta: DatasetMeta, dataset: DatasetMeta,
               files: Iterable[ReleaseFile]) -> list[ReleaseFile]:
    """The files of `files` that hold `dataset`'s rows (its distributions), in order."""
    if dataset.name != meta.name:
        own = {layout.table_file(dataset.table, fmt) for fmt in DATA_FORMATS}
        return [f for f in files if f.path in own]
    companions = {layout.table_file(c.table, fmt) for c in meta.companions for fmt in DATA_FORMATS}
    # monthly files and the whole dataset in one file carry a partition; DuckDB holds it all
    return [f for f in files if (f.partition or f.format == "duckdb") and f.path not in companions]


def page(meta: DatasetMeta, dataset: DatasetMeta, files: Iterable[ReleaseFile]) -> str:
    """The dataset's page in a release: a companion's own (`<table>.html`) when it has one,
    else the release's index.html."""
    own = layout.table_file(dataset.table, "html")
    if dataset.name != meta.name and any(f.path == own for f in files):
        return own
    return layout.INDEX


@dataclass(frozen=True)
class Version:
    """What a release says of itself as a version of one dataset (times in ISO 8601 UTC)."""

    #: when the dataset was first published
    issued: str
    #: when its content last changed (this release's time, or an earlier one's if unchanged)
    modified: str
    #: the previous release that published it
    previous: str | None
    #: version notes, in Spanish
    notes: str
    #: first and last value of its date column (ISO date, or year and month)
    start: str | None = None
    end: str | None = None
    #: sha256 of its files' paths and hashes: unchanged content, same fingerprint
    fingerprint: str = ""


def _defining(meta: DatasetMeta, dataset: DatasetMeta,
              files: list[ReleaseFile]) -> list[ReleaseFile]:
    """The files that hold a dataset's rows once: the monthly ones for the main dataset (the
    whole-dataset files are built from them at every release), all of a companion's."""
    return [f for f in data_files(meta, dataset, files)
            if dataset.name != meta.name or _MONTHLY.fullmatch(f.partition)]


def _rows(meta: DatasetMeta, dataset: DatasetMeta, files: list[ReleaseFile]) -> int:
    return sum(f.rows or 0 for f in _defining(meta, dataset, files) if f.format == "csv")


def fingerprint(meta: DatasetMeta, dataset: DatasetMeta, files: list[ReleaseFile]) -> str:
    """What tells whether a dataset's content changed between two releases: the files that
    hold its rows, and its schema."""
    rows = _defining(meta, dataset, files)
    schema = [f for f in files if f.path == dataset.schema_path.name]
    digest = hashlib.sha256()
    for f in sorted(rows + schema, key=lambda f: f.path):
        digest.update(f"{f.path}\0{f.sha256}\n".encode())
    return digest.hexdigest()


def spans(con: duckdb.DuckDBPyConnection, meta: DatasetMeta, main: tuple[str, str] | None,
          local: dict[str, Path]) -> dict[str, tuple[str, str]]:
    """The period each dataset's rows cover: the main one's from the release overview (first
    and last visit), a companion's from the Parquet it publishes, on the column its YAML names
    in `temporal_field` (none without it). `local`: the release's files written locally, by
    path."""
    found = {meta.name: main} if main else {}
    for companion in meta.companions:
        column = companion.extra.get(TEMPORAL_FIELD)
        parquet = local.get(layout.table_file(companion.table, "parquet"))
        if not column or parquet is None:
            continue
        first, last = con.execute(
            f"SELECT min({identifier(column)})::VARCHAR, max({identifier(column)})::VARCHAR "
            f"FROM read_parquet({path_literal(parquet)})").fetchone()
        if first is not None:
            found[companion.name] = (first, last)
    return found


def record(meta: DatasetMeta, files: list[ReleaseFile], *, release_id: str, created: str,
           previous: Manifest | None, first_release: Manifest | None, totals: dict[str, int],
           covered: dict[str, tuple[str, str]],
           table_totals: dict[str, dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """`Manifest.datasets` of a new release: one `Version` per dataset it publishes.

    `previous`: the newest complete release before it; `first_release`: the oldest one kept,
    whose time stands for the first publication when `previous` was cut before this record
    existed; `totals`: the changelog's rows added, changed and withdrawn (main dataset), and
    `table_totals` those of each table published whole, by table (changes.json
    `otros_conjuntos`), when they are known."""
    before = recorded(meta, previous) if previous is not None else {}
    out = {}
    for dataset in datasets(meta):
        if dataset.name != meta.name and not data_files(meta, dataset, files):
            continue
        stamp = fingerprint(meta, dataset, files)
        prior = before.get(dataset.name)
        if prior is None or previous is None:
            issued = created
        elif prior.fingerprint:
            issued = prior.issued
        else:
            issued = first_release.created if first_release is not None else previous.created
        unchanged = prior is not None and prior.fingerprint == stamp
        span = covered.get(dataset.name)
        rows = _rows(meta, dataset, files)
        version = Version(
            issued=issued,
            modified=prior.modified if unchanged and prior is not None else created,
            previous=previous.id if prior is not None and previous is not None else None,
            notes=_notes(meta, dataset, release_id, previous.id if prior else None,
                         unchanged, rows, totals, (table_totals or {}).get(dataset.table)),
            start=span[0] if span else None, end=span[1] if span else None,
            fingerprint=stamp)
        out[dataset.name] = asdict(version)
    return out


def recorded(meta: DatasetMeta, manifest: Manifest,
             totals: dict[str, int] | None = None) -> dict[str, Version]:
    """What `manifest` records of each dataset, by name. A release cut before the record
    existed gets what can be told from its manifest: every dataset whose files it has, issued
    and modified at its time, the main one with its overview's period."""
    if manifest.datasets:
        return {name: Version(**v) for name, v in manifest.datasets.items()}
    out = {}
    for dataset in datasets(meta):
        main = dataset.name == meta.name
        if not main and not data_files(meta, dataset, manifest.files):
            continue
        rows = manifest.rows if main else _rows(meta, dataset, manifest.files)
        span = ((manifest.overview.get("desde"), manifest.overview.get("hasta"))
                if main and manifest.overview.get("desde") else (None, None))
        out[dataset.name] = Version(
            issued=manifest.created, modified=manifest.created, previous=manifest.previous,
            notes=_notes(meta, dataset, manifest.id, manifest.previous, False, rows,
                         totals or {}),
            start=span[0], end=span[1])
    return out


def _notes(meta: DatasetMeta, dataset: DatasetMeta, release_id: str, previous: str | None,
           unchanged: bool, rows: int, totals: dict[str, int],
           table_totals: dict[str, Any] | None = None) -> str:
    """The version notes: what changed since the previous version, in Spanish."""
    if previous is None:
        return f"Versión {release_id}, la primera publicada: {plural(rows, 'fila', 'filas')}."
    if unchanged:
        return f"Versión {release_id}: sin cambios respecto de la versión {previous}."
    if dataset.name != meta.name and table_totals is None:
        return (f"Versión {release_id}: recalculada respecto de la versión {previous}; "
                f"{plural(rows, 'fila', 'filas')}.")
    if dataset.name != meta.name:
        return (f"{_counted(release_id, previous, table_totals)}; "
                f"{plural(rows, 'fila', 'filas')} en total.")
    return (f"{_counted(release_id, previous, totals)}; el detalle por entidad y mes, en "
            f"{layout.CHANGES_MD} y {layout.CHANGES}.")


def _counted(release_id: str, previous: str, counts: dict[str, Any]) -> str:
    """"Versión X: N filas agregadas, M modificadas y K retiradas respecto de la versión Y"."""
    added, changed, withdrawn = (counts.get(k, 0) for k in ("agregadas", "modificadas",
                                                            "retiradas"))
    return (f"Versión {release_id}: {plural(added, 'fila agregada', 'filas agregadas')}, "
            f"{plural(changed, 'modificada', 'modificadas')} y "
            f"{plural(withdrawn, 'retirada', 'retiradas')} respecto de la versión {previous}")
