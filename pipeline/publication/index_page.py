"""`index.html`: the Spanish landing page of a release, with schema.org `Dataset` JSON-LD so
search engines and Google Dataset Search list every file."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import Any

from pipeline.publication.dataset import DatasetMeta
from pipeline.publication.manifest import ReleaseFile

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
    e = html.escape
    ld = json.dumps(schema_org(meta, files, version=version, modified=modified, link=link),
                    ensure_ascii=False, indent=1).replace("</", "<\\/")
    rows = "\n".join(
        f'<tr><td><a href="{e(link(f.path))}">{e(f.path)}</a></td><td>{e(f.format.upper())}</td>'
        f'<td>{f.rows if f.rows is not None else ""}</td><td>{f.bytes}</td>'
        f'<td><code>{f.sha256}</code></td></tr>'
        for f in files)
    previous = (f'<p>Versión anterior: <a href="{e(previous_link)}">{e(previous_link)}</a></p>'
                if previous_link else "<p>Primera versión publicada.</p>")
    return f"""<!DOCTYPE html>
<html lang="es">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(meta.title)} — versión {e(version)}</title>
<script type="application/ld+json">
{ld}
</script>
</head>
<body>
<h1>{e(meta.title)}</h1>
<p>{e(meta.description)}</p>
<p>Versión <strong>{e(version)}</strong>, publicada el {e(modified)}.
Licencia: <a href="{e(meta.licence['path'])}">{e(meta.licence.get('title', meta.licence['name']))}</a>.
Publica: {e(meta.publisher['name'])}.</p>
{previous}
<p>Cambios respecto de la versión anterior: {totals.get('agregadas', 0)} filas agregadas,
{totals.get('modificadas', 0)} modificadas y {totals.get('retiradas', 0)} retiradas
(<a href="{e(link('CAMBIOS.md'))}">CAMBIOS.md</a>, <a href="{e(link('changes.json'))}">changes.json</a>).</p>
<p>Metadatos: <a href="{e(link('datapackage.json'))}">datapackage.json</a> (Data Package),
<a href="{e(link('catalog.jsonld'))}">catalog.jsonld</a> (DCAT-AP),
<a href="{e(link('data.json'))}">data.json</a> (DCAT-US).</p>
<h2>Archivos</h2>
<table>
<thead><tr><th>Archivo</th><th>Formato</th><th>Filas</th><th>Bytes</th><th>SHA-256</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
</body>
</html>
"""
