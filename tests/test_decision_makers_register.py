"""The decision-makers register (`decisores*` uploads): read by the one upload reader, checked
against its Table Schema and the register's rules, accepted or rejected WHOLE, every version
kept, the newest accepted one in force; and it never touches the published visits."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.flow import run_full_pass
from pipeline.ingestion.batches import BatchOutcome, batches_dir, ingest_entity
from pipeline.ingestion.decision_makers import (
    DecisionMaker,
    entities_with_register,
    is_register_file,
    register_in_force,
    register_versions,
)
from pipeline.publication.publisher import complete_releases
from pipeline.reports import read_latest
from pipeline.settings import Settings
from pipeline.storage import open_storage
from tests.stages import NOW, SAMPLES, TODAY, drop, entity, published_rows, settings_for

NORTE = "20999100016"
LATER = NOW + dt.timedelta(hours=1)
LATEST = NOW + dt.timedelta(hours=2)

# Officials the entity's sample uploads name, with the quirks administrators type: a doubled
# and a trailing space, an ISO date, a 2-digit year, a person in two successive periods.
GOOD = ("Nombre,Cargo,Área,Desde,Hasta\n"
        "SALAZAR MONTOYA EDGAR RAÚL,ALCALDE,ALCALDÍA,01/01/2023,\n"
        "PAREDES  LUNA GLADYS MARLENE ,GERENTE MUNICIPAL,GERENCIA MUNICIPAL,2023-01-02,\n"
        "MORI TELLO LUIS ENRIQUE,GERENTE,GERENCIA DE SERVICIOS A LA CIUDAD,02/01/2023,"
        "30/06/2024\n"
        "MORI TELLO LUIS ENRIQUE,GERENTE,GERENCIA DE SERVICIOS A LA CIUDAD,01/07/2024,\n"
        "CCORI HUAMANÍ VÍCTOR HUGO,SUBGERENTE,GERENCIA DE DESARROLLO URBANO - SUBGERENCIA DE "
        "OBRAS PRIVADAS,15/03/23,\n")
GOOD_MEMBERS = (
    DecisionMaker("SALAZAR MONTOYA EDGAR RAÚL", "ALCALDE", "ALCALDÍA", dt.date(2023, 1, 1),
                  None, 2),
    DecisionMaker("PAREDES LUNA GLADYS MARLENE", "GERENTE MUNICIPAL", "GERENCIA MUNICIPAL",
                  dt.date(2023, 1, 2), None, 3),
    DecisionMaker("MORI TELLO LUIS ENRIQUE", "GERENTE", "GERENCIA DE SERVICIOS A LA CIUDAD",
                  dt.date(2023, 1, 2), dt.date(2024, 6, 30), 4),
    DecisionMaker("MORI TELLO LUIS ENRIQUE", "GERENTE", "GERENCIA DE SERVICIOS A LA CIUDAD",
                  dt.date(2024, 7, 1), None, 5),
    DecisionMaker("CCORI HUAMANÍ VÍCTOR HUGO", "SUBGERENTE",
                  "GERENCIA DE DESARROLLO URBANO - SUBGERENCIA DE OBRAS PRIVADAS",
                  dt.date(2023, 3, 15), None, 6),
)
IN_FORCE = ("sigue vigente el registro anterior, «decisores.csv», recibido el 1 de enero de "
            "2025 a las 07:00 (hora de Lima), con 5 decisores")


def upload(settings: Settings, name: str, data: bytes, now: dt.datetime = NOW) -> BatchOutcome:
    """Drop a file in the entity's landing folder and ingest it: its new batch."""
    drop(settings, NORTE, name, data)
    outcome = ingest_entity(settings, entity(settings, NORTE), today=TODAY, now=now)
    assert outcome.error is None and outcome.report_problems == []
    [batch] = outcome.new_batches
    return batch


def staged(settings: Settings, batch: BatchOutcome) -> tuple[dict[str, Any], dict[str, Any]]:
    """The batch's batch.json and report.json."""
    folder = batches_dir(settings, NORTE) / batch.sha256
    return (json.loads((folder / "batch.json").read_text("utf-8")),
            json.loads((folder / "report.json").read_text("utf-8")))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_for(tmp_path)


