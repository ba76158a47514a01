"""Withdrawal files go through the one upload reader: every encoding, delimiter, title row and
XLSX an entity's administrator may produce withdraws exactly the visits it names, and every
line that cannot be applied is reported with its row number and the reason, in Spanish."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import pytest

from pipeline.consolidation.visitas import database_path
from pipeline.flow import run_full_pass
from pipeline.ingestion.batches import BatchOutcome, batches_dir
from pipeline.ingestion.withdrawals import is_withdrawal_file, stage_withdrawals
from pipeline.publication.publisher import complete_releases
from pipeline.settings import Settings
from pipeline.storage import open_storage
from tests.stages import NOW, SAMPLES, TODAY, drop, published_rows, settings_for

SUR = "20999300031"
LATER = NOW + dt.timedelta(hours=1)

Rows = list[dict[str, str]]


def full_pass(settings: Settings, now: dt.datetime) -> list[BatchOutcome]:
    """One `visitas run`; the entity's new batches."""
    outcome = run_full_pass(settings, echo=lambda _: None, today=TODAY, now=now)
    [entity] = [e for e in outcome.entities if e.entity.ruc == SUR]
    assert entity.error is None
    return entity.new_batches


@pytest.fixture
def published(tmp_path: Path) -> tuple[Settings, Rows, dict[str, str]]:
    """The entity's October upload, published: (settings, rows, id_visita by visitor)."""
    settings = settings_for(tmp_path)
    drop(settings, SUR, "visitas-2024-10.csv", (SAMPLES / SUR / "visitas-2024-10.csv").read_bytes())
    full_pass(settings, NOW)
    rows = published_rows(settings.var_dir / "publish" / "latest")
    # the tests name only visitors with a single visit
    ids = {row["visitante_nombre"]: row["id_visita"] for row in rows}
    return settings, rows, ids


def withdraw(settings: Settings, name: str, data: bytes) -> tuple[BatchOutcome, Rows]:
    """Drop a withdrawal file and run the next full pass: (its batch, the published rows)."""
    drop(settings, SUR, name, data)
    [batch] = full_pass(settings, LATER)
    return batch, published_rows(settings.var_dir / "publish" / "latest")


def audit(settings: Settings) -> list[tuple[str, str, int, str]]:
    """The withdrawals recorded in `visitas_historial`: (id_visita, file, row, motivo)."""
    with duckdb.connect(str(database_path(settings)), read_only=True) as con:
        return con.execute("""SELECT id_visita, archivo, fila, valor_nuevo FROM visitas_historial
                              WHERE accion = 'retiro' ORDER BY archivo, fila""").fetchall()


def staged(settings: Settings, batch: BatchOutcome) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """The staged batch's batch.json, informe.txt and report.json."""
    folder = batches_dir(settings, SUR) / batch.sha256
    assert (folder / "withdrawals.parquet").is_file()
    return (json.loads((folder / "batch.json").read_text("utf-8")),
            (folder / "informe.txt").read_text("utf-8"),
            json.loads((folder / "report.json").read_text("utf-8")))


def counts(meta: dict[str, Any]) -> tuple[str, str, int, int, int]:
    return (meta["tipo"], meta["estado"], meta["rows"], meta["filas_validas"],
            meta["filas_rechazadas"])


def test_excel_cp1252_semicolon_file(published: tuple[Settings, Rows, dict[str, str]]) -> None:
    settings, before, ids = published
    first, second = ids["OCAÑA SANCHEZ ELMER"], ids["MUÑOZ GUTIERREZ CESAR AUGUSTO"]
    # What Excel writes for "CSV (delimitado por comas)" on a Spanish-locale Windows.
    text = ("id_visita;motivo\r\n"
            f"{first};Registro duplicado por error de digitación\r\n"
            f"{second};Visita anulada: el visitante no asistió\r\n")
    batch, after = withdraw(settings, "retiros-2024-10.csv", text.encode("cp1252"))

    assert after == [r for r in before if r["id_visita"] not in {first, second}]
    assert audit(settings) == [
        (first, "retiros-2024-10.csv", 2, "Registro duplicado por error de digitación"),
        (second, "retiros-2024-10.csv", 3, "Visita anulada: el visitante no asistió")]
    assert (batch.status, batch.rows, batch.valid_rows, batch.rejected_rows) == ("published", 2, 2, 0)
    assert batch.summary == "✔ retiros-2024-10.csv: 2 visitas retiradas."
    meta, informe, report = staged(settings, batch)
    assert counts(meta) == ("retiros", "published", 2, 2, 0)
    assert informe == batch.summary + "\n"
    assert report["valid"] is True and report["tasks"][0]["errors"] == []


