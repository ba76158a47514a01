"""The consolidated national `visits` table in DuckDB."""


import dagster as dg

from pipeline.assets.ingestion import visit_batches
from pipeline.assets.locking import POOLS, writing
from pipeline.assets.resources import PipelineSettings
from pipeline.consolidation.visitas import consolidate
from pipeline.flow import included_entities
from pipeline.spanish import plural


@dg.asset(
    pool=POOLS["visits"],
    deps=[visit_batches],
    group_name="consolidation",
    kinds={"duckdb"},
    # Follows new batches automatically, but never past a failed blocking check upstream
    # (a damaged staged batch would otherwise break every entity's publication). Eager
    # without its "no dependency missing" guard: an entity that has uploaded nothing yet is a
    # partition of visit_batches never materialised, and must not hold back everyone else's.
    automation_condition=dg.AutomationCondition.eager().without(
        ~dg.AutomationCondition.any_deps_missing())
    & dg.AutomationCondition.all_deps_blocking_checks_passed(),
)
def visits(context: dg.AssetExecutionContext, settings: PipelineSettings) -> dg.MaterializeResult:
    """One row per real visit across all entities, deduplicated, with a stable id_visita."""
    cfg = settings.get()
    with writing(context):
        outcome = consolidate(cfg, included_entities(cfg))
    context.log.info(f"{plural(outcome.rows, 'visita', 'visitas')} de "
                     f"{plural(outcome.entities, 'entidad', 'entidades')} "
                     f"({plural(len(outcome.recomputed_entities), 'recalculada', 'recalculadas')})")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": outcome.rows,
        "staged_rows": outcome.staged_rows,
        "entities": outcome.entities,
        # only these were recomputed; the others' Parquet was left as it was
        "recomputed_entities": len(outcome.recomputed_entities),
        "removed_entities": len(outcome.removed_entities),
        "database": dg.MetadataValue.path(str(outcome.database)),
    })