def test_a_good_register_is_accepted_with_its_members(settings: Settings) -> None:
    batch = upload(settings, "decisores.csv", GOOD.encode("utf-8"))

    assert (batch.status, batch.rows, batch.valid_rows, batch.rejected_rows) == (
        "published", 5, 5, 0)
    assert batch.summary == "✔ decisores.csv: registro de decisores aceptado: 5 decisores."
    version = register_in_force(settings, NORTE)
    assert version is not None
    assert (version.entity_ruc, version.sha256, version.name, version.received) == (
        NORTE, batch.sha256, "decisores.csv", NOW)
    assert version.members == GOOD_MEMBERS
    assert register_versions(settings, NORTE) == [version]
    assert entities_with_register(settings) == [NORTE]

    meta, report = staged(settings, batch)
    assert {k: meta[k] for k in ("tipo", "entidad_ruc", "archivo", "estado", "legible", "rows",
                                 "filas_validas", "filas_rechazadas", "ingestado_en")} == {
        "tipo": "decisores", "entidad_ruc": NORTE, "archivo": "decisores.csv",
        "estado": "published", "legible": True, "rows": 5, "filas_validas": 5,
        "filas_rechazadas": 0, "ingestado_en": "2025-01-01T12:00:00+00:00"}
    assert list(meta["archivos"]) == ["decisores.parquet"]
    assert meta["archivo_crudo"].endswith(f"raw/{NORTE}/{batch.sha256}/decisores.csv")
    table = pq.read_table(batches_dir(settings, NORTE) / batch.sha256 / "decisores.parquet")
    assert table.schema == pa.schema([("nombre", pa.string()), ("cargo", pa.string()),
                                      ("area", pa.string()), ("desde", pa.date32()),
                                      ("hasta", pa.date32()), ("fila", pa.int32())])
    task = report["tasks"][0]
    assert (report["valid"], task["schema"], task["labels"], task["errors"]) == (
        True, "decisores-registro", ["Nombre", "Cargo", "Área", "Desde", "Hasta"], [])
    assert task["summary"]["filasValidas"] == 5

    # the administrator reads the reports in the reports area, as for any batch
    folder = Path(settings.reports_url) / NORTE / batch.sha256
    assert sorted(p.name for p in folder.iterdir()) == ["informe.txt", "report.json",
                                                        "reporte.html"]
    assert (folder / "informe.txt").read_text("utf-8") == batch.summary + "\n"
    assert "registro de decisores aceptado: 5 decisores." in (folder / "reporte.html").read_text(
        "utf-8")
    latest = read_latest(settings, NORTE)
    assert latest is not None
    assert (latest["tipo"], latest["estado"], latest["archivo"]) == (
        "decisores", "published", "decisores.csv")


def test_an_xlsx_register_below_a_title_row(settings: Settings) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Registro de decisores - Municipalidad Distrital de Ejemplo Norte"])
    ws.append(["NOMBRE", "CARGO", "AREA", "DESDE", "HASTA"])
    # native Excel date cells, as a register kept in Excel has them
    ws.append(["SALAZAR MONTOYA EDGAR RAÚL", "ALCALDE", "ALCALDÍA", dt.datetime(2023, 1, 1),
               None])
    ws.append(["MORI TELLO LUIS ENRIQUE", "GERENTE", "GERENCIA DE SERVICIOS A LA CIUDAD",
               dt.datetime(2023, 1, 2), dt.datetime(2024, 6, 30)])
    ws.append([])
    ws.append(["PAREDES LUNA GLADYS MARLENE", "GERENTE MUNICIPAL", "GERENCIA MUNICIPAL",
               "02/01/2023", None])
    path = settings.var_dir / "decisores-2025.xlsx"
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    batch = upload(settings, "decisores-2025.xlsx", path.read_bytes())

    assert batch.summary == "✔ decisores-2025.xlsx: registro de decisores aceptado: 3 decisores."
    version = register_in_force(settings, NORTE)
    assert version is not None and version.members == (
        DecisionMaker("SALAZAR MONTOYA EDGAR RAÚL", "ALCALDE", "ALCALDÍA", dt.date(2023, 1, 1),
                      None, 3),
        DecisionMaker("MORI TELLO LUIS ENRIQUE", "GERENTE", "GERENCIA DE SERVICIOS A LA CIUDAD",
                      dt.date(2023, 1, 2), dt.date(2024, 6, 30), 4),
        DecisionMaker("PAREDES LUNA GLADYS MARLENE", "GERENTE MUNICIPAL", "GERENCIA MUNICIPAL",
                      dt.date(2023, 1, 2), None, 6))


