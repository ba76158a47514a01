"""The spine end to end on the shipped sample entities: ingest → validate → consolidate → publish."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import duckdb
import frictionless
import pytest

from pipeline.flow import included_entities, run_full_pass, seed_sample_uploads
from tests.published import csv_rows, data_files, parquet_glob

NOW = dt.datetime(2024, 11, 1, 12, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


def expected_visits(manifest: dict) -> int:
    """Valid rows of every sample file, minus re-uploads of the same visit."""
    valid = sum(f["valid_rows"] for f in manifest["files"])
    reuploads = sum(len(f["reuploads"]) for f in manifest["files"])
    return valid - reuploads


def full_pass(settings):
    seed_sample_uploads(settings, included_entities(settings))
    return run_full_pass(settings, echo=lambda _: None, today=TODAY, now=NOW)


def test_publishes_every_valid_sample_row(project, manifest):
    outcome = full_pass(project)
    publish_dir = project.var_dir / "publish"
    latest = publish_dir / "latest"
    package = json.loads((latest / "datapackage.json").read_text("utf-8"))

    assert outcome.publication.rows == expected_visits(manifest) == 115
    # The samples span August–October 2024: one CSV, one JSON and one Parquet per month, the
    # Parquet under the one year directory (hive `anio=2024`).
    data = sorted(r["name"] for r in package["resources"]
                  if r["name"].startswith(("visitas-csv-", "visitas-json-", "visitas-parquet-")))
    assert len([n for n in data if n.endswith(".csv")]) == 3
    assert len([n for n in data if n.endswith(".json")]) == 3
    assert [n for n in data if n.endswith(".parquet")] == [
        f"visitas-parquet-anio-2024-visitas-2024-{m:02d}.parquet" for m in (8, 9, 10)]
    for resource in package["resources"]:
        content = (latest / resource["path"]).read_bytes()
        assert resource["bytes"] == len(content)
        assert resource["hash"] == "sha256:" + hashlib.sha256(content).hexdigest()
    # The same count in every distribution.
    con = duckdb.connect()
    assert con.execute(f"SELECT count(*) FROM '{parquet_glob(publish_dir)}'").fetchone()[0] == 115
    assert len(csv_rows(publish_dir)) == 115
    json_rows = [row for path, content in data_files(publish_dir).items() if path.startswith("json/")
                 for row in json.loads(content)]
    assert len(json_rows) == 115
    # Any Frictionless harvester accepts the package.
    report = frictionless.validate(str(latest / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])


def test_rejected_rows_are_quarantined_with_reasons(project, manifest):
    outcome = full_pass(project)
    by_file = {b.name: b for e in outcome.entities for b in e.batches}
    for f in manifest["files"]:
        batch = by_file[f["file"]]
        assert batch.valid_rows == f["valid_rows"]
        assert batch.rejected_rows == len(f["invalid_rows"])
        assert batch.placeholder_rows == len(f["placeholder_rows"])
        errors = batch.report["tasks"][0]["errors"]
        assert sorted({e["rowNumber"] for e in errors}) == sorted(r["row"] for r in f["invalid_rows"])
        if f["invalid_rows"]:
            folder = project.warehouse_dir / "batches" / f["ruc"] / batch.sha256
            quarantined = duckdb.connect().execute(
                f"SELECT _fila, errores FROM '{folder / 'quarantine.parquet'}' ORDER BY _fila").fetchall()
            assert [row for row, _ in quarantined] == [r["row"] for r in f["invalid_rows"]]
            assert all(reason for _, reason in quarantined)


def test_second_pass_is_idempotent(project):
    first = full_pass(project).publication
    files = data_files(project.var_dir / "publish")
    outcome = full_pass(project)
    assert all(b.status == "unchanged" for e in outcome.entities for b in e.batches)
    # Nothing changed: no new release, the same files served.
    assert outcome.publication.new_release is False
    assert outcome.publication.version == first.version
    assert data_files(project.var_dir / "publish") == files


def test_late_exit_time_fills_the_same_visit(project, manifest):
    full_pass(project)
    reupload = next(f for f in manifest["files"] if f["reuploads"])
    con = duckdb.connect()
    parquet = parquet_glob(project.var_dir / "publish")
    blank = con.execute(f"SELECT count(*) FROM '{parquet}' WHERE entidad_ruc = ? AND hora_salida IS NULL",
                        [reupload["ruc"]]).fetchone()[0]
    first = next(f for f in manifest["files"] if f["ruc"] == reupload["ruc"] and not f["reuploads"])
    # Every visit whose exit time the second upload filled now has one.
    assert blank == len(first.get("blank_exit_rows", [])) - len(reupload["reuploads"])


def test_published_row_values(project):
    """One known visit of each entity, normalised from its composite official fields."""
    full_pass(project)
    con = duckdb.connect()
    parquet = parquet_glob(project.var_dir / "publish")
    rows = con.execute(f"""SELECT entidad_ruc, visitante_tipo_documento, count(*) FROM '{parquet}'
                           GROUP BY ALL ORDER BY ALL""").fetchall()
    assert {r[1] for r in rows} <= {"DNI", "CE", "PASAPORTE"}
    names = dict(con.execute(f"SELECT DISTINCT entidad_ruc, entidad_nombre FROM '{parquet}'").fetchall())
    assert names == {
        "20999100016": "Municipalidad Distrital de Ejemplo Norte",
        "20999200029": "Ministerio de Ejemplo",
        "20999300031": "Gobierno Regional de Ejemplo Sur",
    }
    ids = con.execute(f"SELECT count(DISTINCT id_visita), count(*) FROM '{parquet}'").fetchone()
    assert ids[0] == ids[1]


@pytest.mark.s3
def test_full_pass_against_real_s3(project, s3_env, s3_bucket, manifest):
    from dataclasses import replace

    from pipeline.storage import open_storage

    settings = replace(project, landing_url=f"s3://{s3_bucket}/landing",
                       raw_url=f"s3://{s3_bucket}/raw", publish_url=f"s3://{s3_bucket}/publish")
    outcome = full_pass(settings)
    assert outcome.publication.rows == expected_visits(manifest)
    publish = open_storage(settings.publish_url)
    package = json.loads(publish.read_bytes("latest/datapackage.json"))
    assert len(package["resources"]) >= 7  # 3 monthly CSV + 3 JSON + 1 Parquet, plus extras
    for resource in package["resources"]:
        data = publish.read_bytes(f"latest/{resource['path']}")
        assert resource["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
        assert resource["bytes"] == len(data)
    # Raw uploads are archived under their checksum.
    raw = open_storage(settings.raw_url)
    archived = [o.key for o in raw.list("")]
    assert len(archived) == len(manifest["files"])
    for key in archived:
        _ruc, sha, _name = key.split("/")
        assert hashlib.sha256(raw.read_bytes(key)).hexdigest() == sha
