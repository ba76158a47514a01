"""Two releases as a portal harvests them: every published dataset keeps one identifier, IRI
and landing page, each release is a version of it naming the previous one, and the documents
pass the official validators in `../shared/validators/` (DCAT-AP 3.0.0 SHACL shapes, DCAT-US
1.1 non-federal JSON Schema) and Frictionless.

The validators are part of the test, not an option: without the folder beside the repository
the tests fail, never skip."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import frictionless
import jsonschema
import pyshacl
import pytest
import rdflib
import referencing
import referencing.jsonschema
import yaml
from rdflib.namespace import DCTERMS, FOAF, RDF, SKOS

from pipeline.consolidation.visitas import database_path
from pipeline.publication import layout, vocabularies
from pipeline.publication.dataset import load_dataset
from pipeline.publication.dcat import catalog, data_json, discovery
from pipeline.publication.links import Links
from pipeline.publication.manifest import Manifest, ReleaseFile
from pipeline.publication.publisher import publish
from pipeline.publication.vocabularies import VocabularyError
from pipeline.storage.local import LocalStorage
from tests.publication_helpers import change_table, settings_for, write_table

ROOT = Path(__file__).resolve().parents[1]
VALIDATORS = ROOT.parent / "shared" / "validators"
BASE = "https://datos.example.gob.pe/visitas"
T1 = dt.datetime(2024, 2, 1, 12, 0, tzinfo=dt.UTC)
T2 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")
SPDX = rdflib.Namespace("http://spdx.org/rdf/terms#")
SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")
VCARD = rdflib.Namespace("http://www.w3.org/2006/vcard/ns#")
ADMS = rdflib.Namespace("http://www.w3.org/ns/adms#")
EU = vocabularies.EU


def validators() -> Path:
    """The official validation files; their absence fails the test (CI checks out ../shared
    beside the repository)."""
    if not (VALIDATORS / "dcat-ap-3.0.0" / "shapes.ttl").is_file():
        pytest.fail(f"Faltan los validadores oficiales en {VALIDATORS} (../shared/validators "
                    f"junto al repositorio): sin ellos no se puede comprobar lo publicado.")
    return VALIDATORS


@dataclass
class Harvest:
    """A published tree after two releases, and latest/'s documents as read after each."""

    root: Path
    #: the public base URL ("" for relative links)
    base: str
    first: str
    second: str
    #: document name -> bytes of latest/'s copy right after each release
    after_first: dict[str, bytes]
    after_second: dict[str, bytes]

    def documents(self, name: str) -> dict[str, tuple[bytes, str]]:
        """Every copy of a document the two releases wrote: label -> (bytes, its address)."""
        where = {"latest tras la 1.ª": layout.LATEST, "latest tras la 2.ª": layout.LATEST,
                 f"releases/{self.first}": layout.release_dir(self.first),
                 f"releases/{self.second}": layout.release_dir(self.second)}
        found = {}
        for label, folder in where.items():
            body = (self.after_first[name] if label.endswith("1.ª")
                    else self.after_second[name] if label.endswith("2.ª")
                    else (self.root / folder / name).read_bytes())
            address = (f"{self.base}/{folder}/{name}" if self.base
                       else (self.root / folder / name).as_uri())
            found[label] = (body, address)
        return found


DOCUMENTS = (layout.CATALOG, layout.DATA_JSON, layout.DATAPACKAGE, layout.INDEX)


def _harvest(root: Path, base_url: str) -> Harvest:
    settings = settings_for(root, public_base_url=base_url)
    db = database_path(settings)
    write_table(db)
    storage = LocalStorage(root / "publish")
    first = publish(settings, now=T1, storage=storage).version
    after_first = {n: storage.read_bytes(f"{layout.LATEST}/{n}") for n in DOCUMENTS}
    change_table(db)
    second = publish(settings, now=T2, storage=storage).version
    after_second = {n: storage.read_bytes(f"{layout.LATEST}/{n}") for n in DOCUMENTS}
    return Harvest(root / "publish", base_url, first, second, after_first, after_second)


@pytest.fixture(scope="module")
def harvest(tmp_path_factory: pytest.TempPathFactory) -> Harvest:
    """Two releases served at a public base URL, as a portal harvests them."""
    return _harvest(tmp_path_factory.mktemp("absoluto"), BASE)


