"""One full pass, as plain Python: ingest every entity, consolidate, publish.

`visitas run` calls this; the Dagster assets call the same stage functions one by one. The
safeguards live in those stage functions (consolidation holds an entity whose source failed,
publication refuses a release that drops published visits without withdrawal); this module
only passes along which sources failed and turns the outcome into an exit code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from pipeline import preflight
from pipeline.consolidation.visitas import ConsolidationOutcome, consolidate
from pipeline.ingestion.batches import EntityOutcome, ingest_entity
from pipeline.notifications.administrators import notify_batches
from pipeline.publication.console import outcome_lines
from pipeline.publication.guard import ReleaseRefused
from pipeline.publication.publisher import PublicationOutcome, publish
from pipeline.registry import Entity, entities_for, load_registry
from pipeline.settings import Settings
from pipeline.spanish import plural
from pipeline.storage import open_storage

Echo = Callable[[str], None]

# Exit codes of `visitas run` (documented in README, "The command line"). 1 and 2 stay what
# click makes them: an error that stopped the run, a wrong command line.
#: every source read; a release published, or nothing changed
EXIT_OK = 0
#: nothing published because of a failure: the release was refused (it would have dropped
#: published visits without withdrawal), or no entity's source could be read
EXIT_NOT_PUBLISHED = 3
#: some entities' sources failed: their published visits were kept, the others processed
EXIT_PARTIAL = 4


@dataclass
class PassOutcome:
    entities: list[EntityOutcome] = field(default_factory=list)
    consolidation: ConsolidationOutcome | None = None
    #: None when the release was refused (see `refusal`)
    publication: PublicationOutcome | None = None
    registry_problems: list[str] = field(default_factory=list)
    refusal: ReleaseRefused | None = None

    @property
    def failed_sources(self) -> list[str]:
        """RUCs of the entities whose source could not be read."""
        return [e.entity.ruc for e in self.entities if e.error]

    @property
    def no_source_read(self) -> bool:
        return bool(self.entities) and len(self.failed_sources) == len(self.entities)

    @property
    def exit_code(self) -> int:
        # A source down for days must not pass for a good run in cron or CI, yet it is not the
        # same alarm as a run that published nothing: hence two codes.
        if self.refusal is not None or self.no_source_read:
            return EXIT_NOT_PUBLISHED
        return EXIT_PARTIAL if self.failed_sources else EXIT_OK

    def problems(self) -> list[str]:
        """What went wrong in this pass, in Spanish, for the operator; empty when nothing did."""
        failed = self.failed_sources
        if self.no_source_read:
            return [f"✘ Ninguna fuente se pudo leer ({plural(len(failed), 'entidad', 'entidades')}):"
                    " no llegó ninguna carga nueva."]
        if failed:
            return [f"✘ {len(failed)} de {plural(len(self.entities), 'entidad', 'entidades')}"
                    f" con fuente caída ({', '.join(failed)}): se conservan sus visitas"
                    " publicadas; las demás entidades se procesaron."]
        return []

    def published_where(self) -> str:
        """Where the pass left the published tree, for the last line of `visitas run`."""
        if self.refusal is not None:
            kept = (f"sigue sirviendo la versión {self.refusal.served}"
                    if self.refusal.served else "no sirve ninguna versión")
            return f"nada publicado: {self.refusal.location}/ {kept}"
        assert self.publication is not None
        return f"publicado en {self.publication.location}/ (datapackage.json)"


def included_entities(settings: Settings, problems: list[str] | None = None) -> list[Entity]:
    """The entities this environment processes (broken registrations go to `problems`)."""
    found: list[str] = []
    entities = entities_for(settings.environment, load_registry(settings.entities_dir, found))
    if problems is not None:
        problems.extend(found)
    return entities


def not_included(settings: Settings, ruc: str) -> str:
    """Why this environment does not process `ruc` (Spanish)."""
    if any(e.ruc == ruc for e in load_registry(settings.entities_dir, [])):
        return (f"{ruc} está en demo y el entorno {settings.environment} solo procesa "
                "entidades en producción")
    return f"{ruc} no está registrada"


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
                  now: dt.datetime | None = None,
                  only: Collection[str] | None = None) -> PassOutcome:
    """Ingest every included entity (or the `only` ones), then consolidate and publish all:
    the others' staged batches are unchanged, so their consolidated rows are not recomputed."""
    preflight.check(settings)
    outcome = PassOutcome()
    entities = included_entities(settings, outcome.registry_problems)
    ingested = entities if only is None else [e for e in entities if e.ruc in only]
    echo(f"Ingesta y validación ({plural(len(ingested), 'entidad', 'entidades')}, "
         f"entorno {settings.environment})")
    for problem in outcome.registry_problems:
        echo(f"  ✘ registro omitido: {problem}")
    for entity in ingested:
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
        for problem in result.report_problems:
            echo(f"    ✘ {problem}")
        for batch in result.new_batches:
            if batch.repaired:
                echo(f"    lote reparado desde el archivo crudo (sus datos faltaban): {batch.name}")
            for line in batch.summary.splitlines():
                echo(f"    {line}")
    notify_batches(settings, outcome.entities, echo=echo)  # never raises for the mail server
    echo("Consolidación")
    outcome.consolidation = consolidate(settings, entities, hold=outcome.failed_sources)
    c = outcome.consolidation
    echo(f"  {plural(c.rows, 'visita', 'visitas')} de {plural(c.entities, 'entidad', 'entidades')}"
         f" ({plural(c.staged_rows, 'fila', 'filas')} en lotes,"
         f" {plural(c.changes, 'cambio', 'cambios')} en el historial,"
         f" {plural(c.withdrawn, 'visita retirada', 'visitas retiradas')})")
    echo(f"  {plural(len(c.recomputed_entities), 'entidad recalculada', 'entidades recalculadas')},"
         f" {plural(len(c.removed_entities), 'retirada', 'retiradas')} del consolidado")
    if c.held_entities:
        held = ", ".join(c.held_entities)
        echo(f"  con fuente caída, se mantiene como estaba: {held}" if len(c.held_entities) == 1
             else f"  con fuente caída, se mantienen como estaban: {held}")
    echo("Publicación")
    names = {e.ruc: e.name for e in entities}
    try:
        outcome.publication = publish(settings, now=now)
    except ReleaseRefused as refused:
        outcome.refusal = refused
        for line in refused.lines(names):
            echo(f"  {line}")
        for line in outcome.problems():
            echo(line)
        return outcome
    pub = outcome.publication
    for loss in pub.unexplained:
        echo(f"  aviso: {loss.describe(names)}")
    for warning in pub.warnings:
        echo(f"  aviso: {warning}")
    for line in outcome_lines(pub):
        echo(f"  {line}")
    for line in outcome.problems():
        echo(line)
    return outcome
