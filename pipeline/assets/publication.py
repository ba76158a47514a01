"""The published release: files and metadata harvesters and analysts read."""


import dagster as dg

from pipeline.assets.consolidation import visits
from pipeline.assets.locking import POOLS, writing
from pipeline.assets.resources import PipelineSettings
from pipeline.publication.guard import ReleaseRefused
from pipeline.publication.publisher import publish
from pipeline.registry import load_registry


@dg.asset(
    pool=POOLS["visits_release"],
    deps=[visits],
    group_name="publication",
    kinds={"s3", "parquet", "csv"},
    automation_condition=dg.AutomationCondition.eager(),
)
def visits_release(context: dg.AssetExecutionContext,
                   settings: PipelineSettings) -> dg.MaterializeResult:
    """A release of `visitas` (monthly CSV, JSON and Parquet, metadata, landing page) served
    as latest/."""
    cfg = settings.get()
    names = {e.ruc: e.name for e in load_registry(cfg.entities_dir, [])}
    try:
        with writing(context):
            outcome = publish(cfg)
    except ReleaseRefused as refused:
        # The run fails (an operator must act), with the same report `visitas run` prints.
        message = refused.message(names)
        context.log.error(message)
        raise dg.Failure(description=message, metadata={
            "served_version": refused.served or "",
            "refused": dg.MetadataValue.json([
                {"entidad_ruc": loss.entity, "publicadas": loss.before,
                 "nueva_version": loss.after, "sin_retiro": loss.lost,
                 "maximo": loss.threshold} for loss in refused.losses]),
        }) from refused
    for loss in outcome.unexplained:
        context.log.warning(f"aviso: {loss.describe(names)}")
    for warning in outcome.warnings:
        context.log.warning(f"aviso: {warning}")
    if not outcome.new_release:
        context.log.info(f"Sin cambios: latest/ sigue sirviendo la versión {outcome.version}")
    files = "\n".join(f"| {f.path} | {f.bytes} | `{f.sha256[:16]}…` |" for f in outcome.files[:30])
    return dg.MaterializeResult(metadata={
        "dagster/row_count": outcome.rows,
        "version": outcome.version,
        "new_release": outcome.new_release,
        "files_written": len(outcome.written),
        "files_reused": len(outcome.reused),
        "changes": dg.MetadataValue.json(outcome.changes),
        "location": dg.MetadataValue.url(outcome.location) if "://" in outcome.location
        else dg.MetadataValue.path(outcome.location),
        "files": dg.MetadataValue.md("| archivo | bytes | sha256 |\n|---|---|---|\n" + files),
    })
