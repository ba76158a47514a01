"""The release's `index.html` as a person sees it in headless Chromium, after full passes on
the shipped sample entities: coverage, entities by name, the data dictionary, readable sizes
and Lima time, charts, and links that all lead to files that exist."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest

from pipeline.flow import included_entities, run_full_pass, seed_sample_uploads
from pipeline.settings import Settings
from tests import chromium, png
from tests.dom import Element, parse

NOW = dt.datetime(2024, 11, 1, 12, 0, tzinfo=dt.UTC)  # 07:00 in Lima
LATER = dt.datetime(2024, 11, 2, 15, 30, tzinfo=dt.UTC)
ROOT = Path(__file__).resolve().parents[1]
HIDDEN = frozenset({"head", "style", "script", "title"})
HEADINGS = ["Descargas", "Visitas por mes", "Visitas por entidad", "Diccionario de datos",
            "Todos los archivos"]
ENTITIES = [["Ministerio de Ejemplo", "20999200029", "40",
             "3 de septiembre de 2024", "30 de septiembre de 2024"],
            ["Gobierno Regional de Ejemplo Sur", "20999300031", "38",
             "1 de octubre de 2024", "31 de octubre de 2024"],
            ["Municipalidad Distrital de Ejemplo Norte", "20999100016", "37",
             "2 de agosto de 2024", "29 de agosto de 2024"]]


def rows(table: Element) -> list[list[str]]:
    return [[td.text() for td in tr.iter("td")] for tr in table.one("tbody").iter("tr")]


def table_after(dom: Element, heading: str) -> Element:
    """The first <table> after the <h2> (or <h3>) `heading`, in document order."""
    return dom.after_heading(heading, "table")


@pytest.fixture
def published(project: Settings) -> Settings:
    seed_sample_uploads(project, included_entities(project))
    run_full_pass(project, echo=lambda _: None, today=NOW.date(), now=NOW)
    return project


def open_page(tmp_path: Path, page: Path) -> tuple[Element, str]:
    browser = chromium.binary(required=True)  # never skipped, in CI or not
    dom = parse(chromium.dump_dom(browser, tmp_path / "chromium", page.as_uri()))
    return dom, dom.one("body").text(skip=HIDDEN)


def test_index_shows_what_a_journalist_needs(tmp_path: Path, published: Settings) -> None:
    publish_dir = published.var_dir / "publish"
    manifest = json.loads((publish_dir / "latest" / "release.json").read_text("utf-8"))
    release_dir = publish_dir / "releases" / manifest["id"]
    schema = json.loads((ROOT / "schemas" / "visitas.schema.json").read_text("utf-8"))
    for page in (publish_dir / "latest" / "index.html", release_dir / "index.html"):
        dom, text = open_page(tmp_path, page)
        assert [h.text() for h in dom.iter("h2")] == HEADINGS
        assert "115 visitas publicadas" in text and "3 entidades con visitas publicadas" in text
        assert "Periodo cubierto: visitas del 2 de agosto de 2024 al 31 de octubre de 2024." in text
        assert (f"Versión {manifest['id']}, publicada el 1 de noviembre de 2024 a las 07:00 "
                "(hora de Lima).") in text
        assert "Primera versión publicada." in text and "versión anterior (" not in text
        # Downloads: one row per month, a link per format with a size a person reads.
        assert rows(table_after(dom, "Descargas")) == [
            ["agosto de 2024", "37", "CSV 15 kB", "JSON 29 kB", "Parquet 9 kB"],
            ["septiembre de 2024", "40", "CSV 16 kB", "JSON 31 kB", "Parquet 9,3 kB"],
            ["octubre de 2024", "38", "CSV 16 kB", "JSON 31 kB", "Parquet 9,2 kB"]]
        others = {r[0]: r for r in rows(table_after(dom, "Otros archivos"))}
        assert list(others) == [
            "visitas.schema.json", "changes.json", "CAMBIOS.md", "visitas-completo.csv.gz",
            "visitas-completo.parquet", "visitas.duckdb",
            *(f"{table}.{ext}" for table in ("decisores", "actos_gestion_intereses",
                                             "indicadores_gestion_intereses")
              for ext in ("csv", "parquet", "schema.json")),
            "cumplimiento.csv", "cumplimiento.parquet", "cumplimiento.schema.json",
            "cumplimiento.html"]
        # the visits per entity and month, then the section on the other datasets: the sample
        # registers (12 decision-makers) and the acts and indicators they give, all new
        assert others["CAMBIOS.md"][1:3] == ["Markdown", "834 bytes"]
        assert others["visitas.duckdb"][1] == "DuckDB"
        assert re.fullmatch(r"\d+ kB", others["visitas.duckdb"][2])
        assert others["visitas-completo.csv.gz"][3] == ("Todos los meses en un solo CSV, "
                                                       "comprimido con gzip.")
        assert others["visitas-completo.parquet"][3] == ("Todos los meses en un solo archivo "
                                                        "Parquet.")
        # Entities by their registry name, with RUC, visits and their first and last visit.
        assert rows(table_after(dom, "Visitas por entidad")) == ENTITIES
        # The data dictionary: every published column, in order, from the Table Schema.
        dictionary = rows(table_after(dom, "Diccionario de datos"))
        assert [r[:2] for r in dictionary] == [[f["name"], f["title"]] for f in schema["fields"]]
        by_name = {r[0]: r for r in dictionary}
        assert by_name["fecha_visita"][2:] == ["fecha (AAAA-MM-DD)",
                                               "Fecha de la visita. Siempre presente."]
        assert by_name["visitante_tipo_documento"][3].endswith(
            "Valores: DNI, CE, PASAPORTE, CDI, DMI, RUC, OTRO. Siempre presente.")
        assert all(r[3] for r in dictionary)
        # Every file of the release listed and linked; every link leads to a file that exists.
        listed = rows(table_after(dom, "Todos los archivos"))
        assert [r[0] for r in listed] == [f["path"] for f in manifest["files"]]
        licence = json.loads((page.parent / "datapackage.json").read_text())["licenses"][0]["path"]
        targets = {urljoin(page.as_uri(), a.attrs["href"] or "") for a in dom.iter("a")
                   if a.attrs["href"] != licence}
        for target in targets:
            assert Path(unquote(urlparse(target).path)).is_file(), target
        # each page links to its own folder's files: latest/ to its stable paths, a release
        # to its immutable ones
        for f in manifest["files"]:
            assert f"{page.parent.as_uri()}/{f['path']}" in targets, f["path"]
        # Two charts, each bar titled with its label and exact count.
        month_svg, entity_svg = dom.iter("svg")
        assert month_svg.attrs["aria-label"] == "Visitas por mes"
        assert [r.one("title").text() for r in month_svg.iter("rect")] == [
            "agosto de 2024: 37 visitas", "septiembre de 2024: 40 visitas",
            "octubre de 2024: 38 visitas"]
        assert entity_svg.attrs["aria-label"] == "Visitas por entidad"
        assert [r.one("title").text() for r in entity_svg.iter("rect")] == [
            f"{name}: {n} visitas" for name, _, n, *_ in ENTITIES]
        # No script but the JSON-LD, no stylesheet or image fetched from anywhere.
        assert [s.attrs.get("type") for s in dom.iter("script")] == ["application/ld+json"]
        assert not dom.iter("link") and not dom.iter("img")


def test_index_of_a_later_release_names_its_changes(tmp_path: Path, published: Settings) -> None:
    publish_dir = published.var_dir / "publish"
    first = json.loads((publish_dir / "latest" / "release.json").read_text("utf-8"))["id"]
    csv_path = publish_dir / "releases" / first / "visitas" / "csv" / "visitas-2024-10.csv"
    visit = csv_path.read_text("utf-8").splitlines()[1].split(",")[0]
    (published.var_dir / "landing" / "20999300031" / "retiros-2024-11-02.csv").write_text(
        f"id_visita,motivo\n{visit},Registro duplicado\n", encoding="utf-8")
    run_full_pass(published, echo=lambda _: None, today=LATER.date(), now=LATER)
    page = publish_dir / "latest" / "index.html"
    dom, text = open_page(tmp_path, page)
    assert "Primera versión" not in text
    assert (f"Cambios respecto de la versión anterior ({first}): 0 filas agregadas, "
            "0 modificadas y 1 retirada.") in text
    assert "publicada el 2 de noviembre de 2024 a las 10:30 (hora de Lima)" in text
    assert "114 visitas publicadas" in text
    (previous,) = [a for a in dom.iter("a") if a.text() == first]
    target = Path(unquote(urlparse(urljoin(page.as_uri(), previous.attrs["href"] or "")).path))
    assert (target / "index.html").is_file()


def test_chromium_paints_the_charts(tmp_path: Path, published: Settings) -> None:
    """The bars are painted at their size, in the charts' colour."""
    page = published.var_dir / "publish" / "latest" / "index.html"
    browser = chromium.binary(required=True)
    # Tall enough for both charts below the downloads and the other files (among them the
    # nine of decisores, actos and indicadores de gestión de intereses): the entity chart
    # ends about 2650 px down the page.
    image = png.decode(chromium.screenshot(browser, tmp_path / "profile", page.as_uri(),
                                           width=1000, height=3000))
    dom = parse(page.read_text("utf-8"))
    bars = [r for svg in dom.iter("svg") for r in svg.iter("rect")]
    assert len(bars) == 6
    colour = bars[0].attrs["fill"] or ""
    rgb = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
    area = sum(float(b.attrs["width"] or 0) * float(b.attrs["height"] or 0) for b in bars)
    # Edges between pixels blend with the background; the SVG may be scaled down a little.
    assert 0.75 * area <= image.count(rgb) <= 1.05 * area
