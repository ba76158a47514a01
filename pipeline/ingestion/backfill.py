"""Backfill: an entity's history (folders or files exported from its own system, in its own
shapes) ingested as batches, exactly like uploads, through the entity's mapping.

Each file becomes one batch identified by the sha256 of its bytes, archived raw and staged
with its report and quarantine in `batches/<RUC>/<sha256>/`, its record (`batch.json`) saying
it came from a backfill (`"ingesta": "backfill"`) and from which original path
(`ruta_original`). The next `visitas run` consolidates and publishes them like any upload.

- Files are staged in parallel, one process per core (`concurrent.futures`), while this
  process holds the entity's lock (`pipeline.locks`): no ingestion of the entity runs at the
  same time, and workers only add new batch folders, each appearing whole in one rename
  (`pipeline.atomic.staged_dir`), so consolidation never sees half of one.
- Resumable: a file whose batch is staged already is not processed again (its counts still
  go into the report), the same bytes under two names are one batch, and a run interrupted
  at any point leaves whole batches or nothing; the next run clears the scratch folders of
  the processes that are gone.
- The report counts files and rows accepted and rejected, and why (errors by type), per
  layout of the entity's mapping.
- No e-mail is sent per file (history is not a day's upload); the reports of every new
  batch go to the reports area as usual.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipeline import locks, reports
from pipeline.atomic import clear_scratch, is_scratch
from pipeline.ingestion.batches import _stage_batch, batches_dir
from pipeline.registry import Entity
from pipeline.settings import Settings
from pipeline.sources import Upload
from pipeline.sources.mapping import RESERVED_PREFIXES
from pipeline.spanish import counted, number, plural
from pipeline.storage import open_storage
from pipeline.storage.base import sha256_file
from pipeline.validation.errors import ERROR_TYPES
from pipeline.validation.upload import NO_LAYOUT_WARNING

#: the value of `ingesta` in the record of a batch a backfill staged
BACKFILL = "backfill"
#: the layout key of files read without a mapping layout, and of files no layout fits
AS_IS = ""
NO_LAYOUT = None

Echo = Callable[[str], None]


@dataclass
class BackfillFile:
    """What became of one file of the history."""

    path: str  # as the administrator knows it: relative to the folder given
    name: str
    sha256: str = ""
    #: 'staged' (new batch) | 'done' (staged by an earlier run) | 'duplicate' (same bytes as
    #: another file of this run) | 'skipped' (not a visit file) | 'failed' (an error stopped it)
    status: str = "staged"
    layout: str | None = AS_IS
    rows: int = 0
    valid_rows: int = 0
    rejected_rows: int = 0
    placeholder_rows: int = 0
    readable: bool = True
    errors_by_type: dict[str, int] = field(default_factory=dict)
    #: why a file was rejected whole, skipped or failed (Spanish)
    reason: str = ""
    same_as: str = ""


@dataclass
class BackfillOutcome:
    entity: Entity
    files: list[BackfillFile] = field(default_factory=list)
    seconds: float = 0.0
    workers: int = 1
    #: reports that could not be copied to the reports area (retried by the next ingestion)
    report_problems: list[str] = field(default_factory=list)

    @property
    def counted_files(self) -> list[BackfillFile]:
        """The files whose batch is staged, by this run or an earlier one."""
        return [f for f in self.files if f.status in ("staged", "done")]

    @property
    def exit_code(self) -> int:
        """0 when every file was ingested (rows may be quarantined); 1 when a file was
        rejected whole or could not be processed."""
        bad = [f for f in self.files if f.status == "failed"
               or (f.status in ("staged", "done") and not f.readable)]
        return 1 if bad else 0

    def by_layout(self) -> dict[str | None, dict[str, Any]]:
        groups: dict[str | None, dict[str, Any]] = {}
        for f in self.counted_files:
            key = f.layout if f.readable or f.layout else NO_LAYOUT
            group = groups.setdefault(key, {"archivos": 0, "archivos_rechazados": 0, "filas": 0,
                                            "filas_aceptadas": 0, "filas_rechazadas": 0,
                                            "filas_sin_visitas": 0, "errores_por_tipo": {}})
            group["archivos"] += 1
            group["archivos_rechazados"] += 0 if f.readable else 1
            group["filas"] += f.rows
            group["filas_aceptadas"] += f.valid_rows
            group["filas_rechazadas"] += f.rejected_rows
            group["filas_sin_visitas"] += f.placeholder_rows
            for kind, n in f.errors_by_type.items():
                group["errores_por_tipo"][kind] = group["errores_por_tipo"].get(kind, 0) + n
        return groups

    def to_dict(self) -> dict[str, Any]:
        return {
            "entidad_ruc": self.entity.ruc,
            "segundos": round(self.seconds, 3),
            "procesos": self.workers,
            "archivos": [asdict(f) for f in self.files],
            "por_formato": [{"formato": k, **v} for k, v in self.by_layout().items()],
            "totales": {
                "archivos": len(self.counted_files),
                "archivos_nuevos": sum(1 for f in self.files if f.status == "staged"),
                "archivos_de_antes": sum(1 for f in self.files if f.status == "done"),
                "filas": sum(f.rows for f in self.counted_files),
                "filas_aceptadas": sum(f.valid_rows for f in self.counted_files),
                "filas_rechazadas": sum(f.rejected_rows for f in self.counted_files),
            },
        }

    def report_es(self) -> str:
        """The final report for the operator and the entity's administrator, in Spanish."""
        files = self.counted_files
        rows = sum(f.rows for f in files)
        lines = [f"Carga histórica de {self.entity.ruc} {self.entity.name}: "
                 f"{counted(len(files), 'archivo', 'archivos')} con "
                 f"{counted(rows, 'fila', 'filas')} "
                 f"({counted(sum(f.valid_rows for f in files), 'aceptada', 'aceptadas')}, "
                 f"{counted(sum(f.rejected_rows for f in files), 'rechazada', 'rechazadas')}), "
                 f"en {_seconds(self.seconds)} con {plural(self.workers, 'proceso', 'procesos')}."]
        groups = self.by_layout()
        if groups:
            lines.append("Por formato:")
        for key, g in sorted(groups.items(), key=lambda kv: _layout_order(kv[0])):
            whole = (f"; {plural(g['archivos_rechazados'], 'rechazado entero', 'rechazados enteros')}"
                     if g["archivos_rechazados"] else "")
            lines.append(f"  {_layout_title(key)}: {counted(g['archivos'], 'archivo', 'archivos')}"
                         f"{whole}, {counted(g['filas'], 'fila', 'filas')}: "
                         f"{counted(g['filas_aceptadas'], 'aceptada', 'aceptadas')}, "
                         f"{counted(g['filas_rechazadas'], 'rechazada', 'rechazadas')}"
                         + (f", {counted(g['filas_sin_visitas'], 'fila', 'filas')} de «No se "
                            "recibieron visitas»" if g["filas_sin_visitas"] else "") + ".")
            for kind, n in sorted(g["errores_por_tipo"].items(), key=lambda kv: (-kv[1], kv[0])):
                title = ERROR_TYPES[kind].title if kind in ERROR_TYPES else kind
                lines.append(f"      {title} [{kind}]: {counted(n, 'error', 'errores')}")
        rejected = [f for f in files if not f.readable]
        if rejected:
            lines.append(f"Archivos rechazados enteros ({number(len(rejected))}); corríjalos o "
                         "agregue su formato a la correspondencia, y vuelva a cargarlos:")
            lines.extend(f"  {f.path}: {f.reason}" for f in rejected)
        failed = [f for f in self.files if f.status == "failed"]
        if failed:
            lines.append(f"Archivos que no se pudieron procesar ({number(len(failed))}); una "
                         "nueva carga los intenta otra vez:")
            lines.extend(f"  {f.path}: {f.reason}" for f in failed)
        done = [f for f in self.files if f.status == "done"]
        if done:
            lines.append(f"{plural(len(done), 'archivo ya estaba cargado', 'archivos ya estaban cargados')} "
                         "por una carga anterior: se cuentan arriba y no se volvieron a procesar.")
        duplicates = [f for f in self.files if f.status == "duplicate"]
        if duplicates:
            lines.append(f"{plural(len(duplicates), 'archivo repite', 'archivos repiten')} "
                         "byte a byte otro archivo de la carga (se cargó una sola vez):")
            lines.extend(f"  {f.path} = {f.same_as}" for f in duplicates)
        skipped = [f for f in self.files if f.status == "skipped"]
        if skipped:
            lines.append(f"{plural(len(skipped), 'archivo omitido', 'archivos omitidos')}:")
            lines.extend(f"  {f.path}: {f.reason}" for f in skipped)
        lines.extend(f"✘ {problem}" for problem in self.report_problems)
        if any(f.status == "staged" and f.valid_rows for f in self.files):
            lines.append("Los lotes nuevos quedan listos: la próxima pasada (visitas run) los "
                         "consolida y publica.")
        return "\n".join(lines)


