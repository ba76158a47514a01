"""An entity's staged batches and quarantined rows, as an engineer asks for them
(`visitas batches RUC`, `visitas quarantine RUC LOTE`) instead of reading Parquet files."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq

from pipeline.ingestion.batches import KINDS, batch_folders
from pipeline.settings import Settings
from pipeline.validation.errors import ERROR_TYPES

LIMA = ZoneInfo("America/Lima")
#: how each batch status reads in Spanish
STATUS_ES = {"published": "publicado", "partial": "parcial", "rejected": "rechazado"}
#: a decision-makers register is taken whole or not at all, and is not published itself
REGISTER_STATUS_ES = {"published": "aceptado", "rejected": "rechazado"}
QUARANTINE = "quarantine.parquet"
#: columns of the quarantine file that are the pipeline's, not the upload's
_INTERNAL = {"_fila", "texto_fila", "errores"}


class BatchNotFound(LookupError):
    """The reference names no batch of the entity, or more than one."""


@dataclass(frozen=True)
class Batch:
    folder: Path
    record: dict[str, Any]

    @property
    def sha256(self) -> str:
        return str(self.record["sha256"])

    @property
    def ingested(self) -> str:
        """When it was ingested, in Lima time (the register's)."""
        at = dt.datetime.fromisoformat(self.record["ingestado_en"])
        return at.astimezone(LIMA).strftime("%Y-%m-%d %H:%M")

    @property
    def status(self) -> str:
        words = REGISTER_STATUS_ES if self.record.get("tipo") == "decisores" else STATUS_ES
        return words.get(self.record.get("estado", ""), self.record.get("estado", ""))


def batch_order(meta: dict[str, Any]) -> tuple[str, int, str, str, str]:
    """Latest last: by staging time; within one ingestion, by kind in the order they are
    staged in (visit uploads, withdrawal files, registers: `KINDS`), then in the order
    consolidation applies batches (`BATCH_ORDER`: smallest name without, then with its
    extension; checksum). Every "latest batch" (`visitas batches`, `ultimo.json`, the
    promotion gate) is the last in this order."""
    name = min(meta.get("nombres", [meta["archivo"]]))
    kind = meta.get("tipo", "visitas")
    rank = KINDS.index(kind) if kind in KINDS else len(KINDS)
    return (meta["ingestado_en"], rank, name.rsplit(".", 1)[0], name, meta["sha256"])


def entity_batches(settings: Settings, ruc: str) -> list[Batch]:
    """Every staged batch of the entity, latest last (`batch_order`)."""
    found = []
    for folder in batch_folders(settings, ruc):
        path = folder / "batch.json"
        if path.is_file():
            found.append(Batch(folder, json.loads(path.read_text(encoding="utf-8"))))
    return sorted(found, key=lambda b: batch_order(b.record))


def latest_upload(settings: Settings, ruc: str) -> Batch | None:
    """The entity's newest batch of visits (by ingestion time), None before its first.

    Withdrawal files (`retiros*`, also those `visitas withdraw` writes) and decision-makers
    registers (`decisores*`) are batches too but say nothing about how the entity records its
    visits, so they are not uploads here: a clean withdrawal or register never hides a
    rejected upload from the promotion gate."""
    uploads = _uploads(settings, ruc)
    return uploads[-1] if uploads else None


def latest_ingestion(settings: Settings, ruc: str) -> list[Batch]:
    """The entity's visit batches staged by its latest ingestion (one pass can take several
    uploads), in `batch_order`; empty before its first."""
    uploads = _uploads(settings, ruc)
    if not uploads:
        return []
    last = uploads[-1].record["ingestado_en"]
    return [b for b in uploads if b.record["ingestado_en"] == last]


def _uploads(settings: Settings, ruc: str) -> list[Batch]:
    return [b for b in entity_batches(settings, ruc)
            if b.record.get("tipo", "visitas") == "visitas"]


def errors_by_type(batch: Batch) -> dict[str, int]:
    """The batch's error counts by error type (all errors, not only those detailed), from
    its report.json; empty when it has none or no report."""
    path = batch.folder / "report.json"
    if not path.is_file():
        return {}
    report = json.loads(path.read_text(encoding="utf-8"))
    counts: dict[str, int] = {}
    for task in report.get("tasks", []):
        for kind, count in task.get("summary", {}).get("erroresPorTipo", {}).items():
            counts[kind] = counts.get(kind, 0) + int(count)
    return counts


def error_title(kind: str) -> str:
    """An error type as the administrator's report names it ('Fecha no válida')."""
    return ERROR_TYPES[kind].title if kind in ERROR_TYPES else kind


def find_batch(settings: Settings, ruc: str, ref: str) -> Batch:
    """The batch named by `ref`: its file name, or the start of its sha256 (6 characters at
    least, as `visitas batches` shows 12)."""
    batches = entity_batches(settings, ruc)
    by_name = [b for b in batches if b.record["archivo"] == ref]
    by_sha = [b for b in batches if len(ref) >= 6 and b.sha256.startswith(ref.lower())]
    matches = by_name or by_sha
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise BatchNotFound(f"La entidad {ruc} no tiene un lote {ref!r}. Vea sus lotes con "
                            f"'visitas batches {ruc}'.")
    shas = ", ".join(b.sha256[:12] for b in matches)
    raise BatchNotFound(f"{ref!r} nombra {len(matches)} lotes de la entidad {ruc} ({shas}): "
                        "indique el comienzo de su sha256.")


def quarantined_rows(batch: Batch) -> list[dict[str, Any]]:
    """The batch's rejected rows as uploaded (row number, cells) with why, in Spanish."""
    if batch.record.get("tipo") == "decisores":
        return _register_rows(batch)
    path = batch.folder / QUARANTINE
    if not path.is_file():
        return []
    messages = _messages_by_row(batch.folder / "report.json")
    rows = []
    for row in pq.read_table(path).to_pylist():
        number = row["_fila"]
        reasons = messages.get(number) or [_reason(code) for code in _codes(row["errores"])]
        cells = {k: v for k, v in row.items() if k not in _INTERNAL}
        if not cells and row.get("texto_fila") is not None:
            cells = {"texto_fila": row["texto_fila"]}
        rows.append({"fila": number, "motivos": reasons, "celdas": cells})
    return rows


def _register_rows(batch: Batch) -> list[dict[str, Any]]:
    """A register's rows with errors, from its report: a register is rejected whole, so it
    keeps no quarantine, and its report details every error (it is short)."""
    path = batch.folder / "report.json"
    report = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    rows: dict[int, dict[str, Any]] = {}
    for task in report.get("tasks", []):
        for error in task.get("errors", []):
            number = error.get("rowNumber")
            if number is None:
                continue
            row = rows.setdefault(number, {"fila": number, "motivos": [], "celdas": {}})
            row["motivos"].append(error["message"])
            if error.get("fieldName") and "cell" in error:
                row["celdas"][error["fieldName"]] = error["cell"]
    return [rows[number] for number in sorted(rows)]


def _messages_by_row(report_path: Path) -> dict[int, list[str]]:
    """The report's Spanish message of each detailed error, by row (the report may detail
    only the first errors: the other rows fall back to their error types' titles)."""
    if not report_path.is_file():
        return {}
    report = json.loads(report_path.read_text(encoding="utf-8"))
    by_row: dict[int, list[str]] = {}
    for task in report.get("tasks", []):
        for error in task.get("errors", []):
            if error.get("rowNumber") is not None:
                by_row.setdefault(error["rowNumber"], []).append(error["message"])
    return by_row


def _codes(errors: str | None) -> list[tuple[str, str]]:
    """`type: field; type: field` as the quarantine file stores it."""
    pairs = []
    for part in (errors or "").split(";"):
        code, _, field = part.strip().partition(":")
        if code:
            pairs.append((code.strip(), field.strip()))
    return pairs


def _reason(code: tuple[str, str]) -> str:
    kind, field = code
    title = error_title(kind)
    return f"{title} («{field}»)" if field else title
