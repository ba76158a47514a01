"""File uploads dropped by each entity in its landing area: `<landing>/<RUC>/<file>`."""

from __future__ import annotations

from pathlib import Path

from pipeline.registry import Entity
from pipeline.sources.base import Upload
from pipeline.storage import Storage
from pipeline.storage.base import sha256_file

ACCEPTED_SUFFIXES = (".csv", ".xlsx", ".txt")


class LandingSource:
    def __init__(self, landing: Storage) -> None:
        self.landing = landing

    def fetch(self, entity: Entity, workdir: Path) -> list[Upload]:
        uploads = []
        for obj in self.landing.list(f"{entity.ruc}/"):
            name = obj.key.rsplit("/", 1)[-1]
            if name.startswith("."):
                continue  # editor and OS droppings, partial uploads
            local = workdir / f"{len(uploads):05d}-{name}"
            self.landing.download(obj.key, local)
            uploads.append(Upload(
                entity_ruc=entity.ruc,
                name=name,
                origin=self.landing.locate(obj.key),
                sha256=sha256_file(local),
                size=local.stat().st_size,
                path=local,
            ))
        return uploads