def _seconds(seconds: float) -> str:
    return f"{seconds:.1f} s".replace(".", ",")


def _layout_order(key: str | None) -> tuple[int, str]:
    return (0, key) if key else (1, "") if key == AS_IS else (2, "")


def _layout_title(key: str | None) -> str:
    if key is NO_LAYOUT:
        return "archivos ilegibles o de ningún formato de la entidad"
    if key == AS_IS:
        return "en un formato de carga (sin correspondencia)"
    return f"formato «{key}»"


# ------------------------------------------------------------------------------ the files


def _skip_reason(name: str) -> str | None:
    if name.startswith(".") or is_scratch(name):
        return "archivo oculto o temporal"
    if name.lower().startswith(RESERVED_PREFIXES):
        return ("no es un archivo de visitas: los retiros y los registros de decisores se "
                "dejan en la zona de aterrizaje de la entidad")
    return None


def collect(paths: Iterable[Path]) -> list[tuple[Path, str]]:
    """Every file under `paths` (folders walked, in name order), with the path to show."""
    found: list[tuple[Path, str]] = []
    for given in paths:
        if given.is_dir():
            for path in sorted(p for p in given.rglob("*") if p.is_file()):
                found.append((path, path.relative_to(given).as_posix()))
        else:
            found.append((given, given.name))
    seen: set[Path] = set()
    unique = []
    for path, shown in found:
        resolved = path.resolve()
        if resolved not in seen:
            seen.add(resolved)
            unique.append((resolved, shown))
    return unique


