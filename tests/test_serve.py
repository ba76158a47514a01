"""`visitas serve` starts the real Dagster webserver and daemon on workspace.yaml."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_serve_shows_the_asset_graph(tmp_path):
    port = free_port()
    visitas = Path(sys.executable).with_name("visitas")
    env = {**os.environ, "VISITAS_VAR_DIR": str(tmp_path / "var")}
    proc = subprocess.Popen([str(visitas), "serve", "--port", str(port)], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        nodes = None
        while time.monotonic() < deadline and nodes is None:
            time.sleep(1)
            try:
                data = graphql(port, "{ assetNodes { assetKey { path } } }")
                nodes = data.get("data", {}).get("assetNodes")
            except OSError:
                continue
        assert nodes is not None, "the Dagster webserver did not answer within 90 s"
        assert sorted(n["assetKey"]["path"][0] for n in nodes) == [
            "visit_batches", "visits", "visits_release"]
        # The daemon runs what the project relies on: the landing sensor, the hourly schedule
        # and eager automation (asset daemon), each reported healthy by the webserver.
        needed = {"SENSOR", "SCHEDULER", "ASSET"}
        healthy: set[str] = set()
        while time.monotonic() < deadline and not needed <= healthy:
            statuses = graphql(port, "{ instance { daemonHealth { allDaemonStatuses {"
                                     " daemonType healthy } } } }")
            healthy = {s["daemonType"] for s in
                       statuses["data"]["instance"]["daemonHealth"]["allDaemonStatuses"]
                       if s["healthy"]}
            time.sleep(1)
        assert needed <= healthy, f"daemons sanos: {sorted(healthy)}"
        # DAGSTER_HOME is kept under the var dir, so run history persists between sessions.
        assert (tmp_path / "var" / "dagster").is_dir()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
