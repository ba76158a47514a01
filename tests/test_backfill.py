"""`visitas backfill`: a synthetic multi-year history whose headers and formats drift (four
layouts, Windows-1252 and UTF-8, HTML and JSON, dates only in file names and title rows)
ingests exactly — every row, every field — with its provenance; an interrupted backfill
resumed stages nothing twice; the history is published like any upload."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from benchmarks._history import COLUMNS, ENTITY_YAML, RUC, Corpus, write_corpus
from pipeline.cli import main
from pipeline.ingestion.batches import batch_folders
from tests.processes import VISITAS

TODAY = dt.date(2024, 12, 31)


@pytest.fixture
def history(project, tmp_path) -> tuple[object, Corpus, Path]:
    """The test project with the history entity registered, and its history on disk."""
    (project.entities_dir / f"{RUC}.yaml").write_text(ENTITY_YAML, encoding="utf-8")
    folder = tmp_path / "historial"
    return project, write_corpus(folder), folder


def staged(settings) -> tuple[dict[tuple[str, int], dict], dict[tuple[str, int], str],
                              list[dict]]:
    """Every staged valid row and quarantined row of the entity, by (file, row); and every
    batch's record."""
    valid: dict[tuple[str, int], dict] = {}
    rejected: dict[tuple[str, int], str] = {}
    records = []
    for folder in batch_folders(settings, RUC):
        meta = json.loads((folder / "batch.json").read_text("utf-8"))
        records.append(meta)
        if (folder / "valid.parquet").exists():
            for row in pq.read_table(folder / "valid.parquet").to_pylist():
                key = (row["_archivo"], row["_fila"])
                assert key not in valid, f"staged twice: {key}"
                valid[key] = {c: row[c] for c in COLUMNS}
        if (folder / "quarantine.parquet").exists():
            for row in pq.read_table(folder / "quarantine.parquet").to_pylist():
                key = (meta["archivo"], row["_fila"])
                assert key not in rejected, f"quarantined twice: {key}"
                rejected[key] = row["errores"]
    return valid, rejected, records


def check_exact(settings, corpus: Corpus) -> list[dict]:
    valid, rejected, records = staged(settings)
    assert valid.keys() == corpus.valid.keys()
    for key, expected in corpus.valid.items():
        assert valid[key] == expected, key
    assert rejected == {key: f"{kind}: {field}" for key, (kind, field) in corpus.rejected.items()}
    return records


def test_a_drifting_history_backfills_exactly(history):
    settings, corpus, folder = history
    result = CliRunner().invoke(main, ["backfill", RUC, str(folder), "--procesos", "2",
                                       "--today", TODAY.isoformat()])
    assert result.exit_code == 0, result.output
    records = check_exact(settings, corpus)
    # one batch per file, with where it came from and how it was read
    assert sorted(r["archivo"] for r in records) == sorted(p.name for p in corpus.files)
    by_name = {r["archivo"]: r for r in records}
    for path in corpus.files:
        record = by_name[path.name]
        assert record["ingesta"] == "backfill"
        assert record["fuente"] == "files"
        assert record["ruta_original"] == str(path.resolve())
        assert record["origen"] == str(path.resolve())
    layouts = {r["archivo"]: r["correspondencia"] for r in records}
    assert layouts["visitas-2014-03.xls"] == layouts["visitas-2015-09.xls"] == "html-2014"
    assert layouts["visitas_2016-05-03.csv"] == layouts["visitas_2016-11-21.csv"] == "csv-2016"
    assert layouts["visitas-2021-sem03.json"] == "json-2020"
    assert layouts["visitas-2022-06.json"] == "json-2022"
    # the raw bytes are archived under their checksum, as uploads are
    for record in records:
        assert Path(record["archivo_crudo"]).read_bytes() == \
            Path(record["ruta_original"]).read_bytes()
    # the report: files and rows accepted and rejected, and why, per layout
    output = result.output
    assert (f"Carga histórica de {RUC} Municipalidad Provincial de Ejemplo Histórico: "
            f"15 archivos con 169 filas (150 aceptadas, 19 rechazadas)") in output
    assert "  formato «html-2014»: 4 archivos, 72 filas: 64 aceptadas, 8 rechazadas." in output
    assert "      Hora en otro formato [time-format-mismatch]: 4 errores" in output
    assert "      Valor no permitido [constraint-error]: 4 errores" in output
    assert "  formato «csv-2016»: 5 archivos, 40 filas: 35 aceptadas, 5 rechazadas." in output
    assert "      Salida antes del ingreso [exit-before-entry]: 5 errores" in output
    assert "  formato «json-2020»: 3 archivos, 30 filas: 27 aceptadas, 3 rechazadas." in output
    assert "      Fecha en otro formato [date-format-mismatch]: 3 errores" in output
    assert "  formato «json-2022»: 3 archivos, 27 filas: 24 aceptadas, 3 rechazadas." in output
    assert "      Falta el funcionario visitado [missing-official]: 3 errores" in output
    # a second run changes nothing and says so
    again = CliRunner().invoke(main, ["backfill", RUC, str(folder), "--json"])
    assert again.exit_code == 0, again.output
    report = json.loads(again.output)
    assert report["totales"] == {"archivos": 15, "archivos_nuevos": 0, "archivos_de_antes": 15,
                                 "filas": 169, "filas_aceptadas": 150, "filas_rechazadas": 19}
    assert check_exact(settings, corpus) == records