def test_a_windows_1252_register_saved_from_excel(settings: Settings) -> None:
    # what Excel writes for "CSV (delimitado por comas)" on a Spanish-locale Windows
    text = ("Nombre;Cargo;Área;Desde;Hasta\r\n"
            "CCORI HUAMANÍ VÍCTOR HUGO;SUBGERENTE;GERENCIA DE DESARROLLO URBANO;15/03/2023;\r\n"
            "ESPINOZA DÍAZ KAREN MILAGROS;ESPECIALISTA EN CONTRATACIONES;SUBGERENCIA DE "
            "LOGÍSTICA;01/02/2024;31/12/2024\r\n")
    batch = upload(settings, "decisores.csv", text.encode("cp1252"))

    assert batch.status == "published"
    version = register_in_force(settings, NORTE)
    assert version is not None and version.members == (
        DecisionMaker("CCORI HUAMANÍ VÍCTOR HUGO", "SUBGERENTE", "GERENCIA DE DESARROLLO URBANO",
                      dt.date(2023, 3, 15), None, 2),
        DecisionMaker("ESPINOZA DÍAZ KAREN MILAGROS", "ESPECIALISTA EN CONTRATACIONES",
                      "SUBGERENCIA DE LOGÍSTICA", dt.date(2024, 2, 1), dt.date(2024, 12, 31), 3))


def test_every_version_is_kept_and_the_newest_accepted_is_in_force(settings: Settings) -> None:
    first = upload(settings, "decisores.csv", GOOD.encode("utf-8"))
    # MORI TELLO leaves; the same file name, new contents: a new version
    second_text = GOOD.replace("GERENCIA DE SERVICIOS A LA CIUDAD,01/07/2024,",
                               "GERENCIA DE SERVICIOS A LA CIUDAD,01/07/2024,31/12/2024")
    second = upload(settings, "decisores.csv", second_text.encode("utf-8"), LATER)
    rejected = upload(settings, "decisores-enero.csv",
                      (GOOD + ",ALCALDE,ALCALDÍA,01/01/2025,\n").encode("utf-8"), LATEST)

    assert rejected.status == "rejected"
    versions = register_versions(settings, NORTE)
    assert [(v.sha256, v.name, v.received) for v in versions] == [
        (first.sha256, "decisores.csv", NOW), (second.sha256, "decisores.csv", LATER)]
    assert versions[0].members == GOOD_MEMBERS
    assert versions[1].members[3] == DecisionMaker(
        "MORI TELLO LUIS ENRIQUE", "GERENTE", "GERENCIA DE SERVICIOS A LA CIUDAD",
        dt.date(2024, 7, 1), dt.date(2024, 12, 31), 5)
    assert register_in_force(settings, NORTE) == versions[1]

    # the corrected file is the next version, and in force
    corrected = upload(settings, "decisores-enero.csv",
                       (GOOD + "VÍLCHEZ ROJAS ANA,ALCALDE,ALCALDÍA,01/01/2027,\n").encode("utf-8"),
                       LATEST + dt.timedelta(hours=1))
    assert corrected.summary == (
        "✔ decisores-enero.csv: registro de decisores aceptado: 6 decisores.")
    in_force = register_in_force(settings, NORTE)
    assert in_force is not None and (in_force.sha256, len(in_force.members)) == (
        corrected.sha256, 6)
    assert len(register_versions(settings, NORTE)) == 3
    # every upload, the rejected one included, is archived as received
    raw = Path(settings.raw_url) / NORTE
    assert sorted(p.name for p in raw.iterdir()) == sorted(
        b.sha256 for b in (first, second, rejected, corrected))


HEADER = "Nombre,Cargo,Área,Desde,Hasta\n"


