"""One full pass, as plain Python: ingest every entity, consolidate, publish.

`visitas run` calls this; the Dagster assets call the same stage functions one by one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.consolidation.visitas import ConsolidationOutcome, consolidate
from pipeline.ingestion.batches import EntityOutcome, ingest_entity
from pipeline.publication.publisher import PublicationOutcome, publish
from pipeline.registry import Entity, entities_for, load_registry
from pipeline.settings import Settings
from pipeline.storage import open_storage

Echo = Callable[[str], None]


@dataclass
class PassOutcome:
    entities: list[EntityOutcome] = field(default_factory=list)
    consolidation: ConsolidationOutcome | None = None
    publication: PublicationOutcome | None = None
    registry_problems: list[str] = field(default_factory=list)


def included_entities(settings: Settings, problems: list[str] | None = None) -> list[Entity]:
    """The entities this environment processes (broken registrations go to `problems`)."""
    found: list[str] = []
    entities = entities_for(settings.environment, load_registry(settings.entities_dir, found))
    if problems is not None:
        problems.extend(found)
    return entities


def seed_sample_uploads(settings: Settings, entities: list[Entity]) -> int:
    """Copy the shipped sample uploads into the landing area (only those not there yet)."""
    landing = open_storage(settings.landing_url, base_dir=settings.root)
    copied = 0
    for entity in entities:
        folder = settings.samples_dir / entity.ruc
        for path in sorted(folder.glob("*")) if folder.is_dir() else []:
            key = f"{entity.ruc}/{path.name}"
            if not landing.exists(key):
                landing.upload(path, key)
                copied += 1
    return copied


def run_full_pass(settings: Settings, *, echo: Echo = print, today: dt.date | None = None,
                  now: dt.datetime | None = None) -> PassOutcome:
    outcome = PassOutcome()
    entities = included_entities(settings, outcome.registry_problems)
    echo(f"Ingesta y validación ({len(entities)} entidades, entorno {settings.environment})")
    for problem in outcome.registry_problems:
        echo(f"  ✘ registro omitido: {problem}")
    for entity in entities:
        result = ingest_entity(settings, entity, today=today, now=now)
        outcome.entities.append(result)
        if result.error:
            echo(f"  ✘ {entity.ruc} {entity.name}: {result.error}")
            continue
        unchanged = len(result.batches) - len(result.new_batches)
        echo(f"  {entity.ruc} {entity.name}: {len(result.new_batches)} lotes nuevos"
             f" ({unchanged} sin cambios), {result.count('valid_rows')} filas válidas,"
             f" {result.count('rejected_rows')} rechazadas")
        for skipped in result.skipped:
            echo(f"    archivo omitido: {skipped.name} ({skipped.reason})")
        for batch in result.new_batches:
            for line in batch.summary.splitlines():
                echo(f"    {line}")
    echo("Consolidación")
    outcome.consolidation = consolidate(settings, entities)
    echo(f"  {outcome.consolidation.rows} visitas de {outcome.consolidation.entities} entidades"
         f" ({outcome.consolidation.staged_rows} filas en lotes,"
         f" {outcome.consolidation.changes} cambios en el historial,"
         f" {outcome.consolidation.withdrawn} visitas retiradas)")
    echo(f"  {len(outcome.consolidation.recomputed_entities)} entidades recalculadas,"
         f" {len(outcome.consolidation.removed_entities)} retiradas del consolidado")
    echo("Publicación")
    outcome.publication = publish(settings, now=now)
    pub = outcome.publication
    if pub.new_release:
        c = pub.changes
        echo(f"  versión {pub.version}: {pub.rows} visitas publicadas en {pub.location}/"
             f" (anterior: {pub.previous or 'ninguna'}; {c.get('agregadas', 0)} agregadas,"
             f" {c.get('modificadas', 0)} modificadas, {c.get('retiradas', 0)} retiradas)")
        echo(f"  {len(pub.written)} archivos escritos, {len(pub.reused)} reutilizados sin cambios")
        for f in pub.files:
            mark = "=" if f.path in pub.reused else "+"
            echo(f"    {mark} {f.path:<44} {f.bytes:>10} bytes  sha256:{f.sha256[:16]}…")
    else:
        echo(f"  sin cambios: {pub.location}/ sigue sirviendo la versión {pub.version}"
             f" ({pub.rows} visitas)")
    return outcome
