"""Per-entity access on a real SeaweedFS server started with the identities file that
`visitas access seaweedfs-config` writes: an entity's key writes its own landing folder and
reads its own reports, and is refused everywhere else; the pipeline's key can do everything.
"""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from click.testing import CliRunner

from pipeline.cli import main
from tests.s3server import Identities, S3Server, client_config, seaweedfs

MASTER = "clave-maestra-de-prueba-con-32-caracteres-o-mas"
A, B = "20999100016", "20999200029"
# Landing and raw archive share a bucket, as they often do: only the prefix tells them apart.
LANDING, RAW = "s3://carga/landing", "s3://carga/raw"
REPORTS, PUBLISH = "s3://reportes", "s3://publico/visitas"


def _client(server: S3Server, access_key: str, secret_key: str) -> Any:
    return boto3.session.Session().client(
        "s3", endpoint_url=server.endpoint_url, aws_access_key_id=access_key,
        aws_secret_access_key=secret_key, region_name=server.region,
        config=client_config(retries={"max_attempts": 1}))


def _keys(ruc: str) -> tuple[str, str]:
    done = CliRunner().invoke(main, ["access", "credentials", ruc, "--json"])
    assert done.exit_code == 0, done.output
    pair = json.loads(done.output)
    return pair["access_key_id"], pair["secret_access_key"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A SeaweedFS server started with the generated identities; buckets and one object in
    every area, written with the pipeline's key."""
    from tests.projects import copy_project

    mp = pytest.MonkeyPatch()
    tmp = tmp_path_factory.mktemp("access")
    copy_project(tmp / "project")
    pipeline_key, pipeline_secret = "PIPE" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30)
    env = {"VISITAS_HOME": str(tmp / "project"), "VISITAS_ENV": "local",
           "VISITAS_ACCESS_MASTER_KEY": MASTER, "VISITAS_LANDING_URL": LANDING,
           "VISITAS_RAW_URL": RAW, "VISITAS_REPORTS_URL": REPORTS,
           "VISITAS_PUBLISH_URL": PUBLISH, "AWS_ACCESS_KEY_ID": pipeline_key,
           "AWS_SECRET_ACCESS_KEY": pipeline_secret}
    for name, value in env.items():
        mp.setenv(name, value)
    config = tmp / "s3.json"
    try:
        done = CliRunner().invoke(main, ["access", "seaweedfs-config", "--out", str(config)])
        assert done.exit_code == 0, done.output
        assert done.output == (f"Identidades de SeaweedFS escritas en {config}: la pasada y "
                               "3 entidades.\n")
        keys = {ruc: _keys(ruc) for ruc in (A, B)}
        with seaweedfs(tmp, identities=Identities(config, pipeline_key, pipeline_secret)) as s3:
            pipeline = _client(s3, pipeline_key, pipeline_secret)
            for bucket in ("carga", "reportes", "publico"):
                pipeline.create_bucket(Bucket=bucket)
            for bucket, key in [("carga", f"landing/{A}/visitas.csv"),
                                ("carga", f"landing/{B}/visitas.csv"),
                                ("carga", f"raw/{A}/abc/visitas.csv"),
                                ("reportes", f"{A}/ultimo.json"), ("reportes", f"{B}/ultimo.json"),
                                ("publico", "visitas/latest/visitas.csv")]:
                pipeline.put_object(Bucket=bucket, Key=key, Body=b"x")
            yield {"pipeline": pipeline,
                   **{ruc: _client(s3, *pair) for ruc, pair in keys.items()}}
    finally:
        mp.undo()


def _denied(call: Callable[[], object]) -> None:
    with pytest.raises(ClientError) as caught:
        call()
    assert caught.value.response["Error"]["Code"] == "AccessDenied"


def _listed(client: Any, bucket: str, prefix: str) -> list[str]:
    found = client.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for o in found.get("Contents", [])]


