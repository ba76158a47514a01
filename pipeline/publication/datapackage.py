"""Data Package v2 descriptor of a release: every file with its `bytes` and `hash`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pipeline.publication.dataset import DatasetMeta
from pipeline.publication.files import WrittenFile

PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"
RESOURCE_PROFILE = "https://datapackage.org/profiles/2.0/dataresource.json"


def resource(meta: DatasetMeta, f: WrittenFile,
             schema: dict[str, Any] | None = None) -> dict[str, Any]:
    # The CSV is the tabular resource, validated row by row by any Frictionless tool; the JSON
    # and Parquet copies hold the same rows and are described as files (size and checksum),
    # because Frictionless cannot stream-check their bytes as tables.
    tabular = f.format == "csv"
    descriptor: dict[str, Any] = {
        "$schema": RESOURCE_PROFILE,
        "name": f"{meta.table}-{f.format}",
        "type": "table" if tabular else "file",
        "path": f.name,
        "format": f.format,
        "mediatype": f.mediatype,
        "bytes": f.bytes,
        "hash": f"sha256:{f.sha256}",
        "title": f"{meta.title} ({f.format.upper()})",
    }
    if tabular:
        descriptor["schema"] = schema if schema is not None else meta.schema
    else:
        descriptor["description"] = (f"Las mismas filas y columnas que {meta.table}.csv "
                                     f"(esquema en el recurso {meta.table}-csv), en {f.format.upper()}.")
    if f.format in ("csv", "json"):
        descriptor["encoding"] = "utf-8"
    if f.format == "csv":
        descriptor["dialect"] = {"delimiter": ",", "quoteChar": '"', "header": True}
    return descriptor


def datapackage(meta: DatasetMeta, files: list[WrittenFile], *, version: str,
                created: dt.datetime, extra: dict[str, Any] | None = None,
                schema: dict[str, Any] | None = None, description: str | None = None,
                ) -> dict[str, Any]:
    return {
        "$schema": PROFILE,
        "name": meta.name,
        "title": meta.title,
        "description": description if description is not None else meta.description,
        "version": version,
        "created": created.isoformat().replace("+00:00", "Z"),
        "keywords": meta.keywords,
        "licenses": [meta.licence],
        "contributors": [{"title": meta.publisher["name"], "roles": ["publisher"],
                          **({"email": meta.publisher["email"]} if "email" in meta.publisher else {}),
                          **({"path": meta.publisher["path"]} if "path" in meta.publisher else {})}],
        "resources": [resource(meta, f, schema) for f in files],
        **(extra or {}),
    }
