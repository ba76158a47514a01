"""The published tree as portals and analysts meet it: readable by anyone, served as is by a
plain web server, stable paths under latest/, one download per format for the whole dataset."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipeline import faults
from pipeline.consolidation.visitas import database_path
from pipeline.publication import layout
from pipeline.publication.publisher import publish, served_release
from pipeline.sql import literal
from pipeline.storage.base import Storage
from pipeline.storage.s3 import S3Storage
from tests.publication_helpers import (
    FaultyStorage,
    assert_whole,
    change_table,
    settings_for,
    write_table,
)
from tests.s3server import S3Server
from tests.test_cli_errors import assert_fault, project, visitas

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


def _two_releases(tmp_path: Path, storage: Storage | None = None,
                  check: Callable[[str], None] | None = None) -> tuple[Path, str, str]:
    """Publish the 360 visits, then move every February visit to January: 2024-02 is gone
    from the second release, 2024-01 changed. `check(key)` runs before each write of the
    second release's latest/ switch."""
    settings = settings_for(tmp_path, publish_url=str(tmp_path / "publish"))
    db = database_path(settings)
    write_table(db)
    first = publish(settings, now=T1, storage=storage)
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE visitas SET fecha_visita = fecha_visita - 31, "
                    "fecha_registro = fecha_registro - 31 WHERE fecha_visita >= DATE '2024-02-01'")
    target = storage if check is None or storage is None else Watching(storage, check)
    second = publish(settings, now=T2, storage=target)
    return tmp_path / "publish", first.version, second.version


def test_latest_names_the_current_release_at_stable_paths(tmp_path: Path) -> None:
    publish_dir, _first, second = _two_releases(tmp_path)
    latest = publish_dir / layout.LATEST
    release = publish_dir / layout.release_dir(second)
    manifest = json.loads((latest / layout.MANIFEST).read_text())
    assert manifest["id"] == second
    for f in manifest["files"]:
        assert (latest / f["path"]).read_bytes() == (release / f["path"]).read_bytes(), f["path"]
    # The month the second release no longer has is gone from latest/ too.
    assert sorted(p.name for p in (latest / "visitas" / "csv").iterdir()) == [
        "visitas-2023-12.csv", "visitas-2024-01.csv"]
    assert not (latest / "visitas" / "parquet" / "anio=2024" / "visitas-2024-02.parquet").exists()
    assert sorted(p.name for p in latest.iterdir()) == [
        "CAMBIOS.md", "actos_gestion_intereses.csv", "actos_gestion_intereses.parquet",
        "actos_gestion_intereses.schema.json", "catalog.jsonld", "changes.json",
        "cumplimiento.csv", "cumplimiento.html", "cumplimiento.parquet",
        "cumplimiento.schema.json", "data.json", "datapackage.json", "decisores.csv",
        "decisores.parquet", "decisores.schema.json", "index.html",
        "indicadores_gestion_intereses.csv", "indicadores_gestion_intereses.parquet",
        "indicadores_gestion_intereses.schema.json", "objects", "release.json", "visitas",
        "visitas-completo.csv.gz", "visitas-completo.parquet", "visitas.duckdb",
        "visitas.schema.json"]

    # The descriptor names the stable paths; the monthly CSVs are one multi-part resource.
    package = json.loads((latest / layout.DATAPACKAGE).read_text())
    table = package["resources"][0]
    assert table["name"] == "visitas" and table["type"] == "table"
    assert table["path"] == ["visitas/csv/visitas-2023-12.csv", "visitas/csv/visitas-2024-01.csv"]
    assert table["description"].startswith("360 filas en 2 archivos mensuales (2023-12 a 2024-01)")
    # then compliance, a table with its own schema, and its Parquet
    assert [(r["name"], r["type"]) for r in package["resources"][1:3]] == [
        ("cumplimiento", "table"), ("cumplimiento.parquet", "file")]
    assert package["resources"][1]["schema"]["primaryKey"] == ["entidad_ruc", "mes"]
    # then the datasets published whole, each a table and its Parquet
    lobbying = ("decisores", "actos_gestion_intereses", "indicadores_gestion_intereses")
    assert [(r["name"], r["type"], r["path"]) for r in package["resources"][3:9]] == [
        (name, kind, f"{table}.{ext}") for table in lobbying
        for name, kind, ext in ((table, "table", "csv"), (f"{table}.parquet", "file", "parquet"))]
    assert [r["path"] for r in package["resources"][9:]] == [
        "visitas/json/visitas-2023-12.json", "visitas/json/visitas-2024-01.json",
        "visitas/parquet/anio=2023/visitas-2023-12.parquet",
        "visitas/parquet/anio=2024/visitas-2024-01.parquet",
        "visitas.schema.json", "changes.json", "CAMBIOS.md",
        "visitas-completo.csv.gz", "visitas-completo.parquet", "visitas.duckdb",
        *(f"{table}.schema.json" for table in lobbying),
        "cumplimiento.schema.json", "cumplimiento.html"]
    frictionless = Path(sys.executable).with_name("frictionless")
    done = subprocess.run([str(frictionless), "validate", "--json", str(latest / layout.DATAPACKAGE)],
                          capture_output=True, text=True, timeout=300)
    report = json.loads(done.stdout)
    assert report["valid"], done.stdout[:2000]
    assert [t["stats"]["rows"] for t in report["tasks"] if t["name"] == "visitas"] == [360]
    # 3 entities x 2 months
    assert [t["stats"]["rows"] for t in report["tasks"] if t["name"] == "cumplimiento"] == [6]
    # no entity of write_table has a decision-makers register: each holds just its header
    assert [len((latest / f"{table}.csv").read_text().splitlines()) for table in lobbying] == [
        1, 1, 1]

    # Portals harvest stable download links: data.json and DCAT name latest/'s own paths.
    data = json.loads((latest / layout.DATA_JSON).read_text())
    urls = {d["downloadURL"] for d in data["dataset"][0]["distribution"]}
    assert "./visitas/csv/visitas-2024-01.csv" in urls and "./visitas-completo.csv.gz" in urls
    assert all((latest / url).is_file() for url in urls)


