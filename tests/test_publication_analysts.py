"""Analysts' path: DuckDB (httpfs from the PyPI extension wheel) and pyarrow query the
published Parquet straight from the S3 server; the views database works once downloaded."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from urllib.parse import urlparse

import duckdb
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pytest

from pipeline.consolidation.visitas import database_path
from pipeline.publication import layout
from pipeline.publication.publisher import publish
from pipeline.storage.s3 import S3Storage
from tests.publication_helpers import settings_for, write_table
from tests.s3server import S3Server

T1 = dt.datetime(2024, 2, 1, 12, 0, tzinfo=dt.UTC)


def httpfs_extension() -> Path:
    import duckdb_extension_httpfs

    found = sorted(Path(duckdb_extension_httpfs.__file__).parent.rglob("httpfs.duckdb_extension"))
    assert found, "duckdb-extension-httpfs no trae httpfs.duckdb_extension"
    return found[0]


@pytest.fixture
def published(tmp_path: Path, s3_env: S3Server, s3_bucket: str) -> tuple[S3Server, str, str]:
    settings = settings_for(tmp_path)
    write_table(database_path(settings))
    storage = S3Storage(s3_bucket, "pub")
    release = publish(settings, now=T1, storage=storage)
    return s3_env, s3_bucket, release.version


@pytest.mark.s3
def test_duckdb_httpfs_reads_published_parquet(published: tuple[S3Server, str, str]) -> None:
    server, bucket, version = published
    host = urlparse(server.endpoint_url).netloc
    con = duckdb.connect()
    con.execute(f"INSTALL '{httpfs_extension()}'")
    con.execute("LOAD httpfs")
    con.execute(f"""CREATE SECRET (TYPE s3, KEY_ID '{server.access_key}',
        SECRET '{server.secret_key}', ENDPOINT '{host}', URL_STYLE 'path', USE_SSL false,
        REGION '{server.region}')""")
    url = f"s3://{bucket}/pub/releases/{version}/visitas/parquet/*/*.parquet"
    rows = con.execute(f"""SELECT anio, count(*), min(fecha_visita)
        FROM read_parquet('{url}', hive_partitioning = true) GROUP BY anio ORDER BY anio""").fetchall()
    assert rows == [(2023, 124, dt.date(2023, 12, 1)), (2024, 236, dt.date(2024, 1, 1))]
    # Sorted by date and entity within each file, as published.
    dates = con.execute(f"""SELECT fecha_visita, entidad_ruc FROM read_parquet('{url}')
        WHERE year(fecha_visita) = 2024""").fetchall()
    assert dates == sorted(dates)


@pytest.mark.s3
def test_pyarrow_dataset_reads_published_parquet(published: tuple[S3Server, str, str]) -> None:
    server, bucket, version = published
    fs = pafs.S3FileSystem(access_key=server.access_key, secret_key=server.secret_key,
                           endpoint_override=server.endpoint_url, region=server.region,
                           allow_bucket_creation=False)
    dataset = ds.dataset(f"{bucket}/pub/releases/{version}/visitas/parquet", filesystem=fs,
                         format="parquet", partitioning="hive")
    table = dataset.to_table(filter=ds.field("anio") == 2024, columns=["id_visita", "anio"])
    assert table.num_rows == 236
    meta = dataset.get_fragments().__next__().metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"


@pytest.mark.s3
def test_views_database_works_when_downloaded(published: tuple[S3Server, str, str],
                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _server, bucket, version = published
    storage = S3Storage(bucket, "pub")
    local = tmp_path / "descarga"
    prefix = f"{layout.release_dir(version)}/"
    for obj in storage.list(prefix):
        dest = local / obj.key[len(prefix):]
        dest.parent.mkdir(parents=True, exist_ok=True)
        storage.download(obj.key, dest)
    monkeypatch.chdir(local)
    with duckdb.connect("visitas.duckdb", read_only=True) as con:
        assert con.execute("SELECT count(*) FROM visitas").fetchone()[0] == 360
    manifest = json.loads((local / "release.json").read_text())
    assert manifest["rows"] == 360
    assert os.path.isfile(local / "CAMBIOS.md")
