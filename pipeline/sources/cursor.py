"""Where a source that extracts records stands: one small JSON file per entity, beside its
staged batches (`<warehouse>/batches/<RUC>/cursor.json`).

A database source keeps the cursor it has read up to; an API source, the names it gave the
batches of its last extraction. The source reads the file when it fetches; ingestion writes it
(`write_state`, one rename) only after the batch it covers is archived and staged, so the file
never claims more than what is safely kept.

A cursor value is kept typed (`encode_value` / `decode_value`): a number stays a number, a
timestamp keeps its microseconds and its offset, so the next query compares exactly.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.atomic import write_text

if TYPE_CHECKING:
    from pipeline.settings import Settings

CURSOR_FILE = "cursor.json"


def cursor_path(settings: Settings, ruc: str) -> Path:
    return settings.warehouse_dir / "batches" / ruc / CURSOR_FILE


def read_state(path: Path) -> dict[str, Any]:
    """The state kept for the entity; empty when there is none yet (or it is unreadable: the
    source then reads from the start, and the batches' sha256 identity keeps what was
    staged before from being staged twice)."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def write_state(path: Path, state: dict[str, Any]) -> None:
    write_text(path, json.dumps(state, ensure_ascii=False, indent=2) + "\n")


# ----------------------------------------------------------------------- cursor values


def encode_value(value: Any) -> dict[str, str | int]:
    """A cursor value as JSON that keeps its type."""
    if isinstance(value, bool):
        return {"tipo": "entero", "valor": int(value)}
    if isinstance(value, int):
        return {"tipo": "entero", "valor": value}
    if isinstance(value, decimal.Decimal | float):
        return {"tipo": "numero", "valor": str(value)}
    if isinstance(value, dt.datetime):
        return {"tipo": "fecha_hora", "valor": value.isoformat()}
    if isinstance(value, dt.date):
        return {"tipo": "fecha", "valor": value.isoformat()}
    if isinstance(value, dt.time):
        return {"tipo": "hora", "valor": value.isoformat()}
    return {"tipo": "texto", "valor": str(value)}


def decode_value(data: dict[str, Any]) -> Any:
    kind, value = data["tipo"], data["valor"]
    if kind == "entero":
        return int(value)
    if kind == "numero":
        return decimal.Decimal(str(value))
    if kind == "fecha_hora":
        return dt.datetime.fromisoformat(value)
    if kind == "fecha":
        return dt.date.fromisoformat(value)
    if kind == "hora":
        return dt.time.fromisoformat(value)
    return str(value)


def sql_literal(value: Any, *, backslash_escapes: bool = False) -> str:
    """A cursor value as a literal of the source's own SQL (PostgreSQL, MySQL): numbers bare,
    anything else quoted, which both read as the column's type when compared with it."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int | decimal.Decimal | float):
        return str(value)
    if isinstance(value, dt.datetime):
        # with a space, which every server accepts; an offset only where the value had one
        text = value.isoformat(sep=" ")
    elif isinstance(value, dt.date | dt.time):
        text = value.isoformat()
    else:
        text = str(value)
    if backslash_escapes:  # MySQL reads \ as an escape in string literals by default
        text = text.replace("\\", "\\\\")
    return "'" + text.replace("'", "''") + "'"


_UNSAFE = re.compile(r"[^0-9A-Za-z._-]+")


def sortable(value: Any) -> str:
    """A cursor value as text that sorts like the value, safe in a file name: batches are
    applied in the order of their names, so a later extraction's batch sorts after."""
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        return f"{value:020d}" if value >= 0 else f"-{-value:019d}"
    if isinstance(value, decimal.Decimal | float):
        return f"{decimal.Decimal(value):032.6f}"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y%m%dT%H%M%S%f")
    if isinstance(value, dt.date):
        return value.strftime("%Y%m%d")
    if isinstance(value, dt.time):
        return value.strftime("%H%M%S%f")
    return _UNSAFE.sub("_", str(value))[:40]


__all__ = ["CURSOR_FILE", "cursor_path", "decode_value", "encode_value", "read_state",
           "sortable", "sql_literal", "write_state"]
