"""The administrator's HTML report, rendered in a real headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "datasets" / "samples" / "20999100016" / "visitas-2024-08.csv"


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = "chromium no está instalado (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI must run this test, never skip it
        pytest.skip(message)
    return path


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "chromium-profile"
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=True)


class _VisibleText(HTMLParser):
    """Text a person sees: everything but <head>, <style> and <script>."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("head", "style", "script", "title"):
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("head", "style", "script", "title"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(dom: str) -> str:
    parser = _VisibleText()
    parser.feed(dom)
    return " ".join(" ".join(parser.parts).split())


@pytest.fixture
def sample_report_html(tmp_path: Path) -> Path:
    out = tmp_path / "reporte.html"
    result = CliRunner().invoke(main, ["validate", str(SAMPLE), "--html", str(out),
                                       "--today", "2024-12-31"])
    assert result.exit_code == 1, result.output
    return out


def test_report_is_self_contained(sample_report_html: Path) -> None:
    page = sample_report_html.read_text("utf-8")
    # no script, stylesheet, image or font fetched from anywhere
    assert not re.search(r"<(script|link|img|iframe)\b", page)
    assert not re.search(r"(src|href)=", page)
    assert "url(" not in page


def test_chromium_shows_counts_and_examples(tmp_path: Path, sample_report_html: Path) -> None:
    dom = run_chromium(tmp_path, "--dump-dom", sample_report_html.as_uri()).stdout
    text = visible_text(dom)
    assert "Reporte de validación: visitas-2024-08.csv" in text
    assert "El archivo tiene 2 errores en 2 filas." in text
    assert "40 Filas leídas" in text and "37 Filas válidas" in text
    assert "Salida antes del ingreso exit-before-entry — 1 casos" in text
    assert "Fila 35: la hora de salida 11:05 es anterior a la hora de ingreso 15:40." in text
    assert "Cómo corregir:" in text
    # the chart is there and drawn by the browser
    assert "<svg" in dom and 'aria-label="Errores por tipo"' in dom


def test_chromium_screenshot(tmp_path: Path, sample_report_html: Path) -> None:
    shot = tmp_path / "reporte.png"
    run_chromium(tmp_path, f"--screenshot={shot}", "--window-size=1000,1400",
                 sample_report_html.as_uri())
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
