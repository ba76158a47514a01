"""Shared fixtures."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest

from tests.projects import copy_project, pristine_root
from tests.s3server import S3Server, seaweedfs

# Before any test imports the pipeline: whatever reads the project root from the environment
# (the Dagster definitions' entity partitions among them) sees the shipped sample entities,
# never entities registered in this checkout.
os.environ["VISITAS_HOME"] = str(pristine_root())

# --- S3 (a real SeaweedFS started once per session) ------------------------------------


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> Iterator[str]:
    """A fresh, empty bucket for one test; removed afterwards."""
    client = s3_server.client()
    name = f"test-{secrets.token_hex(8)}"
    client.create_bucket(Bucket=name)
    yield name
    # Emptied first so teardown behaves the same on servers that refuse to drop
    # non-empty buckets; dropping it also frees the volume weed allocated for it.
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=name):
        keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
    client.delete_bucket(Bucket=name)


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """Point the pipeline's S3 settings (env vars) at the test server."""
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return s3_server


# --- An isolated copy of the project (registry, schemas, samples) ----------------------

REPO_ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """A throw-away project root with the shipped datasets/ and schemas/, and its own var/.

    Tests add entities or uploads here without touching the repository.
    """

    from pipeline.settings import Settings

    root = tmp_path / "project"
    copy_project(root)
    monkeypatch.setenv("VISITAS_HOME", str(root))
    monkeypatch.setenv("VISITAS_ENV", "local")
    for name in ("VISITAS_VAR_DIR", "VISITAS_LANDING_URL", "VISITAS_RAW_URL",
                 "VISITAS_PUBLISH_URL", "VISITAS_REPORTS_URL", "VISITAS_DAGSTER_PG_URL",
                 "VISITAS_ACCESS_MASTER_KEY"):
        monkeypatch.delenv(name, raising=False)
    return Settings.from_env()


@pytest.fixture
def manifest() -> dict:
    import json

    return json.loads((REPO_ROOT / "datasets" / "samples" / "MANIFEST.json").read_text("utf-8"))
