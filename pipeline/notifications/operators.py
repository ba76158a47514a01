"""What the operators are told by e-mail: a Dagster run that failed (`VISITAS_OPERATORS_EMAIL`).

The run-failure sensor (`pipeline.assets.alerts`) calls `notify_run_failure`; the message goes
through the outbox like every notification, so a mail server that is down leaves it pending
and the next `visitas run` or ingestion sends it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pipeline.notifications.messages import run_failure_message
from pipeline.notifications.outbox import Outbox
from pipeline.settings import Settings


def notify_run_failure(settings: Settings, *, job: str, run_id: str, steps: Sequence[str],
                       error: str, when: dt.datetime | None = None) -> list[str]:
    """Write and send the operators' e-mail about a failed run, once per run. Returns what
    happened, in Spanish, for the caller's log (`aviso:` lines for what could not be sent)."""
    if not settings.smtp_url:
        return ["Notificaciones: no se envían correos (VISITAS_SMTP_URL no está definida)."]
    if not settings.operators_email:
        return ["Notificaciones: no se avisa a nadie (VISITAS_OPERATORS_EMAIL no está definida)."]
    when = when or dt.datetime.now(dt.UTC)
    outbox = Outbox(settings)
    outbox.add(f"falla-{run_id}", run_failure_message(settings, job=job, run_id=run_id,
                                                       steps=steps, error=error, when=when))
    return outbox.deliver().lines()
