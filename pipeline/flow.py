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
from pipeline.spanish import plural
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
    echo(f"Ingesta y validación ({plural(len(entities), 'entidad', 'entidades')}, "
         f"entorno {settings.environment})")
    for problem in outcome.registry_problems:
        echo(f"  ✘ registro omitido: {problem}")
    for entity in entities:
        result = ingest_entity(settings, entity, today=today, now=now)
        outcome.entities.append(result)
        if result.error:
            echo(f"  ✘ {entity.ruc} {entity.name}: {result.error}")
            continue
        unchanged = len(result.batches) - len(result.new_batches)
        echo(f"  {entity.ruc} {entity.name}: "
             f"{plural(len(result.new_batches), 'lote nuevo', 'lotes nuevos')}"
             f" ({unchanged} sin cambios), "
             f"{plural(result.count('valid_rows'), 'fila válida', 'filas válidas')},"
             f" {result.count('rejected_rows')} rechazada{'' if result.count('rejected_rows') == 1 else 's'}")
        for skipped in result.skipped:
            echo(f"    archivo omitido: {skipped.name} ({skipped.reason})")
        for damaged in result.damaged:
            echo(f"    ✘ {damaged}")
        for batch in result.new_batches:
            if batch.repaired:
                echo(f"    lote reparado desde el archivo crudo (sus datos faltaban): {batch.name}")
            for line in batch.summary.splitlines():
                echo(f"    {line}")
    echo("Consolidación")
    outcome.consolidation = consolidate(settings, entities)
    c = outcome.consolidation
    echo(f"  {plural(c.rows, 'visita', 'visitas')} de {plural(c.entities, 'entidad', 'entidades')}"
         f" ({plural(c.staged_rows, 'fila', 'filas')} en lotes,"
         f" {plural(c.changes, 'cambio', 'cambios')} en el historial,"
         f" {plural(c.withdrawn, 'visita retirada', 'visitas retiradas')})")
    echo(f"  {plural(len(c.recomputed_entities), 'entidad recalculada', 'entidades recalculadas')},"
         f" {plural(len(c.removed_entities), 'retirada', 'retiradas')} del consolidado")
    echo("Publicación")
    outcome.publication = publish(settings, now=now)
    pub = outcome.publication
    if pub.new_release:
        changes = pub.changes
        echo(f"  versión {pub.version}: {plural(pub.rows, 'visita publicada', 'visitas publicadas')}"
             f" en {pub.location}/ (anterior: {pub.previous or 'ninguna'};"
             f" {plural(changes.get('agregadas', 0), 'agregada', 'agregadas')},"
             f" {plural(changes.get('modificadas', 0), 'modificada', 'modificadas')},"
             f" {plural(changes.get('retiradas', 0), 'retirada', 'retiradas')})")
        echo(f"  {plural(len(pub.written), 'archivo escrito', 'archivos escritos')},"
             f" {plural(len(pub.reused), 'reutilizado', 'reutilizados')} sin cambios")
        for f in pub.files:
            mark = "=" if f.path in pub.reused else "+"
            echo(f"    {mark} {f.path:<44} {f.bytes:>10} bytes  sha256:{f.sha256[:16]}…")
    else:
        echo(f"  sin cambios: {pub.location}/ sigue sirviendo la versión {pub.version}"
             f" ({plural(pub.rows, 'visita', 'visitas')})")
    return outcome
