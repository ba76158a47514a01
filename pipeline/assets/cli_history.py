"""What a `visitas run` pass materialised, written to the Dagster instance `visitas serve`
uses, so the asset history in the UI shows CLI passes beside Dagster's own runs.

The CLI does not run the Dagster job itself: its pass prints one report over all entities,
decides its exit code (0, 3, 4) and the release guard over the whole pass, and must work where
no Dagster instance is kept; a job would split that across processes and per-step logs. It
reports instead, once the pass is over, one materialisation per asset it changed (each
ingested entity's `visit_batches` partition, `visits`, `visits_release`), tagged
`visitas/origen: visitas-run`, to the environment's instance (SQLite, or PostgreSQL in demo
and production with VISITAS_DAGSTER_PG_URL: see `pipeline.dagster_instance`). Dagster's
automation then sees those assets up to date.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.settings import Settings

if TYPE_CHECKING:
    from pipeline.flow import PassOutcome

ORIGIN_TAG = "visitas/origen"


def record_pass(settings: Settings, outcome: PassOutcome) -> int:
    """Report the pass's materialisations; how many were recorded.

    Only where the environment has a Dagster instance: one kept in PostgreSQL, or one whose
    folder `visitas serve` has prepared. Where Dagster was never started there is no history
    to join, and a pass does not pay for opening an instance (about 2.5 s)."""
    if not has_instance(settings):
        return 0
    import dagster as dg

    from pipeline.dagster_instance import prepare_instance

    tags = {ORIGIN_TAG: "visitas-run"}
    events = []
    for entity in outcome.entities:
        if entity.error or not entity.new_batches:
            continue
        events.append(dg.AssetMaterialization(
            asset_key="visit_batches", partition=entity.entity.ruc, tags=tags,
            description="Ingesta desde `visitas run`.",
            metadata={"new_batches": len(entity.new_batches),
                      "valid_rows": entity.count("valid_rows"),
                      "rejected_rows": entity.count("rejected_rows")}))
    c = outcome.consolidation
    if c is not None and (c.recomputed_entities or c.removed_entities):
        events.append(dg.AssetMaterialization(
            asset_key="visits", tags=tags, description="Consolidación desde `visitas run`.",
            metadata={"dagster/row_count": c.rows, "staged_rows": c.staged_rows,
                      "entities": c.entities,
                      "recomputed_entities": len(c.recomputed_entities),
                      "removed_entities": len(c.removed_entities)}))
    pub = outcome.publication
    if pub is not None and pub.new_release:
        events.append(dg.AssetMaterialization(
            asset_key="visits_release", tags=tags,
            description="Versión publicada desde `visitas run`.",
            metadata={"release": pub.version, "dagster/row_count": pub.rows,
                      "files": len(pub.files), "location": pub.location,
                      "previous": pub.previous or ""}))
    if not events:
        return 0
    with dg.DagsterInstance.from_config(str(prepare_instance(settings))) as instance:
        for event in events:
            instance.report_runless_asset_event(event)
    return len(events)


def has_instance(settings: Settings) -> bool:
    return settings.dagster_in_postgres or (settings.dagster_home / "dagster.yaml").is_file()
