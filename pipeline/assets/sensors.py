"""Near-real-time: notice new uploads in the landing area and ingest only that entity."""


import hashlib
import json
from collections import defaultdict

import dagster as dg

from pipeline.assets.entity_partitions import ENTITY_PARTITIONS
from pipeline.sources.landing import skip_reason
from pipeline.storage import open_storage


def landing_fingerprints(settings) -> dict[str, str]:
    """RUC -> fingerprint of the entity's landing files (names and sizes), in one listing."""
    landing = open_storage(settings.landing_url, base_dir=settings.root)
    listed: dict[str, list[str]] = defaultdict(list)
    for obj in landing.list(""):
        ruc, _, name = obj.key.partition("/")
        # The source's own rule: a run is launched exactly when there is an upload to take.
        if name and skip_reason(name) is None:
            listed[ruc].append(f"{name}\t{obj.size}")
    return {ruc: hashlib.sha256("\n".join(items).encode()).hexdigest()[:16]
            for ruc, items in listed.items()}


@dg.sensor(
    job_name="ingest_entity",
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Lanza la ingesta de una entidad cuando llega o cambia un archivo en su zona de carga.",
)
def landing_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    from pipeline.settings import Settings

    settings = Settings.from_env()
    known = set(ENTITY_PARTITIONS.get_partition_keys())
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    current = {ruc: fp for ruc, fp in landing_fingerprints(settings).items() if ruc in known}
    requests = [
        dg.RunRequest(run_key=f"{ruc}:{fp}", partition_key=ruc)
        for ruc, fp in sorted(current.items()) if seen.get(ruc) != fp
    ]
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(current, sort_keys=True))
