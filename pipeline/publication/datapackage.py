"""Data Package v2 descriptor of a release: every file with its `bytes` and `hash`."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pipeline.publication import layout
from pipeline.publication.dataset import DatasetMeta
from pipeline.publication.manifest import ReleaseFile
from pipeline.spanish import plural

PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"
RESOURCE_PROFILE = "https://datapackage.org/profiles/2.0/dataresource.json"

TITLES = {
    "csv": "CSV", "json": "JSON", "parquet": "Parquet", "duckdb": "base DuckDB",
    "md": "resumen de cambios", "json-changes": "cambios (JSON)",
}


def resource_name(path: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", path.lower()).strip("-")


def resource(meta: DatasetMeta, f: ReleaseFile, path: str) -> dict[str, Any]:
    # The monthly CSVs are the tabular resource (see `monthly_csv`), checked row by row by any
    # Frictionless tool; JSON and Parquet hold the same rows and are described as files (size
    # and checksum), because Frictionless cannot byte-check them as tables.
    tabular = f.format == "csv" and bool(f.partition)
    descriptor: dict[str, Any] = {
        "$schema": RESOURCE_PROFILE,
        "name": resource_name(f.path),
        "type": "table" if tabular else "file",
        "path": path,
        "format": f.format,
        "mediatype": f.mediatype,
        "bytes": f.bytes,
        "hash": f"sha256:{f.sha256}",
    }
    if f.partition:
        descriptor["title"] = f"{meta.title} — {f.partition} ({f.format.upper()})"
    else:
        descriptor["title"] = f.path
    if tabular:
        descriptor["schema"] = meta.schema
        descriptor["encoding"] = "utf-8"
        descriptor["dialect"] = {"delimiter": ",", "quoteChar": '"', "header": True}
    elif f.partition:
        descriptor["description"] = (f"Las mismas columnas que los CSV (esquema en los recursos "
                                     f"CSV), filas de {f.partition}, en {f.format.upper()}.")
    if f.rows is not None:
        descriptor["description"] = (descriptor.get("description", "")
                                     + f" {plural(f.rows, 'fila', 'filas')}.").strip()
    return descriptor


def monthly_csv(meta: DatasetMeta, parts: list[ReleaseFile], paths: list[str],
                stream: dict[str, Any] | None) -> dict[str, Any]:
    """The monthly CSVs as one multi-part tabular resource (Frictionless reads the parts as
    one table, the header of each part after the first skipped); `stream`: that table's size
    and sha256, when known."""
    rows = sum(f.rows or 0 for f in parts)
    months = f"{parts[0].partition} a {parts[-1].partition}" if len(parts) > 1 else parts[0].partition
    return {
        "$schema": RESOURCE_PROFILE,
        "name": meta.table,
        "type": "table",
        "path": paths,
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        **({"bytes": stream["bytes"], "hash": f"sha256:{stream['sha256']}"} if stream else {}),
        "title": f"{meta.title} — CSV, un archivo por mes",
        "description": (f"{plural(rows, 'fila', 'filas')} en "
                        f"{plural(len(parts), 'archivo mensual', 'archivos mensuales')} ({months}), "
                        f"cada uno con su encabezado."),
        "dialect": {"delimiter": ",", "quoteChar": '"', "header": True},
        "schema": meta.schema,
    }


def companion_resources(companion: DatasetMeta, files: dict[str, ReleaseFile],
                        path_of: Callable[[ReleaseFile], str]) -> list[dict[str, Any]]:
    """A dataset published whole beside the main one (compliance): its CSV as a tabular
    resource with its own schema, its Parquet described as a file."""
    out = []
    csv = files.get(layout.table_file(companion.table, "csv"))
    if csv is not None:
        out.append({
            "$schema": RESOURCE_PROFILE, "name": companion.table, "type": "table",
            "path": path_of(csv), "format": "csv", "mediatype": "text/csv", "encoding": "utf-8",
            "bytes": csv.bytes, "hash": f"sha256:{csv.sha256}",
            "title": f"{companion.title} — CSV",
            "description": (f"{companion.description} "
                            f"{plural(csv.rows or 0, 'fila', 'filas')}."),
            "dialect": {"delimiter": ",", "quoteChar": '"', "header": True},
            "schema": companion.schema,
        })
    parquet = files.get(layout.table_file(companion.table, "parquet"))
    if parquet is not None:
        out.append({
            "$schema": RESOURCE_PROFILE, "name": resource_name(parquet.path), "type": "file",
            "path": path_of(parquet), "format": "parquet", "mediatype": parquet.mediatype,
            "bytes": parquet.bytes, "hash": f"sha256:{parquet.sha256}",
            "title": f"{companion.title} — Parquet",
            "description": (f"Las mismas filas y columnas que {companion.table}.csv (esquema en "
                            f"el recurso «{companion.table}»), en Parquet."),
        })
    return out


def datapackage(meta: DatasetMeta, files: list[ReleaseFile], *, version: str, created: str,
                path_of: Callable[[ReleaseFile], str] = lambda f: f.path,
                extra: dict[str, Any] | None = None,
                csv_stream: dict[str, Any] | None = None) -> dict[str, Any]:
    parts = sorted((f for f in files if f.format == "csv" and f.partition),
                   key=lambda f: f.partition)
    resources = [monthly_csv(meta, parts, [path_of(f) for f in parts], csv_stream)] if parts else []
    by_path = {f.path: f for f in files}
    for companion in meta.companions:
        resources += companion_resources(companion, by_path, path_of)
    own = _companion_tables(meta)
    resources += [resource(meta, f, path_of(f)) for f in files
                  if f not in parts and f.path not in own]
    return {
        "$schema": PROFILE,
        "name": meta.name,
        "title": meta.title,
        "description": meta.description,
        "version": version,
        "created": created,
        "keywords": meta.keywords,
        "licenses": [meta.licence],
        "contributors": [{"title": meta.publisher["name"], "roles": ["publisher"],
                          **({"email": meta.publisher["email"]} if "email" in meta.publisher else {}),
                          **({"path": meta.publisher["path"]} if "path" in meta.publisher else {})}],
        "resources": resources,
        **(extra or {}),
    }


def _companion_tables(meta: DatasetMeta) -> set[str]:
    return {layout.table_file(c.table, fmt) for c in meta.companions for fmt in ("csv", "parquet")}
