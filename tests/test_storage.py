"""The Storage contract, checked against the local directory and a real S3 (SeaweedFS)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from pipeline.atomic import SCRATCH_MARKER, is_scratch
from pipeline.storage import StorageError, open_storage
from pipeline.storage.base import Storage, sha256_file
from pipeline.storage.local import LocalStorage
from pipeline.storage.s3 import PART_SIZE, S3Storage
from tests.s3server import S3Server

MiB = 1 << 20
S3_PREFIX = "publish"


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "store")
    request.getfixturevalue("s3_env")
    bucket = request.getfixturevalue("s3_bucket")
    # A prefix, so every test also checks that keys stay relative to it.
    return S3Storage(bucket, S3_PREFIX)


@pytest.fixture
def s3_storage(s3_env: S3Server, s3_bucket: str) -> S3Storage:
    return S3Storage(s3_bucket, S3_PREFIX)


def random_file(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


# --- the contract, on both backends -----------------------------------------------------


def test_write_read_round_trip(storage: Storage) -> None:
    data = "fecha,entidad,región\n2024-01-02,MINSA,Perú\n".encode()
    storage.write_bytes("datos/visitas.csv", data, content_type="text/csv")
    assert storage.read_bytes("datos/visitas.csv") == data
    assert storage.sha256("datos/visitas.csv") == hashlib.sha256(data).hexdigest()


def test_overwrite_replaces_content(storage: Storage) -> None:
    storage.write_bytes("a.txt", b"uno")
    storage.write_bytes("a.txt", b"dos")
    assert storage.read_bytes("a.txt") == b"dos"


def test_list_is_sorted_relative_and_filtered_by_prefix(storage: Storage) -> None:
    contents = {
        "b/2.csv": b"22",
        "a/2.csv": b"2",
        "a/10.csv": b"1010",
        "a/1.csv": b"1",
        "c.txt": b"ccc",
        "ab.txt": b"x",
    }
    for key, data in contents.items():
        storage.write_bytes(key, data)

    everything = list(storage.list())
    assert [o.key for o in everything] == sorted(contents)
    assert {o.key: o.size for o in everything} == {k: len(v) for k, v in contents.items()}

    assert [o.key for o in storage.list("a/")] == ["a/1.csv", "a/10.csv", "a/2.csv"]
    # A prefix is a string prefix, not a directory: "a" also matches "ab.txt".
    assert [o.key for o in storage.list("a")] == ["a/1.csv", "a/10.csv", "a/2.csv", "ab.txt"]
    assert list(storage.list("nada/")) == []


def test_list_shows_names_that_only_look_temporary(storage: Storage) -> None:
    # Entities name their files as they like; only the storage's own scratch is hidden.
    names = [".visitas-octubre.csv", "visitas.tmp-2024.csv", ".DS_Store", ".x.tmp-abc"]
    for name in names:
        storage.write_bytes(f"20999300031/{name}", b"1")
    listed = [o.key for o in storage.list("20999300031/")]
    assert listed == [f"20999300031/{name}" for name in sorted(names)]
    assert list(storage.list_scratch("20999300031/")) == []


def test_exists(storage: Storage) -> None:
    assert not storage.exists("x/y.parquet")
    storage.write_bytes("x/y.parquet", b"PAR1")
    assert storage.exists("x/y.parquet")
    assert not storage.exists("x")  # a "directory" is not an object


def test_download(storage: Storage, tmp_path: Path) -> None:
    data = os.urandom(4096)
    storage.write_bytes("bin/blob", data)
    dest = tmp_path / "descarga.bin"
    storage.download("bin/blob", dest)
    assert dest.read_bytes() == data


def test_upload_large_file_multipart(storage: Storage, tmp_path: Path) -> None:
    src = random_file(tmp_path / "grande.bin", 6 * MiB)
    assert src.stat().st_size > PART_SIZE  # above the multipart threshold
    storage.upload(src, "grande/visitas.parquet", content_type="application/octet-stream")

    assert storage.sha256("grande/visitas.parquet") == sha256_file(src)
    [info] = storage.list("grande/")
    assert info.size == 6 * MiB
    dest = tmp_path / "vuelta.bin"
    storage.download("grande/visitas.parquet", dest)
    assert sha256_file(dest) == sha256_file(src)


def test_copy(storage: Storage) -> None:
    storage.write_bytes("origen/a.json", b'{"ok": true}')
    storage.copy("origen/a.json", "destino/a.json")
    assert storage.read_bytes("destino/a.json") == b'{"ok": true}'
    assert storage.exists("origen/a.json")


def test_delete(storage: Storage) -> None:
    storage.write_bytes("borrar.txt", b"x")
    storage.delete("borrar.txt")
    assert not storage.exists("borrar.txt")
    storage.delete("borrar.txt")  # deleting a missing key is not an error


def test_read_missing_raises_storage_error(storage: Storage, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no-existe"):
        storage.read_bytes("no-existe.csv")
    with pytest.raises(StorageError, match="no-existe"):
        storage.download("no-existe.csv", tmp_path / "x")


@pytest.mark.parametrize("key", ["/absoluta", "a/../b"])
def test_invalid_keys_rejected(storage: Storage, key: str) -> None:
    with pytest.raises(StorageError, match="Clave no válida"):
        storage.write_bytes(key, b"x")


def test_create_only_write_bytes(storage: Storage) -> None:
    storage.write_bytes("manifiesto.json", b"v1", if_absent=True)
    with pytest.raises(StorageError, match="Ya existe"):
        storage.write_bytes("manifiesto.json", b"v2", if_absent=True)
    assert storage.read_bytes("manifiesto.json") == b"v1"


def test_create_only_upload(storage: Storage, tmp_path: Path) -> None:
    first = random_file(tmp_path / "v1.bin", 1024)
    second = random_file(tmp_path / "v2.bin", 1024)
    storage.upload(first, "lote/v.bin", if_absent=True)
    with pytest.raises(StorageError, match="Ya existe"):
        storage.upload(second, "lote/v.bin", if_absent=True)
    assert storage.read_bytes("lote/v.bin") == first.read_bytes()


# --- local specifics --------------------------------------------------------------------


def test_local_write_in_progress_is_hidden_and_listed_as_scratch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    storage = LocalStorage(tmp_path / "store")
    storage.write_bytes("d/antes.csv", b"0")
    copyfile = shutil.copyfile
    seen: dict[str, object] = {}

    def copy_and_look(src: object, dest: object) -> None:
        copyfile(src, dest)
        seen["scratch"] = Path(str(dest)).name
        seen["listed"] = [o.key for o in storage.list("d/")]
        seen["unfinished"] = [o.key for o in storage.list_scratch("d/")]

    monkeypatch.setattr(shutil, "copyfile", copy_and_look)
    storage.upload(random_file(tmp_path / "v.csv", 10), "d/v.csv")
    monkeypatch.undo()

    # The scratch name follows the one project convention (pipeline.atomic).
    scratch = str(seen["scratch"])
    assert is_scratch(scratch) and scratch.startswith(".v.csv" + SCRATCH_MARKER)
    assert seen["listed"] == ["d/antes.csv"]
    assert seen["unfinished"] == [f"d/{scratch}"]
    assert [o.key for o in storage.list("d/")] == ["d/antes.csv", "d/v.csv"]
    assert list(storage.list_scratch()) == []


def test_local_scratch_folder_contents_are_scratch(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    staged = tmp_path / "r" / f".lote{SCRATCH_MARKER}7"
    staged.mkdir(parents=True)
    (staged / "batch.json").write_text("{}", encoding="utf-8")
    (tmp_path / "r" / "listo.csv").write_text("1", encoding="utf-8")
    assert [o.key for o in storage.list("r/")] == ["r/listo.csv"]
    assert [o.key for o in storage.list_scratch("r/")] == [f"r/.lote{SCRATCH_MARKER}7/batch.json"]


# --- S3 specifics -----------------------------------------------------------------------


@pytest.mark.s3
def test_s3_keys_live_under_prefix_and_keep_content_type(
    s3_storage: S3Storage, s3_server: S3Server, s3_bucket: str
) -> None:
    client = s3_server.client()
    client.put_object(Bucket=s3_bucket, Key="fuera/del-prefijo.txt", Body=b"x")
    s3_storage.write_bytes("d/a.csv", b"1", content_type="text/csv")

    assert [o.key for o in s3_storage.list()] == ["d/a.csv"]
    head = client.head_object(Bucket=s3_bucket, Key=f"{S3_PREFIX}/d/a.csv")
    assert head["ContentType"] == "text/csv"
    assert s3_storage.url == f"s3://{s3_bucket}/{S3_PREFIX}"
    assert s3_storage.locate("d/a.csv") == f"s3://{s3_bucket}/{S3_PREFIX}/d/a.csv"


@pytest.mark.s3
def test_s3_large_upload_really_is_multipart(
    s3_storage: S3Storage, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    src = random_file(tmp_path / "grande.bin", 6 * MiB)
    s3_storage.upload(src, "grande.bin")
    head = s3_server.client().head_object(Bucket=s3_bucket, Key=f"{S3_PREFIX}/grande.bin")
    # Multipart ETags are "<md5 of part md5s>-<number of parts>".
    assert head["ETag"].strip('"').endswith("-2")


@pytest.mark.s3
def test_s3_create_only_multipart_upload(s3_storage: S3Storage, tmp_path: Path) -> None:
    # Force the path used for files above the 5 GiB single-PUT limit.
    s3_storage.max_single_put = PART_SIZE
    first = random_file(tmp_path / "v1.bin", 6 * MiB)
    second = random_file(tmp_path / "v2.bin", 6 * MiB)
    s3_storage.upload(first, "enorme.bin", if_absent=True)
    assert s3_storage.sha256("enorme.bin") == sha256_file(first)
    with pytest.raises(StorageError, match="Ya existe"):
        s3_storage.upload(second, "enorme.bin", if_absent=True)
    assert s3_storage.sha256("enorme.bin") == sha256_file(first)


@pytest.mark.s3
def test_s3_wrong_secret_gives_storage_error_without_secret(
    s3_env: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "clave-equivocada-" + "x" * 24
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", wrong)
    storage = S3Storage(s3_bucket, S3_PREFIX)

    for attempt in (
        lambda: storage.write_bytes("a.txt", b"x"),
        lambda: storage.read_bytes("a.txt"),
        lambda: list(storage.list()),
        lambda: storage.exists("a.txt"),
    ):
        with pytest.raises(StorageError) as excinfo:
            attempt()
        message = str(excinfo.value)
        assert wrong not in message
        assert s3_env.secret_key not in message
        assert s3_bucket in message
        assert "AWS_SECRET_ACCESS_KEY" in message  # tells the user what to check


@pytest.mark.s3
def test_s3_missing_bucket_is_a_storage_error(s3_env: S3Server) -> None:
    storage = S3Storage("no-existe-este-bucket", "")
    with pytest.raises(StorageError, match="el bucket no existe"):
        storage.write_bytes("a.txt", b"x")
    with pytest.raises(StorageError, match="no-existe-este-bucket"):
        list(storage.list())


@pytest.mark.s3
def test_s3_ensure_bucket_creates_it_once(s3_env: S3Server) -> None:
    name = "visitas-ensure-bucket"
    storage = S3Storage(name, "x")
    client = s3_env.client()
    try:
        storage.ensure_bucket()
        storage.ensure_bucket()  # idempotent
        storage.write_bytes("k", b"v")
        assert storage.read_bytes("k") == b"v"
    finally:
        for obj in client.list_objects_v2(Bucket=name).get("Contents", []):
            client.delete_object(Bucket=name, Key=obj["Key"])
        client.delete_bucket(Bucket=name)


@pytest.mark.s3
def test_open_storage_uses_env_endpoint(s3_env: S3Server, s3_bucket: str) -> None:
    storage = open_storage(f"s3://{s3_bucket}/{S3_PREFIX}/")
    assert isinstance(storage, S3Storage)
    assert storage.endpoint_url == s3_env.endpoint_url
    storage.write_bytes("via-factory.txt", b"ok")
    assert S3Storage(s3_bucket, S3_PREFIX).read_bytes("via-factory.txt") == b"ok"