@pytest.fixture(scope="module")
def relative(tmp_path_factory: pytest.TempPathFactory) -> Harvest:
    """Two releases without a public base URL (the local default): relative links."""
    return _harvest(tmp_path_factory.mktemp("sin-url"), "")


def _graph(body: bytes, address: str) -> rdflib.Graph:
    """The catalogue as a harvester reads it from `address` (relative IRIs resolve there)."""
    return rdflib.Graph().parse(data=body, format="json-ld", publicID=address)


def published_datasets(tree: Path, release: str) -> dict[str, str]:
    """name -> table of every dataset a release publishes: each table with its own schema in
    its Data Package, described by `datasets/<table>.yaml`."""
    package = json.loads((tree / layout.release_dir(release) / layout.DATAPACKAGE).read_bytes())
    tables = {r["name"] for r in package["resources"] if r.get("type") == "table"}
    names = {}
    for table in tables:
        data = yaml.safe_load((ROOT / "datasets" / f"{table}.yaml").read_text("utf-8"))
        names[data["name"]] = table
    assert {"visitas", "cumplimiento"} <= set(names.values())
    return names


def _identity(graph: rdflib.Graph, name: str) -> dict[str, Any]:
    (dataset,) = [d for d in graph.subjects(RDF.type, DCAT.Dataset)
                  if str(d).endswith(f"#{name}")]
    return {"iri": str(dataset), "identifier": str(graph.value(dataset, DCTERMS.identifier)),
            "landing page": str(graph.value(dataset, DCAT.landingPage))}


@pytest.mark.parametrize("tree", ["harvest", "relative"])
def test_every_dataset_keeps_its_identity_and_the_second_release_follows_the_first(
        tree: str, request: pytest.FixtureRequest) -> None:
    """What a portal keys a dataset on (identifier, IRI, landing page) is the same in every
    catalogue and data.json of both releases, latest/'s and each release's own; the second
    release is a version of each dataset naming the first as its previous version."""
    h: Harvest = request.getfixturevalue(tree)
    names = published_datasets(h.root, h.second)
    catalogues = {label: _graph(body, address)
                  for label, (body, address) in h.documents(layout.CATALOG).items()}
    for name in names:
        seen = {label: _identity(graph, name) for label, graph in catalogues.items()}
        assert len({json.dumps(i, sort_keys=True) for i in seen.values()}) == 1, seen
        identity = seen["latest tras la 2.ª"]
        assert "/releases/" not in json.dumps(identity), identity
        if tree == "harvest":
            assert identity["identifier"] == identity["iri"] == (
                f"{BASE}/latest/catalog.jsonld#{name}")
            assert identity["landing page"].startswith(f"{BASE}/latest/")
        else:
            assert identity["identifier"] == f"latest/catalog.jsonld#{name}"
            assert identity["iri"] == (h.root / "latest" / "catalog.jsonld").as_uri() + f"#{name}"
        # data.json names it alike, and the page's schema.org Dataset the main one
        if names[name] == "visitas":
            for label, (body, _address) in h.documents(layout.INDEX).items():
                ld = json.loads(body.decode().split('<script type="application/ld+json">')[1]
                                .split("</script>")[0])
                assert ld["identifier"] == identity["identifier"], label
        for label, (body, _address) in h.documents(layout.DATA_JSON).items():
            entries = [d for d in json.loads(body)["dataset"]
                       if d["identifier"] == identity["identifier"]]
            assert len(entries) == 1, (label, name)
            if tree == "harvest":
                assert entries[0]["landingPage"] == identity["landing page"], label

        # Versions: each catalogue says which release it describes; the second's names the first.
        dataset = rdflib.URIRef(identity["iri"])
        for label, release in (("latest tras la 1.ª", h.first), ("latest tras la 2.ª", h.second),
                               (f"releases/{h.first}", h.first),
                               (f"releases/{h.second}", h.second)):
            graph = catalogues[label]
            assert str(graph.value(dataset, DCAT.version)) == release, label
            current = graph.value(dataset, DCAT.hasCurrentVersion)
            assert str(current).endswith(f"releases/{release}/catalog.jsonld#{name}"), label
            assert (dataset, DCAT.hasVersion, current) in graph
            assert graph.value(current, DCTERMS.isVersionOf) == dataset
            assert str(graph.value(current, DCAT.version)) == release
        first_version = catalogues["latest tras la 1.ª"].value(dataset, DCAT.hasCurrentVersion)
        assert catalogues["latest tras la 1.ª"].value(first_version, DCAT.previousVersion) is None
        for label in ("latest tras la 2.ª", f"releases/{h.second}"):
            graph = catalogues[label]
            current = graph.value(dataset, DCAT.hasCurrentVersion)
            assert graph.value(current, DCAT.previousVersion) == first_version, label
            assert (dataset, DCAT.hasVersion, first_version) in graph
            notes = str(graph.value(dataset, ADMS.versionNotes))
            assert notes.startswith(f"Versión {h.second}") and h.first in notes, notes
        # the changelog's figures are the main dataset's version notes
        if names[name] == "visitas":
            notes = str(catalogues["latest tras la 2.ª"].value(dataset, ADMS.versionNotes))
            assert "4 filas agregadas, 5 modificadas y 3 retiradas" in notes, notes


