"""Ingestion is partitioned by entity (RUC): one partition per registered entity."""


import dagster as dg

from pipeline.flow import included_entities
from pipeline.settings import Settings


def entity_partitions(settings: Settings | None = None) -> dg.StaticPartitionsDefinition:
    # Read from the registry when the code location loads: adding an entity file (or
    # `visitas entity add`) and reloading the location adds its partition, with no code change.
    settings = settings or Settings.from_env()
    return dg.StaticPartitionsDefinition([e.ruc for e in included_entities(settings)])


ENTITY_PARTITIONS = entity_partitions()
