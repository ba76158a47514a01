"""The reports area: where each entity's administrator reads the validation reports of its
uploads, apart from the warehouse (`Settings.reports_url`, VISITAS_REPORTS_URL; default
`<var>/reports`, a local folder or `s3://bucket/prefix`).

    <RUC>/<sha256>/report.json      Frictionless-shaped report of the batch
                   informe.txt      Spanish summary
                   reporte.html     the same, as a page (visit uploads, registers)
                   rechazadas.csv   the rejected rows to fix and upload again (when some were)
    <RUC>/ultimo.json               summary of the entity's latest batch (see `BatchSummary`)

A batch's folder is named by the sha256 of the uploaded bytes, as its staged folder in the
warehouse (`var/warehouse/batches/<RUC>/<sha256>/`) and the batch argument of `visitas
quarantine`: unique, stable, and safe in any path or S3 key whatever the file was called.
`ultimo.json` names the file.

The reports are copied once the batch is staged, while the entity's lock is held. The batch
is already committed then: a reports area that cannot be written loses nothing. The failure
is reported, the batch is remembered in the entity's `reportes-pendientes.json` (beside its
staged batches) and its reports are copied by the entity's next ingestion.

Other parts of the pipeline (the promotion gate, notifications) read the latest batch through
`latest_summary` (from the staged batches: the truth, no network) or `read_latest` (the
`ultimo.json` the administrator sees).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipeline import faults
from pipeline.atomic import write_text
from pipeline.settings import Settings
from pipeline.storage import Storage, open_storage

#: every report a batch may have, with how it is served
REPORT_FILES = {
    "report.json": "application/json",
    "informe.txt": "text/plain; charset=utf-8",
    "reporte.html": "text/html; charset=utf-8",
    "rechazadas.csv": "text/csv; charset=utf-8",
}
LATEST_FILE = "ultimo.json"
#: per entity, in its staged batches' folder: batches whose reports are still to be copied
PENDING_FILE = "reportes-pendientes.json"


@dataclass(frozen=True)
class BatchSummary:
    """One batch as `ultimo.json` summarises it (keys in Spanish: administrators read it)."""

    entidad_ruc: str
    archivo: str
    #: the batch: sha256 of the uploaded bytes, also its folder in the reports area
    lote: str
    #: 'visitas' (an upload of visits), 'retiros' (a withdrawal file) or 'decisores' (the
    #: decision-makers register)
    tipo: str
    #: when the batch was staged (ISO 8601, UTC)
    ingestado_en: str
    #: 'published' (every row valid), 'partial' or 'rejected'
    estado: str
    filas: int
    filas_validas: int
    filas_rechazadas: int
    #: every error of the batch, also those beyond the report's detailed list
    errores: int
    #: error type (as in report.json, e.g. 'hora-salida-anterior') → how many
    errores_por_tipo: dict[str, int] = field(default_factory=dict)
    #: the batch's folder in the reports area and the reports it holds
    carpeta: str = ""
    reportes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """No error at all: every row of the file was taken."""
        return self.errores == 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def reports_storage(settings: Settings) -> Storage:
    # Not public: rechazadas.csv holds full document numbers, as the landing area does.
    return open_storage(settings.reports_url, base_dir=settings.root)


def batch_folder(ruc: str, sha256: str) -> str:
    return f"{ruc}/{sha256}/"


def latest_key(ruc: str) -> str:
    return f"{ruc}/{LATEST_FILE}"


def summary_of(folder: Path) -> BatchSummary:
    """The summary of a staged batch (`var/warehouse/batches/<RUC>/<sha256>/`)."""
    meta = json.loads((folder / "batch.json").read_text(encoding="utf-8"))
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    task = report["tasks"][0]
    ruc, sha = meta["entidad_ruc"], meta["sha256"]
    return BatchSummary(
        entidad_ruc=ruc, archivo=meta["archivo"], lote=sha, tipo=meta.get("tipo", "visitas"),
        ingestado_en=meta["ingestado_en"], estado=meta["estado"], filas=int(meta["rows"]),
        filas_validas=int(meta["filas_validas"]),
        filas_rechazadas=int(meta["filas_rechazadas"]),
        errores=int(task["stats"]["errors"]),
        errores_por_tipo={k: int(v) for k, v in task["summary"]["erroresPorTipo"].items()},
        carpeta=batch_folder(ruc, sha),
        reportes=[name for name in REPORT_FILES if (folder / name).is_file()])


def latest_summary(settings: Settings, ruc: str) -> BatchSummary | None:
    """The entity's latest staged batch in this environment, or None before its first upload.

    Read from the staged batches of the warehouse, the same facts `ultimo.json` holds (which
    is a copy for the administrator, written after the fact); the latest is the one staged
    last, and of those staged in the same ingestion, the one whose rows apply last.
    """
    from pipeline.ingestion.batches import batch_folders
    from pipeline.ingestion.inspection import batch_order

    records = []
    for folder in batch_folders(settings, ruc):
        try:
            records.append((batch_order(json.loads((folder / "batch.json").read_text("utf-8"))),
                            folder))
        except (OSError, ValueError, KeyError):
            continue  # a damaged record: the next ingestion repairs it or sets it aside
    return summary_of(max(records)[1]) if records else None


def read_latest(settings: Settings, ruc: str) -> dict[str, Any] | None:
    """`<RUC>/ultimo.json` as the reports area holds it, or None when there is none yet.

    Raises `StorageError` when the reports area cannot be read."""
    storage = reports_storage(settings)
    key = latest_key(ruc)
    if not storage.exists(key):
        return None
    return json.loads(storage.read_bytes(key))


def publish_reports(settings: Settings, ruc: str, batches: Iterable[str]) -> list[str]:
    """Copy the reports of the entity's `batches` (sha256), and of any left pending by an
    earlier failure, to the reports area, then `ultimo.json`. Never raises for the reports
    area: returns what could not be written (Spanish), to be told; those batches stay
    pending for the next ingestion. Called with the entity's lock held."""
    from pipeline.ingestion.batches import batches_dir

    base = batches_dir(settings, ruc)
    pending_path = base / PENDING_FILE
    todo = sorted({*_pending(pending_path), *batches})
    todo = [sha for sha in todo if (base / sha / "batch.json").is_file()]
    if not todo:
        _remember_pending(pending_path, [])
        return []
    problems: list[str] = []
    failed: list[str] = []
    try:
        storage = reports_storage(settings)
    except Exception as exc:
        return _give_up(pending_path, todo, [f"no se pudieron escribir los reportes de "
                                             f"{ruc} en {settings.reports_url}: {_why(exc)}"])
    for sha in todo:
        try:
            _copy_batch(storage, base / sha, batch_folder(ruc, sha))
        except Exception as exc:
            failed.append(sha)
            problems.append(f"no se pudieron escribir los reportes de {_file_name(base / sha)}"
                            f" (lote {sha[:12]}…) en el área de reportes: {_why(exc)}")
    try:
        latest = latest_summary(settings, ruc)
    except (OSError, ValueError, KeyError) as exc:
        latest = None
        problems.append(f"no se pudo resumir el último lote de {ruc}: {exc}")
    if latest is not None and latest.lote not in failed:
        try:
            storage.write_bytes(latest_key(ruc), _json(latest.to_dict()),
                                content_type=REPORT_FILES["report.json"])
        except Exception as exc:
            failed.append(latest.lote)  # its copy is repeated next time, then ultimo.json
            problems.append(f"no se pudo escribir {storage.locate(latest_key(ruc))}: "
                            f"{_why(exc)}")
    _remember_pending(pending_path, sorted(set(failed)))
    if problems:
        problems.append("se reintentará en la próxima ingesta de la entidad; los lotes están "
                        "guardados y se publican igual")
    return problems


def _copy_batch(storage: Storage, folder: Path, prefix: str) -> None:
    for name, content_type in REPORT_FILES.items():
        path = folder / name
        if path.is_file():
            storage.upload(path, prefix + name, content_type=content_type)


def _file_name(folder: Path) -> str:
    try:
        return str(json.loads((folder / "batch.json").read_text("utf-8"))["archivo"])
    except (OSError, ValueError, KeyError):
        return "un archivo"


def _why(exc: Exception) -> str:
    fault = faults.describe(exc)
    return fault.what if fault is not None else f"{type(exc).__name__}: {exc}"


def _give_up(pending_path: Path, todo: list[str], problems: list[str]) -> list[str]:
    _remember_pending(pending_path, todo)
    return [*problems, "se reintentará en la próxima ingesta de la entidad; los lotes están "
                       "guardados y se publican igual"]


def _pending(path: Path) -> list[str]:
    try:
        return [str(sha) for sha in json.loads(path.read_text(encoding="utf-8"))]
    except (OSError, ValueError):
        return []


def _remember_pending(path: Path, shas: list[str]) -> None:
    if shas:
        write_text(path, json.dumps(shas))
    elif path.exists():
        path.unlink()


def _json(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")

