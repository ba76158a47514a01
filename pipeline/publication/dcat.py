"""Catalogue metadata for harvesters: DCAT-AP 3 in JSON-LD and DCAT-US 1.1 `data.json`.

DKAN-based portals (Peru's national portal among them) harvest `data.json`; European and
CKAN harvesters read DCAT-AP. Both key a dataset on its identifier, so every dataset a release
publishes (the main one and each companion) is one entry with an identity that no release
changes (`pipeline.publication.links`): the portal updates it in place at each release
instead of adding a copy.

Each release is a version of each dataset (DCAT 3 versioning): the dataset carries
`dcat:version` (the release id), `adms:versionNotes` and `dcat:hasCurrentVersion`; the version,
`<release>/catalog.jsonld#<name>`, names its `dcat:previousVersion`. Versions are not typed
`dcat:Dataset`: harvesters take every `dcat:Dataset` in the graph for a dataset to list, which
is what a stable identity avoids.

latest/'s documents name the stable download URLs under latest/; a release's own documents
name its immutable files, so whatever a harvester reads names whole files even while the next
release is being written. Every value whose range DCAT-AP constrains carries its class (the
official shapes in `../shared/validators/` check it), from the EU vocabularies of
`pipeline.publication.vocabularies`.
"""

from __future__ import annotations

import re
from typing import Any

from pipeline.publication import published, vocabularies
from pipeline.publication.dataset import DatasetMeta
from pipeline.publication.links import Links
from pipeline.publication.manifest import Manifest, ReleaseFile
from pipeline.publication.vocabularies import Discovery
from pipeline.spanish import plural

CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "spdx": "http://spdx.org/rdf/terms#",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "adms": "http://www.w3.org/ns/adms#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "dcatap": "http://data.europa.eu/r5r/",
}
DCAT_AP = "http://data.europa.eu/r5r/"
#: DCAT-US wants this catalogue's own schema named
DCAT_US = "https://project-open-data.cio.gov/v1.1/schema"


def _es(text: str) -> dict[str, str]:
    return {"@value": text, "@language": "es"}


def _literal(value: str, datatype: str) -> dict[str, str]:
    return {"@value": value, "@type": datatype}


def _when(value: str) -> dict[str, str]:
    """A date or time as DCAT-AP types it: a year and month, a date, or a date and time."""
    if re.fullmatch(r"\d{4}-\d{2}", value):
        return _literal(value, "xsd:gYearMonth")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return _literal(value, "xsd:date")
    return _literal(value, "xsd:dateTime")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _concept(iri: str, types: list[str], label: str) -> dict[str, Any]:
    return {"@id": iri, "@type": ["skos:Concept", *types], "skos:prefLabel": _es(label)}


def _licence(meta: DatasetMeta) -> dict[str, Any]:
    return {"@id": meta.licence["path"], "@type": "dct:LicenseDocument",
            "dct:title": meta.licence.get("title", meta.licence["name"])}


def _standard(iri: str) -> dict[str, Any]:
    return {"@id": iri, "@type": "dct:Standard"}


def _publisher(meta: DatasetMeta) -> dict[str, Any]:
    publisher = meta.publisher
    return {"@type": ["foaf:Agent", "foaf:Organization"], "foaf:name": publisher["name"],
            **({"foaf:homepage": {"@id": publisher["path"], "@type": "foaf:Document"}}
               if "path" in publisher else {})}


def _contact(meta: DatasetMeta) -> dict[str, Any]:
    publisher = meta.publisher
    return {"@type": ["vcard:Kind", "vcard:Organization"], "vcard:fn": publisher["name"],
            **({"vcard:hasEmail": {"@id": f"mailto:{publisher['email']}"}}
               if "email" in publisher else {}),
            **({"vcard:hasURL": {"@id": publisher["path"]}} if "path" in publisher else {})}


def discovery(meta: DatasetMeta, dataset: DatasetMeta) -> Discovery:
    """The vocabulary codes of `dataset`, a companion taking the main dataset's where its
    YAML says nothing."""
    fallback = meta.extra if dataset.name != meta.name else {}
    return Discovery.of(dataset.extra, fallback, f"datasets/{dataset.table}.yaml")


