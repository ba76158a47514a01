"""An entity's history (`history:` in its registry file, see `pipeline.promotion`) as people
and programs read it (`visitas entity history RUC [--json]`)."""

from __future__ import annotations

from typing import Any

from pipeline.registry import Entity
from pipeline.spanish import lima_time

#: each registry event as the history names it, in Spanish
EVENTS_ES = {"promoted": "promovida a producción"}


def history_json(entity: Entity) -> list[dict[str, Any]]:
    """The events, oldest first, with the Spanish keys of the other JSON outputs."""
    events = []
    for event in entity.history:
        batch = event.get("demo_batch") or None
        events.append({
            "evento": str(event["event"]),
            "en": str(event["at"]),
            "lote_demo": {"archivo": batch.get("file"), "sha256": batch.get("sha256"),
                          "ingestado_en": batch.get("ingested_at")} if batch else None,
        })
    return events


def history_lines(entity: Entity) -> list[str]:
    lines = []
    for event in history_json(entity):
        line = f"{lima_time(event['en'])}: {EVENTS_ES.get(event['evento'], event['evento'])}"
        batch = event["lote_demo"]
        if batch:
            line += (f", sobre la carga de demo {batch['archivo']}, ingestada el "
                     f"{lima_time(str(batch['ingestado_en']))}; sha256 "
                     f"{str(batch['sha256'])[:12]}")
        lines.append(line)
    return lines
