"""A new entity publishes without code changes; bad files get a Spanish report and block no one."""

from __future__ import annotations

import datetime as dt
import json
import zipfile

import duckdb
import openpyxl
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.flow import included_entities, run_full_pass, seed_sample_uploads
from tests.published import parquet_glob

NOW = dt.datetime(2024, 11, 1, 12, 0, tzinfo=dt.UTC)
HEADERS = ["Fecha de Registro", "Fecha de Visita", "Entidad visitada", "Visitante",
           "Documento del visitante", "Entidad del visitante", "Funcionario visitado",
           "Hora Ingreso", "Hora Salida", "Motivo", "Lugar específico", "Observación"]
NEW_RUC = "20131370645"  # a real-format RUC with a valid check digit
ROWS = [
    ["02/09/2024", "02/09/2024", "Entidad Nueva", "QUISPE MAMANI ROSA", "DNI 01234567",
     "Entidad privada - ANDES S.A.C.", "TORRES VEGA LUIS - OFICINA GENERAL - ÁREA DE OBRAS - Director",
     "09:00", "09:45", "Gestión de intereses - Proyecto vial", "Sala 2", ""],
    ["03/09/2024", "03/09/2024", "Entidad Nueva", "SMITH JOHN", "PASAPORTE X1234567",
     "Persona natural - a titulo personal", "TORRES VEGA LUIS - OFICINA GENERAL - Director",
     "15:30", "", "Otros Motivos", "", ""],
]


def add_entity(runner: CliRunner) -> None:
    result = runner.invoke(main, ["entity", "add", "--ruc", NEW_RUC, "--name", "Entidad Nueva",
                                  "--admin-name", "Ana Pérez", "--admin-email", "ana@nueva.gob.pe"])
    assert result.exit_code == 0, result.output


def published(settings) -> list[tuple]:
    parquet = parquet_glob(settings.var_dir / "publish")
    return duckdb.connect().execute(
        f"""SELECT entidad_nombre, fecha_visita::VARCHAR, hora_ingreso::VARCHAR, hora_salida::VARCHAR,
                   visitante_nombre, visitante_tipo_documento, visitante_numero_documento,
                   visitante_tipo_entidad, visitante_entidad, funcionario_nombre, funcionario_area,
                   funcionario_cargo, motivo, motivo_detalle
            FROM '{parquet}' WHERE entidad_ruc = ? ORDER BY fecha_visita""", [NEW_RUC]).fetchall()


# Document numbers are published masked (the default personal-data policy).
EXPECTED = [
    ("Entidad Nueva", "2024-09-02", "09:00:00", "09:45:00", "QUISPE MAMANI ROSA", "DNI", "******67",
     "Entidad privada", "ANDES S.A.C.", "TORRES VEGA LUIS", "OFICINA GENERAL - ÁREA DE OBRAS",
     "Director", "Gestión de intereses", "Proyecto vial"),
    ("Entidad Nueva", "2024-09-03", "15:30:00", None, "SMITH JOHN", "PASAPORTE", "******67",
     "Persona natural", None, "TORRES VEGA LUIS", "OFICINA GENERAL", "Director", "Otros Motivos",
     None),
]


def test_new_entity_official_csv_publishes_without_code(project):
    add_entity(CliRunner())
    landing = project.var_dir / "landing" / NEW_RUC
    assert landing.is_dir()  # `visitas entity add` created it
    lines = [";".join(HEADERS)] + [";".join(r) for r in ROWS]
    (landing / "setiembre.csv").write_text("\r\n".join(lines) + "\r\n", encoding="cp1252")
    run_full_pass(project, echo=lambda _: None, now=NOW)
    assert published(project) == EXPECTED


def test_new_entity_official_xlsx_with_title_row(project):
    add_entity(CliRunner())
    landing = project.var_dir / "landing" / NEW_RUC
    assert landing.is_dir()  # `visitas entity add` created it
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Registro de visitas - Setiembre 2024"])
    ws.append(HEADERS)
    for r in ROWS:
        cells: list[object] = list(r)
        # Native Excel date and time cells, as exported by real systems.
        cells[0] = cells[1] = dt.datetime.strptime(r[1], "%d/%m/%Y")
        cells[7] = dt.time.fromisoformat(r[7])
        cells[8] = dt.time.fromisoformat(r[8]) if r[8] else None
        ws.append(cells)
    wb.save(landing / "setiembre.xlsx")
    run_full_pass(project, echo=lambda _: None, now=NOW)
    assert published(project) == EXPECTED