def test_title_rows_above_the_header(published: tuple[Settings, Rows, dict[str, str]]) -> None:
    settings, before, ids = published
    visit = ids["YUPANQUI VILLANUEVA WILFREDO"]
    text = ("Retiros de visitas - Gobierno Regional de Ejemplo Sur,\n"
            "Octubre de 2024,\n"
            "id_visita,motivo\n"
            f"{visit},Registro duplicado por error del operador\n"
            "12345,Registro de prueba\n"
            ",Visita sin identificar\n"
            f"{ids['ESPINOZA SÁNCHEZ JHON']},\n")
    batch, after = withdraw(settings, "retiros-octubre.csv", text.encode("utf-8"))

    assert after == [r for r in before if r["id_visita"] != visit]
    # row numbers as a spreadsheet shows them: the title rows count
    assert audit(settings) == [
        (visit, "retiros-octubre.csv", 4, "Registro duplicado por error del operador")]
    assert (batch.status, batch.rows, batch.valid_rows, batch.rejected_rows) == ("partial", 4, 1, 3)
    assert batch.summary == (
        "✘ retiros-octubre.csv: 1 visita retirada; 3 filas con errores:\n"
        "  Fila 5: el id_visita «12345» no es válido (el identificador publicado tiene 16 "
        "caracteres: dígitos y letras de la a a la f).\n"
        "  Fila 6: falta el id_visita.\n"
        "  Fila 7: falta el motivo del retiro.")
    meta, informe, report = staged(settings, batch)
    assert counts(meta) == ("retiros", "partial", 4, 1, 3)
    assert informe == batch.summary + "\n"
    task = report["tasks"][0]
    assert report["valid"] is False
    assert task["labels"] == ["id_visita", "motivo"]
    assert [(e["rowNumber"], e["type"], e["fieldName"]) for e in task["errors"]] == [
        (5, "constraint-error", "id_visita"), (6, "constraint-error", "id_visita"),
        (7, "constraint-error", "motivo")]
    assert task["errors"][0]["message"] == batch.summary.splitlines()[1].strip()


def test_xlsx_file(published: tuple[Settings, Rows, dict[str, str]]) -> None:
    settings, before, ids = published
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Retiros de visitas - octubre 2024"])
    ws.append(["ID Visita", "Documento", "Fecha Visita", "Hora Ingreso", "Motivo"])
    ws.append([ids["HERNÁNDEZ SILVA ANNA"], None, None, None, "Registro duplicado"])
    # native Excel date and time cells, as in exported registers
    ws.append([None, "PASAPORTE MT954071", dt.datetime(2024, 10, 31), dt.time(11, 25),
               "El visitante no asistió"])
    ws.append([None, "DNI 10008988", "09/10/2024", "10:17", "Visita anulada"])
    ws.append([])
    ws.append([None, "DNI 10008988", dt.datetime(2024, 10, 9), None, "Sin hora de ingreso"])
    # a formula openpyxl stores without a computed value: the cell would read empty
    ws.append([ids["PEÑA LEÓN FRANKLIN"], None, None, None, "=A3"])
    path = settings.var_dir / "retiros-octubre.xlsx"
    wb.save(path)
    batch, after = withdraw(settings, "retiros-octubre.xlsx", path.read_bytes())

    gone = {ids["HERNÁNDEZ SILVA ANNA"], ids["PÉREZ SILVA LUCAS"], ids["LÓPEZ SÁNCHEZ EDUARDO"]}
    assert after == [r for r in before if r["id_visita"] not in gone]
    assert audit(settings) == [
        (ids["HERNÁNDEZ SILVA ANNA"], "retiros-octubre.xlsx", 3, "Registro duplicado"),
        (ids["PÉREZ SILVA LUCAS"], "retiros-octubre.xlsx", 4, "El visitante no asistió"),
        (ids["LÓPEZ SÁNCHEZ EDUARDO"], "retiros-octubre.xlsx", 5, "Visita anulada")]
    assert (batch.status, batch.rows, batch.valid_rows, batch.rejected_rows) == ("partial", 5, 3, 2)
    assert batch.summary == (
        "✘ retiros-octubre.xlsx: 3 visitas retiradas; 2 filas con errores:\n"
        "  Fila 7: falta la hora de ingreso para identificar la visita.\n"
        "  Fila 8: la celda de la columna «Motivo» tiene la fórmula «=A3» sin valor calculado "
        "(ábrala en Excel, recalcule y guarde el archivo).")
    meta, _, report = staged(settings, batch)
    assert counts(meta) == ("retiros", "partial", 5, 3, 2)
    assert [(e["rowNumber"], e["type"], e["fieldName"]) for e in report["tasks"][0]["errors"]] == [
        (7, "constraint-error", "hora_ingreso"), (8, "formula-without-value", "motivo")]


