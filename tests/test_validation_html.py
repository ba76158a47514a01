"""The administrator's HTML report, rendered in a real headless Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from tests import chromium, png
from tests.dom import Element, parse

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "datasets" / "samples" / "20999100016" / "visitas-2024-08.csv"
# also the <title> tooltips of the chart's bars, shown only on hover
HIDDEN = frozenset({"head", "style", "script", "title"})


def visible_text(element: Element) -> str:
    """Text a person sees: everything but <head>, <style>, <script> and <title>."""
    return element.text(skip=HIDDEN)


def validate_to_html(upload: Path, out: Path) -> Path:
    result = CliRunner().invoke(main, ["validate", str(upload), "--html", str(out),
                                       "--today", "2024-12-31"])
    assert result.exit_code == 1, result.output
    return out


@pytest.fixture
def sample_report_html(tmp_path: Path) -> Path:
    return validate_to_html(SAMPLE, tmp_path / "reporte.html")


def test_report_is_self_contained(sample_report_html: Path) -> None:
    page = sample_report_html.read_text("utf-8")
    # no script, stylesheet, image or font fetched from anywhere
    assert not re.search(r"<(script|link|img|iframe)\b", page)
    assert not re.search(r"(src|href)=", page)
    assert "url(" not in page


def test_upload_values_are_escaped(tmp_path: Path) -> None:
    """Markup in an uploaded cell is shown as text, never run or rendered."""
    header, first, *_ = SAMPLE.read_text("utf-8-sig").splitlines()
    cells = first.split(";")
    cells[7] = "<script>alert(1)</script>"  # Hora Ingreso
    upload = tmp_path / "visitas-2024-08.csv"
    upload.write_text(f"{header}\n{';'.join(cells)}\n", encoding="utf-8")
    page = validate_to_html(upload, tmp_path / "reporte.html").read_text("utf-8")
    assert "<script" not in page
    assert "<code>&lt;script&gt;alert(1)&lt;/script&gt;</code>" in page
    tree = parse(page)
    assert tree.iter("script") == []
    assert "el valor «<script>alert(1)</script>» no tiene el formato esperado" in visible_text(tree)


def test_chromium_shows_counts_and_examples(tmp_path: Path, sample_report_html: Path) -> None:
    """What the browser shows: headings, verdict, counts, the chart and the examples."""
    browser = chromium.binary()
    dom = parse(chromium.dump_dom(browser, tmp_path / "profile", sample_report_html.as_uri()))
    text = visible_text(dom)
    assert dom.one("head").one("title").text() == "Reporte de validación — visitas-2024-08.csv"
    assert dom.one("h1").text() == "Reporte de validación: visitas-2024-08.csv"
    assert [h.text() for h in dom.iter("h2")] == [
        "Errores por tipo", "Errores por columna", "Ejemplos y cómo corregirlos"]
    assert "El archivo tiene 2 errores en 2 filas." in text
    # each card: the figure in bold, then its label
    cards = [(c.one("b").text(), c.text().removeprefix(c.one("b").text()).strip())
             for c in dom.iter("div") if c.attrs.get("class") == "card"]
    assert cards == [("40", "Filas leídas"), ("37", "Filas válidas"), ("2", "Filas con errores"),
                     ("2", "Errores"), ("1", "Filas sin visitas")]
    assert [h.text() for h in dom.iter("h3")] == [
        "Salida antes del ingreso exit-before-entry — 1 caso",
        "Valor no permitido constraint-error — 1 caso"]
    assert "Fila 35: la hora de salida 11:05 es anterior a la hora de ingreso 15:40." in text
    assert text.count("Cómo corregir:") == 2
    # The chart: one bar per row of the table of types, each titled with its code and count.
    svg = dom.one("svg")
    assert svg.attrs["aria-label"] == "Errores por tipo"
    by_type = dom.iter("table")[0].one("tbody").iter("tr")
    expected = [f"{tr.iter('td')[1].text()}: {tr.iter('td')[2].text()}" for tr in by_type]
    assert expected == ["constraint-error: 1", "exit-before-entry: 1"]
    assert [r.one("title").text() for r in svg.iter("rect")] == expected
    labels = [t.text() for t in svg.iter("text") if t.attrs.get("text-anchor") == "end"]
    assert labels == ["Valor no permitido", "Salida antes del ingreso"]


def test_chromium_screenshot(tmp_path: Path, sample_report_html: Path) -> None:
    """Chromium paints the report: the PNG decodes at the window's size, is not blank, and
    shows every bar of the chart at its full size in the chart's colour."""
    browser = chromium.binary()
    data = chromium.screenshot(browser, tmp_path / "profile", sample_report_html.as_uri(),
                               width=1000, height=1400)
    image = png.decode(data)
    assert (image.width, image.height) == (1000, 1400)
    colours = image.colours()
    assert len(colours) > 50  # text, borders and backgrounds, not one flat colour
    bars = parse(sample_report_html.read_text("utf-8")).one("svg").iter("rect")
    assert len(bars) == 2
    colour = bars[0].attrs["fill"] or ""
    rgb = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
    area = sum(int(b.attrs["width"] or 0) * int(b.attrs["height"] or 0) for b in bars)
    # Edges that fall between pixels blend with the background, hence the 10% slack.
    assert 0.9 * area <= image.count(rgb) <= area


def test_chromium_shows_every_type_what_is_left_out_and_the_rejected_rows(tmp_path: Path,
                                                                           project) -> None:
    """With few examples allowed, what a person sees still names every error type with its
    count and says how many cases are not shown; dates read as they were typed; the link to
    the rejected rows opens a file that is there, the only link of the page."""
    from urllib.parse import unquote, urlparse

    from tests.test_admin_messages import KINDS, many_kinds

    folder = tmp_path / "salida"
    html, rejected = folder / "reporte.html", folder / "filas" / "rechazadas.csv"
    folder.mkdir()
    result = CliRunner().invoke(main, ["validate", str(many_kinds(tmp_path)), "--html", str(html),
                                       "--rechazadas", str(rejected), "--today", "2024-12-31",
                                       "--limit-errors", "2"])
    assert result.exit_code == 1, result.output
    dom = parse(chromium.dump_dom(chromium.binary(), tmp_path / "profile", html.as_uri()))
    text = visible_text(dom)
    rows = dom.iter("table")[0].one("tbody").iter("tr")
    assert {tr.iter("td")[1].text(): int(tr.iter("td")[2].text()) for tr in rows} == KINDS
    headings = [h.text() for h in dom.iter("h3")]
    assert len(headings) == len(KINDS)
    assert "Fecha en el futuro future-date — 7 casos" in headings
    assert "… y 5 casos más de este tipo que no se muestran." in text
    assert text.count("Ningún caso detallado: el reporte detalla solo los primeros 2 errores") == 7
    assert "El reporte detalla 2 de los 14 errores" in text
    assert "la fecha 15/03/2031 es posterior a hoy (31/12/2024)" in text
    assert "2031-03-15" not in text
    [link] = [a for a in dom.iter("a")]
    assert link.text() == "filas/rechazadas.csv"
    target = Path(unquote(urlparse(link.attrs["href"] or "").path))
    if not target.is_absolute():  # as written; Chromium's DOM keeps the attribute
        target = html.parent / target
    assert target.resolve() == rejected.resolve() and target.is_file()
    lines = rejected.read_text("utf-8-sig").splitlines()
    assert len(lines) == 1 + 14 and lines[0].endswith(";Errores de validación")
