"""The assets that write take the same locks as `visitas run` (`pipeline.locks`), so a Dagster
run and a command-line run never write the same thing at once; Dagster's concurrency pools
(`POOLS`, limit 1 in the shipped `dagster.yaml`) keep two Dagster runs from even trying."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from pipeline import locks

#: one pool per thing with one writer; each holds the asset that writes it
POOLS = {
    "visit_batches": "visitas_ingestion",  # the entities' staged batches
    "visits": "visitas_warehouse",  # the warehouse (consolidated Parquet, visitas.duckdb)
    "visits_release": "visitas_publication",  # the published tree
}


@contextmanager
def writing(context: dg.AssetExecutionContext) -> Iterator[None]:
    """Name the run and asset as the owner of the locks taken within; a lock another process
    keeps past the wait (VISITAS_LOCK_WAIT) fails the step with the Spanish message."""
    asset = context.asset_key.to_user_string()
    with locks.acting_as(f"Dagster, ejecución {context.run.run_id[:8]} ({asset})"):
        try:
            yield
        except locks.LockBusy as busy:
            message = f"{busy.what}\n{busy.todo}"
            context.log.error(message)
            raise dg.Failure(description=message) from busy