@pytest.mark.parametrize("tree", ["harvest", "relative"])
def test_catalogues_pass_the_dcat_ap_shapes(tree: str, request: pytest.FixtureRequest) -> None:
    """No violation of DCAT-AP 3.0.0's shapes (shapes.ttl) nor of its class ranges (range.ttl)
    in any catalogue either release wrote."""
    h: Harvest = request.getfixturevalue(tree)
    shapes = rdflib.Graph()
    for name in ("shapes.ttl", "range.ttl"):
        shapes.parse(validators() / "dcat-ap-3.0.0" / name, format="turtle")
    for label, (body, address) in h.documents(layout.CATALOG).items():
        conforms, results, text = pyshacl.validate(_graph(body, address), shacl_graph=shapes)
        violations = list(results.subjects(SH.resultSeverity, SH.Violation))
        assert conforms and violations == [], f"{label}: {len(violations)} violaciones\n{text}"


def _non_federal() -> tuple[jsonschema.Validator, jsonschema.Validator]:
    """DCAT-US 1.1's non-federal dataset schema (its $refs resolved to the files beside it),
    and the catalogue schema for data.json's own top-level fields."""
    folder = validators() / "dcat-us-1.1-non-federal"
    schemas = {p.name: json.loads(p.read_text("utf-8")) for p in folder.glob("*.json")}
    registry = referencing.Registry().with_resources(
        (schema["id"].rstrip("#"), referencing.Resource.from_contents(
            schema, default_specification=referencing.jsonschema.DRAFT4))
        for schema in schemas.values())
    checker = jsonschema.Draft4Validator.FORMAT_CHECKER
    return (jsonschema.Draft4Validator(schemas["dataset-non-federal.json"], registry=registry,
                                       format_checker=checker),
            jsonschema.Draft4Validator(schemas["catalog.json"], registry=registry,
                                       format_checker=checker))


def test_data_json_datasets_are_valid_non_federal_dcat_us(harvest: Harvest) -> None:
    """Each dataset of each data.json is valid against the non-federal schema, and the
    catalogue's own fields against the catalogue schema (whose `dataset` refers to the
    federal schema: checked here with the non-federal one, entry by entry)."""
    dataset_schema, catalog_schema = _non_federal()
    names = published_datasets(harvest.root, harvest.second)
    for label, (body, _address) in harvest.documents(layout.DATA_JSON).items():
        doc = json.loads(body)
        assert len(doc["dataset"]) == len(names), label
        errors = [f"{d['identifier']}: {e.json_path}: {e.message}"
                  for d in doc["dataset"] for e in dataset_schema.iter_errors(d)]
        errors += [f"catálogo: {e.message}"
                   for e in catalog_schema.iter_errors({**doc, "dataset": []})]
        assert errors == [], f"{label}:\n" + "\n".join(errors)
    # The schema does refuse what DCAT-US forbids.
    entry = json.loads(harvest.after_second[layout.DATA_JSON])["dataset"][0]
    assert not dataset_schema.is_valid({**entry, "accessLevel": "abierto"})
    assert not dataset_schema.is_valid({**entry, "accrualPeriodicity": "diaria"})