def test_natural_key_in_upload_formats(published: tuple[Settings, Rows, dict[str, str]]) -> None:
    settings, before, ids = published
    # Labels as a person types them; the key as the visit upload had it, or as it accepts it.
    text = ("Documento,Fecha Visita,Hora Ingreso,Motivo\n"
            "DNI 53066378,01/10/2024,08:40,El visitante no asistió\n"
            "21346930,1/10/2024,1:44 p. m.,Registro duplicado por error de digitación\n"
            "CARNÉ DE EXTRANJERÍA 004031504,03/10/2024,11:55,Visita anulada\n"
            "DNI 45232626,31/02/2024,10:15,Fecha mal registrada\n"
            "LE 1234,05/10/2024,25:10,Registro de prueba\n"
            "12345,05/10/2024,09:00,Registro de prueba\n")
    batch, after = withdraw(settings, "retiros-2024-10-b.csv", text.encode("utf-8"))

    names = ("YUPANQUI VILLANUEVA WILFREDO", "OCAÑA SANCHEZ ELMER", "MARTÍNEZ BROWN LUCAS")
    gone = [ids[n] for n in names]
    assert after == [r for r in before if r["id_visita"] not in gone]
    assert audit(settings) == [
        (gone[0], "retiros-2024-10-b.csv", 2, "El visitante no asistió"),
        (gone[1], "retiros-2024-10-b.csv", 3, "Registro duplicado por error de digitación"),
        (gone[2], "retiros-2024-10-b.csv", 4, "Visita anulada")]
    assert (batch.status, batch.rows, batch.valid_rows, batch.rejected_rows) == ("partial", 6, 3, 3)
    assert batch.summary == (
        "✘ retiros-2024-10-b.csv: 3 visitas retiradas; 3 filas con errores:\n"
        "  Fila 5: «31/02/2024» no es una fecha de visita válida (use DD/MM/AAAA, por ejemplo "
        "05/08/2024).\n"
        "  Fila 6: «LE 1234» no es un DNI válido; «25:10» no es una hora de ingreso válida (use "
        "HH:MM de 24 horas, por ejemplo 14:30).\n"
        "  Fila 7: no se reconoce el tipo de documento en «12345» (escriba el tipo y el número, "
        "por ejemplo DNI 12345678).")


def test_lines_that_cannot_be_resolved_withdraw_nothing(
        published: tuple[Settings, Rows, dict[str, str]]) -> None:
    settings, before, ids = published
    visit = ids["PEÑA MENDOZA ÁNGEL"]
    text = ("id_visita,motivo\n"
            f"{visit},Duplicado, por error\n"  # the comma splits the reason: one cell too many
            "\n"
            "no-es-un-id,Registro duplicado\n")
    batch, after = withdraw(settings, "retiros-noviembre.csv", text.encode("utf-8"))

    assert after == before
    assert audit(settings) == []
    assert (batch.status, batch.rows, batch.valid_rows, batch.rejected_rows) == ("rejected", 2, 0, 2)
    assert batch.summary == (
        "✘ retiros-noviembre.csv: ninguna visita retirada; 2 filas con errores:\n"
        "  Fila 2: tiene más celdas que el encabezado (si un valor lleva «,», enciérrelo entre "
        "comillas).\n"
        "  Fila 4: el id_visita «no-es-un-id» no es válido (el identificador publicado tiene 16 "
        "caracteres: dígitos y letras de la a a la f).")
    meta, informe, report = staged(settings, batch)
    assert counts(meta) == ("retiros", "rejected", 2, 0, 2)
    assert informe == batch.summary + "\n"
    assert [(e["rowNumber"], e["type"]) for e in report["tasks"][0]["errors"]] == [
        (2, "extra-cell"), (4, "constraint-error")]


