"""The published tree as portals and analysts meet it: readable by anyone, served as is by a
plain web server, stable paths under latest/, one download per format for the whole dataset."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.consolidation.visitas import database_path
from pipeline.publication import layout
from pipeline.publication.publisher import publish
from tests.publication_helpers import change_table, settings_for, write_table

T1 = dt.datetime(2024, 2, 1, 12, 0, tzinfo=dt.UTC)
T2 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder every user may enter (pytest's own tmp folders are private to their owner),
    so that a web server running as another user can reach the tree inside."""
    folder = Path(tempfile.mkdtemp(prefix="arbol-publicado-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_another_user() -> tuple[str, ...]:
    """`python -m http.server` as `nobody` when we can (root with setpriv and a system
    Python that user may run), as a web server runs; else as ourselves."""
    setpriv = shutil.which("setpriv")
    system = Path("/usr/bin/python3")
    if os.geteuid() != 0 or setpriv is None or not system.exists():
        return (sys.executable,)
    return (setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--", str(system))


def test_published_files_are_world_readable_and_served_as_is(tmp_path: Path, open_dir: Path) -> None:
    old = os.umask(0o077)  # a strict umask must not make the tree private
    try:
        publish_dir = open_dir / "publish"
        settings = settings_for(tmp_path, publish_url=str(publish_dir))
        write_table(database_path(settings))
        publish(settings, now=T1)
        change_table(database_path(settings))
        publish(settings, now=T2)
    finally:
        os.umask(old)

    entries = [publish_dir, *publish_dir.rglob("*")]
    files = [p for p in entries if p.is_file()]
    assert len(files) > 20
    modes = {p.relative_to(open_dir).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in entries}
    expected = {p.relative_to(open_dir).as_posix(): 0o644 if p.is_file() else 0o755 for p in entries}
    assert modes == expected

    port = _free_port()
    server = subprocess.Popen([*_as_another_user(), "-m", "http.server", str(port),
                               "--bind", "127.0.0.1", "--directory", str(publish_dir)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        package = json.loads(urllib.request.urlopen(f"{base}/latest/datapackage.json").read())
        for resource in package["resources"]:
            for path in [resource["path"]] if isinstance(resource["path"], str) else resource["path"]:
                with urllib.request.urlopen(f"{base}/latest/{path}") as response:
                    assert response.status == 200, path
                    assert response.read() == (publish_dir / layout.LATEST / path).read_bytes()
    finally:
        server.terminate()
        server.wait(timeout=10)
