"""The one interface every entity source implements: hand over raw uploads as local files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # the registry reads the mapping language of this package
    from pipeline.registry import Entity
    from pipeline.settings import Settings


@dataclass(frozen=True)
class Upload:
    """One raw batch as received from an entity, copied to a local working file."""

    entity_ruc: str
    name: str  # file name as the entity gave it
    origin: str  # where it came from (landing key, URL…), for provenance
    sha256: str
    size: int
    #: None when the source knew the upload already (see `Seen`) and did not copy it
    path: Path | None
    #: what identifies this copy in the source without reading it (see `Seen`)
    seen: tuple[str, int, str] | None = None
    #: what else the batch's record (batch.json) keeps of where the rows came from, merged
    #: into it as given: a backfill's original path; for a source that extracts records (an
    #: API, a database), the query or URL and the cursor range it covered
    provenance: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


#: (key, size, version) of an object in a source → the sha256 of its bytes, as ingested
Seen = dict[tuple[str, int, str], str]


@dataclass(frozen=True)
class SkippedFile:
    """Something in an entity's source that is deliberately not taken as an upload.

    Never dropped silently: the run and the Dagster materialization report it with its reason.
    """

    name: str  # as found in the source, relative to the entity's folder
    reason: str  # in Spanish, for the administrator


@dataclass
class Fetched:
    uploads: list[Upload] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    #: where a source that extracts incrementally (a database read by cursor) stands once an
    #: upload is in: the upload's sha256 → the state to keep (`pipeline.sources.cursor`).
    #: Ingestion writes it after that batch is archived and staged, never before, so a run
    #: that dies midway reads again from the state before it and stages nothing twice.
    checkpoints: dict[str, dict[str, Any]] = field(default_factory=dict)


class SourceUnavailable(Exception):
    """Raised by a source's `fetch` when the entity's system cannot be read right now (its
    database or API down, its credentials refused, its setting missing). The message is
    Spanish, for the operator, says what to check, and never holds a secret; ingestion reports
    it as that entity's failure and the other entities go on."""


class Source(Protocol):
    def fetch(self, entity: Entity, workdir: Path, seen: Seen | None = None) -> Fetched:
        """Every upload currently offered by the entity, downloaded into `workdir`, and
        whatever was left out, with its reason. An upload in `seen` (unchanged since it was
        ingested) is not downloaded again: its `path` is None."""
        ...


def source_for(entity: Entity, settings: Settings) -> Source:
    """The source an entity's registration declares."""
    if entity.source_kind == "files":
        from pipeline.sources.landing import LandingSource
        from pipeline.storage import open_storage

        return LandingSource(open_storage(settings.landing_url, base_dir=settings.root))
    from pipeline.sources.cursor import cursor_path

    if entity.source_kind in ("postgres", "mysql"):
        from pipeline.sources.database import DatabaseSource

        return DatabaseSource(cursor_path(settings, entity.ruc), settings)
    if entity.source_kind == "http":
        from pipeline.sources.http import HttpSource

        return HttpSource(cursor_path(settings, entity.ruc))
    raise ValueError(f"Fuente no admitida para {entity.ruc}: {entity.source_kind}")
