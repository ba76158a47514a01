"""The entity registry: one small declarative YAML file per entity in `datasets/entities/`.

Entity names come from each entity's own registration file, never from a hard-coded list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline.identifiers import is_valid_ruc
from pipeline.sources.mapping.language import MappingError, SourceMapping, parse_source

STAGES = ("demo", "production")
REQUIRED_KEYS = ("ruc", "name", "stage", "source", "administrator")
#: what the registry records of an entity's life (`history:`, see `pipeline.promotion`)
HISTORY_EVENTS = ("promoted",)


class RegistryError(ValueError):
    """Raised when an entity file is missing a key or holds an invalid value.

    The message names the file and the key, so the fix is obvious.
    """


@dataclass(frozen=True)
class Entity:
    ruc: str
    name: str
    stage: str
    source: dict[str, Any]
    administrator: dict[str, Any]
    path: Path | None = field(default=None, compare=False)
    #: what happened to the entity, oldest first (`history:` in its file): each a mapping with
    #: `event` and `at`, e.g. a promotion and the demo batch it rested on
    history: tuple[dict[str, Any], ...] = ()
    #: how the entity's own files or records become an upload layout (`source.mapping` or
    #: `source.layouts`, checked when the registry is loaded); None: uploads in an upload
    #: layout, read exactly as they always were
    mapping: SourceMapping | None = field(default=None, compare=False)

    @property
    def source_kind(self) -> str:
        return str(self.source.get("kind", "files"))


def parse_entity(data: Any, origin: str) -> Entity:
    if not isinstance(data, dict):
        raise RegistryError(f"{origin}: se esperaba un mapa YAML con las claves {REQUIRED_KEYS}.")
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise RegistryError(f"{origin}: faltan las claves {', '.join(missing)}.")
    ruc = str(data["ruc"]).strip()
    if not is_valid_ruc(ruc):
        raise RegistryError(
            f"{origin}: el RUC {ruc!r} no es válido (11 dígitos, prefijo 10/15/17/20 y dígito "
            "verificador correcto)."
        )
    stage = str(data["stage"])
    if stage not in STAGES:
        raise RegistryError(f"{origin}: la etapa {stage!r} (clave stage) no es válida; use "
                            "'demo' o 'production'.")
    source = data["source"] or {}
    try:
        mapping = parse_source(source)
    except MappingError as exc:
        raise RegistryError(f"{origin}: {exc}") from exc
    name = str(data["name"]).strip()
    if not name:
        raise RegistryError(f"{origin}: falta el nombre oficial de la entidad (clave name).")
    admin = data["administrator"] or {}
    if not isinstance(admin, dict) or not admin.get("email"):
        raise RegistryError(f"{origin}: falta el correo del administrador "
                            "(clave administrator.email).")
    email = str(admin["email"]).strip()
    problem = email_problem(email)
    if problem:
        raise RegistryError(f"{origin}: el correo del administrador {email!r} no es válido "
                            f"(clave administrator.email): {problem}.")
    return Entity(ruc=ruc, name=name, stage=stage, source=dict(source),
                  administrator={**admin, "email": email},
                  history=_history(data.get("history"), origin), mapping=mapping)


def _history(data: Any, origin: str) -> tuple[dict[str, Any], ...]:
    if data is None:
        return ()
    if not isinstance(data, list) or not all(
            isinstance(e, dict) and e.get("event") in HISTORY_EVENTS and e.get("at")
            for e in data):
        raise RegistryError(f"{origin}: el historial (clave history) debe ser una lista de "
                            f"eventos con las claves event ({', '.join(HISTORY_EVENTS)}) y at.")
    return tuple(dict(e) for e in data)


def email_problem(address: str) -> str | None:
    """Why `address` is not an e-mail address, in Spanish; None if it is one (syntax only:
    entities register before their mail server is reachable from here)."""
    from email_validator import EmailNotValidError, validate_email

    if "@" not in address:
        return "le falta la arroba (@) y el dominio, p. ej. aperez@mef.gob.pe"
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return "revise lo que va antes y después de la arroba, p. ej. aperez@mef.gob.pe"
    return None


def load_entity(path: Path) -> Entity:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RegistryError(f"{path.name}: YAML no válido: {exc}") from exc
    entity = parse_entity(data, path.name)
    if path.stem != entity.ruc:
        raise RegistryError(f"{path.name}: el archivo debe llamarse {entity.ruc}.yaml.")
    return Entity(**{**entity.__dict__, "path": path})


def load_registry(entities_dir: Path, problems: list[str] | None = None) -> list[Entity]:
    """Every registered entity, sorted by RUC.

    Strict by default. With a `problems` list, a broken entity file is recorded there and
    skipped instead, so one entity's bad registration never stops the others.
    """
    entities = []
    for path in sorted(entities_dir.glob("*.yaml")):
        try:
            entities.append(load_entity(path))
        except RegistryError as exc:
            if problems is None:
                raise
            problems.append(str(exc))
    return entities


def entities_for(environment: str, entities: list[Entity]) -> list[Entity]:
    """Which entities an environment includes: production publishes production entities only."""
    if environment == "production":
        return [e for e in entities if e.stage == "production"]
    return list(entities)


def entity_file_text(entity: Entity) -> str:
    data = {
        "ruc": entity.ruc,
        "name": entity.name,
        "stage": entity.stage,
        "source": entity.source,
        "administrator": entity.administrator,
    }
    if entity.history:
        data["history"] = [dict(e) for e in entity.history]
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
