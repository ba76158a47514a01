"""The published release: files and metadata harvesters and analysts read."""


import dagster as dg

from pipeline.assets.consolidation import visits
from pipeline.assets.resources import PipelineSettings
from pipeline.publication.publisher import publish


@dg.asset(
    deps=[visits],
    group_name="publication",
    kinds={"s3", "parquet", "csv"},
    automation_condition=dg.AutomationCondition.eager(),
)
def visits_release(context: dg.AssetExecutionContext,
                   settings: PipelineSettings) -> dg.MaterializeResult:
    """CSV, JSON and Parquet files of `visitas` plus datapackage.json in the published tree."""
    outcome = publish(settings.get())
    files = "\n".join(f"| {f.name} | {f.bytes} | `{f.sha256[:16]}…` |" for f in outcome.files)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": outcome.rows,
        "version": outcome.version,
        "location": dg.MetadataValue.url(outcome.location) if "://" in outcome.location
        else dg.MetadataValue.path(outcome.location),
        "files": dg.MetadataValue.md("| archivo | bytes | sha256 |\n|---|---|---|\n" + files),
    })
