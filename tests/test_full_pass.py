"""The spine end to end on the shipped sample entities: ingest → validate → consolidate → publish."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import duckdb
import frictionless
import pytest

from pipeline.flow import included_entities, run_full_pass, seed_sample_uploads
from pipeline.storage.local import LocalStorage
from tests.publication_helpers import resource_bytes
from tests.published import csv_rows, data_files, parquet_glob

NOW = dt.datetime(2024, 11, 1, 12, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


RESOURCES = [
    "visitas",  # the monthly CSVs, one multi-part tabular resource
    "cumplimiento", "cumplimiento.parquet",  # compliance per entity and month, its own schema
    # the datasets published whole (docs/decisores.md), each a CSV and a Parquet resource
    "decisores", "decisores.parquet",
    "actos_gestion_intereses", "actos_gestion_intereses.parquet",
    "indicadores_gestion_intereses", "indicadores_gestion_intereses.parquet",
    *(f"visitas-json-visitas-2024-{m:02d}.json" for m in (8, 9, 10)),
    *(f"visitas-parquet-anio-2024-visitas-2024-{m:02d}.parquet" for m in (8, 9, 10)),
    "visitas.schema.json", "changes.json", "cambios.md",
    "visitas-completo.csv.gz", "visitas-completo.parquet", "visitas.duckdb",
    "decisores.schema.json", "actos_gestion_intereses.schema.json",
    "indicadores_gestion_intereses.schema.json",
    "cumplimiento.schema.json", "cumplimiento.html",
]


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
    # Parquet under the one year directory (hive `anio=2024`), then the release's other files.
    assert [r["name"] for r in package["resources"]] == RESOURCES
    assert package["resources"][0]["path"] == [
        f"visitas/csv/visitas-2024-{m:02d}.csv" for m in (8, 9, 10)]
    for resource in package["resources"]:
        content = resource_bytes(LocalStorage(publish_dir), "latest", resource)
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
        assert [(e["rowNumber"], e["fieldName"]) for e in errors] == [
            (r["row"], r["field"]) for r in f["invalid_rows"]]
        folder = project.warehouse_dir / "batches" / f["ruc"] / batch.sha256
        assert (folder / "quarantine.parquet").exists() is bool(f["invalid_rows"])
    # Each rejected row is kept with the error type and field the administrator has to fix.
    quarantine = project.warehouse_dir / "batches" / "*" / "*" / "quarantine.parquet"
    quarantined = duckdb.connect().execute(f"""
        SELECT regexp_extract(filename, 'batches/([0-9]+)/', 1), _fila, errores
        FROM read_parquet('{quarantine}', filename = true) ORDER BY ALL""").fetchall()
    assert quarantined == [("20999100016", 35, "exit-before-entry: Hora Salida"),
                           ("20999100016", 40, "constraint-error: Visitante"),
                           ("20999300031", 25, "invalid-date: Fecha de Visita"),
                           ("20999300031", 36, "constraint-error: Funcionario visitado")]


def test_second_pass_is_idempotent(project):
    first = full_pass(project).publication
    files = data_files(project.var_dir / "publish")
    outcome = full_pass(project)
    assert all(b.status == "unchanged" for e in outcome.entities for b in e.batches)
    # Nothing changed: no new release, the same files served.
    assert outcome.publication.new_release is False
    assert outcome.publication.version == first.version
    assert data_files(project.var_dir / "publish") == files


def test_late_exit_time_fills_the_same_visit(project):
    full_pass(project)
    # The seven visits of visitas-2024-10.csv without exit time: visitas-2024-10-b.csv carries
    # five of them again with it; the other two stay open, and nothing is duplicated.
    blank_in_first_upload = {("2024-10-01", "08:40:00"), ("2024-10-10", "08:29:00"),
                             ("2024-10-16", "13:29:22"), ("2024-10-22", "10:32:00"),
                             ("2024-10-24", "10:17:24"), ("2024-10-30", "14:45:00"),
                             ("2024-10-30", "15:37:28")}
    rows = [r for r in csv_rows(project.var_dir / "publish") if r["entidad_ruc"] == "20999300031"]
    assert len(rows) == 38
    assert sorted((r["fecha_visita"], r["hora_ingreso"], r["hora_salida"]) for r in rows
                  if (r["fecha_visita"], r["hora_ingreso"]) in blank_in_first_upload) == [
        ("2024-10-01", "08:40:00", "09:30:00"), ("2024-10-10", "08:29:00", ""),
        ("2024-10-16", "13:29:22", "14:04:04"), ("2024-10-22", "10:32:00", "11:07:00"),
        ("2024-10-24", "10:17:24", ""), ("2024-10-30", "14:45:00", "15:50:00"),
        ("2024-10-30", "15:37:28", "15:57:43")]


def test_published_row_values(project):
    """One known visit of each entity, every published field (but the keyed `visitante_id`)
    normalised from the composite official fields; document types counted per entity."""
    full_pass(project)
    rows = {r["id_visita"]: {k: v for k, v in r.items() if k != "visitante_id"}
            for r in csv_rows(project.var_dir / "publish")}
    assert len(rows) == 115  # one id per visit
    # visitas-2024-08.csv row 7: "CEX : 001728901", "Entidad pública - …", an area with " - ".
    assert rows["76d333c1b1ae7c23"] == {
        "id_visita": "76d333c1b1ae7c23", "entidad_ruc": "20999100016",
        "entidad_nombre": "Municipalidad Distrital de Ejemplo Norte",
        "fecha_registro": "2024-08-08", "fecha_visita": "2024-08-08", "hora_ingreso": "11:58:00",
        "hora_salida": "12:40:00", "visitante_nombre": "MÜLLER PÉREZ MARÍA JOSÉ",
        "visitante_tipo_documento": "CE", "visitante_numero_documento": "*******01",
        "visitante_tipo_entidad": "Entidad pública",
        "visitante_entidad": "MUNICIPALIDAD PROVINCIAL DE EJEMPLO",
        "funcionario_nombre": "CCORI HUAMANÍ VÍCTOR HUGO",
        "funcionario_area": "GERENCIA DE DESARROLLO URBANO - SUBGERENCIA DE OBRAS PRIVADAS",
        "funcionario_cargo": "SUBGERENTE", "motivo": "Reunión de trabajo",
        "motivo_detalle": "Revisión de expediente técnico", "lugar": "Despacho de Alcaldía",
        "observacion": "",
    }
    # visitas-2024-09.xlsx row 3: native date and time cells, "PASAPORTE AX361911".
    assert rows["49cd7873db1f9910"] == {
        "id_visita": "49cd7873db1f9910", "entidad_ruc": "20999200029",
        "entidad_nombre": "Ministerio de Ejemplo", "fecha_registro": "2024-09-03",
        "fecha_visita": "2024-09-03", "hora_ingreso": "13:03:00", "hora_salida": "13:52:00",
        "visitante_nombre": "MARTÍNEZ PÉREZ ANNA", "visitante_tipo_documento": "PASAPORTE",
        "visitante_numero_documento": "******11", "visitante_tipo_entidad": "Persona natural",
        "visitante_entidad": "", "funcionario_nombre": "LAZO GUTIÉRREZ PEDRO PABLO",
        "funcionario_area": "SECRETARÍA GENERAL - OFICINA GENERAL DE ADMINISTRACIÓN - "
                            "OFICINA DE ABASTECIMIENTO",
        "funcionario_cargo": "ESPECIALISTA", "motivo": "Otros Motivos",
        "motivo_detalle": "Seguimiento de trámite", "lugar": "Sala Técnica 3", "observacion": "",
    }
    # visitas-2024-10.csv row 5 (Windows-1252): an area holding both a comma and " - ".
    assert rows["d939c56f5980f993"] == {
        "id_visita": "d939c56f5980f993", "entidad_ruc": "20999300031",
        "entidad_nombre": "Gobierno Regional de Ejemplo Sur", "fecha_registro": "2024-10-03",
        "fecha_visita": "2024-10-03", "hora_ingreso": "11:32:00", "hora_salida": "12:17:00",
        "visitante_nombre": "DE LA CRUZ CASTRO PERCY", "visitante_tipo_documento": "DNI",
        "visitante_numero_documento": "******92", "visitante_tipo_entidad": "Entidad privada",
        "visitante_entidad": "AGROEXPORTADORA VALLE DE EJEMPLO S.A.",
        "funcionario_nombre": "CHOQUE QUISPE ROSA AMELIA",
        "funcionario_area": "GERENCIA REGIONAL DE PLANEAMIENTO, PRESUPUESTO Y ACONDICIONAMIENTO "
                            "TERRITORIAL - OFICINA DE PROGRAMACIÓN MULTIANUAL DE INVERSIONES",
        "funcionario_cargo": "JEFA DE OFICINA", "motivo": "Otros Motivos",
        "motivo_detalle": "Consulta sobre licencia de funcionamiento",
        "lugar": "Despacho de Gobernación", "observacion": "",
    }
    # "DNI …", "DNI/LE …" and bare numbers are DNI; "CE …" and "CEX : …" are CE; "PASAPORTE …"
    # and "PSP : …" are PASAPORTE.
    counts: dict[tuple[str, str], int] = {}
    for r in rows.values():
        key = (r["entidad_ruc"], r["visitante_tipo_documento"])
        counts[key] = counts.get(key, 0) + 1
    assert counts == {
        ("20999100016", "CE"): 3, ("20999100016", "DNI"): 32, ("20999100016", "PASAPORTE"): 2,
        ("20999200029", "CE"): 3, ("20999200029", "DNI"): 35, ("20999200029", "PASAPORTE"): 2,
        ("20999300031", "CE"): 3, ("20999300031", "DNI"): 33, ("20999300031", "PASAPORTE"): 2,
    }


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
    assert [r["name"] for r in package["resources"]] == RESOURCES
    for resource in package["resources"]:
        data = resource_bytes(publish, "latest", resource)
        assert resource["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
        assert resource["bytes"] == len(data)
    # Raw uploads are archived byte for byte under <RUC>/<sha256>/<name>: the visit uploads of
    # the manifest and each entity's decision-makers register.
    raw = open_storage(settings.raw_url)
    expected = {}
    uploads = [f["path"] for f in manifest["files"]]
    uploads += [f"{ruc}/decisores.csv" for ruc in ("20999100016", "20999200029", "20999300031")]
    for path in uploads:
        data = (project.samples_dir / path).read_bytes()
        ruc, name = path.split("/")
        expected[f"{ruc}/{hashlib.sha256(data).hexdigest()}/{name}"] = data
    assert {o.key: raw.read_bytes(o.key) for o in raw.list("")} == expected