@pytest.mark.s3
def test_an_entity_writes_its_own_landing_and_reads_its_own_reports(server) -> None:
    a = server[A]
    a.put_object(Bucket="carga", Key=f"landing/{A}/visitas-2024-09.csv", Body=b"fecha")
    assert _listed(a, "carga", f"landing/{A}/") == [f"landing/{A}/visitas-2024-09.csv",
                                                    f"landing/{A}/visitas.csv"]
    assert a.get_object(Bucket="reportes", Key=f"{A}/ultimo.json")["Body"].read() == b"x"
    assert _listed(a, "reportes", f"{A}/") == [f"{A}/ultimo.json"]
    server[B].put_object(Bucket="carga", Key=f"landing/{B}/visitas-2024-09.csv", Body=b"f")
    # a large upload goes in parts (as `aws s3 cp` sends anything above 8 MB)
    parts = TransferConfig(multipart_threshold=5 * 2**20, multipart_chunksize=5 * 2**20)
    big = b"0123456789abcdef" * (6 * 2**16)
    a.upload_fileobj(io.BytesIO(big), "carga", f"landing/{A}/grande.csv", Config=parts)
    assert server["pipeline"].head_object(Bucket="carga", Key=f"landing/{A}/grande.csv")[
        "ContentLength"] == len(big)
    _denied(lambda: a.upload_fileobj(io.BytesIO(big), "carga", f"landing/{B}/grande.csv",
                                     Config=parts))
    written = server["pipeline"].get_object(Bucket="carga", Key=f"landing/{A}/visitas-2024-09.csv")
    assert written["Body"].read() == b"fecha"
    # SeaweedFS's Write includes delete: an entity may take back its own upload
    a.delete_object(Bucket="carga", Key=f"landing/{A}/grande.csv")
    assert f"landing/{A}/grande.csv" not in _listed(a, "carga", f"landing/{A}/")


@pytest.mark.s3
def test_an_entity_is_refused_everywhere_else(server) -> None:
    a = server[A]
    # another entity's landing and reports
    _denied(lambda: a.put_object(Bucket="carga", Key=f"landing/{B}/intruso.csv", Body=b"x"))
    _denied(lambda: a.get_object(Bucket="carga", Key=f"landing/{B}/visitas.csv"))
    _denied(lambda: a.delete_object(Bucket="carga", Key=f"landing/{B}/visitas.csv"))
    _denied(lambda: a.list_objects_v2(Bucket="carga", Prefix=f"landing/{B}/"))
    _denied(lambda: a.get_object(Bucket="reportes", Key=f"{B}/ultimo.json"))
    _denied(lambda: a.list_objects_v2(Bucket="reportes", Prefix=f"{B}/"))
    # its own reports are read-only; its own uploads are not read back through its key
    _denied(lambda: a.put_object(Bucket="reportes", Key=f"{A}/ultimo.json", Body=b"y"))
    _denied(lambda: a.get_object(Bucket="carga", Key=f"landing/{A}/visitas.csv"))
    # the raw archive, even the entity's own uploads there, and the bucket as a whole
    _denied(lambda: a.get_object(Bucket="carga", Key=f"raw/{A}/abc/visitas.csv"))
    _denied(lambda: a.put_object(Bucket="carga", Key=f"raw/{A}/abc/visitas.csv", Body=b"y"))
    _denied(lambda: a.list_objects_v2(Bucket="carga", Prefix="raw/"))
    _denied(lambda: a.list_objects_v2(Bucket="carga"))
    # the published area
    _denied(lambda: a.put_object(Bucket="publico", Key="visitas/latest/visitas.csv", Body=b"y"))
    _denied(lambda: a.delete_object(Bucket="publico", Key="visitas/latest/visitas.csv"))
    _denied(lambda: a.create_bucket(Bucket="otro"))
    # nothing it tried changed anything
    pipeline = server["pipeline"]
    assert pipeline.get_object(Bucket="carga", Key=f"raw/{A}/abc/visitas.csv")["Body"].read() == b"x"
    assert pipeline.get_object(Bucket="publico",
                               Key="visitas/latest/visitas.csv")["Body"].read() == b"x"
    assert pipeline.get_object(Bucket="reportes", Key=f"{A}/ultimo.json")["Body"].read() == b"x"
    assert f"landing/{B}/intruso.csv" not in _listed(pipeline, "carga", f"landing/{B}/")


@pytest.mark.s3
def test_the_pipeline_key_can_do_everything(server) -> None:
    pipeline = server["pipeline"]
    for bucket, key in [("carga", f"landing/{B}/p.csv"), ("carga", f"raw/{B}/p.csv"),
                        ("reportes", f"{B}/p.json"), ("publico", "visitas/p.csv")]:
        pipeline.put_object(Bucket=bucket, Key=key, Body=b"p")
        assert pipeline.get_object(Bucket=bucket, Key=key)["Body"].read() == b"p"
        assert key in _listed(pipeline, bucket, "")
        pipeline.delete_object(Bucket=bucket, Key=key)
    pipeline.create_bucket(Bucket="otro")
    pipeline.delete_bucket(Bucket="otro")
