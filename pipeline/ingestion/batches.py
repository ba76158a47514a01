"""Per-entity ingestion: pull the entity's uploads, archive each raw batch, validate it,
and stage its valid rows and its quarantine.

A batch is identified by the sha256 of its bytes, so a re-upload of the same file is
recognised and never processed twice. Staged files live in the warehouse directory:

    var/warehouse/batches/<RUC>/<sha256>/batch.json       provenance and counts
                                          report.json      Frictionless-shaped report
                                          informe.txt      Spanish summary for the administrator
                                          reporte.html     the same, as a page
                                          rechazadas.csv   rejected rows in the upload's
                                                           columns, to fix and upload again
                                          valid.parquet    normalised valid rows (+ provenance)
                                          quarantine.parquet  rejected rows with reasons
                                          withdrawals.parquet (a `retiros*` file instead of
                                                          valid/quarantine: the visits the
                                                          entity withdraws)
                                          decisores.parquet (a `decisores*` file instead: the
                                                          entity's decision-makers register,
                                                          see `decision_makers`)

Once staged, each batch's reports (report.json, informe.txt, reporte.html, rechazadas.csv)
are copied to the reports area the entity's administrator reads (`pipeline.reports`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline import locks, reports, workdir
from pipeline.atomic import clear_scratch, staged_dir, write_text
from pipeline.ingestion.decision_makers import (
    is_register_file,
    register_before,
    register_schema,
    stage_register,
)
from pipeline.ingestion.staging import FILES_KEY, ParquetSink, data_files, sound
from pipeline.ingestion.withdrawals import is_withdrawal_file, stage_withdrawals
from pipeline.registry import Entity
from pipeline.settings import Settings
from pipeline.sources import SkippedFile, Upload, source_for
from pipeline.sources.base import Seen
from pipeline.sources.cursor import cursor_path, write_state
from pipeline.storage import Storage, open_storage
from pipeline.validation.connection import use_temp_dir
from pipeline.validation.report import Report
from pipeline.validation.schema import TableSchema
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
    #: staged again from the raw archive: its record had lost its data
    repaired: bool = False
    #: the kind of batch (`KINDS`)
    kind: str = "visitas"
    #: the layout of the entity's mapping the file was read with ('' without one)
    layout: str = ""


@dataclass
class EntityOutcome:
    entity: Entity
    batches: list[BatchOutcome] = field(default_factory=list)
    error: str | None = None  # the source itself failed (unreachable, misconfigured)
    #: staged batches that could not be repaired (set aside, reported; Spanish)
    damaged: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)  # not uploads; reported, not lost
    #: reports that could not be copied to the reports area (Spanish); their batches are
    #: staged all the same, and the copy is retried by the next ingestion
    report_problems: list[str] = field(default_factory=list)

    @property
    def new_batches(self) -> list[BatchOutcome]:
        return [b for b in self.batches if b.status != "unchanged"]

    def count(self, attr: str) -> int:
        """Rows of the new batches of visits and withdrawals; a register's rows are
        decision-makers, not visits, and its summary tells them."""
        return sum(getattr(b, attr) for b in self.new_batches if b.kind != "decisores")


#: per entity, the source objects already ingested (see `_seen`)
SEEN_FILE = "fuente-vista.json"
#: the kinds of batch (`tipo` in batch.json), in the order one ingestion stages them:
#: withdrawals after visits, as each is checked against the entity's staged visits, those of
#: the same run included; the register, which reads no other batch, last
KINDS = ("visitas", "retiros", "decisores")


def upload_kind(name: str) -> str:
    """The kind of batch an upload named `name` becomes (one of `KINDS`)."""
    return "retiros" if is_withdrawal_file(name) else "decisores" if is_register_file(name) \
        else "visitas"


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
    """Ingest every new upload of one entity. Never raises for bad content.

    Holds the entity's lock throughout (`pipeline.locks`): its batches and seen-cache have one
    writer at a time. Raises `LockBusy` if another process keeps it past the wait.
    """
    with locks.hold(locks.entity_batches(settings, entity.ruc), settings.lock_wait_seconds):
        outcome = _ingest_entity(settings, entity, today=today, now=now)
        # after staging: the batches are committed whatever becomes of their reports' copy
        outcome.report_problems = reports.publish_reports(
            settings, entity.ruc, [b.sha256 for b in outcome.new_batches])
        return outcome


def _ingest_entity(settings: Settings, entity: Entity, *, today: dt.date | None,
                   now: dt.datetime | None) -> EntityOutcome:
    outcome = EntityOutcome(entity)
    raw = open_storage(settings.raw_url, base_dir=settings.root)
    schemas = upload_schemas(settings.schemas_dir)
    # A batch a killed run was staging: half a quarantine with full document numbers.
    clear_scratch(batches_dir(settings, entity.ruc))
    raw.clear_abandoned_scratch(f"{entity.ruc}/")
    use_temp_dir(settings.temp_dir)
    # The uploads are copied under the working folder, never to the system's temp dir: they
    # hold full document numbers, and a kill must not leave them where nobody clears them.
    with workdir.temporary_dir(settings.temp_dir, f"ingesta_{entity.ruc}") as tmp:
        _repair(settings, entity, raw, schemas, Path(tmp), outcome, today=today, now=now)
        seen = _seen(settings, entity.ruc)
        try:
            fetched = source_for(entity, settings).fetch(entity, tmp, seen)
        except Exception as exc:  # one entity's broken source never stops the others
            outcome.error = f"No se pudo leer la fuente de {entity.ruc}: {exc}"
            return outcome
        outcome.skipped = fetched.skipped
        for upload in sorted(fetched.uploads, key=lambda u: KINDS.index(upload_kind(u.name))):
            target = batches_dir(settings, entity.ruc) / upload.sha256
            if (target / "batch.json").exists():  # sound: `_repair` saw to that
                meta = _remember_name(target / "batch.json", upload.name)
                outcome.batches.append(BatchOutcome(entity.ruc, upload.name, upload.sha256,
                                                    "unchanged", rows=meta["rows"],
                                                    kind=meta.get("tipo", "visitas")))
            else:
                assert upload.path is not None, "only uploads with a staged batch are not copied"
                archive_key = f"{entity.ruc}/{upload.sha256}/{upload.name}"
                if not raw.exists(archive_key):
                    raw.upload(upload.path, archive_key)
                outcome.batches.append(_stage_upload(settings, entity, upload, schemas, target,
                                                     today=today, now=now,
                                                     archived=raw.locate(archive_key)))
            if upload.sha256 in fetched.checkpoints:
                # the batch is archived and staged: only now may the source's cursor move past it
                write_state(cursor_path(settings, entity.ruc), fetched.checkpoints[upload.sha256])
    _remember_seen(settings, entity.ruc, fetched.uploads)
    return outcome


BATCH_FOLDER = re.compile(r"[0-9a-f]{64}")
#: what `_stage_batch` itself writes in a visit batch's record; any other key is provenance the
#: source handed over (`Upload.provenance`), kept when the batch is staged again
RECORD_KEYS = frozenset({"tipo", "entidad_ruc", "archivo", "nombres", "fuente", "origen",
                         "archivo_crudo", "sha256", "bytes", "ingestado_en", "formato", "estado", "legible",
                         "rows", "filas_validas", "filas_rechazadas", "filas_sin_visitas",
                         FILES_KEY, "correspondencia"})


def batch_folders(settings: Settings, ruc: str | None = None) -> Iterator[Path]:
    """Every staged batch folder (of one entity, or of all), in path order. Only folders named
    by a sha256 are batches: scratch and set-aside folders are not."""
    pattern = "*" if ruc else "*/*"
    for folder in sorted(batches_dir(settings, ruc).glob(pattern)):
        if folder.is_dir() and BATCH_FOLDER.fullmatch(folder.name):
            yield folder


def _repair(settings: Settings, entity: Entity, raw: Storage, schemas: list[TableSchema],
            workdir: Path, outcome: EntityOutcome, *, today: dt.date | None,
            now: dt.datetime | None) -> None:
    """Stage again, from the raw archive, every batch whose record lists data it no longer
    holds (a file deleted or cut short): a record is never trusted without its data. One that
    cannot be repaired is set aside (never read as a batch) and reported.

    Replacing or moving a batch folder that is already there, unlike adding a new one (which
    appears whole, in one rename), would pull it from under a consolidation reading it: so
    repairs hold the warehouse lock too (after the entity's, in the fixed order)."""
    damaged = [folder for folder in batch_folders(settings, entity.ruc)
               if not _sound_record(folder)]
    if not damaged:
        return
    with locks.hold(locks.warehouse(settings), settings.lock_wait_seconds):
        for folder in damaged:
            _repair_batch(settings, entity, raw, schemas, workdir, outcome, folder,
                          today=today, now=now)


def _sound_record(folder: Path) -> bool:
    """Whether the batch's record reads and its data files are all there as listed."""
    try:
        meta = json.loads((folder / "batch.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(meta) and sound(folder, meta)


def _repair_batch(settings: Settings, entity: Entity, raw: Storage, schemas: list[TableSchema],
                  workdir: Path, outcome: EntityOutcome, folder: Path, *,
                  today: dt.date | None, now: dt.datetime | None) -> None:
    try:
        meta = json.loads((folder / "batch.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        meta = {}
    sha = folder.name
    keys = [o.key for o in raw.list(f"{entity.ruc}/{sha}/")]
    wanted = f"{entity.ruc}/{sha}/{meta.get('archivo', '')}"
    key = wanted if wanted in keys else (keys[0] if keys else None)
    if key is None:
        aside = folder.with_name(f".{sha}.danado-{os.getpid()}")
        folder.rename(aside)
        outcome.damaged.append(
            f"el lote {sha[:12]}… ({meta.get('archivo', 'archivo desconocido')}) perdió sus "
            "datos y no está en el archivo crudo: se apartó y no se publica; vuelva a subir "
            "el archivo")
        return
    name = key.rsplit("/", 1)[-1]
    local = workdir / f"reparar-{sha[:12]}-{name}"
    raw.download(key, local)
    upload = Upload(entity.ruc, name, str(meta.get("origen", raw.locate(key))), sha,
                    local.stat().st_size, local,
                    provenance={k: v for k, v in meta.items() if k not in RECORD_KEYS})
    received = None
    if is_register_file(name):
        # a register's reception is its version's date: repairing it does not make it newer
        # than the uploads that came after it
        try:
            received = dt.datetime.fromisoformat(meta["ingestado_en"])
        except (KeyError, TypeError, ValueError):
            received = None
    repaired = _stage_upload(settings, entity, upload, schemas, folder, today=today, now=now,
                             archived=raw.locate(key), received=received)
    repaired.repaired = True
    outcome.batches.append(repaired)


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


def _administrator_files(folder: Path, report: Report) -> None:
    """The HTML report, and the rejected rows to fix and upload again beside it (when the
    file was not rejected whole and some of its rows were)."""
    from pipeline.validation.html import render_html
    from pipeline.validation.rejected import REJECTED_FILE, write_csv

    rejected = None
    if report.readable and report.rejected_rows:
        write_csv(report, folder / "quarantine.parquet", folder / REJECTED_FILE)
        rejected = REJECTED_FILE
    (folder / "reporte.html").write_text(render_html(report, rejected_href=rejected),
                                         encoding="utf-8")


def _stage_upload(settings: Settings, entity: Entity, upload: Upload,
                  schemas: list[TableSchema], target: Path, *, today: dt.date | None,
                  now: dt.datetime | None, archived: str,
                  received: dt.datetime | None = None) -> BatchOutcome:
    """Stage one upload as the batch its name says: visits, withdrawals or the register.
    `received`: the ingestion time to record, when it is not now (a repaired register)."""
    kind = upload_kind(upload.name)
    if kind == "visitas":
        return _stage_batch(settings, entity, upload, schemas, target, today=today, now=now,
                            archived=archived)
    assert upload.path is not None
    ingested = received or (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    facts = {"ruc": entity.ruc, "name": upload.name, "sha256": upload.sha256,
             "origin": upload.origin, "archived": archived, "size": upload.size,
             "ingested": ingested, "target": target}
    staged = (stage_withdrawals(upload.path, **facts) if kind == "retiros" else
              stage_register(upload.path, **facts, schema=register_schema(settings.schemas_dir),
                             previous=register_before(settings, entity.ruc, ingested,
                                                      upload.sha256)))
    return BatchOutcome(entity.ruc, upload.name, upload.sha256, staged.status, rows=staged.rows,
                        valid_rows=staged.accepted, rejected_rows=staged.rejected,
                        readable=staged.readable, summary=staged.summary, report=staged.report,
                        kind=kind)


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
                                   max_bytes=settings.max_upload_bytes, sink=sink,
                                   mapping=entity.mapping)
        except BaseException:
            sink.close(keep_valid=False)
            raise
        sink.close(keep_valid=report.readable)
        # the record is written last, listing the data files as they were read back: a
        # folder whose record lists more than it holds is found and repaired by the next run
        files = data_files(scratch)
        valid = files.get("valid.parquet", {}).get("filas", 0)
        if report.readable and valid != report.valid_rows:
            raise RuntimeError(f"valid.parquet tiene {valid} filas y el reporte "
                               f"{report.valid_rows}: el lote no se registra")
        (scratch / "report.json").write_text(report.to_json(), encoding="utf-8")
        (scratch / "informe.txt").write_text(report.summary_es() + "\n", encoding="utf-8")
        _administrator_files(scratch, report)
        status = _status(report)
        meta = {
            "tipo": "visitas",
            "entidad_ruc": entity.ruc,
            "archivo": upload.name,
            # every name these bytes arrived under: consolidation orders batches by the
            # smallest, so the order cannot depend on which copy happened to arrive first
            "nombres": [upload.name],
            "fuente": entity.source_kind,  # the kind of source the rows came through
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
            FILES_KEY: files,
        }
        if report.layout:  # the layout of the entity's mapping it was read with
            meta["correspondencia"] = report.layout
        # where else the rows came from (a backfill's original path, a query's cursor range)
        meta.update(upload.provenance)
        (scratch / "batch.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2),
                                            encoding="utf-8")
    return BatchOutcome(entity.ruc, upload.name, upload.sha256, status, rows=report.rows,
                        valid_rows=report.valid_rows, rejected_rows=report.rejected_rows,
                        placeholder_rows=report.placeholder_rows, readable=report.readable,
                        summary=report.summary_es(), report=report.to_dict(),
                        layout=report.layout)
