"""Headless Chromium for the tests that check what a browser makes of a page."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

# No network, no first-run work, no GPU: the browser only loads the file and renders it.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")


def binary(*, required: bool = False) -> str:
    """The browser's path; without one, fail in CI (or when `required`), else skip."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = "chromium no está instalado (apt-get install -y chromium; .ci/run lo instala)"
        if required or os.environ.get("CI"):
            pytest.fail(message)  # CI must run these tests, never skip them
        pytest.skip(message)
    return path


def run(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [binary, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)


def dump_dom(binary: str, profile: Path, url: str) -> str:
    """The DOM after Chromium loaded and laid out `url`, serialized as HTML."""
    return run(binary, profile, "--dump-dom", url).stdout


def screenshot(binary: str, profile: Path, url: str, *, width: int, height: int) -> bytes:
    """A PNG of the first `width` x `height` pixels of `url` as Chromium paints it."""
    shot = profile.with_name(f"{profile.name}-screenshot.png")
    run(binary, profile, f"--screenshot={shot}", f"--window-size={width},{height}", url)
    return shot.read_bytes()
