"""A `visitas run` killed (SIGKILL) mid-ingestion or mid-publication leaves files behind; the
next normal run clears every one of them and publishes every uploaded row once.

Real subprocesses, a real kill: nothing of the killed run may remain in the working folder,
in the system's temp dir or in the published tree (an unfinished release, a scratch file).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.atomic import SCRATCH_MARKER
from pipeline.workdir import owner
from tests.processes import RUC, make_project, published_rows, start_run, write_upload
from tests.s3server import S3Server

TIMEOUT = 240.0

pytestmark = pytest.mark.slow


def start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return start_run(env, log)


def kill_when(proc: subprocess.Popen[bytes], ready: Callable[[], bool], log: Path) -> None:
    """SIGKILL `proc` as soon as `ready()` holds (it must before the run ends)."""
    deadline = time.monotonic() + TIMEOUT
    while not ready():
        assert proc.poll() is None, f"the run ended before the kill:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"never got there:\n{log.read_text()}"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()  # reaped: its pid is gone, as after a real kill


def run(env: dict[str, str], log: Path) -> str:
    proc = start(env, log)
    assert proc.wait(timeout=TIMEOUT) == 0, log.read_text()
    return log.read_text()


def temporary_names(root: Path) -> list[str]:
    """Every scratch or temporary file or folder under `root` (paths relative to it)."""
    found = []
    for path in root.rglob("*"):
        if SCRATCH_MARKER in path.name or owner(path.name) is not None:
            found.append(path.relative_to(root).as_posix())
    return sorted(found)


def owned_by(root: Path, pid: int) -> list[str]:
    """Names under `root` made by process `pid` (scratch or temporary)."""
    return [name for name in temporary_names(root)
            if f"-{pid}-" in name or name.endswith(f"{SCRATCH_MARKER}{pid}")
            or f"{SCRATCH_MARKER}{pid}-" in name or f"{SCRATCH_MARKER}{pid}/" in name]


def unfinished_local(publish: Path) -> list[str]:
    releases = publish / "releases"
    return sorted(d.name for d in releases.iterdir()
                  if not (d / "release.json").exists()) if releases.is_dir() else []



def test_runs_killed_mid_ingestion_and_mid_publication_leave_nothing(tmp_path: Path) -> None:
    root, env = make_project(tmp_path)
    var, system_tmp = root / "var", Path(env["TMPDIR"])
    batches = var / "warehouse" / "batches" / RUC
    write_upload(var / "landing" / RUC / "visitas-2024-01.csv", 300_000)
    log = tmp_path / "run.log"

    # 1. Killed while the 300,000-row upload is validated: its copy in the run's temporary
    #    folder and the half-staged batch are left behind.
    first = start(env, log)

    def validating() -> bool:
        return any(p.name.endswith(f"{SCRATCH_MARKER}{first.pid}")
                   for p in (batches.iterdir() if batches.is_dir() else ()))

    kill_when(first, validating, log)
    left = owned_by(var, first.pid)
    assert any(name.startswith(f"tmp/ingesta_{RUC}-{first.pid}-") for name in left), left
    assert any(name.startswith(f"warehouse/batches/{RUC}/.") for name in left), left
    copies = [p for p in (var / "tmp").rglob("*.csv")]
    assert copies and copies[0].stat().st_size > 50 * 2**20  # the upload, document numbers

    # 2. The next run clears them, and is killed in its turn while publishing its release.
    second = start(env, log)
    publish = var / "publish"

    def publishing() -> bool:
        return any(any(p.is_file() for p in (publish / "releases" / d).rglob("*"))
                   for d in unfinished_local(publish))

    kill_when(second, publishing, log)
    assert owned_by(var, first.pid) == []
    killed_release = unfinished_local(publish)
    assert len(killed_release) == 1, killed_release
    assert any(name.startswith(f"tmp/publicacion-{second.pid}-") for name in
               owned_by(var, second.pid))

    # 3. A normal run: nothing of either killed run remains, and every row is published once.
    output = run(env, log)
    assert "300000 visitas publicadas" in output
    assert temporary_names(var) == []
    assert not (var / "tmp").exists() or list((var / "tmp").iterdir()) == []
    assert sorted(p.name for p in system_tmp.iterdir()) == []
    assert unfinished_local(publish) == []
    served = json.loads((publish / "latest" / "release.json").read_text("utf-8"))["id"]
    assert served not in killed_release
    assert published_rows(str(publish / "releases" / served / "visitas" / "parquet" / "*" /
                              "*.parquet")) == (300_000, 300_000)


@pytest.mark.s3
def test_run_killed_mid_publication_to_s3_leaves_nothing(tmp_path: Path, s3_server: S3Server,
                                                        s3_bucket: str) -> None:
    root, env = make_project(tmp_path, **s3_server.env(),
                             VISITAS_PUBLISH_URL=f"s3://{s3_bucket}/publish")
    var, system_tmp = root / "var", Path(env["TMPDIR"])
    write_upload(var / "landing" / RUC / "visitas-2024-01.csv", 100_000)
    log = tmp_path / "run.log"
    client = s3_server.client()

    def objects() -> list[str]:
        listed = client.list_objects_v2(Bucket=s3_bucket, Prefix="publish/releases/")
        return [o["Key"] for o in listed.get("Contents", [])]

    def unfinished() -> list[str]:
        keys = objects()
        folders = {k.split("/")[2] for k in keys}
        return sorted(f for f in folders if f"publish/releases/{f}/release.json" not in keys)

    killed = start(env, log)
    kill_when(killed, lambda: bool(objects()), log)
    killed_release = unfinished()
    assert len(killed_release) == 1, objects()

    output = run(env, log)
    assert "100000 visitas publicadas" in output
    assert unfinished() == []
    assert not any(k.startswith(f"publish/releases/{killed_release[0]}/") for k in objects())
    uploads = client.list_multipart_uploads(Bucket=s3_bucket, Prefix="publish/")
    assert uploads.get("Uploads", []) == []
    assert temporary_names(var) == []
    assert sorted(p.name for p in system_tmp.iterdir()) == []
    served = json.loads(client.get_object(Bucket=s3_bucket, Key="publish/latest/release.json")
                        ["Body"].read())
    rows = sum(f["rows"] for f in served["files"] if f["path"].startswith("visitas/parquet/"))
    assert rows == 100_000