def test_a_file_without_the_columns_is_rejected_whole(
        published: tuple[Settings, Rows, dict[str, str]]) -> None:
    settings, before, ids = published
    text = f"visita;razon\n{ids['PEÑA MENDOZA ÁNGEL']};Duplicado\n"
    batch, after = withdraw(settings, "retiros.csv", text.encode("utf-8"))

    assert after == before
    assert (batch.status, batch.readable) == ("rejected", False)
    assert batch.summary == (
        "✘ retiros.csv: El archivo de retiros debe tener la columna «motivo» y, para identificar "
        "la visita, «id_visita» o bien «documento», «fecha_visita» y «hora_ingreso». El "
        "encabezado, en la fila 1, tiene: «visita», «razon».")
    _, _, report = staged(settings, batch)
    assert [(e["type"], e["fieldName"]) for e in report["tasks"][0]["errors"]] == [
        ("missing-label", "motivo"), ("missing-label", "id_visita")]


VISIT = "f6bdf2d0f21f3900"


UNKNOWN = "ninguna visita de la entidad tiene el id_visita «f6bdf2d0f21f3900»"


# Files read on their own, beside no staged upload: every visit they name is unknown.
@pytest.mark.parametrize(("name", "data", "status", "summary"), [
    # past the reader's 64 KiB sample, a Windows-1252 byte: the file is read again in cp1252
    ("retiros-largo.csv",
     ("id_visita,motivo\n" + f"{VISIT},Registro duplicado\n" * 4000
      + f"{VISIT},Registro duplicado por error de digitación\n").encode("cp1252"),
     "rejected", "✘ retiros-largo.csv: ninguna visita retirada; 4001 filas no corresponden a "
                 f"ninguna visita de la entidad:\n  Fila 2: {UNKNOWN}."),
    ("retiros-utf16.txt", f"id_visita\tmotivo\r\n{VISIT}\tDuplicado\r\n".encode("utf-16"),
     "rejected", "✘ retiros-utf16.txt: ninguna visita retirada; 1 fila no corresponde a ninguna "
                 f"visita de la entidad:\n  Fila 2: {UNKNOWN}."),
    ("retiros-vacio.csv", b"", "rejected",
     "✘ retiros-vacio.csv: El archivo está vacío: no tiene encabezados ni filas."),
    ("retiros-encabezado.csv", b"id_visita,motivo\n", "published",
     "✔ retiros-encabezado.csv: el archivo no tiene filas; no se retira ninguna visita."),
    ("retiros-repetida.csv", f"motivo,id_visita,Motivo\nx,{VISIT},y\n".encode(), "rejected",
     "✘ retiros-repetida.csv: La columna «motivo» aparece más de una vez en el encabezado "
     "(columnas 1 y 3): deje una sola."),
])
def test_file_level_outcomes(tmp_path: Path, name: str, data: bytes, status: str,
                             summary: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    target = tmp_path / "lote"
    outcome = stage_withdrawals(path, ruc=SUR, name=name, sha256="0" * 64, origin="landing",
                                archived=str(path), size=len(data), ingested=NOW, target=target)
    assert (outcome.status, "\n".join(outcome.summary.splitlines()[:2])) == (status, summary)
    assert sorted(p.name for p in target.iterdir()) == [
        "batch.json", "informe.txt", "report.json", "withdrawals.parquet"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lote", name]  # no scratch left


def test_which_files_are_withdrawals() -> None:
    assert all(map(is_withdrawal_file, ["retiros.csv", "Retiros-Octubre.XLSX", "retiros-2024.txt"]))
    assert not any(map(is_withdrawal_file, ["retiros.docx", "visitas-retiros.csv", "retiros"]))


def releases(settings: Settings) -> list[str]:
    return complete_releases(open_storage(settings.publish_url, base_dir=settings.root))


def test_a_withdrawal_that_matches_no_visit_is_told_apart(
        published: tuple[Settings, Rows, dict[str, str]]) -> None:
    settings, before, ids = published
    visit = ids["OCAÑA SANCHEZ ELMER"]
    text = (f"id_visita,motivo\n{visit},Registro duplicado\n0123456789abcdef,Registro duplicado\n"
            "no-es-un-id,\n")
    batch, after = withdraw(settings, "retiros-2024-10.csv", text.encode("utf-8"))

    assert after == [r for r in before if r["id_visita"] != visit]
    assert audit(settings) == [(visit, "retiros-2024-10.csv", 2, "Registro duplicado")]
    assert (batch.status, batch.rows, batch.valid_rows, batch.rejected_rows) == ("partial", 3, 1, 2)
    assert batch.summary == (
        "✘ retiros-2024-10.csv: 1 visita retirada; 1 fila no corresponde a ninguna visita de la "
        "entidad; 1 fila con errores:\n"
        "  Fila 3: ninguna visita de la entidad tiene el id_visita «0123456789abcdef».\n"
        "  Fila 4: el id_visita «no-es-un-id» no es válido (el identificador publicado tiene 16 "
        "caracteres: dígitos y letras de la a a la f); falta el motivo del retiro.")
    meta, _, report = staged(settings, batch)
    assert counts(meta) == ("retiros", "partial", 3, 1, 2)
    first_error = report["tasks"][0]["errors"][0]
    assert (first_error["rowNumber"], first_error["type"], first_error["fieldName"]) == (
        3, "unknown-visit", "id_visita")


def test_a_visit_unknown_by_its_natural_key(
        published: tuple[Settings, Rows, dict[str, str]]) -> None:
    settings, before, _ = published
    text = "documento;fecha_visita;hora_ingreso;motivo\nDNI 45232626;05/10/2024;09:00;Prueba\n"
    batch, after = withdraw(settings, "retiros.csv", text.encode("utf-8"))
    assert after == before
    assert (batch.status, batch.valid_rows, batch.rejected_rows) == ("rejected", 0, 1)
    assert batch.summary == (
        "✘ retiros.csv: ninguna visita retirada; 1 fila no corresponde a ninguna visita de la "
        "entidad:\n  Fila 2: ninguna visita de la entidad tiene el documento «DNI 45232626», la "
        "fecha de visita «05/10/2024» y la hora de ingreso «09:00».")


def test_a_repeated_withdrawal_changes_nothing(
        published: tuple[Settings, Rows, dict[str, str]]) -> None:
    settings, _, ids = published
    visit, other = ids["OCAÑA SANCHEZ ELMER"], ids["YUPANQUI VILLANUEVA WILFREDO"]
    # the same visit twice in one file: withdrawn once
    text = f"id_visita,motivo\n{visit},Registro duplicado\n{visit},Otra vez\n"
    first, after = withdraw(settings, "retiros-2024-10.csv", text.encode("utf-8"))
    assert first.summary == ("✔ retiros-2024-10.csv: 1 visita retirada; 1 ya estaba retirada "
                             f"({visit}).")
    assert (first.status, first.rows, first.valid_rows, first.rejected_rows) == (
        "published", 2, 1, 0)
    served = releases(settings)

    # and again in a later file: nothing to withdraw, nothing recorded, no new release
    drop(settings, SUR, "retiros-2024-10-b.csv",
         f"id_visita,motivo\n{visit},Registro duplicado\n".encode())
    [second] = full_pass(settings, LATER + dt.timedelta(hours=1))
    assert second.summary == ("✔ retiros-2024-10-b.csv: ninguna visita retirada; 1 ya estaba "
                              f"retirada ({visit}).")
    assert (second.status, second.valid_rows, second.rejected_rows) == ("published", 0, 0)
    meta, _, _ = staged(settings, second)
    assert (meta["filas_validas"], meta["filas_ya_retiradas"]) == (0, 1)
    assert audit(settings) == [(visit, "retiros-2024-10.csv", 2, "Registro duplicado")]
    assert published_rows(settings.var_dir / "publish" / "latest") == after
    assert releases(settings) == served
    assert other in {r["id_visita"] for r in after}