def write_bad_uploads(settings, ruc: str) -> None:
    landing = settings.var_dir / "landing" / ruc
    landing.mkdir(parents=True, exist_ok=True)
    (landing / "vacio.csv").write_bytes(b"")
    (landing / "roto.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    (landing / "columnas.csv").write_text("fecha;persona;hora\n01/09/2024;X;09:00\n", encoding="utf-8")


def test_bad_files_get_spanish_reports_and_others_still_publish(project):
    entities = included_entities(project)
    seed_sample_uploads(project, entities)
    victim = entities[0].ruc
    write_bad_uploads(project, victim)
    outcome = run_full_pass(project, echo=lambda _: None, now=NOW)

    batches = {b.name: b for e in outcome.entities for b in e.batches}
    assert batches["vacio.csv"].status == "rejected"
    assert "vacío" in batches["vacio.csv"].summary
    assert batches["vacio.csv"].report["tasks"][0]["errors"][0]["type"] == "source-error"
    assert batches["roto.xlsx"].report["tasks"][0]["errors"][0]["type"] == "format-error"
    assert "dañado" in batches["roto.xlsx"].summary
    labels = {e["type"] for e in batches["columnas.csv"].report["tasks"][0]["errors"]}
    assert "missing-label" in labels
    assert "Falta la columna obligatoria «Fecha de Visita»" in batches["columnas.csv"].summary
    # The entity's good file and every other entity still publish.
    assert outcome.publication.rows == 115
    # Reports are kept beside each batch for the administrator.
    report_dir = project.warehouse_dir / "batches" / victim / batches["vacio.csv"].sha256
    assert json.loads((report_dir / "report.json").read_text("utf-8"))["valid"] is False
    assert "vacío" in (report_dir / "informe.txt").read_text("utf-8")


def test_corrupt_zip_member_is_a_format_error(project, tmp_path):
    path = tmp_path / "dañado.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "<not-xml")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert "dañado" in result.output


def test_a_huge_upload_is_archived_and_rejected_unread(project, monkeypatch):
    """Over VISITAS_MAX_UPLOAD_MB a file is archived as received and rejected with a Spanish
    report saying how to split it; nothing of it is read, and every other upload publishes."""
    from pipeline.settings import Settings

    monkeypatch.setenv("VISITAS_MAX_UPLOAD_MB", "1")
    settings = Settings.from_env()
    assert settings.max_upload_bytes == 2**20
    entities = included_entities(settings)
    seed_sample_uploads(settings, entities)
    victim = entities[0].ruc
    row = ";".join(ROWS[0])
    huge = settings.var_dir / "landing" / victim / "anio-completo.csv"
    huge.write_text(";".join(HEADERS) + "\n" + "\n".join([row] * 6000) + "\n", encoding="utf-8")
    assert huge.stat().st_size > 2**20
    outcome = run_full_pass(settings, echo=lambda _: None, now=NOW)

    batch = next(b for e in outcome.entities for b in e.batches if b.name == "anio-completo.csv")
    assert batch.status == "rejected"
    [error] = batch.report["tasks"][0]["errors"]
    assert error["type"] == "source-error"
    assert "el máximo admitido es 1 MB" in error["note"]
    assert "Divídalo en partes" in batch.summary
    raw = settings.var_dir / "raw" / victim / batch.sha256 / "anio-completo.csv"
    assert raw.read_bytes() == huge.read_bytes()
    assert outcome.publication.rows == 115  # the samples, as if the huge file were not there

    runner = CliRunner()
    result = runner.invoke(main, ["validate", str(huge)])
    assert result.exit_code == 2
    assert "el máximo admitido es 1 MB" in result.output


def test_upload_limit_setting_must_be_a_positive_number():
    import pytest

    from pipeline.settings import Settings, SettingsError

    assert Settings.from_env({}).max_upload_mb == 4096
    assert Settings.from_env({"VISITAS_MAX_UPLOAD_MB": "64"}).max_upload_bytes == 64 * 2**20
    for bad in ("cero", "0", "-5", "1.5"):
        with pytest.raises(SettingsError, match="VISITAS_MAX_UPLOAD_MB"):
            Settings.from_env({"VISITAS_MAX_UPLOAD_MB": bad})