def _hash(path: Path) -> tuple[str, int]:
    return sha256_file(path), path.stat().st_size


def _from_record(folder: Path, item: BackfillFile) -> BackfillFile:
    """A file whose batch an earlier run staged: its counts, from the batch's record."""
    meta = json.loads((folder / "batch.json").read_text(encoding="utf-8"))
    item.status = "done"
    _fill(item, meta, folder)
    return item


def _fill(item: BackfillFile, meta: dict[str, Any], folder: Path) -> None:
    item.layout = meta.get("correspondencia", AS_IS)
    item.rows = int(meta.get("rows", 0))
    item.valid_rows = int(meta.get("filas_validas", 0))
    item.rejected_rows = int(meta.get("filas_rechazadas", 0))
    item.placeholder_rows = int(meta.get("filas_sin_visitas", 0))
    item.readable = bool(meta.get("legible", True))
    try:
        report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
        task = report["tasks"][0]
        item.errors_by_type = dict(task["summary"]["erroresPorTipo"])
        no_layout = [w for w in task["warnings"] if w.startswith(NO_LAYOUT_WARNING)]
        if not item.readable and no_layout:
            item.reason = no_layout[0]
        elif not item.readable and task["errors"]:
            item.reason = task["errors"][0]["message"]
    except (OSError, ValueError, KeyError, IndexError):
        pass
    if not item.readable and item.layout == AS_IS and not item.reason:
        item.reason = "el archivo no se pudo leer"


def _worker(temp_dir: Path, threads: int) -> None:
    """Set up a worker process: its validation database spills under the working folder and
    uses its share of the cores (one process per core: no process waits for another's
    threads)."""
    from pipeline.validation.connection import use_temp_dir, validation_cursor

    use_temp_dir(temp_dir)
    validation_cursor().execute(f"SET threads = {threads}")


def _stage_one(settings: Settings, entity: Entity, path: str, item: BackfillFile,
               size: int, today: dt.date | None, now: dt.datetime | None) -> BackfillFile:
    """Archive and stage one file (in a worker process)."""
    from pipeline.validation.upload import upload_schemas

    target = batches_dir(settings, entity.ruc) / item.sha256
    if (target / "batch.json").exists():  # staged meanwhile by a run that was interrupted
        return _from_record(target, item)
    raw = open_storage(settings.raw_url, base_dir=settings.root)
    key = f"{entity.ruc}/{item.sha256}/{item.name}"
    if not raw.exists(key):
        raw.upload(Path(path), key)
    upload = Upload(entity.ruc, item.name, path, item.sha256, size, Path(path),
                    provenance={"ingesta": BACKFILL, "ruta_original": path})
    _stage_batch(settings, entity, upload, upload_schemas(settings.schemas_dir), target,
                 today=today, now=now, archived=raw.locate(key))
    meta = json.loads((target / "batch.json").read_text(encoding="utf-8"))
    _fill(item, meta, target)
    return item


