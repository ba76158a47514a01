"""`visitas serve` exactly as an engineer starts it: the real Dagster webserver and daemon on the
shipped instance settings. An upload dropped in the landing area is ingested, consolidated and
published with nobody pressing a button, and SIGTERM or Ctrl-C leaves no process behind."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from pipeline.serve import session_members
from tests.projects import REPO_ROOT, SAMPLES, copy_project

VISITAS = Path(sys.executable).with_name("visitas")
RUC = "20999100016"


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


def wait_for(what: str, probe, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            found = probe()
        except OSError:
            found = None
        if found:
            return found
        time.sleep(1)
    pytest.fail(f"{what}: no ocurrió en {seconds:.0f} s")


def start_serve(tmp_path: Path, port: int) -> tuple[subprocess.Popen[bytes], Path, Path]:
    root = copy_project(tmp_path / "project")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VISITAS_", "DAGSTER_"))}
    env.update(VISITAS_HOME=str(root), VISITAS_ENV="local",
               VISITAS_PSEUDONYM_KEY="clave-de-prueba-del-daemon-0123456789")
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        # its own session, as a terminal or a service manager would start it
        proc = subprocess.Popen([str(VISITAS), "serve", "--port", str(port)], env=env,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    return proc, root / "var", log


def stop(proc: subprocess.Popen[bytes], sig: int, log: Path) -> None:
    proc.send_signal(sig)
    try:
        proc.wait(timeout=90)
    except subprocess.TimeoutExpired:
        pytest.fail("visitas serve no terminó en 90 s:\n"
                    + log.read_text("utf-8", errors="replace")[-3000:])


def kill_everything(proc: subprocess.Popen[bytes], started: set[int]) -> None:
    """After a failure: nothing of this test may outlive it and load the machine."""
    for pid in alive(started | descendants(proc.pid) | {proc.pid}):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def descendants(pid: int) -> set[int]:
    """Every live process started, directly or not, by `pid`."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    gone = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            gone.add(pid)
            continue
        if state == "Z":
            gone.add(pid)
    return pids - gone


def published_rows(var: Path) -> int | None:
    package = var / "publish" / "latest" / "datapackage.json"
    if not package.is_file():
        return None
    release = json.loads((var / "publish" / "latest" / "release.json").read_text("utf-8"))
    return int(release["rows"])


def test_the_shipped_instance_turns_automation_on_and_telemetry_off():
    settings = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text("utf-8"))
    assert settings["auto_materialize"] == {"enabled": True, "use_sensors": True,
                                            "minimum_interval_seconds": 15}
    assert settings["telemetry"] == {"enabled": False}
    assert settings["concurrency"]["runs"]["max_concurrent_runs"] >= 1
    assert settings["retention"]["sensor"]["purge_after_days"]["skipped"] == 7


@pytest.mark.slow
def test_serve_ingests_consolidates_and_publishes_an_upload_on_its_own(tmp_path):
    port = free_port()
    proc, var, log = start_serve(tmp_path, port)
    started: set[int] = set()
    try:
        nodes = wait_for("la interfaz de Dagster responde", lambda: graphql(
            port, "{ assetNodes { assetKey { path } } }").get("data", {}).get("assetNodes"), 120)
        assert sorted(n["assetKey"]["path"][0] for n in nodes) == [
            "visit_batches", "visits", "visits_release"]
        # the instance is the shipped one, in the working folder
        assert (var / "dagster" / "dagster.yaml").read_text("utf-8") == (
            REPO_ROOT / "dagster.yaml").read_text("utf-8")
        sensors = graphql(port, "{ sensorsOrError(repositorySelector: {repositoryName: "
                                "\"__repository__\", repositoryLocationName: "
                                "\"pipeline.definitions\"}) { ... on Sensors { results { name "
                                "sensorState { status } } } } }")
        states = {s["name"]: s["sensorState"]["status"]
                  for s in sensors["data"]["sensorsOrError"]["results"]}
        assert states == {"landing_sensor": "RUNNING", "automation": "RUNNING",
                          "run_failure_mail": "RUNNING"}

        # an administrator drops an upload; nobody starts anything
        landing = var / "landing" / RUC
        landing.mkdir(parents=True)
        shutil.copy(SAMPLES / RUC / "visitas-2024-08.csv", landing / "visitas-2024-08.csv")
        rows = wait_for("la carga se publica sola", lambda: published_rows(var), 240)
        assert rows == 37  # the sample's 40 rows: 2 rejected, 1 'No se recibieron visitas'

        def runs() -> list[tuple[str, str]] | None:
            found = graphql(port, "{ runsOrError { ... on Runs { results { jobName status } } } }")
            done = sorted((r["jobName"], r["status"])
                          for r in found["data"]["runsOrError"]["results"])
            return done if all(status in ("SUCCESS", "FAILURE") for _, status in done) else None

        # one ingestion started by the landing sensor, then one run of consolidation and
        # publication started by the automation sensor
        assert wait_for("las ejecuciones terminan", runs, 60) == [
            ("__ASSET_JOB", "SUCCESS"), ("ingest_entity", "SUCCESS")]

        # SIGTERM, as a service manager stops it: every process it started ends
        started = descendants(proc.pid)
        assert len(started) >= 3, started  # dagster dev, its webserver and its daemon
        stop(proc, signal.SIGTERM, log)
        assert wait_for("no queda ningún proceso", lambda: not alive(started) or None, 30)
        assert session_members(proc.pid) == []
    finally:
        kill_everything(proc, started)
    assert "Traceback" not in log.read_text("utf-8", errors="replace")


@pytest.mark.slow
def test_ctrl_c_stops_every_process(tmp_path):
    port = free_port()
    proc, _var, log = start_serve(tmp_path, port)
    started: set[int] = set()
    try:
        wait_for("la interfaz de Dagster responde",
                 lambda: graphql(port, "{ version }").get("data"), 120)
        started = descendants(proc.pid)
        assert len(started) >= 3, started
        stop(proc, signal.SIGINT, log)
        assert wait_for("no queda ningún proceso", lambda: not alive(started) or None, 30)
    finally:
        kill_everything(proc, started)