@pytest.mark.parametrize(("text", "verdict", "errors"), [
    pytest.param(
        HEADER + "MORI TELLO LUIS ENRIQUE,GERENTE,GERENCIA DE SERVICIOS A LA CIUDAD,02/01/2023,"
                 "30/06/2024\n"
                 # another post at the same time is no overlap
                 "MORI TELLO LUIS ENRIQUE,GERENTE MUNICIPAL (E),GERENCIA MUNICIPAL,01/03/2024,"
                 "31/03/2024\n"
                 # the same person (case and accents folded) and post: the last day is shared
                 "Mori  Tello Luis Enrique,Gerente,GERENCIA DE SERVICIOS A LA CIUDAD,30/06/2024,\n",
        f"1 error en 1 fila; {IN_FORCE}.",
        [(4, "overlapping-period", "desde",
          "Fila 4: el periodo de «Mori Tello Luis Enrique» como «Gerente» en «GERENCIA DE "
          "SERVICIOS A LA CIUDAD» (del 30/06/2024 en adelante) se superpone con el de la fila 2 "
          "(del 02/01/2023 al 30/06/2024).")],
        id="overlap"),
    pytest.param(
        HEADER + "SALAZAR MONTOYA EDGAR RAÚL,ALCALDE,ALCALDÍA,01/03/2024,01/02/2024\n",
        f"1 error en 1 fila; {IN_FORCE}.",
        [(2, "end-before-start", "hasta",
          "Fila 2, «hasta»: la fecha 01/02/2024 es anterior a la de «desde», 01/03/2024.")],
        id="hasta-before-desde"),
    pytest.param(
        HEADER + "SALAZAR MONTOYA EDGAR RAÚL,ALCALDE,ALCALDÍA,01/01/2023,\n"
                 "  ,GERENTE MUNICIPAL,GERENCIA MUNICIPAL,02/01/2023,\n",
        f"1 error en 1 fila; {IN_FORCE}.",
        [(3, "constraint-error", "nombre",
          "Fila 3, «nombre»: la celda está vacía y la columna es obligatoria.")],
        id="blank-name"),
    pytest.param(
        HEADER + "SALAZAR MONTOYA EDGAR RAÚL,ALCALDE,ALCALDÍA,31/02/2024,\n"
                 "PAREDES LUNA GLADYS MARLENE,GERENTE MUNICIPAL,GERENCIA MUNICIPAL,02/01/2023,"
                 "hasta nuevo aviso\n",
        f"2 errores en 2 filas; {IN_FORCE}.",
        [(2, "invalid-date", "desde", "Fila 2, «desde»: «31/02/2024» no es una fecha válida."),
         (3, "invalid-date", "hasta",
          "Fila 3, «hasta»: «hasta nuevo aviso» no es una fecha válida.")],
        id="unreadable-dates"),
    pytest.param(
        "Nombre,Puesto,Área,Inicio,Fin\nSALAZAR MONTOYA EDGAR RAÚL,ALCALDE,ALCALDÍA,01/01/2023,\n",
        f"faltan las columnas «Cargo», «Desde» y «Hasta»; {IN_FORCE}. El registro debe tener las "
        "columnas «Nombre», «Cargo», «Área», «Desde» y «Hasta», en cualquier orden. El "
        "encabezado, en la fila 1, tiene: «Nombre», «Puesto», «Área», «Inicio», «Fin».",
        [(None, "missing-label", "cargo",
          "Falta la columna obligatoria «cargo» en el encabezado."),
         (None, "missing-label", "desde",
          "Falta la columna obligatoria «desde» en el encabezado."),
         (None, "missing-label", "hasta",
          "Falta la columna obligatoria «hasta» en el encabezado.")],
        id="wrong-headers"),
])
def test_a_register_with_errors_is_rejected_whole(
        settings: Settings, text: str, verdict: str,
        errors: list[tuple[int | None, str, str, str]]) -> None:
    good = upload(settings, "decisores.csv", GOOD.encode("utf-8"))
    batch = upload(settings, "decisores-2025.csv", text.encode("utf-8"), LATER)

    assert (batch.status, batch.valid_rows) == ("rejected", 0)
    assert batch.summary.splitlines()[0] == (
        f"✘ decisores-2025.csv: registro de decisores rechazado: {verdict}")
    # every error is listed, with its row as a spreadsheet shows it
    assert [line.strip() for line in batch.summary.splitlines()
            if line.startswith("      ")] == [message for *_, message in errors]
    meta, report = staged(settings, batch)
    assert (meta["tipo"], meta["estado"], meta["filas_validas"]) == ("decisores", "rejected", 0)
    task = report["tasks"][0]
    assert report["valid"] is False
    assert [(e.get("rowNumber"), e["type"], e["fieldName"], e["message"])
            for e in task["errors"]] == errors
    # nothing of it is registered: the previous register stays in force
    assert pq.read_table(batches_dir(settings, NORTE) / batch.sha256 / "decisores.parquet"
                         ).num_rows == 0
    in_force = register_in_force(settings, NORTE)
    assert in_force is not None and in_force.sha256 == good.sha256
    assert [v.sha256 for v in register_versions(settings, NORTE)] == [good.sha256]
    folder = Path(settings.reports_url) / NORTE / batch.sha256
    assert (folder / "informe.txt").read_text("utf-8") == batch.summary + "\n"
    assert (folder / "reporte.html").is_file()


