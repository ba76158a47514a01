"""Releases on a real S3 server (SeaweedFS): two releases, verification, hashes, changelog."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from pipeline.consolidation.visitas import database_path
from pipeline.publication import layout
from pipeline.publication.publisher import (
    complete_releases,
    publish,
    served_release,
)
from pipeline.storage.s3 import S3Storage
from tests.projects import copy_project
from tests.publication_helpers import assert_whole, change_table, settings_for, write_table
from tests.s3server import S3Server

T1 = dt.datetime(2024, 2, 1, 12, 0, tzinfo=dt.UTC)
T2 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
T3 = dt.datetime(2024, 3, 2, 12, 0, tzinfo=dt.UTC)
MONTHS = ("2023-12", "2024-01", "2024-02")  # the 360 visits of write_table
#: the datasets published whole in every release (docs/decisores.md): with no entity's
#: decision-makers register in write_table's database, each holds just its header
LOBBYING_FILES = [f"{table}.{ext}"
                  for table in ("decisores", "actos_gestion_intereses",
                                "indicadores_gestion_intereses")
                  for ext in ("csv", "parquet", "schema.json")]

pytestmark = pytest.mark.s3


@pytest.fixture
def s3_publish(s3_env: S3Server, s3_bucket: str) -> S3Storage:
    return S3Storage(s3_bucket, "publicacion")


def test_two_releases_with_a_change(tmp_path: Path, s3_publish: S3Storage) -> None:
    settings = settings_for(tmp_path)
    db = database_path(settings)
    write_table(db)
    first = publish(settings, now=T1, storage=s3_publish)
    assert first.new_release and first.previous is None
    assert first.changes == {"agregadas": 360, "modificadas": 0, "retiradas": 0}
    assert served_release(s3_publish).id == first.version  # type: ignore[union-attr]
    # Parquet is cut like CSV and JSON: one file per month, inside its year's hive directory.
    assert sorted(f.path for f in first.files) == sorted([
        *(f"visitas/{fmt}/visitas-{m}.{fmt}" for fmt in ("csv", "json") for m in MONTHS),
        *(f"visitas/parquet/anio={m[:4]}/visitas-{m}.parquet" for m in MONTHS),
        "visitas.schema.json", "changes.json", "CAMBIOS.md", "visitas.duckdb",
        "visitas-completo.csv.gz", "visitas-completo.parquet",
        # compliance per entity and month, published beside the visits
        "cumplimiento.csv", "cumplimiento.parquet", "cumplimiento.schema.json",
        "cumplimiento.html", *LOBBYING_FILES])

    expected = change_table(db)
    second = publish(settings, now=T2, storage=s3_publish)
    assert second.new_release and second.previous == first.version
    # Only the month that changed is rewritten, in every format, with the changelog and the
    # whole-dataset files (CSV, Parquet, DuckDB: they hold that month too); its year's other
    # months and the schema are copied unchanged.
    assert sorted(second.written) == ["CAMBIOS.md", "changes.json", "cumplimiento.csv",
                                      "cumplimiento.html", "cumplimiento.parquet",
                                      "visitas-completo.csv.gz", "visitas-completo.parquet",
                                      "visitas.duckdb",
                                      "visitas/csv/visitas-2024-01.csv",
                                      "visitas/json/visitas-2024-01.json",
                                      "visitas/parquet/anio=2024/visitas-2024-01.parquet"]
    assert sorted(second.reused) == sorted([
        *(f"visitas/{fmt}/visitas-{m}.{fmt}" if fmt != "parquet"
          else f"visitas/parquet/anio={m[:4]}/visitas-{m}.parquet"
          for fmt in ("csv", "json", "parquet") for m in ("2023-12", "2024-02")),
        "visitas.schema.json", "cumplimiento.schema.json",
        # no entity has a decision-makers register: those datasets stay empty, unchanged
        *LOBBYING_FILES])
    assert second.changes == {"agregadas": 4, "modificadas": 5, "retiradas": 3}
    changes = json.loads(s3_publish.read_bytes(f"releases/{second.version}/changes.json"))
    got = {(r["entidad"], r["mes"]): {k: r[k] for k in ("agregadas", "modificadas", "retiradas")}
           for r in changes["por_entidad_y_mes"]}
    assert got == expected
    assert changes["version_anterior"] == first.version
    cambios = s3_publish.read_bytes(f"releases/{second.version}/CAMBIOS.md").decode()
    assert "Filas agregadas: 4" in cambios and first.version in cambios

    # latest/ serves the second release, and every hash it announces is the object's.
    assert served_release(s3_publish).id == second.version  # type: ignore[union-attr]
    package = assert_whole(s3_publish, layout.LATEST)
    assert package["version"] == second.version
    for rid in (first.version, second.version):
        assert_whole(s3_publish, layout.release_dir(rid))
    assert complete_releases(s3_publish) == [first.version, second.version]

    # latest/ holds the second release's files at their stable paths, and under objects/ the
    # copies its descriptor named while the stable files that moved were being replaced.
    assert stable_files(s3_publish) == {f.path: f.sha256 for f in second.files}
    whole = ["visitas-completo.csv.gz", "visitas-completo.parquet", "visitas.duckdb"]
    # visits per entity and month changed; the compliance page names its release
    compliance = ["cumplimiento.csv", "cumplimiento.parquet", "cumplimiento.html"]
    assert copy_names(s3_publish) == sorted([
        "CAMBIOS.md", "changes.json", "visitas-2024-01.csv", "visitas-2024-01.json",
        "visitas-2024-01.parquet", *whole, *compliance])
    replaced = latest_copies(s3_publish)
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE visitas SET observacion = 'revisada' WHERE fecha_visita = '2024-02-01'")
    third = publish(settings, now=T3, storage=s3_publish)
    assert third.previous == second.version
    assert stable_files(s3_publish) == {f.path: f.sha256 for f in third.files}
    assert copy_names(s3_publish) == sorted([
        "CAMBIOS.md", "changes.json", "visitas-2024-02.csv", "visitas-2024-02.json",
        "visitas-2024-02.parquet", *whole, "cumplimiento.html"])
    assert replaced.isdisjoint(latest_copies(s3_publish))
    assert_whole(s3_publish, layout.LATEST)


def stable_files(storage: S3Storage) -> dict[str, str]:
    """latest/'s files at their stable paths (documents and copies aside), with their sha256."""
    documents = {layout.MANIFEST, layout.DATAPACKAGE, layout.CATALOG, layout.DATA_JSON,
                 layout.INDEX}
    found = {o.key.removeprefix("latest/") for o in storage.list("latest/")}
    return {path: storage.sha256(f"latest/{path}") for path in found
            if path not in documents and not path.startswith(f"{layout.OBJECTS}/")}