def test_an_interrupted_backfill_resumes_without_duplicates(project, tmp_path):
    (project.entities_dir / f"{RUC}.yaml").write_text(ENTITY_YAML, encoding="utf-8")
    folder = tmp_path / "historial"
    corpus = write_corpus(folder, scale=3)
    batches = project.warehouse_dir / "batches" / RUC
    process = subprocess.Popen(
        [str(VISITAS), "backfill", RUC, str(folder), "--procesos", "1",
         "--today", TODAY.isoformat()],
        env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not list(batches.glob("*/batch.json")):
            assert process.poll() is None, "the backfill ended before it could be interrupted"
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        # the machine stops: the command and its worker, at once
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    done_before = len(list(batches.glob("*/batch.json")))
    assert 0 < done_before < len(corpus.files)
    result = CliRunner().invoke(main, ["backfill", RUC, str(folder), "--procesos", "2",
                                       "--today", TODAY.isoformat()])
    assert result.exit_code == 0, result.output
    records = check_exact(settings=project, corpus=corpus)
    assert len(records) == len(corpus.files)
    # nothing half-written is left: no scratch folder of the killed processes
    assert [p.name for p in batches.iterdir() if p.name.startswith(".")] == []
    assert (f"{done_before} archivos ya estaban cargados por una carga anterior"
            if done_before > 1 else "1 archivo ya estaba cargado por una carga anterior") \
        in result.output


def test_the_history_is_published_like_any_upload(history):
    from pipeline.flow import run_full_pass
    from tests.published import parquet_glob

    settings, corpus, folder = history
    result = CliRunner().invoke(main, ["backfill", RUC, str(folder), "--today",
                                       TODAY.isoformat()])
    assert result.exit_code == 0, result.output
    outcome = run_full_pass(settings, echo=lambda _: None, today=TODAY)
    assert outcome.exit_code == 0
    import duckdb

    files = parquet_glob(settings.var_dir / "publish")
    published = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{files}', "
        f"hive_partitioning = true) WHERE entidad_ruc = '{RUC}'").fetchone()[0]
    assert published == len(corpus.valid)


def test_validate_with_the_entity_applies_its_mapping(history):
    _settings, corpus, _ = history
    page = next(p for p in corpus.files if p.name == "visitas-2014-03.xls")
    result = CliRunner().invoke(main, ["validate", str(page), "--entity", RUC, "--today",
                                       TODAY.isoformat()])
    assert result.exit_code == 1, result.output  # two rows wrong on purpose
    assert "Se leyó con el formato «html-2014» de la correspondencia de la entidad" in result.output
    assert "16 visitas válidas seguirán su curso" in result.output
    assert ("Fila 4, «hora_ingreso»: «25.70» no es una hora en el formato que la "
            "correspondencia de la entidad declara (formato declarado «%H.%M» o «%H:%M»).") \
        in result.output
    # without the entity the page is what it always was: not a table of the upload format
    plain = CliRunner().invoke(main, ["validate", str(page)])
    assert plain.exit_code == 2
    assert "una página web (HTML), no una hoja de cálculo" in plain.output


def test_files_of_other_features_and_unknown_shapes_are_told_apart(history, tmp_path):
    _settings, _, _ = history
    folder = tmp_path / "otros"
    folder.mkdir()
    (folder / "retiros-2020.csv").write_text("id_visita,motivo\n", encoding="utf-8")
    (folder / "notas.json").write_text('{"total": 3}', encoding="utf-8")
    (folder / "otra-tabla.csv").write_text("a;b;c\n1;2;3\n", encoding="utf-8")
    (folder / "copia.csv").write_text("a;b;c\n1;2;3\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["backfill", RUC, str(folder)])
    assert result.exit_code == 1, result.output
    output = result.output
    assert "retiros-2020.csv: no es un archivo de visitas" in output
    assert "copia.csv = otra-tabla.csv" in output or "otra-tabla.csv = copia.csv" in output
    assert "Archivos rechazados enteros (2)" in output
    assert ("notas.json: El archivo no tiene un formato legible: El JSON es un objeto sin una "
            "lista de registros reconocible (claves: «total»).") in output
    assert ("copia.csv: El encabezado del archivo no corresponde a ningún formato de la "
            "correspondencia de la entidad ni a un formato de carga.") in output
    assert "Los lotes nuevos quedan listos" not in output  # none has a row to publish


def test_backfill_of_an_unregistered_entity_is_refused(project, tmp_path):
    result = CliRunner().invoke(main, ["backfill", "20999400044", str(tmp_path)])
    assert result.exit_code == 64
    assert "La entidad 20999400044 no está registrada" in result.output


def test_a_backfilled_batch_that_lost_its_data_is_staged_again_with_its_provenance(history):
    from pipeline.ingestion.batches import ingest_entity
    from pipeline.registry import load_registry

    settings, corpus, _folder = history
    one = next(p for p in corpus.files if p.suffix == ".json")
    result = CliRunner().invoke(main, ["backfill", RUC, str(one), "--today", TODAY.isoformat()])
    assert result.exit_code == 0, result.output
    [batch] = list(batch_folders(settings, RUC))
    before = json.loads((batch / "batch.json").read_text("utf-8"))
    (batch / "valid.parquet").unlink()
    entity = next(e for e in load_registry(settings.entities_dir) if e.ruc == RUC)
    outcome = ingest_entity(settings, entity, today=TODAY)
    assert [b.repaired for b in outcome.batches] == [True]
    after = json.loads((batch / "batch.json").read_text("utf-8"))
    for key in ("ingesta", "ruta_original", "origen", "correspondencia", "fuente", "filas_validas"):
        assert after[key] == before[key], key
    assert len(pq.read_table(batch / "valid.parquet")) == before["filas_validas"]
