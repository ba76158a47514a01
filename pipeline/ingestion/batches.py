"""Per-entity ingestion: pull the entity's uploads, archive each raw batch, validate it,
and stage its valid rows and its quarantine.

A batch is identified by the sha256 of its bytes, so a re-upload of the same file is
recognised and never processed twice. Staged files live in the warehouse directory:

    var/warehouse/batches/<RUC>/<sha256>/batch.json       provenance and counts
                                          report.json      Frictionless-shaped report
                                          informe.txt      Spanish summary for the administrator
                                          valid.parquet    normalised valid rows (+ provenance)
                                          quarantine.parquet  rejected rows with reasons
                                          withdrawals.parquet (a `retiros*` file instead of
                                                          valid/quarantine: the visits the
                                                          entity withdraws)
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline import workdir
from pipeline.atomic import clear_scratch, staged_dir, write_text
from pipeline.ingestion.staging import ParquetSink
from pipeline.ingestion.withdrawals import is_withdrawal_file, stage_withdrawals
from pipeline.registry import Entity
from pipeline.settings import Settings
from pipeline.sources import SkippedFile, Upload, source_for
from pipeline.sources.base import Seen
from pipeline.storage import open_storage
from pipeline.validation.connection import use_temp_dir
from pipeline.validation.report import Report
from pipeline.validation.upload import upload_schemas, validate_file


@dataclass
class BatchOutcome:
    entity_ruc: str
    name: str
    sha256: str
    status: str  # 'published' (all valid) | 'partial' | 'rejected' | 'unchanged'
    rows: int = 0
    valid_rows: int = 0
    rejected_rows: int = 0
    placeholder_rows: int = 0
    readable: bool = True
    summary: str = ""
    report: dict[str, Any] | None = None


@dataclass
class EntityOutcome:
    entity: Entity
    batches: list[BatchOutcome] = field(default_factory=list)
    error: str | None = None  # the source itself failed (unreachable, misconfigured)
    skipped: list[SkippedFile] = field(default_factory=list)  # not uploads; reported, not lost

    @property
    def new_batches(self) -> list[BatchOutcome]:
        return [b for b in self.batches if b.status != "unchanged"]

    def count(self, attr: str) -> int:
        return sum(getattr(b, attr) for b in self.new_batches)


#: per entity, the source objects already ingested (see `_seen`)
SEEN_FILE = "fuente-vista.json"


def batches_dir(settings: Settings, ruc: str | None = None) -> Path:
    base = settings.warehouse_dir / "batches"
    return base / ruc if ruc else base


def _status(report: Report) -> str:
    if not report.readable:
        return "rejected"
    if report.valid:
        return "published"
    return "partial" if report.valid_rows else "rejected"


def ingest_entity(settings: Settings, entity: Entity, *, today: dt.date | None = None,
                  now: dt.datetime | None = None) -> EntityOutcome:
    """Ingest every new upload of one entity. Never raises for bad content."""
    outcome = EntityOutcome(entity)
    raw = open_storage(settings.raw_url, base_dir=settings.root)
    schemas = upload_schemas(settings.schemas_dir)
    seen = _seen(settings, entity.ruc)
    # A batch a killed run was staging: half a quarantine with full document numbers.
    clear_scratch(batches_dir(settings, entity.ruc))
    raw.clear_abandoned_scratch(f"{entity.ruc}/")
    use_temp_dir(settings.temp_dir)
    # The uploads are copied under the working folder, never to the system's temp dir: they
    # hold full document numbers, and a kill must not leave them where nobody clears them.
    with workdir.temporary_dir(settings.temp_dir, f"ingesta_{entity.ruc}") as tmp:
        try:
            fetched = source_for(entity, settings).fetch(entity, tmp, seen)
        except Exception as exc:  # one entity's broken source never stops the others
            outcome.error = f"No se pudo leer la fuente de {entity.ruc}: {exc}"
            return outcome
        outcome.skipped = fetched.skipped
        for upload in fetched.uploads:
            target = batches_dir(settings, entity.ruc) / upload.sha256
            if (target / "batch.json").exists():
                meta = _remember_name(target / "batch.json", upload.name)
                outcome.batches.append(BatchOutcome(entity.ruc, upload.name, upload.sha256,
                                                    "unchanged", rows=meta["rows"]))
                continue
            assert upload.path is not None, "only uploads with a staged batch are not copied"
            archive_key = f"{entity.ruc}/{upload.sha256}/{upload.name}"
            if not raw.exists(archive_key):
                raw.upload(upload.path, archive_key)
            if is_withdrawal_file(upload.name):
                ingested = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
                staged = stage_withdrawals(
                    upload.path, ruc=entity.ruc, name=upload.name, sha256=upload.sha256,
                    origin=upload.origin, archived=raw.locate(archive_key), size=upload.size,
                    ingested=ingested, target=target)
                outcome.batches.append(BatchOutcome(
                    entity.ruc, upload.name, upload.sha256, staged.status, rows=staged.rows,
                    valid_rows=staged.accepted, rejected_rows=staged.rejected,
                    readable=staged.readable, summary=staged.summary, report=staged.report))
                continue
            outcome.batches.append(_stage_batch(settings, entity, upload, schemas, target,
                                                today=today, now=now,
                                                archived=raw.locate(archive_key)))
    _remember_seen(settings, entity.ruc, fetched.uploads)
    return outcome


def _seen_path(settings: Settings, ruc: str) -> Path:
    return batches_dir(settings, ruc) / SEEN_FILE


def _seen(settings: Settings, ruc: str) -> Seen:
    """The source objects already ingested, whose batch is still staged: they are not read
    again. (Without this, every run copied and hashed every file an entity ever uploaded.)"""
    try:
        entries = json.loads(_seen_path(settings, ruc).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    base = batches_dir(settings, ruc)
    return {(e["key"], int(e["size"]), e["version"]): e["sha256"] for e in entries
            if (base / e["sha256"] / "batch.json").exists()}


def _remember_seen(settings: Settings, ruc: str, uploads: list[Upload]) -> None:
    base = batches_dir(settings, ruc)
    entries = [{"key": u.seen[0], "size": u.seen[1], "version": u.seen[2], "sha256": u.sha256}
               for u in uploads if u.seen and (base / u.sha256 / "batch.json").exists()]
    if entries or _seen_path(settings, ruc).exists():
        write_text(_seen_path(settings, ruc), json.dumps(entries, ensure_ascii=False))


def _remember_name(meta_path: Path, name: str) -> dict[str, Any]:
    """Record another name the same bytes were uploaded under (re-upload, renamed copy)."""
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    names = meta.get("nombres", [meta["archivo"]])
    if name not in names:
        meta["nombres"] = sorted({*names, name})
        write_text(meta_path, json.dumps(meta, ensure_ascii=False, indent=2))
    return meta


def _stage_batch(settings: Settings, entity: Entity, upload: Upload, schemas, target: Path, *,
                 today: dt.date | None, now: dt.datetime | None, archived: str) -> BatchOutcome:
    ingested = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    # Stage into a scratch folder and rename, so a crash never leaves half a batch.
    with staged_dir(target) as scratch:
        sink = ParquetSink(scratch, ruc=entity.ruc, batch=upload.sha256, name=upload.name,
                           ingested=ingested)
        try:
            report = validate_file(upload.path, upload.name, schemas, entity=entity,
                                   sha256=upload.sha256, size=upload.size, today=today,
                                   max_bytes=settings.max_upload_bytes, sink=sink)
        except BaseException:
            sink.close(keep_valid=False)
            raise
        sink.close(keep_valid=report.readable)
        (scratch / "report.json").write_text(report.to_json(), encoding="utf-8")
        (scratch / "informe.txt").write_text(report.summary_es() + "\n", encoding="utf-8")
        status = _status(report)
        meta = {
            "tipo": "visitas",
            "entidad_ruc": entity.ruc,
            "archivo": upload.name,
            # every name these bytes arrived under: consolidation orders batches by the
            # smallest, so the order cannot depend on which copy happened to arrive first
            "nombres": [upload.name],
            "origen": upload.origin,
            "archivo_crudo": archived,
            "sha256": upload.sha256,
            "bytes": upload.size,
            "ingestado_en": ingested.isoformat(),
            "formato": report.schema,
            "estado": status,
            "legible": report.readable,
            "rows": report.rows,
            "filas_validas": report.valid_rows,
            "filas_rechazadas": report.rejected_rows,
            "filas_sin_visitas": report.placeholder_rows,
        }
        (scratch / "batch.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2),
                                            encoding="utf-8")
    return BatchOutcome(entity.ruc, upload.name, upload.sha256, status, rows=report.rows,
                        valid_rows=report.valid_rows, rejected_rows=report.rejected_rows,
                        placeholder_rows=report.placeholder_rows, readable=report.readable,
                        summary=report.summary_es(), report=report.to_dict())