def copy_names(storage: S3Storage) -> list[str]:
    return sorted(key.rsplit("/", 1)[1] for key in latest_copies(storage))


def latest_copies(storage: S3Storage) -> set[str]:
    return {o.key for o in storage.list(f"{layout.LATEST}/{layout.OBJECTS}/")}


def test_rerun_without_change_is_idempotent(tmp_path: Path, s3_publish: S3Storage) -> None:
    settings = settings_for(tmp_path)
    write_table(database_path(settings))
    first = publish(settings, now=T1, storage=s3_publish)
    # every published object (the publishers' lock records under .locks/ are not published)
    before = {o.key: s3_publish.sha256(o.key) for o in s3_publish.list()
              if not o.key.startswith(".locks/")}
    again = publish(settings, now=T2, storage=s3_publish)
    assert not again.new_release and again.version == first.version
    assert again.written == [] and again.changes == {}
    assert {o.key: s3_publish.sha256(o.key) for o in s3_publish.list()
            if not o.key.startswith(".locks/")} == before


def test_release_objects_are_create_only(tmp_path: Path, s3_publish: S3Storage) -> None:
    from pipeline.storage import StorageError

    settings = settings_for(tmp_path)
    write_table(database_path(settings))
    first = publish(settings, now=T1, storage=s3_publish)
    key = f"releases/{first.version}/visitas/csv/visitas-2023-12.csv"
    with pytest.raises(StorageError, match="Ya existe"):
        s3_publish.write_bytes(key, b"x", if_absent=True)


