"""Raw batches of each entity, validated and staged (partitioned by entity)."""


import dagster as dg

from pipeline.assets.entity_partitions import ENTITY_PARTITIONS
from pipeline.assets.locking import POOLS, writing
from pipeline.assets.resources import PipelineSettings
from pipeline.flow import included_entities, not_included
from pipeline.ingestion.batches import EntityOutcome, ingest_entity
from pipeline.notifications.administrators import notify_batches


@dg.asset(
    pool=POOLS["visit_batches"],
    partitions_def=ENTITY_PARTITIONS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="ingestion",
    kinds={"duckdb", "parquet"},
)
def visit_batches(context: dg.AssetExecutionContext,
                  settings: PipelineSettings) -> dg.MaterializeResult:
    """Each entity's uploads: raw batch archived, validated, valid rows staged, rest quarantined."""
    cfg = settings.get()
    # The environment's entities as they are registered now, not as they were when the code
    # location loaded its partitions: production never ingests a demo-stage entity.
    registry = {e.ruc: e for e in included_entities(cfg)}
    outcomes: list[EntityOutcome] = []
    for ruc in context.partition_keys:
        if ruc not in registry:
            context.log.error(f"{not_included(cfg, ruc)}: no se ingiere.")
            continue
        with writing(context):
            outcome = ingest_entity(cfg, registry[ruc])
        outcomes.append(outcome)
        if outcome.error:
            context.log.error(outcome.error)
        for problem in outcome.report_problems:
            context.log.warning(f"{ruc} {problem}")
        for skipped in outcome.skipped:
            context.log.warning(f"{ruc} archivo omitido: {skipped.name} ({skipped.reason})")
        for batch in outcome.new_batches:
            log = context.log.info if batch.status == "published" else context.log.warning
            log(f"{ruc} {batch.name}: {batch.status}\n{batch.summary}")
    notify_batches(cfg, outcomes, echo=lambda line: (
        context.log.warning if "aviso:" in line else context.log.info)(line))
    new = [b for o in outcomes for b in o.new_batches]
    rows = [
        f"| {b.entity_ruc} | {b.name} | {b.status} | {b.valid_rows} | {b.rejected_rows} |"
        for b in new[:20]
    ]
    preview = "\n".join(["| RUC | archivo | estado | válidas | rechazadas |",
                         "|---|---|---|---|---|", *rows]) if rows else "Sin lotes nuevos."
    return dg.MaterializeResult(
        metadata={
            "new_batches": len(new),
            "unchanged_batches": sum(len(o.batches) - len(o.new_batches) for o in outcomes),
            "valid_rows": sum(o.count("valid_rows") for o in outcomes),
            "rejected_rows": sum(o.count("rejected_rows") for o in outcomes),
            "unreadable_batches": sum(1 for b in new if not b.readable),
            "source_errors": dg.MetadataValue.json([o.error for o in outcomes if o.error]),
            "skipped_files": dg.MetadataValue.json([
                {"entidad_ruc": o.entity.ruc, "archivo": s.name, "motivo": s.reason}
                for o in outcomes for s in o.skipped]),
            "preview": dg.MetadataValue.md(preview),
        }
    )


@dg.asset_check(asset=visit_batches, blocking=True,
                description="Los lotes preparados se pueden leer y tienen todas las columnas.")
def staged_batches_sound(settings: PipelineSettings) -> dg.AssetCheckResult:
    """Blocks consolidation when a staged batch file is damaged: it would break every entity's
    publication. A bad *upload* never reaches staging, so it never trips this check."""
    from pipeline.consolidation.visitas import VISIT_FIELDS
    from pipeline.ingestion.staged import unsound_staged_batches
    from pipeline.ingestion.staging import PROVENANCE

    bad = unsound_staged_batches(settings.get(), [*VISIT_FIELDS, *PROVENANCE])
    return dg.AssetCheckResult(passed=not bad, metadata={"damaged": dg.MetadataValue.json(bad)})


@dg.asset_check(asset=visit_batches, blocking=False,
                description="Cargas que no se pudieron leer en absoluto (por entidad).")
def uploads_readable(settings: PipelineSettings) -> dg.AssetCheckResult:
    """Warns about uploads that could not be read as a table; they affect only their entity."""
    from pipeline.ingestion.staged import batch_records

    bad = [m for m in batch_records(settings.get()) if not m.get("legible", True)]
    return dg.AssetCheckResult(
        passed=not bad,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"unreadable": dg.MetadataValue.json(
            [{"entidad_ruc": m["entidad_ruc"], "archivo": m["archivo"]} for m in bad])},
    )