def _distribution(dataset: DatasetMeta, f: ReleaseFile, link: Links,
                  schema_url: str) -> dict[str, Any]:
    kind = vocabularies.file_type(f.format)
    rows = "" if f.rows is None else f"{plural(f.rows, 'fila', 'filas')} "
    packed = " comprimido con gzip" if kind.compress else ""
    # latest/'s URLs hold the current version for good; a release's, until retention
    availability = "STABLE" if link.from_latest else "AVAILABLE"
    return {
        "@id": link(f.path),
        "@type": "dcat:Distribution",
        "dct:title": _es(f"{dataset.title} — {f.partition or f.path} ({kind.label})"),
        "dct:description": _es(_sentence(f"{rows}de {dataset.table} ({f.partition or f.path}), "
                                         f"en {kind.label}{packed}.")),
        "dcatap:availability": _concept(vocabularies.iri("planned-availability", availability),
                                        [], vocabularies.AVAILABILITY[availability]),
        "dcat:downloadURL": {"@id": link(f.path)},
        "dcat:accessURL": {"@id": link(f.path)},
        "dcat:mediaType": {"@id": vocabularies.media_type(kind.media_type),
                           "@type": "dct:MediaType"},
        **({"dcat:compressFormat": {"@id": vocabularies.media_type(kind.compress),
                                    "@type": "dct:MediaType"}} if kind.compress else {}),
        "dct:format": _concept(vocabularies.iri("file-type", kind.code),
                               ["dct:MediaTypeOrExtent"], kind.code),
        # DCAT-AP 3.0's shapes want a decimal (DCAT 3 itself says nonNegativeInteger)
        "dcat:byteSize": _literal(str(f.bytes), "xsd:decimal"),
        "spdx:checksum": {
            "@type": "spdx:Checksum",
            "spdx:algorithm": {"@id": "spdx:checksumAlgorithm_sha256"},
            "spdx:checksumValue": _literal(f.sha256, "xsd:hexBinary"),
        },
        "dct:license": _licence(dataset),
        "dct:conformsTo": _standard(schema_url),
    }


def _dataset(meta: DatasetMeta, dataset: DatasetMeta, manifest: Manifest, version: published.Version,
             links: Links) -> dict[str, Any]:
    codes = discovery(meta, dataset)
    schema_url = links(dataset.schema_path.name)
    current = links.version(dataset.name, manifest.id)
    node: dict[str, Any] = {
        "@id": links.dataset(dataset.name),
        "@type": "dcat:Dataset",
        "dct:identifier": links.identifier(dataset.name),
        "dct:title": _es(dataset.title),
        "dct:description": _es(dataset.description),
        "dcat:keyword": [_es(k) for k in dataset.keywords],
        "dcat:theme": [_concept(vocabularies.iri("data-theme", code), [],
                                vocabularies.THEMES[code]) for code in codes.themes],
        "dct:publisher": _publisher(dataset),
        "dcat:contactPoint": _contact(dataset),
        "dct:license": _licence(dataset),
        "dct:accessRights": {"@id": vocabularies.PUBLIC_ACCESS, "@type": "dct:RightsStatement"},
        "dct:issued": _when(version.issued),
        "dct:modified": _when(version.modified),
        "dct:conformsTo": _standard(schema_url),
        "dcat:landingPage": {"@id": links.stable(published.page(meta, dataset, manifest.files)),
                             "@type": "foaf:Document"},
        "dcat:version": manifest.id,
        # what DCAT-AP 2 harvesters (older ckanext-dcat profiles) read as the version
        "owl:versionInfo": manifest.id,
        "adms:versionNotes": _es(version.notes),
        "dcat:hasCurrentVersion": {"@id": current},
        "dcat:hasVersion": [{"@id": current}] + (
            [{"@id": links.version(dataset.name, version.previous)}] if version.previous else []),
        "dcat:distribution": [_distribution(dataset, f, links, schema_url)
                              for f in published.data_files(meta, dataset, manifest.files)],
    }
    if codes.frequency:
        node["dct:accrualPeriodicity"] = _concept(
            vocabularies.iri("frequency", codes.frequency), ["dct:Frequency"],
            vocabularies.FREQUENCIES[codes.frequency].label)
    if codes.spatial:
        node["dct:spatial"] = {"@id": vocabularies.iri("country", codes.spatial),
                               "@type": "dct:Location",
                               "skos:prefLabel": _es(vocabularies.COUNTRIES[codes.spatial])}
    if codes.language:
        node["dct:language"] = {"@id": vocabularies.iri("language", codes.language),
                                "@type": "dct:LinguisticSystem"}
    if version.start and version.end:
        node["dct:temporal"] = {"@type": "dct:PeriodOfTime",
                                "dcat:startDate": _when(version.start),
                                "dcat:endDate": _when(version.end)}
    return node


def _versions(meta: DatasetMeta, dataset: DatasetMeta, manifest: Manifest,
              version: published.Version, links: Links) -> list[dict[str, Any]]:
    """The release as a version of `dataset`, and the previous one it follows."""
    stable = {"@id": links.dataset(dataset.name)}
    current = {
        "@id": links.version(dataset.name, manifest.id),
        "dct:isVersionOf": stable,
        "dcat:version": manifest.id,
        "dct:issued": _when(manifest.created),
        "adms:versionNotes": _es(version.notes),
        # the release's own page and files, which never change
        "foaf:page": {"@id": links.release(manifest.id)
                      + published.page(meta, dataset, manifest.files)},
    }
    if not version.previous:
        return [current]
    current["dcat:previousVersion"] = {"@id": links.version(dataset.name, version.previous)}
    return [current, {"@id": links.version(dataset.name, version.previous),
                      "dct:isVersionOf": stable, "dcat:version": version.previous}]


