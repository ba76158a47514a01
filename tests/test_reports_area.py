"""The reports area: each batch's reports and the entity's `ultimo.json`, where the entity's
administrator reads them (VISITAS_REPORTS_URL), on a local folder and on a real S3 server."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from pipeline.ingestion.batches import ingest_entity
from pipeline.reports import latest_summary, read_latest
from tests.stages import NOW, SAMPLES, TODAY, drop, entity, ingest, settings_for

RUC = "20999100016"
SAMPLE = SAMPLES / RUC / "visitas-2024-08.csv"
REPORTS = ["report.json", "informe.txt", "reporte.html", "rechazadas.csv"]
LATER = NOW.replace(hour=15)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def corrected() -> bytes:
    """The sample without its two rows with errors (rows 35 and 40, as a spreadsheet numbers
    them: the header is row 1)."""
    lines = SAMPLE.read_bytes().split(b"\r\n")
    return b"\r\n".join(line for number, line in enumerate(lines, 1) if number not in (35, 40))


def dirty_summary(sha: str) -> dict:
    return {
        "entidad_ruc": RUC, "archivo": "visitas-2024-08.csv", "lote": sha, "tipo": "visitas",
        "ingestado_en": "2025-01-01T12:00:00+00:00", "estado": "partial", "filas": 40,
        "filas_validas": 37, "filas_rechazadas": 2, "errores": 2,
        "errores_por_tipo": {"constraint-error": 1, "exit-before-entry": 1},
        "carpeta": f"{RUC}/{sha}/", "reportes": REPORTS,
    }


def clean_summary(sha: str) -> dict:
    return {
        "entidad_ruc": RUC, "archivo": "visitas-2024-08-correccion.csv", "lote": sha,
        "tipo": "visitas", "ingestado_en": "2025-01-01T15:00:00+00:00", "estado": "published",
        "filas": 38, "filas_validas": 37, "filas_rechazadas": 0, "errores": 0,
        "errores_por_tipo": {}, "carpeta": f"{RUC}/{sha}/",
        "reportes": ["report.json", "informe.txt", "reporte.html"],
    }


def test_reports_and_ultimo_json_in_a_local_reports_area(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "var")
    drop(settings, RUC, SAMPLE.name, SAMPLE.read_bytes())
    ingest(settings, RUC)
    dirty = sha256(SAMPLE.read_bytes())
    reports = tmp_path / "var" / "reports" / RUC
    staged = tmp_path / "var" / "warehouse" / "batches" / RUC / dirty
    assert sorted(p.name for p in (reports / dirty).iterdir()) == sorted(REPORTS)
    for name in REPORTS:  # the staged reports, as they are
        assert (reports / dirty / name).read_bytes() == (staged / name).read_bytes(), name
    assert json.loads((reports / "ultimo.json").read_text("utf-8")) == dirty_summary(dirty)
    summary = latest_summary(settings, RUC)
    assert summary is not None and not summary.clean
    assert summary.to_dict() == read_latest(settings, RUC) == dirty_summary(dirty)

    # the corrected upload becomes the latest batch; the first one's reports stay
    drop(settings, RUC, "visitas-2024-08-correccion.csv", corrected())
    ingest(settings, RUC, now=LATER)
    clean = sha256(corrected())
    assert sorted(p.name for p in reports.iterdir()) == sorted([dirty, clean, "ultimo.json"])
    assert sorted(p.name for p in (reports / clean).iterdir()) == sorted(REPORTS[:3])
    assert json.loads((reports / "ultimo.json").read_text("utf-8")) == clean_summary(clean)
    assert latest_summary(settings, RUC).clean
    # a run with nothing new rewrites nothing
    before = {p: p.stat().st_mtime_ns for p in reports.rglob("*")}
    ingest(settings, RUC, now=LATER.replace(hour=18))
    assert {p: p.stat().st_mtime_ns for p in reports.rglob("*")} == before


def test_an_entity_without_uploads_has_no_latest_batch(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "var")
    assert latest_summary(settings, RUC) is None
    assert read_latest(settings, RUC) is None


@pytest.mark.s3
def test_reports_and_ultimo_json_on_s3(tmp_path: Path, s3_env, s3_bucket: str) -> None:
    settings = settings_for(tmp_path / "var", VISITAS_REPORTS_URL=f"s3://{s3_bucket}/reportes")
    drop(settings, RUC, SAMPLE.name, SAMPLE.read_bytes())
    ingest(settings, RUC)
    dirty = sha256(SAMPLE.read_bytes())
    client = s3_env.client()

    def keys() -> list[str]:
        return sorted(o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket)
                      .get("Contents", []))

    def ultimo() -> dict:
        body = client.get_object(Bucket=s3_bucket, Key=f"reportes/{RUC}/ultimo.json")
        assert body["ContentType"] == "application/json"
        return json.loads(body["Body"].read())

    assert keys() == sorted([*(f"reportes/{RUC}/{dirty}/{n}" for n in REPORTS),
                             f"reportes/{RUC}/ultimo.json"])
    staged = tmp_path / "var" / "warehouse" / "batches" / RUC / dirty
    page = client.get_object(Bucket=s3_bucket, Key=f"reportes/{RUC}/{dirty}/reporte.html")
    assert page["ContentType"] == "text/html; charset=utf-8"
    assert page["Body"].read() == (staged / "reporte.html").read_bytes()
    assert ultimo() == read_latest(settings, RUC) == dirty_summary(dirty)

    drop(settings, RUC, "visitas-2024-08-correccion.csv", corrected())
    ingest(settings, RUC, now=LATER)
    assert ultimo() == clean_summary(sha256(corrected()))


def test_a_reports_area_that_cannot_be_written_loses_no_batch(tmp_path: Path) -> None:
    """The batch is staged and published all the same; the failure is told, and the next
    ingestion copies the reports it could not."""
    blocked = tmp_path / "no-es-carpeta"
    blocked.write_text("un archivo donde debía ir una carpeta")
    settings = settings_for(tmp_path / "var", VISITAS_REPORTS_URL=str(blocked / "reportes"))
    drop(settings, RUC, SAMPLE.name, SAMPLE.read_bytes())
    outcome = ingest_entity(settings, entity(settings, RUC), today=TODAY, now=NOW)
    dirty = sha256(SAMPLE.read_bytes())
    assert [(b.name, b.status, b.valid_rows) for b in outcome.batches] == [
        ("visitas-2024-08.csv", "partial", 37)]
    assert (tmp_path / "var" / "warehouse" / "batches" / RUC / dirty / "batch.json").is_file()
    where = blocked / "reportes" / RUC / dirty
    assert outcome.report_problems[0] == (
        f"no se pudieron escribir los reportes de visitas-2024-08.csv (lote {dirty[:12]}…) en "
        f"el área de reportes: No se pudo usar {where}: una parte de la ruta no es una carpeta.")
    assert outcome.report_problems[1:] == [
        "se reintentará en la próxima ingesta de la entidad; los lotes están guardados y se "
        "publican igual"]
    pending = tmp_path / "var" / "warehouse" / "batches" / RUC / "reportes-pendientes.json"
    assert json.loads(pending.read_text("utf-8")) == [dirty]

    blocked.unlink()  # the operator fixes the reports area
    again = ingest_entity(settings, entity(settings, RUC), today=TODAY, now=LATER)
    assert (again.new_batches, again.report_problems) == ([], [])
    assert sorted(p.name for p in where.iterdir()) == sorted(REPORTS)
    assert read_latest(settings, RUC) == dirty_summary(dirty)
    assert not pending.exists()