def test_data_packages_are_valid_for_frictionless(harvest: Harvest) -> None:
    for folder in (layout.LATEST, layout.release_dir(harvest.first),
                   layout.release_dir(harvest.second)):
        report = frictionless.validate(str(harvest.root / folder / layout.DATAPACKAGE))
        assert report.valid, (folder, report.flatten(["type", "note"])[:10])


#: the lobbying datasets, published (empty) in every release beside the visits
LOBBYING = {"decisores-registro-visitas", "actos-gestion-intereses",
            "indicadores-gestion-intereses"}


def _local(h: Harvest, url: str) -> Path:
    assert url.startswith(f"{BASE}/"), url
    return h.root / url.removeprefix(f"{BASE}/")


def test_what_portals_show_and_search_by(harvest: Harvest) -> None:
    """Temporal and spatial coverage, theme, frequency, language, licence, contact point and
    publisher of every dataset; format, media type, size and sha256 of every distribution,
    matching the file it downloads: latest/'s stable files in latest/'s catalogue, the
    release's own in the release's."""
    h = harvest
    manifest = json.loads((h.root / "latest" / layout.MANIFEST).read_bytes())
    for label, (body, address) in h.documents(layout.CATALOG).items():
        if label == "latest tras la 1.ª":
            continue  # latest/ now holds the second release's files
        graph = _graph(body, address)
        folder = "latest" if label.startswith("latest") else label
        (catalogue,) = graph.subjects(RDF.type, DCAT.Catalog)
        assert set(graph.objects(catalogue, DCAT.dataset)) == set(
            graph.subjects(RDF.type, DCAT.Dataset))
        for dataset in graph.subjects(RDF.type, DCAT.Dataset):
            temporal = graph.value(dataset, DCTERMS.temporal)
            start, end = (str(graph.value(temporal, DCAT[p])) for p in ("startDate", "endDate"))
            if str(dataset).endswith("#registro-visitas"):
                assert (start, end) == (manifest["overview"]["desde"],
                                        manifest["overview"]["hasta"])
            elif str(dataset).endswith("#cumplimiento-registro-visitas"):  # months of visit
                assert (start, end) == ("2023-12", "2024-02")
            else:  # the lobbying datasets: no entity has a register here, no rows, no period
                assert str(dataset).rsplit("#", 1)[1] in LOBBYING
                assert temporal is None
            assert graph.value(dataset, DCTERMS.spatial) == rdflib.URIRef(f"{EU}/country/PER")
            assert list(graph.objects(dataset, DCAT.theme)) == [
                rdflib.URIRef(f"{EU}/data-theme/GOVE")]
            assert graph.value(dataset, DCTERMS.accrualPeriodicity) == rdflib.URIRef(
                f"{EU}/frequency/DAILY")
            assert graph.value(dataset, DCTERMS.language) == rdflib.URIRef(f"{EU}/language/SPA")
            licence = graph.value(dataset, DCTERMS.license)
            assert (licence, RDF.type, DCTERMS.LicenseDocument) in graph
            contact = graph.value(dataset, DCAT.contactPoint)
            assert str(graph.value(contact, VCARD.hasEmail)) == "mailto:datosabiertos@integridad.gob.pe"
            assert str(graph.value(graph.value(dataset, DCTERMS.publisher), FOAF.name)) == (
                "Secretaría de Integridad Pública")
            landing = graph.value(dataset, DCAT.landingPage)
            assert _local(h, str(landing)).is_file()
            distributions = list(graph.objects(dataset, DCAT.distribution))
            assert distributions, dataset
            for d in distributions:
                url = str(graph.value(d, DCAT.downloadURL))
                assert url.startswith(f"{BASE}/{folder}/"), url
                body = _local(h, url).read_bytes()
                assert int(graph.value(d, DCAT.byteSize)) == len(body), url
                checksum = graph.value(d, SPDX.checksum)
                assert graph.value(checksum, SPDX.algorithm) == SPDX.checksumAlgorithm_sha256
                assert str(graph.value(checksum, SPDX.checksumValue)) == hashlib.sha256(
                    body).hexdigest(), url
                assert str(graph.value(d, DCTERMS["format"])).startswith(f"{EU}/file-type/")
                media = str(graph.value(d, DCAT.mediaType))
                assert media.startswith(f"{vocabularies.IANA}/"), media
                assert graph.value(graph.value(d, DCTERMS["format"]), SKOS.prefLabel) is not None
    # data.json: the same, as DCAT-US says it
    entry = json.loads(h.after_second[layout.DATA_JSON])["dataset"][0]
    assert (entry["temporal"], entry["spatial"], entry["accrualPeriodicity"], entry["theme"],
            entry["language"]) == (
        f"{manifest['overview']['desde']}/{manifest['overview']['hasta']}", "Perú", "R/P1D",
        ["Gobierno y sector público"], ["es"])
    assert entry["issued"] == "2024-02-01T12:00:00Z" and entry["modified"] == "2024-03-01T12:00:00Z"


def test_a_companion_is_a_dataset_of_its_own_without_code_for_it(harvest: Harvest) -> None:
    """Any companion the release publishes (`DatasetMeta.companions`) is its own dataset in
    both catalogues, from its own YAML metadata: here a third table, invented for the test."""
    visitas = load_dataset(ROOT / "datasets", "visitas")
    compliance = load_dataset(ROOT / "datasets", "cumplimiento")
    invented = replace(compliance, name="sanciones-registro-visitas", table="sanciones",
                       title="Registro de Visitas en Línea: sanciones por no registrar visitas",
                       description="Sanciones impuestas a cada entidad.",
                       extra={"themes": ["JUST"]})
    meta = replace(visitas, companions=(compliance, invented))
    manifest = Manifest.from_json((harvest.root / "latest" / layout.MANIFEST).read_bytes())
    manifest.files += [ReleaseFile("sanciones.csv", "csv", 10, "a" * 64, rows=2),
                       ReleaseFile("sanciones.parquet", "parquet", 20, "b" * 64, rows=2)]
    manifest.datasets = {}  # as a release that recorded no versions: told from its files
    links = Links(BASE, manifest.id, from_latest=True)
    graph = rdflib.Graph().parse(data=json.dumps(catalog(meta, manifest, links)),
                                 format="json-ld")
    dataset = rdflib.URIRef(f"{BASE}/latest/catalog.jsonld#sanciones-registro-visitas")
    assert len(set(graph.subjects(RDF.type, DCAT.Dataset))) == 3
    assert {str(graph.value(d, DCAT.downloadURL))
            for d in graph.objects(dataset, DCAT.distribution)} == {
        f"{BASE}/latest/sanciones.csv", f"{BASE}/latest/sanciones.parquet"}
    # its own theme, the main dataset's frequency where its YAML says nothing
    assert list(graph.objects(dataset, DCAT.theme)) == [rdflib.URIRef(f"{EU}/data-theme/JUST")]
    assert graph.value(dataset, DCTERMS.accrualPeriodicity) == rdflib.URIRef(
        f"{EU}/frequency/DAILY")
    assert str(graph.value(dataset, DCAT.landingPage)) == f"{BASE}/latest/index.html"
    shapes = rdflib.Graph()
    for name in ("shapes.ttl", "range.ttl"):
        shapes.parse(validators() / "dcat-ap-3.0.0" / name, format="turtle")
    conforms, _results, text = pyshacl.validate(graph, shacl_graph=shapes)
    assert conforms, text
    entries = data_json(meta, manifest, links)["dataset"]
    assert [e["identifier"] for e in entries][-1] == str(dataset)
    dataset_schema, _ = _non_federal()
    assert [e.message for e in dataset_schema.iter_errors(entries[-1])] == []


def test_a_code_outside_its_vocabulary_is_refused_with_the_valid_ones() -> None:
    visitas = load_dataset(ROOT / "datasets", "visitas")
    wrong = replace(visitas, extra={**visitas.extra, "accrual_periodicity": "diaria"})
    with pytest.raises(VocabularyError, match=r"accrual_periodicity: 'diaria' en "
                                              r"datasets/visitas.yaml .*DAILY"):
        discovery(wrong, wrong)
