"""Where each registered entity stands (`visitas entity list`): its stage, its last upload,
its last publication and the rows its last upload had rejected.

Each entity is looked at in its own environment, the one its stage publishes to (`demo` or
`production`), whatever environment the command runs in (`local` included: it is a sandbox
for development, and the promotion gate reads the demo environment too). Read from that
environment's warehouse batch records (`pipeline.ingestion.inspection`) and its published
tree's release manifests, nothing else.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from pipeline.ingestion.inspection import latest_upload
from pipeline.promotion import utc_text
from pipeline.publication.publisher import complete_releases, load_manifest
from pipeline.registry import Entity
from pipeline.settings import Settings, in_environment
from pipeline.storage import open_storage


@dataclass(frozen=True)
class EntityStatus:
    """One entity's facts; the JSON keys of `visitas entity list --json` are these fields."""

    ruc: str
    nombre: str
    #: the registry's stage: 'demo' or 'production'
    etapa: str
    #: ingestion time (UTC, `2024-08-05T15:30:00Z`) of the entity's latest visit upload in its
    #: environment; None before its first
    ultima_carga: str | None
    #: creation time (UTC, same form) of the newest complete release in its environment's
    #: published tree that holds rows of the entity; None if none does
    ultima_publicacion: str | None
    #: rows rejected in that latest upload; None before its first
    filas_rechazadas: int | None

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def entity_statuses(settings: Settings, entities: list[Entity]) -> list[EntityStatus]:
    by_environment: dict[str, list[Entity]] = {}
    for entity in entities:
        by_environment.setdefault(entity.stage, []).append(entity)
    found: dict[str, EntityStatus] = {}
    for environment, group in by_environment.items():
        env = in_environment(settings, environment)
        published = last_publications(env, {e.ruc for e in group})
        for e in group:
            batch = latest_upload(env, e.ruc)
            found[e.ruc] = EntityStatus(
                ruc=e.ruc, nombre=e.name, etapa=e.stage,
                ultima_carga=utc_text(batch.record["ingestado_en"]) if batch else None,
                ultima_publicacion=published.get(e.ruc),
                filas_rechazadas=int(batch.record.get("filas_rechazadas", 0)) if batch else None)
    return [found[e.ruc] for e in entities]


def last_publications(settings: Settings, rucs: set[str]) -> dict[str, str]:
    """For each of `rucs`, the creation time of the newest complete release holding rows of
    it (each release's manifest lists its entities, `overview`); entities in none are left
    out. Reads manifests newest first and stops once every entity is found."""
    storage = open_storage(settings.publish_url, base_dir=settings.root)
    found: dict[str, str] = {}
    for release_id in reversed(complete_releases(storage)):
        if found.keys() >= rucs:
            break
        manifest = load_manifest(storage, release_id)
        for listed in manifest.overview.get("entidades", []):
            ruc = listed.get("ruc")
            if ruc in rucs and ruc not in found and listed.get("visitas", 0) > 0:
                found[ruc] = utc_text(manifest.created)
    return found
