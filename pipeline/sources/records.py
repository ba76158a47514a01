"""Records extracted from an entity's own system (an API's responses, rows of its database)
handed to ingestion as a file, so they go through the entity's mapping and the same
validation, quarantine, consolidation and publication as any upload.

A source that extracts records calls `records_upload` once per extraction (a page, a cursor
range) from its `fetch`, and returns the `Upload`s it gets; `ingest_entity` does the rest.
The file is JSON (a top-level array, keys as the system names them): the entity's mapping
names those keys, exactly as it names the columns of a file the entity uploads.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pipeline.sources.base import Upload


def _plain(value: Any) -> Any:
    """Values JSON has no type for, as text a mapping's formats read (ISO dates and times)."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def records_upload(entity_ruc: str, records: Iterable[Mapping[str, Any]], workdir: Path,
                   name: str, *, origin: str, provenance: Mapping[str, Any] | None = None
                   ) -> Upload:
    """Write `records` to `workdir/name` (JSON) and describe the file as an upload.

    The same records give the same bytes, hence the same batch: extracting a cursor range
    again stages nothing new. `origin` says where they came from (a URL, `postgresql://host/db
    tabla`, without credentials) and `provenance` what else the batch's record keeps (the
    query, the cursor range: `{"consulta": …, "cursor_desde": …, "cursor_hasta": …}`).
    """
    path = workdir / name
    text = json.dumps([dict(r) for r in records], ensure_ascii=False, default=_plain,
                      separators=(",", ":"))
    data = text.encode("utf-8")
    path.write_bytes(data)
    return Upload(entity_ruc=entity_ruc, name=name, origin=origin,
                  sha256=hashlib.sha256(data).hexdigest(), size=len(data), path=path,
                  provenance=dict(provenance or {}))


__all__ = ["records_upload"]