def default_workers() -> int:
    return max(1, min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                      else os.cpu_count() or 1, 8))


def backfill(settings: Settings, entity: Entity, paths: Iterable[Path], *,
             workers: int | None = None, today: dt.date | None = None,
             now: dt.datetime | None = None, echo: Echo | None = None) -> BackfillOutcome:
    """Ingest an entity's history (see the module's docstring). Never raises for bad content.

    Holds the entity's lock throughout; raises `LockBusy` if another process keeps it past
    the wait.
    """
    started = time.perf_counter()
    workers = workers or default_workers()
    outcome = BackfillOutcome(entity, workers=workers)
    say = echo or (lambda _line: None)
    files = collect(paths)
    with locks.hold(locks.entity_batches(settings, entity.ruc), settings.lock_wait_seconds):
        folder = batches_dir(settings, entity.ruc)
        clear_scratch(folder)  # what an interrupted run was staging: never half a batch
        open_storage(settings.raw_url, base_dir=settings.root).clear_abandoned_scratch(
            f"{entity.ruc}/")
        context = multiprocessing.get_context("spawn")  # no fork of a process with threads
        threads = max(1, default_workers() // workers)
        with concurrent.futures.ProcessPoolExecutor(
                max_workers=workers, mp_context=context, initializer=_worker,
                initargs=(settings.temp_dir, threads)) as pool:
            try:
                _run(settings, entity, files, pool, outcome, say, today, now)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        outcome.report_problems = reports.publish_reports(
            settings, entity.ruc, [f.sha256 for f in outcome.files if f.status == "staged"])
    outcome.seconds = time.perf_counter() - started
    return outcome


def _run(settings: Settings, entity: Entity, files: list[tuple[Path, str]],
         pool: concurrent.futures.ProcessPoolExecutor, outcome: BackfillOutcome, say: Echo,
         today: dt.date | None, now: dt.datetime | None) -> None:
    items: list[tuple[Path, BackfillFile]] = []
    for path, shown in files:
        item = BackfillFile(shown, path.name)
        reason = _skip_reason(path.name)
        if reason:
            item.status, item.reason, item.layout = "skipped", reason, NO_LAYOUT
        items.append((path, item))
        outcome.files.append(item)
    todo = [(p, i) for p, i in items if i.status != "skipped"]
    # hashed in the workers too: a large history is read once at disk speed on every core
    hashes = pool.map(_hash, [p for p, _ in todo], chunksize=16)
    first: dict[str, BackfillFile] = {}
    pending: dict[concurrent.futures.Future[BackfillFile], BackfillFile] = {}
    folder = batches_dir(settings, entity.ruc)
    for (path, item), (sha, size) in zip(todo, hashes, strict=True):
        item.sha256 = sha
        if sha in first:
            item.status, item.same_as, item.layout = "duplicate", first[sha].path, NO_LAYOUT
            continue
        first[sha] = item
        if (folder / sha / "batch.json").exists():
            _from_record(folder / sha, item)
            continue
        future = pool.submit(_stage_one, settings, entity, str(path), item, size, today, now)
        pending[future] = item
    total = len(pending)
    for done, future in enumerate(concurrent.futures.as_completed(pending), 1):
        item = pending[future]
        try:
            result = future.result()
        except Exception as exc:  # one file's failure never stops the others
            item.status, item.layout = "failed", NO_LAYOUT
            item.reason = f"{type(exc).__name__}: {exc}"
            say(f"  ✘ [{done}/{total}] {item.path}: {item.reason}")
            continue
        item.__dict__.update(result.__dict__)
        mark = "✔" if result.readable and not result.rejected_rows else "✘"
        layout = f" (formato «{result.layout}»)" if result.layout else ""
        what = (f"{counted(result.rows, 'fila', 'filas')}, "
                f"{counted(result.rejected_rows, 'rechazada', 'rechazadas')}"
                if result.readable else "rechazado entero")
        say(f"  {mark} [{done}/{total}] {item.path}{layout}: {what}")


__all__ = ["BACKFILL", "BackfillFile", "BackfillOutcome", "backfill", "collect"]