def catalog(meta: DatasetMeta, manifest: Manifest, links: Links,
            totals: dict[str, int] | None = None) -> dict[str, Any]:
    """DCAT-AP 3 catalogue of one release, as a JSON-LD document: one `dcat:Dataset` per
    dataset it publishes (`totals`: the changelog's, for a release that recorded no
    versions)."""
    versions = published.recorded(meta, manifest, totals)
    shown = [d for d in published.datasets(meta) if d.name in versions]
    nodes = [_dataset(meta, d, manifest, versions[d.name], links) for d in shown]
    history = [v for d in shown for v in _versions(meta, d, manifest, versions[d.name], links)]
    codes = discovery(meta, meta)
    catalogue: dict[str, Any] = {
        "@id": links.catalogue(),
        "@type": "dcat:Catalog",
        "dct:title": _es(f"Catálogo: {meta.title}"),
        "dct:description": _es(meta.description),
        "dct:publisher": _publisher(meta),
        "dct:modified": _when(manifest.created),
        "dct:conformsTo": _standard(DCAT_AP),
        "dct:license": _licence(meta),
        "foaf:homepage": {"@id": links.stable(published.page(meta, meta, manifest.files)),
                          "@type": "foaf:Document"},
        "dcat:themeTaxonomy": {"@id": vocabularies.THEME_SCHEME, "@type": "skos:ConceptScheme",
                               "dct:title": _es("Temas de datos (vocabulario de la UE)")},
        "dcat:dataset": [{"@id": node["@id"]} for node in nodes],
    }
    if codes.language:
        catalogue["dct:language"] = {"@id": vocabularies.iri("language", codes.language),
                                     "@type": "dct:LinguisticSystem"}
    if codes.spatial:
        catalogue["dct:spatial"] = {"@id": vocabularies.iri("country", codes.spatial),
                                    "@type": "dct:Location"}
    return {"@context": CONTEXT, "@graph": [catalogue, *nodes, *history]}


def data_json(meta: DatasetMeta, manifest: Manifest, links: Links,
              totals: dict[str, int] | None = None) -> dict[str, Any]:
    """DCAT-US 1.1 catalogue (`data.json`), the format DKAN portals harvest: one entry per
    dataset, keyed on the same stable identifier as the DCAT catalogue."""
    versions = published.recorded(meta, manifest, totals)
    return {
        "@context": "https://project-open-data.cio.gov/v1.1/schema/catalog.jsonld",
        "@id": links("data.json"),
        "@type": "dcat:Catalog",
        "conformsTo": DCAT_US,
        "describedBy": "https://project-open-data.cio.gov/v1.1/schema/catalog.json",
        "dataset": [_us_dataset(meta, d, manifest, versions[d.name], links)
                    for d in published.datasets(meta) if d.name in versions],
    }


def _us_dataset(meta: DatasetMeta, dataset: DatasetMeta, manifest: Manifest,
                version: published.Version, links: Links) -> dict[str, Any]:
    codes = discovery(meta, dataset)
    publisher = dataset.publisher
    schema_url = links(dataset.schema_path.name)
    entry: dict[str, Any] = {
        "@type": "dcat:Dataset",
        "identifier": links.identifier(dataset.name),
        "title": dataset.title,
        "description": dataset.description,
        "keyword": dataset.keywords,
        "issued": version.issued,
        "modified": version.modified,
        "publisher": {"@type": "org:Organization", "name": publisher["name"]},
        "contactPoint": {"@type": "vcard:Contact", "fn": publisher["name"],
                         **({"hasEmail": f"mailto:{publisher['email']}"}
                            if "email" in publisher else {})},
        "accessLevel": "public",
        "license": dataset.licence["path"],
        "rights": dataset.licence.get("title", dataset.licence["name"]),
        "landingPage": links.stable(published.page(meta, dataset, manifest.files)),
        "describedBy": schema_url,
        "describedByType": "application/json",
        "conformsTo": schema_url,
        # this release's own page and changes: the version the entry describes
        "references": [links.release(manifest.id) + published.page(meta, dataset, manifest.files)],
        "distribution": [{
            "@type": "dcat:Distribution",
            "title": f"{f.partition or f.path} ({vocabularies.file_type(f.format).label})",
            "downloadURL": links(f.path),
            "mediaType": f.mediatype,
            "format": vocabularies.file_type(f.format).label,
            **({"conformsTo": schema_url, "describedBy": schema_url,
                "describedByType": "application/json"}
               if f.format in ("csv", "csv.gz") else {}),
        } for f in published.data_files(meta, dataset, manifest.files)],
    }
    if codes.themes:
        entry["theme"] = [vocabularies.THEMES[code] for code in codes.themes]
    if codes.frequency:
        entry["accrualPeriodicity"] = vocabularies.FREQUENCIES[codes.frequency].iso
    if codes.spatial:
        entry["spatial"] = vocabularies.COUNTRIES[codes.spatial]
    if codes.language:
        entry["language"] = [vocabularies.LANGUAGES[codes.language].code]
    if version.start and version.end:
        entry["temporal"] = f"{version.start}/{version.end}"
    return entry