def test_the_header_error_names_the_expected_and_found_columns(settings: Settings) -> None:
    """A file-level error: report.json carries, with each missing column, what the header
    must have and what it has."""
    batch = upload(settings, "decisores.csv", b"Nombre;Cargo;Area\nX;Y;Z\n")
    _, report = staged(settings, batch)
    [error, _] = report["tasks"][0]["errors"]
    assert "rowNumber" not in error and error["tags"] == ["#table", "#header"]
    assert error["note"] == (
        "El registro debe tener las columnas «Nombre», «Cargo», «Área», «Desde» y «Hasta», en "
        "cualquier orden. El encabezado, en la fila 1, tiene: «Nombre», «Cargo», «Area».")
    # without a register in force, the report says so
    assert batch.summary.splitlines()[0] == (
        "✘ decisores.csv: registro de decisores rechazado: faltan las columnas «Desde» y "
        "«Hasta»; la entidad sigue sin registro de decisores. " + error["note"])
    assert (register_in_force(settings, NORTE), entities_with_register(settings)) == (None, [])


def test_a_register_damaged_in_the_warehouse_is_repaired_as_the_same_version(
        settings: Settings) -> None:
    batch = upload(settings, "decisores.csv", GOOD.encode("utf-8"))
    members = batches_dir(settings, NORTE) / batch.sha256 / "decisores.parquet"
    members.write_bytes(members.read_bytes()[:100])  # cut short
    assert register_in_force(settings, NORTE) is None  # its data is not trusted

    outcome = ingest_entity(settings, entity(settings, NORTE), today=TODAY, now=LATER)
    [repaired] = outcome.new_batches
    assert (repaired.sha256, repaired.repaired, repaired.status) == (
        batch.sha256, True, "published")
    version = register_in_force(settings, NORTE)
    # the version keeps its date: it was received then, not when it was repaired
    assert version is not None and (version.received, version.members) == (NOW, GOOD_MEMBERS)


def test_which_files_are_registers() -> None:
    assert all(map(is_register_file, ["decisores.csv", "Decisores-2025.XLSX", "decisores.txt",
                                      "decisores_enero.xls"]))
    assert not any(map(is_register_file, ["decisores.docx", "registro-decisores.csv",
                                          "decisores", "retiros-decisores.csv"]))


