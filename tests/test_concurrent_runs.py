"""Several `visitas run` at once on the same working folder, locally and on S3: one writer at
a time for each thing that has one (an entity's batches, the warehouse, the published tree).

Real processes started together or a little apart, with a new upload waiting that is large
enough for the runs to overlap. Afterwards every uploaded row is published exactly once,
every run ended with 0 or with 75 and a Spanish message, none printed a traceback, and no
batch folder kept its record without its data.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.processes import RUC, make_project, published_rows, start_run, write_upload
from tests.s3server import S3Server

ROWS = 20_000
TIMEOUT = 180.0

pytestmark = pytest.mark.slow


def run_together(env: dict[str, str], logs: Path, delays: list[float],
                 args: list[list[str]] | None = None) -> list[tuple[int, str, str]]:
    """Start one `visitas run` per delay (seconds after the first); (exit code, stdout,
    stderr) of each once all ended."""
    logs.mkdir(exist_ok=True)
    procs: list[subprocess.Popen[bytes]] = []
    started = time.monotonic()
    for i, delay in enumerate(delays):
        time.sleep(max(0.0, started + delay - time.monotonic()))
        procs.append(start_run(env, logs / f"{i}.out", *(args[i] if args else []),
                               stderr=logs / f"{i}.err"))
    results = []
    for i, proc in enumerate(procs):
        code = proc.wait(timeout=TIMEOUT)
        results.append((code, (logs / f"{i}.out").read_text(), (logs / f"{i}.err").read_text()))
    return results


def check_outcomes(results: list[tuple[int, str, str]]) -> None:
    for code, out, err in results:
        shown = f"exit {code}\n{out}\n{err}"
        assert "Traceback" not in out + err, shown
        assert code in (0, 75), shown
        if code == 75:
            assert err.startswith("✘ "), shown
            assert "está escribiendo" in err and "código de salida 75" in err, shown
    assert any(code == 0 for code, _, _ in results)


def check_batches(var: Path) -> None:
    """Every batch folder holds the data its record lists (no record without its data)."""
    folders = [f for f in (var / "warehouse" / "batches" / RUC).iterdir() if f.is_dir()]
    assert [f.name for f in folders if f.name.startswith(".")] == []
    staged = 0
    for folder in folders:
        meta = json.loads((folder / "batch.json").read_text("utf-8"))
        assert pq.read_metadata(folder / "valid.parquet").num_rows == meta["filas_validas"]
        staged += meta["filas_validas"]
    assert staged == ROWS


def served_local(publish: Path) -> tuple[int, int]:
    served = json.loads((publish / "latest" / "release.json").read_text("utf-8"))["id"]
    return published_rows(str(publish / "releases" / served / "visitas" / "parquet" / "*" /
                              "*.parquet"))


@pytest.mark.parametrize(("delays", "args"), [
    ([0, 0], None),
    # the last one does not wait: it publishes or refuses (75), whichever it meets
    ([0, 0.5, 2.0], [[], [], ["--esperar", "0"]]),
], ids=["two-together", "three-staggered"])
def test_runs_at_once_on_local_storage(tmp_path: Path, delays: list[float],
                                       args: list[list[str]] | None) -> None:
    root, env = make_project(tmp_path)
    var = root / "var"
    write_upload(var / "landing" / RUC / "visitas-2024-01.csv", ROWS)
    results = run_together(env, tmp_path / "logs", delays, args)
    check_outcomes(results)
    check_batches(var)
    assert served_local(var / "publish") == (ROWS, ROWS)


@pytest.mark.s3
@pytest.mark.parametrize("delays", [[0, 0, 0], [0, 1.5]],
                         ids=["three-together", "two-staggered"])
def test_runs_at_once_on_s3(tmp_path: Path, s3_server: S3Server, s3_bucket: str,
                            delays: list[float]) -> None:
    client = s3_server.client()
    for i in range(2):  # two uploads: the runs overlap between them too
        local = tmp_path / f"upload-{i}.csv"
        write_upload(local, ROWS // 2, first=i * ROWS // 2)
        client.upload_file(str(local), s3_bucket, f"landing/{RUC}/visitas-2024-01-{i}.csv")
    root, env = make_project(tmp_path, **s3_server.env(),
                             VISITAS_LANDING_URL=f"s3://{s3_bucket}/landing",
                             VISITAS_RAW_URL=f"s3://{s3_bucket}/raw",
                             VISITAS_PUBLISH_URL=f"s3://{s3_bucket}/publish")
    results = run_together(env, tmp_path / "logs", delays)
    check_outcomes(results)
    check_batches(root / "var")
    served = json.loads(client.get_object(Bucket=s3_bucket, Key="publish/latest/release.json")
                        ["Body"].read())["id"]
    prefix = f"publish/releases/{served}/visitas/parquet/"
    downloaded = tmp_path / "served"
    for obj in client.list_objects_v2(Bucket=s3_bucket, Prefix=prefix)["Contents"]:
        target = downloaded / obj["Key"][len(prefix):]
        target.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(s3_bucket, obj["Key"], str(target))
    assert published_rows(str(downloaded / "*" / "*.parquet")) == (ROWS, ROWS)