def test_same_second_releases_get_distinct_ids(tmp_path: Path, s3_publish: S3Storage) -> None:
    settings = settings_for(tmp_path)
    db = database_path(settings)
    write_table(db)
    first = publish(settings, now=T1, storage=s3_publish)
    change_table(db)
    second = publish(settings, now=T1, storage=s3_publish)
    assert (first.version, second.version) == ("20240201T120000Z", "20240201T120000Z.001")
    assert complete_releases(s3_publish) == [first.version, second.version]
    assert_whole(s3_publish, layout.LATEST)


def test_a_new_column_is_published_without_code_changes(tmp_path: Path) -> None:
    """Publication is generic over the dataset schema: add a field, every partition moves."""

    from pipeline.storage.local import LocalStorage

    root = tmp_path / "proyecto"
    copy_project(root)
    settings = settings_for(tmp_path, root=root)
    db = database_path(settings)
    write_table(db)
    store = LocalStorage(tmp_path / "publish")
    first = publish(settings, now=T1, storage=store)

    schema_file = root / "schemas" / "visitas.schema.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    schema["fields"].append({"name": "canal_registro", "type": "string",
                             "description": "Canal por el que se registró la visita."})
    schema_file.write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
    with duckdb.connect(str(db)) as con:
        con.execute("ALTER TABLE visitas ADD COLUMN canal_registro VARCHAR")
        con.execute("UPDATE visitas SET canal_registro = 'presencial'")
    second = publish(settings, now=T2, storage=store)
    # Every visits file is rewritten; compliance has the same rows and schema as before, and
    # the lobbying datasets (empty: no register) have their own fixed columns.
    assert second.previous == first.version
    assert second.reused == [*LOBBYING_FILES, "cumplimiento.csv", "cumplimiento.parquet",
                             "cumplimiento.schema.json"]
    assert second.changes == {"agregadas": 0, "modificadas": 360, "retiradas": 0}
    package = assert_whole(store, layout.LATEST)
    csv = next(r for r in package["resources"] if r["format"] == "csv")
    assert csv["schema"]["fields"][-1]["name"] == "canal_registro"
    header = (tmp_path / "publish" / layout.LATEST / csv["path"][0]).read_text().splitlines()[0]
    assert header.endswith(",canal_registro")


def test_a_new_pseudonym_key_rewrites_every_month(tmp_path: Path) -> None:
    """Month hashes cover the stored columns and how computed ones are derived: a new key
    changes every `visitante_id`, so every month is rewritten although no stored row moved."""
    from pipeline.storage.local import LocalStorage

    db = database_path(settings_for(tmp_path))
    write_table(db)
    store = LocalStorage(tmp_path / "publish")
    first = publish(settings_for(tmp_path, pseudonym_key="clave-uno"), now=T1, storage=store)
    second = publish(settings_for(tmp_path, pseudonym_key="clave-dos"), now=T2, storage=store)
    assert second.new_release and second.previous == first.version
    assert not [p for p in second.reused if p.startswith("visitas/")]
    # Every one of the 360 rows has a document number, so every visitante_id changed.
    assert second.changes == {"agregadas": 0, "modificadas": 360, "retiradas": 0}


def test_changelog_reads_the_yearly_parquet_of_releases_before_the_monthly_cut(tmp_path: Path) -> None:
    """Releases published before the monthly Parquet have one file per year: a changed
    month's previous rows are read from its year's file, and only from it."""
    from pipeline.publication.manifest import Manifest, ReleaseFile
    from pipeline.publication.publisher import _previous_parquet
    from pipeline.storage.local import LocalStorage

    store = LocalStorage(tmp_path / "publish")
    old = [ReleaseFile("visitas/parquet/anio=2023/visitas-2023.parquet", "parquet", 1, "a", 1, "2023"),
           ReleaseFile("visitas/parquet/anio=2024/visitas-2024.parquet", "parquet", 1, "b", 1, "2024"),
           ReleaseFile("visitas/csv/visitas-2024-01.csv", "csv", 1, "c", 1, "2024-01")]
    for f in old:
        store.write_bytes(f"releases/R1/{f.path}", b"x")
    previous = Manifest(id="R1", dataset="visitas", created="", previous=None, schema_hash="",
                        rows=2, months={}, years={}, files=old)
    found = _previous_parquet(store, previous, ["2024-01"], tmp_path / "prev")
    assert [p.name for p in found] == ["visitas-2024.parquet"]