def test_a_register_does_not_change_the_published_visits(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    drop(settings, NORTE, "visitas-2024-08.csv",
         (SAMPLES / NORTE / "visitas-2024-08.csv").read_bytes())
    run_full_pass(settings, echo=lambda _: None, today=TODAY, now=NOW)
    latest = settings.var_dir / "publish" / "latest"
    before = published_rows(latest)
    compliance = (latest / "cumplimiento.csv").read_bytes()
    publish = open_storage(settings.publish_url, base_dir=settings.root)
    releases = complete_releases(publish)

    drop(settings, NORTE, "decisores.csv", GOOD.encode("utf-8"))
    lines: list[str] = []
    outcome = run_full_pass(settings, echo=lines.append, today=TODAY, now=LATER)

    assert "    ✔ decisores.csv: registro de decisores aceptado: 5 decisores." in lines
    # the register is no upload of visits: nothing is recomputed, the visits and compliance
    # stay as they were; the new release publishes the register (dataset `decisores`)
    assert outcome.consolidation is not None
    assert outcome.consolidation.recomputed_entities == []
    assert published_rows(latest) == before
    assert (latest / "cumplimiento.csv").read_bytes() == compliance
    assert complete_releases(publish)[:-1] == releases
    changes = json.loads((latest / "changes.json").read_text(encoding="utf-8"))
    assert changes["totales"] == {"agregadas": 0, "modificadas": 0, "retiradas": 0}
    assert changes["otros_conjuntos"]["decisores"]["agregadas"] == 5


def test_visitas_batches_lists_the_register(project: Settings) -> None:
    runner = CliRunner()
    drop(project, NORTE, "decisores.csv", GOOD.encode("utf-8"))
    assert runner.invoke(main, ["run", "--entity", NORTE]).exit_code == 0
    drop(project, NORTE, "decisores-2025.csv", (HEADER + ",ALCALDE,ALCALDÍA,01/01/2025,\n"
                                                ).encode("utf-8"))
    done = runner.invoke(main, ["run", "--entity", NORTE])
    assert done.exit_code == 0, done.output
    assert ("    ✘ decisores-2025.csv: registro de decisores rechazado: 1 error en 1 fila; sigue "
            "vigente el registro anterior, «decisores.csv»") in done.output

    listed = runner.invoke(main, ["batches", NORTE]).output.splitlines()
    rows = {line.split()[2]: line.split()[4:] for line in listed[2:] if line.startswith("  ")}
    assert rows["decisores.csv"] == ["vigente", "5", "5", "0"]
    assert rows["decisores-2025.csv"] == ["rechazado", "1", "0", "1"]
    assert rows["visitas-2024-08.csv"] == ["parcial", "40", "37", "2"]
    assert "Registro de decisores vigente: decisores.csv (5 decisores)." in listed

    # why it was rejected: its report, row by row
    shown = runner.invoke(main, ["quarantine", NORTE, "decisores-2025.csv"])
    assert shown.exit_code == 0, shown.output
    assert shown.output.splitlines()[-1] == (
        "      Fila 2, «nombre»: la celda está vacía y la columna es obligatoria.")
    as_json = runner.invoke(main, ["quarantine", NORTE, "decisores-2025.csv", "--json"])
    assert json.loads(as_json.output) == [{
        "fila": 2, "motivos": ["Fila 2, «nombre»: la celda está vacía y la columna es "
                               "obligatoria."], "celdas": {"nombre": ""}}]


def test_visitas_validate_a_register(project: Settings, tmp_path: Path) -> None:
    runner = CliRunner()
    good = tmp_path / "decisores.csv"
    good.write_text(GOOD, encoding="utf-8")
    valid = runner.invoke(main, ["validate", str(good)])
    assert (valid.exit_code, valid.output) == (
        0, "✔ decisores.csv: registro de decisores aceptado: 5 decisores.\n")

    bad = tmp_path / "decisores-2025.csv"
    bad.write_text(HEADER + "SALAZAR MONTOYA EDGAR RAÚL,ALCALDE,ALCALDÍA,01/03/2024,01/02/2024\n",
                   encoding="utf-8")
    invalid = runner.invoke(main, ["validate", str(bad), "--entity", NORTE])
    assert invalid.exit_code == 1
    assert invalid.output.splitlines()[0] == (
        "✘ decisores-2025.csv: registro de decisores rechazado: 1 error en 1 fila; la entidad "
        "sigue sin registro de decisores.")
    assert ("      Fila 2, «hasta»: la fecha 01/02/2024 es anterior a la de «desde», "
            "01/03/2024.") in invalid.output.splitlines()
    as_json = runner.invoke(main, ["validate", str(bad), "--json"])
    report = json.loads(as_json.output)
    assert (as_json.exit_code, report["valid"], report["stats"]["errors"]) == (1, False, 1)
    assert report["tasks"][0]["errors"][0]["type"] == "end-before-start"

    empty = tmp_path / "decisores-vacio.csv"
    empty.write_bytes(b"")
    assert runner.invoke(main, ["validate", str(empty)]).exit_code == 2


def test_the_administrator_mail_about_a_rejected_register(tmp_path: Path) -> None:
    from pipeline.notifications.messages import batch_message

    # the message is only written here, never sent
    settings = settings_for(tmp_path, VISITAS_SMTP_URL="smtp://127.0.0.1:1",
                            VISITAS_MAIL_FROM="rvl@integridad.gob.pe")
    upload(settings, "decisores.csv", GOOD.encode("utf-8"))
    batch = upload(settings, "decisores-2025.csv",
                   (HEADER + ",ALCALDE,ALCALDÍA,01/01/2025,\n").encode("utf-8"), LATER)
    meta, report = staged(settings, batch)
    message = batch_message(settings, entity(settings, NORTE), meta, report,
                            batches_dir(settings, NORTE) / batch.sha256)
    body = message.get_body(("plain",)).get_content()
    assert "el archivo «decisores-2025.csv» fue rechazado" in message["Subject"]
    assert ("  Filas leídas: 1\n  Filas con errores: 1\n  El registro se rechaza entero: no se "
            "registra ningún decisor y sigue vigente el registro anterior, si la entidad tiene "
            "uno.\n") in body
    assert "  - Fila 2, «nombre»: la celda está vacía y la columna es obligatoria." in body
    assert "(se publican)" not in body
