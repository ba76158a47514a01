"""What an entity's administrator is told by e-mail: a batch rejected whole or in part, and the
entity's promotion to production.

Both are written to the outbox (`outbox.py`) under a key that names the batch or the
promotion, then everything pending is sent: a batch is told once however many runs see it, and
a message the server could not take is sent by the next run.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from pipeline.ingestion.batches import EntityOutcome, batches_dir
from pipeline.notifications.messages import batch_message, promotion_message
from pipeline.notifications.outbox import Outbox
from pipeline.registry import Entity
from pipeline.settings import Settings

Echo = Callable[[str], None]
#: batch statuses the administrator is written about (`BatchOutcome.status`)
TOLD = ("partial", "rejected")
DISABLED = ("Notificaciones: no se envían correos (VISITAS_SMTP_URL no está definida).")


def notify_batches(settings: Settings, outcomes: Iterable[EntityOutcome], *,
                   echo: Echo = print) -> None:
    """Write one e-mail per new batch rejected whole or in part to its entity's administrator,
    then send every pending notification. Never raises for the mail server; tells `echo` what
    it sent, and with `aviso:` what it could not."""
    if not settings.smtp_url:
        echo(DISABLED)
        return
    outbox = Outbox(settings)
    for outcome in outcomes:
        for batch in outcome.new_batches:
            if batch.status not in TOLD:
                continue
            key = f"lote-{batch.entity_ruc}-{batch.sha256}"
            if outbox.known(key):
                continue  # told already (a repaired batch is new to this run, not to them)
            folder = batches_dir(settings, batch.entity_ruc) / batch.sha256
            record = {"archivo": batch.name, "estado": batch.status, "rows": batch.rows,
                      "filas_validas": batch.valid_rows, "filas_rechazadas": batch.rejected_rows,
                      "legible": batch.readable, **_read_json(folder / "batch.json")}
            report = batch.report or _read_json(folder / "report.json")
            outbox.add(key, batch_message(settings, outcome.entity, record, report, folder))
    _deliver(outbox, echo)


def notify_promotion(settings: Settings, entity: Entity,
                     batch: Mapping[str, Any] | None = None, *,
                     when: dt.datetime | None = None, echo: Echo = print) -> None:
    """Tell the entity's administrator that it was promoted to production.

    Call it once the promotion is recorded. `batch` is the record (`batch.json`, as
    `pipeline.ingestion.inspection.Batch.record` holds it) of the demo batch the promotion rested
    on: its file name, ingestion time and valid rows are quoted; None leaves them out. `when`
    is the moment of the promotion (now by default). Never raises for the mail server: a
    message it cannot send stays pending (an `aviso:` line says so) and the next `visitas run`
    sends it. Without `VISITAS_SMTP_URL` it says so and does nothing.
    """
    if not settings.smtp_url:
        echo(DISABLED)
        return
    when = (when or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    outbox = Outbox(settings)
    outbox.add(f"promocion-{entity.ruc}-{when:%Y%m%dT%H%M%SZ}",
               promotion_message(settings, entity, batch, when))
    _deliver(outbox, echo)


def _deliver(outbox: Outbox, echo: Echo) -> None:
    lines = outbox.deliver().lines()
    if lines:
        echo("Notificaciones")
    for line in lines:
        echo(f"  {line}")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
