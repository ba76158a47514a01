"""The promotion gate: an entity moves from demo to production only on a clean demo upload.

The register prescribes the path: the entity's administrator loads its visits into the demo
environment and validates the results there; only then does the entity load into production.
So `promote` looks at the entity's latest uploads in the demo environment's warehouse (the
visit batches of its latest ingestion, `pipeline.ingestion.inspection.latest_ingestion`) and
promotes only when there is one and none of them has errors. Otherwise it changes nothing and
says what blocks it.

A promotion is recorded in the entity's own registry file, as an entry of its `history:`
list (when, and which demo batch it rested on: file, sha256, ingestion time), in the same
write that changes its stage. The registry file, not the working folder, because:

* the stage and the evidence it was granted on change together, in one rename: there is no
  moment when an entity is in production without the record of why, or the other way round;
* the registry is the project's versioned configuration (reviewed, kept in git, deployed to
  every machine), while `VISITAS_VAR_DIR` is working data a new machine starts empty: a
  history kept there would be lost exactly when it is needed.

The file is edited in place (ruamel.yaml round trip), so its comments, quoting and key order
stay as the administrator wrote them and the diff shows only the stage and the new entry.

`promote` is the one way to promote, called by `visitas entity promote` and by whatever else
must react to a promotion (e.g. an e-mail to the entity's administrator).
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from pipeline.atomic import write_text
from pipeline.ingestion.inspection import Batch, error_title, errors_by_type, latest_ingestion
from pipeline.registry import Entity, RegistryError, load_entity, parse_entity
from pipeline.settings import Settings, in_environment
from pipeline.spanish import lima_time, plural

DEMO_RUN = "VISITAS_ENV=demo visitas run"


class NotRegistered(LookupError):
    """No entity of that RUC is registered."""

    def __init__(self, ruc: str) -> None:
        super().__init__(ruc)
        self.ruc = ruc


def utc_text(moment: dt.datetime | str) -> str:
    """A moment as every promotion and listing output writes it: ISO 8601 in UTC, with Z
    (`2024-08-05T15:30:00Z`)."""
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class DemoBatch:
    """The upload a promotion looks at: an entity's latest visit batch in demo."""

    file: str
    sha256: str
    ingested_at: str  #: see `utc_text`
    status: str  #: batch.json's `estado`: 'published' (no errors), 'partial' or 'rejected'
    rows: int
    rejected_rows: int
    readable: bool
    #: error counts by error type (`pipeline.validation.errors`), over all the batch's errors
    errors: dict[str, int]
    #: the batch's report for the administrator (reporte.html; report.json where it has none)
    report: Path

    @classmethod
    def of(cls, batch: Batch) -> DemoBatch:
        record = batch.record
        html = batch.folder / "reporte.html"
        return cls(file=str(record["archivo"]), sha256=batch.sha256,
                   ingested_at=utc_text(record["ingestado_en"]),
                   status=str(record.get("estado", "")), rows=int(record.get("rows", 0)),
                   rejected_rows=int(record.get("filas_rechazadas", 0)),
                   readable=bool(record.get("legible", True)), errors=errors_by_type(batch),
                   report=html if html.is_file() else batch.folder / "report.json")

    @property
    def clean(self) -> bool:
        return self.status == "published" and not self.errors and not self.rejected_rows

    def to_json(self) -> dict[str, Any]:
        return {"archivo": self.file, "sha256": self.sha256, "ingestado_en": self.ingested_at,
                "estado": self.status, "filas": self.rows,
                "filas_rechazadas": self.rejected_rows, "errores_por_tipo": dict(self.errors),
                "reporte": str(self.report)}


@dataclass(frozen=True)
class Promotion:
    """The entity was promoted: `entity` as it is now (production, with the new history)."""

    entity: Entity
    at: str  #: see `utc_text`
    batch: DemoBatch
    #: where its uploads go from now on (the production landing area)
    landing: str

    def message(self) -> str:
        e, b = self.entity, self.batch
        return (f"Entidad {e.ruc} ({e.name}) promovida a producción.\n"
                f"  Su última carga en el entorno demo no tiene errores: {b.file} (sha256 "
                f"{b.sha256[:12]}), ingestado el {lima_time(b.ingested_at)}.\n"
                f"  Queda anotado en el historial de {e.path} ('visitas entity history "
                f"{e.ruc}'). Desde ahora sus cargas en {self.landing} se publican en "
                "producción.\n")

    def to_json(self) -> dict[str, Any]:
        return _json(self.entity, promoted=True, reason=None, at=self.at, batch=self.batch)


