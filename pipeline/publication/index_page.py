"""`index.html`: the Spanish landing page of a release, with schema.org `Dataset` JSON-LD so
search engines and Google Dataset Search list every file. The page is laid out by
`templates/index.html`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipeline.publication import layout
from pipeline.publication.dataset import DatasetMeta
from pipeline.publication.manifest import ReleaseFile
from pipeline.templates import render

Link = Callable[[str], str]


def schema_org(meta: DatasetMeta, files: list[ReleaseFile], *, version: str, modified: str,
               link: Link) -> dict[str, Any]:
    return {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "name": meta.title,
        "description": meta.description,
        "keywords": meta.keywords,
        "license": meta.licence["path"],
        "version": version,
        "dateModified": modified,
        "inLanguage": "es",
        "isAccessibleForFree": True,
        "creator": {"@type": "Organization", "name": meta.publisher["name"]},
        "publisher": {"@type": "Organization", "name": meta.publisher["name"]},
        "distribution": [{"@type": "DataDownload", "name": f.path, "contentUrl": link(f.path),
                          "encodingFormat": f.mediatype, "contentSize": f"{f.bytes} B",
                          "sha256": f.sha256} for f in files],
    }


def index_html(meta: DatasetMeta, files: list[ReleaseFile], *, version: str, modified: str,
               link: Link, previous_link: str | None, totals: dict[str, int]) -> str:
    return render(
        "index.html",
        meta=meta,
        version=version,
        modified=modified,
        dataset_ld=schema_org(meta, files, version=version, modified=modified, link=link),
        licence_link=meta.licence["path"],
        licence_title=meta.licence.get("title", meta.licence["name"]),
        previous_link=previous_link,
        changes={kind: totals.get(kind, 0) for kind in ("agregadas", "modificadas", "retiradas")},
        links={"changes_md": link(layout.CHANGES_MD), "changes": link(layout.CHANGES),
               "datapackage": link(layout.DATAPACKAGE), "catalog": link(layout.CATALOG),
               "data_json": link(layout.DATA_JSON)},
        files=[(link(f.path), f) for f in files],
    )
