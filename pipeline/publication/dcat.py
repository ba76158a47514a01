"""Catalogue metadata for harvesters: DCAT-AP 3 in JSON-LD and DCAT-US 1.1 `data.json`.

DKAN-based portals (Peru's national portal among them) harvest `data.json`; European and
CKAN harvesters read DCAT-AP. Both point at the immutable files of one release, so whatever
a harvester reads is a whole release even while the next one is being written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipeline.publication.dataset import DatasetMeta
from pipeline.publication.manifest import ReleaseFile

CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "spdx": "http://spdx.org/rdf/terms#",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "owl": "http://www.w3.org/2002/07/owl#",
    "adms": "http://www.w3.org/ns/adms#",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
DCAT_AP = "http://data.europa.eu/r5r/"
FREQUENCY = "http://publications.europa.eu/resource/authority/frequency/DAILY"
LANGUAGE = "http://publications.europa.eu/resource/authority/language/SPA"

Link = Callable[[str], str]


def _literal(value: str, datatype: str) -> dict[str, str]:
    return {"@value": value, "@type": datatype}


def _distribution(meta: DatasetMeta, f: ReleaseFile, link: Link, schema_url: str) -> dict[str, Any]:
    return {
        "@id": link(f.path),
        "@type": "dcat:Distribution",
        "dct:title": {"@value": f"{meta.title} — {f.partition or f.path} ({f.format.upper()})",
                      "@language": "es"},
        "dcat:downloadURL": {"@id": link(f.path)},
        "dcat:accessURL": {"@id": link(f.path)},
        "dcat:mediaType": {"@id": f"http://www.iana.org/assignments/media-types/{f.mediatype}"},
        "dct:format": f.format.upper(),
        "dcat:byteSize": _literal(str(f.bytes), "xsd:nonNegativeInteger"),
        "spdx:checksum": {
            "@type": "spdx:Checksum",
            "spdx:algorithm": {"@id": "spdx:checksumAlgorithm_sha256"},
            "spdx:checksumValue": _literal(f.sha256, "xsd:hexBinary"),
        },
        "dct:license": {"@id": meta.licence["path"]},
        "dct:conformsTo": {"@id": schema_url},
    }


def catalog(meta: DatasetMeta, files: list[ReleaseFile], *, version: str, modified: str,
            link: Link, previous_link: str | None, schema_path: str) -> dict[str, Any]:
    """DCAT-AP 3 catalogue of one release, as a JSON-LD document."""
    dataset_id = link("") + "#dataset"
    schema_url = link(schema_path)
    dataset: dict[str, Any] = {
        "@id": dataset_id,
        "@type": "dcat:Dataset",
        "dct:identifier": f"{meta.name}/{version}",
        "dct:title": {"@value": meta.title, "@language": "es"},
        "dct:description": {"@value": meta.description, "@language": "es"},
        "dcat:keyword": [{"@value": k, "@language": "es"} for k in meta.keywords],
        "dct:publisher": {"@type": "foaf:Agent", "foaf:name": meta.publisher["name"],
                          **({"foaf:homepage": {"@id": meta.publisher["path"]}}
                             if "path" in meta.publisher else {})},
        "dcat:contactPoint": {"@type": "vcard:Kind", "vcard:fn": meta.publisher["name"],
                              **({"vcard:hasEmail": {"@id": f"mailto:{meta.publisher['email']}"}}
                                 if "email" in meta.publisher else {})},
        "dct:license": {"@id": meta.licence["path"]},
        "dct:modified": _literal(modified, "xsd:dateTime"),
        "dct:issued": _literal(modified, "xsd:dateTime"),
        "dct:language": {"@id": LANGUAGE},
        "dct:accrualPeriodicity": {"@id": FREQUENCY},
        "dct:conformsTo": {"@id": schema_url},
        "dcat:version": version,
        "owl:versionInfo": version,
        "dcat:distribution": [_distribution(meta, f, link, schema_url) for f in files],
    }
    if previous_link:
        dataset["dcat:previousVersion"] = {"@id": previous_link + "#dataset"}
        dataset["adms:versionNotes"] = {"@value": "Ver changes.json y CAMBIOS.md.", "@language": "es"}
    return {
        "@context": CONTEXT,
        "@graph": [
            {
                "@id": link("") + "#catalog",
                "@type": "dcat:Catalog",
                "dct:title": {"@value": f"Catálogo: {meta.title}", "@language": "es"},
                "dct:description": {"@value": meta.description, "@language": "es"},
                "dct:publisher": {"@type": "foaf:Agent", "foaf:name": meta.publisher["name"]},
                "dct:modified": _literal(modified, "xsd:dateTime"),
                "dct:conformsTo": {"@id": DCAT_AP},
                "dct:license": {"@id": meta.licence["path"]},
                "dcat:dataset": {"@id": dataset_id},
            },
            dataset,
        ],
    }


def data_json(meta: DatasetMeta, files: list[ReleaseFile], *, version: str, modified: str,
              link: Link, schema_path: str) -> dict[str, Any]:
    """DCAT-US 1.1 catalogue (`data.json`), the format DKAN portals harvest."""
    publisher = meta.publisher
    return {
        "@context": "https://project-open-data.cio.gov/v1.1/schema/catalog.jsonld",
        "@id": link("data.json"),
        "@type": "dcat:Catalog",
        "conformsTo": "https://project-open-data.cio.gov/v1.1/schema",
        "describedBy": "https://project-open-data.cio.gov/v1.1/schema/catalog.json",
        "dataset": [{
            "@type": "dcat:Dataset",
            "title": meta.title,
            "description": meta.description,
            "keyword": meta.keywords,
            "modified": modified,
            "publisher": {"@type": "org:Organization", "name": publisher["name"]},
            "contactPoint": {"@type": "vcard:Contact", "fn": publisher["name"],
                             "hasEmail": f"mailto:{publisher.get('email', '')}"},
            "identifier": f"{meta.name}/{version}",
            "accessLevel": "public",
            "license": meta.licence["path"],
            "rights": meta.licence.get("title", meta.licence["name"]),
            "spatial": str(meta.extra.get("spatial", "Perú")),
            "accrualPeriodicity": "R/P1D",
            "language": [str(meta.extra.get("language", "es"))],
            "landingPage": link("index.html"),
            "describedBy": link(schema_path),
            "describedByType": "application/json",
            "conformsTo": link(schema_path),
            "distribution": [{
                "@type": "dcat:Distribution",
                "title": f"{f.partition or f.path} ({f.format.upper()})",
                "downloadURL": link(f.path),
                "mediaType": f.mediatype,
                "format": f.format.upper(),
                **({"conformsTo": link(schema_path), "describedBy": link(schema_path)}
                   if f.partition else {}),
            } for f in files],
        }],
    }
