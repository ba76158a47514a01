"""The identities file of a SeaweedFS S3 server (`weed s3 -config FILE`, `weed server -s3
-s3.config FILE`, `weed mini -s3.config FILE`).

One identity per entity, scoped with SeaweedFS's `Action:bucket/path` grants, plus the
pipeline's own identity with every action. SeaweedFS compares a grant without `*` with the
bucket name alone, so each entity's grants end in `/*`: `Write:bucket/landing/<RUC>/*`
covers every key under the entity's folder, and List is checked against the listing's
prefix, so `List:…/<RUC>/*` lets the entity list its own folder and nothing above it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pipeline.access.keys import entity_keys
from pipeline.access.scopes import EntityScope
from pipeline.faults import EXIT_CONFIG, OperationalError

PIPELINE_IDENTITY = "visitas-pipeline"
#: every action SeaweedFS knows for an identity; Admin alone already allows everything
PIPELINE_ACTIONS = ("Admin", "Read", "Write", "List", "Tagging")


class PipelineKeysError(OperationalError):
    """The pipeline's own key pair is not in the environment."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(
            f"Falta {' y '.join(missing)}: el archivo de identidades debe incluir las "
            "credenciales de la propia pasada, o esta perdería el acceso al almacenamiento",
            "Defina AWS_ACCESS_KEY_ID y AWS_SECRET_ACCESS_KEY con las credenciales que usa "
            "'visitas run' y vuelva a ejecutar",
            EXIT_CONFIG,
        )


def pipeline_keys(environ: dict[str, str] | None = None) -> tuple[str, str]:
    env = os.environ if environ is None else environ
    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    missing = [n for n in names if not env.get(n, "").strip()]
    if missing:
        raise PipelineKeysError(missing)
    return env[names[0]], env[names[1]]


def entity_actions(scope: EntityScope) -> list[str]:
    """Write and list its landing folder; read and list its reports folder."""
    landing = f"{scope.landing.bucket}/{scope.landing.folder(scope.ruc)}*"
    reports = f"{scope.reports.bucket}/{scope.reports.folder(scope.ruc)}*"
    return [f"Write:{landing}", f"List:{landing}", f"Read:{reports}", f"List:{reports}"]


def identities(master: str, scopes: list[EntityScope],
               pipeline: tuple[str, str]) -> dict[str, Any]:
    """The identities document: the pipeline's identity first, then one per entity."""
    access_key, secret_key = pipeline
    entries: list[dict[str, Any]] = [{
        "name": PIPELINE_IDENTITY,
        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": list(PIPELINE_ACTIONS),
    }]
    for scope in scopes:
        keys = entity_keys(master, scope.ruc)
        entries.append({
            "name": f"entidad-{scope.ruc}",
            "credentials": [{"accessKey": keys.access_key_id,
                             "secretKey": keys.secret_access_key}],
            "actions": entity_actions(scope),
        })
    return {"identities": entries}


def write_config(path: Path, document: dict[str, Any]) -> None:
    """Write the file readable by its owner only (it holds secrets), replaced in one rename so
    that a server reading it never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(document, out, ensure_ascii=False, indent=2)
            out.write("\n")
        os.chmod(scratch, 0o600)  # an existing scratch file keeps its mode through O_CREAT
        scratch.replace(path)
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise
