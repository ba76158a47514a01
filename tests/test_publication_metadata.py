"""Harvester metadata of a release: Data Package, DCAT-AP JSON-LD, DCAT-US data.json, and
the landing page rendered in headless Chromium."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import jsonschema
import pytest
import rdflib
from rdflib.namespace import DCTERMS, OWL, RDF

from pipeline.consolidation.visitas import database_path
from pipeline.publication import layout
from pipeline.publication.dataset import load_dataset
from pipeline.publication.index_page import index_html
from pipeline.publication.manifest import Manifest, ReleaseFile
from pipeline.publication.publisher import publish
from pipeline.storage.local import LocalStorage
from pipeline.storage.s3 import S3Storage
from tests import chromium
from tests.dom import parse
from tests.publication_helpers import change_table, settings_for, write_table
from tests.s3server import S3Server

BASE = "https://datos.example.gob.pe/visitas"
SPDX = rdflib.Namespace("http://spdx.org/rdf/terms#")
# DCAT 3 terms (version, previousVersion) that rdflib's closed DCAT namespace lacks.
DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")
DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[1]
T1 = dt.datetime(2024, 2, 1, 12, 0, tzinfo=dt.UTC)
T2 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def two_releases_s3(tmp_path: Path, s3_env: S3Server, s3_bucket: str) -> tuple[S3Storage, str, str]:
    settings = settings_for(tmp_path, public_base_url=BASE)
    db = database_path(settings)
    write_table(db)
    storage = S3Storage(s3_bucket, "pub")
    first = publish(settings, now=T1, storage=storage)
    change_table(db)
    second = publish(settings, now=T2, storage=storage)
    return storage, first.version, second.version


@pytest.mark.s3
def test_dcat_catalog_parses_and_carries_the_properties(two_releases_s3: tuple[S3Storage, str, str]) -> None:
    storage, first, second = two_releases_s3
    manifest = json.loads(storage.read_bytes("latest/release.json"))
    # latest/'s catalogue names the stable URLs under latest/, the release's its own files.
    for directory in ("latest", f"releases/{second}"):
        graph = rdflib.Graph().parse(data=storage.read_bytes(f"{directory}/catalog.jsonld"),
                                     format="json-ld")
        # one dataset per published dataset (visits, compliance and the lobbying datasets),
        # each named the same in every document of every release; the release is a version
        ds = rdflib.URIRef(f"{BASE}/latest/catalog.jsonld#registro-visitas")
        assert set(graph.subjects(RDF.type, DCAT.Dataset)) == {
            ds, *(rdflib.URIRef(f"{BASE}/latest/catalog.jsonld#{name}")
                  for name in ("cumplimiento-registro-visitas", "decisores-registro-visitas",
                               "actos-gestion-intereses", "indicadores-gestion-intereses"))}
        assert (None, DCAT.dataset, ds) in graph
        for prop in (DCTERMS.license, DCTERMS.modified, DCTERMS.conformsTo, DCAT.version,
                     OWL.versionInfo, DCTERMS.title, DCTERMS.publisher):
            assert graph.value(ds, prop) is not None, prop
        current = graph.value(ds, DCAT.hasCurrentVersion)
        assert str(current) == f"{BASE}/releases/{second}/catalog.jsonld#registro-visitas"
        assert str(graph.value(current, DCAT.previousVersion)) == (
            f"{BASE}/releases/{first}/catalog.jsonld#registro-visitas")
        dists = list(graph.objects(ds, DCAT.distribution))
        data_files = [f for f in manifest["files"] if f["partition"]]
        by_url = {str(graph.value(d, DCAT.downloadURL)): d for d in dists}
        for f in data_files:
            d = by_url[f"{BASE}/{directory}/{f['path']}"]
            assert int(graph.value(d, DCAT.byteSize)) == f["bytes"]
            assert graph.value(d, DCAT.mediaType) is not None
            checksum = graph.value(d, SPDX.checksum)
            assert str(graph.value(checksum, SPDX.checksumValue)) == f["sha256"]
            assert graph.value(checksum, SPDX.algorithm) == SPDX.checksumAlgorithm_sha256
            assert graph.value(d, DCTERMS.license) is not None


@pytest.mark.s3
def test_data_json_validates_against_dcat_us(two_releases_s3: tuple[S3Storage, str, str]) -> None:
    storage, _, second = two_releases_s3
    schema = json.loads((DATA / "dcat-us-1.1.schema.json").read_text(encoding="utf-8"))
    for directory in ("latest", f"releases/{second}"):
        doc = json.loads(storage.read_bytes(f"{directory}/data.json"))
        jsonschema.validate(doc, schema, format_checker=jsonschema.FormatChecker())
        urls = {d["downloadURL"] for d in doc["dataset"][0]["distribution"]}
        assert f"{BASE}/{directory}/visitas/csv/visitas-2024-01.csv" in urls
    # The schema does reject what DCAT-US forbids.
    bad = json.loads(storage.read_bytes("latest/data.json"))
    del bad["dataset"][0]["accessLevel"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_index_html_renders_in_chromium_with_every_file_linked(tmp_path: Path) -> None:
    """Chromium renders both copies of index.html (latest/ and the release's own) with the
    dataset's title and headings, the change counts, one table row per file whose figures
    match the manifest, a link to every file, every local link leading to a file that exists,
    and schema.org JSON-LD naming every file."""
    browser = chromium.binary(required=True)  # never skipped, in CI or not
    settings = settings_for(tmp_path)
    write_table(database_path(settings))
    store = LocalStorage(tmp_path / "publish")
    release = publish(settings, now=T1, storage=store)
    manifest = json.loads(store.read_bytes("latest/release.json"))
    package = json.loads(store.read_bytes("latest/datapackage.json"))
    licence = package["licenses"][0]["path"]
    for directory in ("latest", f"releases/{release.version}"):
        # latest/'s page links to the stable paths under latest/, the release's to its own
        release_dir = tmp_path / "publish" / directory
        page = (release_dir / "index.html").as_uri()
        dom = parse(chromium.dump_dom(browser, tmp_path / "chromium", page))
        assert dom.one("head").one("title").text() == (
            f"{package['title']} — versión {release.version}")
        assert dom.one("h1").text() == package["title"]
        assert [h.text() for h in dom.iter("h2")] == [
            "Descargas", "Visitas por mes", "Visitas por entidad", "Diccionario de datos",
            "Todos los archivos"]
        text = dom.one("body").text()
        assert (f"Versión {release.version}, publicada el 1 de febrero de 2024 a las 07:00 "
                "(hora de Lima).") in text
        assert "Primera versión publicada." in text
        assert "Periodo cubierto: visitas del 1 de diciembre de 2023 al 28 de febrero de 2024." in text
        # One row per file of the release (the last table), with its link, format and figures.
        files_table = dom.iter("table")[-1]
        rows = [[td.text() for td in tr.iter("td")] for tr in files_table.one("tbody").iter("tr")]
        assert [(r[0], r[2], r[4]) for r in rows] == [
            (f["path"], "" if f["rows"] is None else str(f["rows"]), f["sha256"])
            for f in manifest["files"]]
        # sizes a person reads: one decimal below 10 units, none above
        assert all(re.fullmatch(r"\d+ bytes|\d,\d (kB|MB)|\d+ (kB|MB)", r[3]) for r in rows), rows
        assert rows[0][1] == "CSV"
        # Every link: the licence, or a file of the release that exists.
        hrefs = [a.attrs["href"] or "" for a in dom.iter("a")]
        assert hrefs.count(licence) == 1
        targets = {urljoin(page, h) for h in hrefs if h != licence}
        for target in targets:
            assert target.startswith(release_dir.as_uri() + "/"), target
            assert Path(unquote(urlparse(target).path)).is_file(), target
        for f in manifest["files"]:
            assert f"{release_dir.as_uri()}/{f['path']}" in targets, f["path"]
        for name in ("CAMBIOS.md", "changes.json", "datapackage.json", "catalog.jsonld",
                     "data.json"):
            assert f"{release_dir.as_uri()}/{name}" in targets, name
        (ld_script,) = dom.iter("script")
        assert ld_script.attrs["type"] == "application/ld+json"
        ld = json.loads(ld_script.text())
        assert ld["@type"] == "Dataset" and ld["name"] == package["title"]
        assert {d["name"] for d in ld["distribution"]} == {f["path"] for f in manifest["files"]}


def test_index_html_escapes_metadata() -> None:
    """Markup in a dataset's title, description or publisher is shown as text, and cannot end
    the JSON-LD <script> early."""
    meta = load_dataset(ROOT / "datasets", "visitas")
    title = "Visitas <b>de</b> A & B </script><script>alert(1)</script>"
    meta = replace(meta, title=title, description="x < y",
                   publisher={**meta.publisher, "name": "Entidad <i>Norte</i>"})
    files = [ReleaseFile("visitas/csv/visitas-2024-01.csv", "csv", 10, "a" * 64, rows=1,
                         partition="2024-01")]
    release = Manifest(id="v1", dataset=meta.name, created="2024-02-01T12:00:00Z",
                       previous=None, schema_hash="", rows=1,
                       months={"2024-01": {"rows": 1, "hash": ""}}, years={}, files=files,
                       overview={"desde": "2024-01-05", "hasta": "2024-01-05", "entidades": [
                           {"ruc": "20999100016", "nombre": "Municipalidad <b>Norte</b>",
                            "visitas": 1, "desde": "2024-01-05", "hasta": "2024-01-05"}]})
    page = index_html(meta, release, link=lambda path: f"./{path}", previous_link=None,
                      totals={})
    assert page.count("<script") == 1 and page.count("</script>") == 1
    assert "<b>" not in page.replace("<b>1 visita</b>", "").replace("<b>1 entidad</b>", "")
    assert "<i>" not in page
    assert "Municipalidad &lt;b&gt;Norte&lt;/b&gt;" in page
    assert "<h1>Visitas &lt;b&gt;de&lt;/b&gt; A &amp; B &lt;/script&gt;" in page
    assert "Publica: Entidad &lt;i&gt;Norte&lt;/i&gt;." in page
    dom = parse(page)
    assert dom.one("h1").text() == title
    ld_text = dom.one("script").text()
    assert "<" not in ld_text and "\\u003c/script\\u003e" in ld_text
    ld = json.loads(ld_text)
    assert ld["name"] == title and ld["description"] == "x < y"
    assert ld["publisher"]["name"] == "Entidad <i>Norte</i>"


def test_frictionless_validates_latest_datapackage_of_a_full_pass(tmp_path: Path) -> None:
    from pipeline.flow import included_entities, run_full_pass, seed_sample_uploads

    settings = settings_for(tmp_path)
    seed_sample_uploads(settings, included_entities(settings))
    outcome = run_full_pass(settings, echo=lambda _: None)
    assert outcome.publication is not None and outcome.publication.rows > 0
    frictionless = Path(shutil.which("frictionless") or
                        Path(__import__("sys").executable).with_name("frictionless"))
    latest = Path(settings.publish_url) / layout.LATEST / layout.DATAPACKAGE
    result = subprocess.run([str(frictionless), "validate", "--json", str(latest)],
                            capture_output=True, text=True, timeout=300)
    report = json.loads(result.stdout)
    assert report["valid"], result.stdout[:2000]
