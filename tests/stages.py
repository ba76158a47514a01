"""Drive the real stage functions (ingest, consolidate, publish) on a throw-away var dir."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pipeline.consolidation.visitas import consolidate
from pipeline.flow import included_entities
from pipeline.ingestion.batches import ingest_entity
from pipeline.publication.publisher import publish
from pipeline.registry import Entity
from pipeline.settings import Settings
from tests.projects import pristine_root
from tests.published import csv_rows

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "datasets" / "samples"
TODAY = dt.date(2024, 12, 31)
NOW = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.UTC)
TEST_KEY = "clave-de-prueba"


def settings_for(var_dir: Path, **env: str) -> Settings:
    return Settings.from_env(environ={"VISITAS_HOME": str(pristine_root()),
                                      "VISITAS_VAR_DIR": str(var_dir),
                                      "VISITAS_PSEUDONYM_KEY": TEST_KEY, **env})


def entity(settings: Settings, ruc: str) -> Entity:
    return next(e for e in included_entities(settings) if e.ruc == ruc)


def drop(settings: Settings, ruc: str, name: str, data: bytes) -> None:
    """Put one upload in the entity's landing folder, as the entity would."""
    folder = Path(settings.landing_url) / ruc
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def ingest(settings: Settings, ruc: str, *, now: dt.datetime = NOW) -> None:
    outcome = ingest_entity(settings, entity(settings, ruc), today=TODAY, now=now)
    assert outcome.error is None, outcome.error


def consolidate_and_publish(settings: Settings) -> Path:
    consolidate(settings, included_entities(settings))
    publish(settings, now=NOW)
    return settings.var_dir / "publish" / "latest"


def published_rows(latest: Path) -> list[dict[str, str]]:
    """Rows of the served release's monthly CSVs (`latest` is the published tree's latest/)."""
    return csv_rows(latest.parent)