@dataclass(frozen=True)
class Blocked:
    """The entity stays in demo: no demo upload yet (`batch` None), or its latest has errors."""

    entity: Entity
    batch: DemoBatch | None
    #: where the entity uploads in demo
    landing: str

    @property
    def reason(self) -> str:
        return "sin_carga_demo" if self.batch is None else "carga_demo_con_errores"

    def message(self) -> str:
        e, b = self.entity, self.batch
        head = f"La entidad {e.ruc} ({e.name}) sigue en demo y no pasa a producción: "
        if b is None:
            return (head + "aún no tiene ninguna carga en el entorno demo.\n"
                    f"  Su administrador sube el registro de visitas a {self.landing}, se "
                    f"procesa con '{DEMO_RUN}' y se vuelve a intentar.\n")
        rows = ("ninguna fila aceptada" if not b.readable else
                f"{plural(b.rejected_rows, 'fila rechazada', 'filas rechazadas')} de {b.rows}")
        lines = [head + "su última carga en el entorno demo tiene errores.",
                 f"  Archivo: {b.file}, ingestado el {lima_time(b.ingested_at)}; {rows}."]
        if b.errors:
            lines.append("  Errores por tipo:")
            ranked = sorted(b.errors.items(), key=lambda kv: (-kv[1], error_title(kv[0])))
            lines += [f"    {error_title(kind)}: {plural(count, 'error', 'errores')}"
                      for kind, count in ranked]
        lines += [f"  Reporte: {b.report}",
                  f"  Corrija el archivo, súbalo de nuevo a {self.landing}, procéselo con "
                  f"'{DEMO_RUN}' y vuelva a intentarlo."]
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        return _json(self.entity, promoted=False, reason=self.reason, at=None, batch=self.batch)


@dataclass(frozen=True)
class AlreadyInProduction:
    entity: Entity

    def message(self) -> str:
        return f"La entidad {self.entity.ruc} ya está en producción.\n"

    def to_json(self) -> dict[str, Any]:
        return _json(self.entity, promoted=False, reason="ya_en_produccion", at=None, batch=None)


Outcome = Promotion | Blocked | AlreadyInProduction


def _json(entity: Entity, *, promoted: bool, reason: str | None, at: str | None,
          batch: DemoBatch | None) -> dict[str, Any]:
    return {"ruc": entity.ruc, "nombre": entity.name, "etapa": entity.stage,
            "promovida": promoted, "motivo": reason, "promovida_en": at,
            "lote_demo": batch.to_json() if batch else None}


def check(settings: Settings, entity: Entity) -> DemoBatch | Blocked:
    """The demo batch a promotion of `entity` would rest on, or what blocks it. Reads the
    demo environment's warehouse whatever environment `settings` is of."""
    demo = in_environment(settings, "demo")
    # One pass may take several uploads: a file with errors among them blocks, even when a
    # clean one sorts after it, for its errors are still there to fix.
    taken = [DemoBatch.of(b) for b in latest_ingestion(demo, entity.ruc)]
    dirty = [b for b in taken if not b.clean]
    batch = dirty[0] if dirty else (taken[-1] if taken else None)
    if batch is not None and batch.clean:
        return batch
    return Blocked(entity, batch, landing=_landing(demo, entity.ruc))


def promote(settings: Settings, ruc: str, *, now: dt.datetime | None = None) -> Outcome:
    """Promote the entity `ruc` to production if its latest demo upload is clean, recording
    the promotion in its registry file; otherwise change nothing. Raises `NotRegistered`."""
    path = settings.entities_dir / f"{ruc}.yaml"
    if not path.is_file():
        raise NotRegistered(ruc)
    entity = load_entity(path)
    if entity.stage == "production":
        return AlreadyInProduction(entity)
    found = check(settings, entity)
    if isinstance(found, Blocked):
        return found
    at = utc_text(now or dt.datetime.now(dt.UTC))
    event = {"event": "promoted", "at": at,
             "demo_batch": {"file": found.file, "sha256": found.sha256,
                            "ingested_at": found.ingested_at}}
    text = _promoted_text(path.read_text(encoding="utf-8"), event)
    # what is written must read back as the registry expects, or nothing is written
    promoted = parse_entity(yaml.safe_load(text), path.name)
    if promoted.stage != "production" or promoted.history[-1:] != (event,):
        raise RegistryError(f"{path.name}: no se pudo anotar la promoción en el archivo.")
    write_text(path, text)
    production = in_environment(settings, "production")
    return Promotion(replace(promoted, path=path), at, found,
                     landing=_landing(production, ruc))


def _promoted_text(text: str, event: dict[str, Any]) -> str:
    """The registry file with stage production and `event` appended to its history, every
    other line (comments, quoting, order) as it was."""
    from ruamel.yaml import YAML

    rt = YAML()  # round trip: keeps comments and quoting
    rt.preserve_quotes = True
    rt.indent(mapping=2, sequence=4, offset=2)
    rt.width = 4096  # never fold a long name onto two lines
    data = rt.load(text)
    data["stage"] = "production"
    history = data.get("history")
    if history is None:
        data["history"] = history = []
    history.append(event)
    out = io.StringIO()
    rt.dump(data, out)
    return out.getvalue()


def _landing(settings: Settings, ruc: str) -> str:
    return f"{settings.landing_url.rstrip('/')}/{ruc}/"