def test_the_whole_dataset_in_one_file_per_format(tmp_path: Path) -> None:
    publish_dir, _first, _second = _two_releases(tmp_path)
    latest = publish_dir / layout.LATEST
    monthly = sorted((latest / "visitas" / "csv").glob("*.csv"))
    parts = [p.read_bytes() for p in monthly]
    expected = parts[0] + b"".join(p.split(b"\n", 1)[1] for p in parts[1:])
    assert gzip.decompress((latest / "visitas-completo.csv.gz").read_bytes()) == expected
    with duckdb.connect() as con:
        rows = con.execute(f"SELECT * FROM read_parquet({literal(str(latest / 'visitas-completo.parquet'))})"
                           ).fetchall()
        by_month = con.execute(f"""SELECT * FROM read_parquet(
            {literal(str(latest / 'visitas' / 'parquet' / 'anio=*' / '*.parquet'))},
            hive_partitioning = false) ORDER BY fecha_visita, entidad_ruc, hora_ingreso, id_visita
            """).fetchall()
    assert len(rows) == 360 and rows == by_month


def test_the_duckdb_file_works_wherever_it_is_opened(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    publish_dir, _first, second = _two_releases(tmp_path)
    elsewhere = tmp_path / "otra-carpeta"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    copied = elsewhere / "descargada.duckdb"
    shutil.copyfile(publish_dir / layout.LATEST / layout.DUCKDB, copied)
    for path in (publish_dir / layout.LATEST / layout.DUCKDB,
                 publish_dir / layout.release_dir(second) / layout.DUCKDB, copied):
        with duckdb.connect(str(path), read_only=True) as con:
            assert con.execute("SELECT strftime(fecha_visita, '%Y-%m') AS mes, count(*) "
                               "FROM visitas GROUP BY mes ORDER BY mes").fetchall() == [
                ("2023-12", 124), ("2024-01", 236)], path
            comment = con.execute("SELECT comment FROM duckdb_columns() "
                                  "WHERE column_name = 'fecha_visita'").fetchone()
            assert comment is not None and "visita" in comment[0].lower()


class Watching(FaultyStorage):
    """Runs `check(key)` before every write to latest/: what a reader would find then."""

    def __init__(self, inner: Storage, check: Callable[[str], None]) -> None:
        super().__init__(inner, None)
        self.check = check

    def _before(self, key: str) -> None:
        if key.startswith(f"{layout.LATEST}/"):
            self.check(key)

    def write_bytes(self, key: str, data: bytes, **kw: Any) -> None:
        self._before(key)
        self.inner.write_bytes(key, data, **kw)

    def copy(self, src_key: str, dest_key: str, **kw: Any) -> None:
        self._before(dest_key)
        self.inner.copy(src_key, dest_key, **kw)

    def delete(self, key: str) -> None:
        self._before(key)
        self.inner.delete(key)


def named_by_latest(storage: Storage) -> set[str]:
    """Every file latest/'s documents name (keys), whatever they say of it."""
    package = json.loads(storage.read_bytes(f"{layout.LATEST}/{layout.DATAPACKAGE}"))
    named = {p for r in package["resources"]
             for p in (r["path"] if isinstance(r["path"], list) else [r["path"]])}
    data = json.loads(storage.read_bytes(f"{layout.LATEST}/{layout.DATA_JSON}"))
    named |= {d["downloadURL"] for dataset in data["dataset"] for d in dataset["distribution"]}
    catalog = json.loads(storage.read_bytes(f"{layout.LATEST}/{layout.CATALOG}"))
    named |= {d["dcat:downloadURL"]["@id"] for node in catalog["@graph"]
              for d in node.get("dcat:distribution", [])}
    page = storage.read_bytes(f"{layout.LATEST}/{layout.INDEX}").decode()
    named |= {h for h in re.findall(r'href="([^"#]+)"', page) if "://" not in h and ".." not in h}
    return {f"{layout.LATEST}/{p.removeprefix('./')}" for p in named}


@pytest.mark.s3
def test_on_s3_latest_never_names_a_missing_or_partial_file(tmp_path: Path, s3_env: S3Server,
                                                            s3_bucket: str) -> None:
    """On S3 the stable files are replaced one by one: before every write of the switch,
    the descriptor names whole files (sizes and hashes hold) and no document of latest/
    names a file that is missing."""
    storage = S3Storage(s3_bucket, "estable")
    seen: list[str] = []

    def check(key: str) -> None:
        seen.append(key)
        assert_whole(storage, layout.LATEST)
        missing = sorted(k for k in named_by_latest(storage) if not storage.exists(k))
        assert missing == [], key

    _publish_dir, _first, second = _two_releases(tmp_path, storage, check)
    check("final")
    assert served_release(storage).id == second  # type: ignore[union-attr]
    assert len(seen) > 20
    # The stable paths hold the second release, the vanished month is gone.
    assert not storage.exists("latest/visitas/csv/visitas-2024-02.csv")
    assert storage.sha256("latest/visitas/csv/visitas-2024-01.csv") == storage.sha256(
        f"{layout.release_dir(second)}/visitas/csv/visitas-2024-01.csv")


@pytest.mark.parametrize("environment", ["demo", "production"])
def test_no_public_base_url_refuses_to_publish_outside_local(tmp_path: Path,
                                                             environment: str) -> None:
    var = tmp_path / "var"
    done = visitas(project(tmp_path, VISITAS_ENV=environment, VISITAS_VAR_DIR=str(var),
                           VISITAS_PSEUDONYM_KEY="k" * 40), "run", "--samples")
    assert_fault(done, faults.EXIT_CONFIG, "Configuración",
                 "VISITAS_PUBLIC_BASE_URL no está definida: es obligatoria en el entorno "
                 f"{environment} para publicar")
    # before any work: nothing ingested, nothing published
    assert done.stdout == ""
    assert not (var / "warehouse").exists() and not (var / "publish").exists()


def test_a_public_base_url_that_is_not_a_url_is_refused(tmp_path: Path) -> None:
    done = visitas(project(tmp_path, VISITAS_PUBLIC_BASE_URL="datos.example.gob.pe"), "run")
    assert_fault(done, faults.EXIT_CONFIG, "Configuración",
                 "VISITAS_PUBLIC_BASE_URL='datos.example.gob.pe' no es una URL")


def test_no_public_base_url_is_a_warning_in_local(tmp_path: Path) -> None:
    var = tmp_path / "var"
    done = visitas(project(tmp_path, VISITAS_VAR_DIR=str(var)), "run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert ("  aviso: VISITAS_PUBLIC_BASE_URL no está definida: data.json y catalog.jsonld "
            "llevan enlaces relativos") in done.stdout
    data = json.loads((var / "publish" / layout.LATEST / layout.DATA_JSON).read_text())
    assert data["dataset"][0]["landingPage"] == "./index.html"

    base = "https://datos.example.gob.pe/visitas"
    again = visitas(project(tmp_path / "con-url", VISITAS_VAR_DIR=str(tmp_path / "var2"),
                            VISITAS_PUBLIC_BASE_URL=base), "run")
    assert again.returncode == 0 and "VISITAS_PUBLIC_BASE_URL" not in again.stdout
    data = json.loads((tmp_path / "var2" / "publish" / layout.LATEST / layout.DATA_JSON).read_text())
    assert data["dataset"][0]["landingPage"] == f"{base}/latest/index.html"
    assert {d["downloadURL"].rsplit("/", 1)[0] for d in data["dataset"][0]["distribution"]
            if d["downloadURL"].endswith(".csv")} == {f"{base}/latest/visitas/csv"}
