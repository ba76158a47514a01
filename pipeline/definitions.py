"""The map of the asset graph: sources → validation → consolidation → publication.

    visit_batches (partitioned by entity RUC)   ingest, archive raw batch, validate, stage
        └─ checks: staged_batches_sound (blocking), uploads_readable (warn)
    visits                                      consolidated DuckDB table, one row per visit
    visits_release                              CSV / JSON / Parquet + datapackage.json, with
                                                the tables published whole beside the visits:
                                                cumplimiento, decisores,
                                                actos_gestion_intereses and
                                                indicadores_gestion_intereses

Jobs: `ingest_entity` (one entity's partition), `publish_visits` (consolidate and publish),
`full_pass` (everything). The `landing_sensor` starts `ingest_entity` for an entity as soon
as a new file lands; consolidation and publication follow automatically (eager automation,
evaluated by the `automation` sensor). The `run_failure_mail` sensor tells the operators by
e-mail when a run fails.
"""


import dagster as dg

from pipeline.assets.alerts import run_failure_mail
from pipeline.assets.consolidation import visits
from pipeline.assets.entity_partitions import ENTITY_PARTITIONS
from pipeline.assets.ingestion import staged_batches_sound, uploads_readable, visit_batches
from pipeline.assets.publication import visits_release
from pipeline.assets.resources import PipelineSettings
from pipeline.assets.sensors import landing_sensor

ingest_entity_job = dg.define_asset_job(
    "ingest_entity", selection=dg.AssetSelection.assets(visit_batches),
    description="Ingiere, valida y prepara las cargas de una entidad (una partición).",
)
publish_job = dg.define_asset_job(
    "publish_visits", selection=dg.AssetSelection.assets(visits, visits_release),
    description="Consolida todas las entidades y publica una versión.",
)
full_pass_job = dg.define_asset_job(
    "full_pass", selection=dg.AssetSelection.all(),
    description="Pasada completa: todas las entidades, consolidación y publicación.",
)



@dg.schedule(job=full_pass_job, cron_schedule="0 * * * *", execution_timezone="America/Lima",
             default_status=dg.DefaultScheduleStatus.STOPPED,
             description="Cada hora, una pasada completa en una sola ejecución (red de seguridad "
                         "del sensor).")
def full_pass_hourly(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    keys = ENTITY_PARTITIONS.get_partition_keys()
    if not keys:
        return dg.SkipReason("No hay entidades registradas.")
    # One run over the whole range of entities (single-run backfill policy), not 2,500 runs.
    return dg.RunRequest(tags={"dagster/asset_partition_range_start": keys[0],
                               "dagster/asset_partition_range_end": keys[-1]})


# Declared, and RUNNING from the start: Dagster's implicit default automation sensor starts
# stopped in a fresh instance, and consolidation and publication would never follow ingestion.
automation = dg.AutomationConditionSensorDefinition(
    "automation", target=dg.AssetSelection.all(), default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=15,
    description="Consolida y publica cuando llegan lotes nuevos (condiciones de automatización "
                "de visits y visits_release).")

defs = dg.Definitions(
    assets=[visit_batches, visits, visits_release],
    asset_checks=[staged_batches_sound, uploads_readable],
    jobs=[ingest_entity_job, publish_job, full_pass_job],
    schedules=[full_pass_hourly],
    sensors=[landing_sensor, automation, run_failure_mail],
    resources={"settings": PipelineSettings()},
)
