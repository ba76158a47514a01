"""Publish the consolidated table to the published tree (a local directory or an S3 bucket).

Data files go first and are verified (size and sha256 read back from the storage), then
`datapackage.json`, so a harvester following `latest/datapackage.json` never meets a file
that is missing or different from what the descriptor says.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from pipeline.consolidation.visitas import database_path
from pipeline.publication.datapackage import datapackage
from pipeline.publication.dataset import DatasetMeta, load_dataset
from pipeline.publication.files import WrittenFile, write_table_files
from pipeline.publication.personal_data import (
    SENTENCES,
    column_sql,
    load_policy,
    pseudonym_key,
    published_schema,
)
from pipeline.settings import Settings
from pipeline.storage import Storage, StorageError, open_storage

LATEST = "latest"


@dataclass
class PublicationOutcome:
    location: str
    version: str
    rows: int
    files: list[WrittenFile]


def published_query(meta: DatasetMeta, schema: dict[str, Any] | None = None,
                    expressions: dict[str, str] | None = None) -> str:
    """Rows in their published form: the schema's columns, some computed by the policy."""
    expressions = expressions or {}
    fields = (schema or meta.schema)["fields"]
    columns = ", ".join(f"{expressions[f['name']]} AS {f['name']}" if f["name"] in expressions
                        else f["name"] for f in fields)
    return f"SELECT {columns} FROM {meta.table} ORDER BY fecha_visita, entidad_ruc, hora_ingreso, id_visita"


def publish(settings: Settings, *, now: dt.datetime | None = None,
            storage: Storage | None = None) -> PublicationOutcome:
    meta = load_dataset(settings.datasets_dir, "visitas")
    storage = storage or open_storage(settings.publish_url, base_dir=settings.root)
    policy = load_policy(meta.extra)
    key = pseudonym_key(settings)
    schema = published_schema(meta.schema, policy)
    created = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    version = created.strftime("%Y%m%dT%H%M%SZ")
    with tempfile.TemporaryDirectory(prefix="visitas-publish-") as tmp, \
            duckdb.connect(str(database_path(settings)), read_only=True) as con:
        query = published_query(meta, schema, column_sql(policy, key))
        files = write_table_files(con, query, Path(tmp), meta.table)
        for f in files:
            key = f"{LATEST}/{f.name}"
            storage.upload(f.path, key, content_type=f.mediatype)
            if storage.sha256(key) != f.sha256:
                raise StorageError(f"Verificación fallida: {storage.locate(key)} no coincide con lo escrito.")
        package = datapackage(meta, files, version=version, created=created, schema=schema,
                              description=f"{meta.description} {SENTENCES[policy.document_number]}",
                              extra={"x-datos-personales": policy.metadata()})
        storage.write_bytes(f"{LATEST}/datapackage.json",
                            json.dumps(package, ensure_ascii=False, indent=2).encode("utf-8"),
                            content_type="application/json")
    return PublicationOutcome(storage.locate(LATEST), version, files[0].rows if files else 0, files)
