"""Uploads are read by what they are, not by what they are called: a workbook named `.csv`, a
CSV named `.xlsx`, Excel 97-2003 `.xls` workbooks, workbooks with several sheets; and a file
that is no table says what it really is."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import openpyxl
import pytest
import xlwt

from pipeline.flow import run_full_pass
from pipeline.ingestion.withdrawals import is_withdrawal_file
from pipeline.sources.readers import UnreadableUpload
from tests.stages import NOW, SAMPLES, TODAY, drop, published_rows, settings_for
from tests.test_readers import HEADER, ROW, read_all, staged

SUR = "20999300031"


def xlsx_bytes(tmp_path: Path, sheets: dict[str, list[list[object]]]) -> bytes:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    path = tmp_path / "libro.xlsx"
    wb.save(path)
    return path.read_bytes()


def xls_bytes(sheets: dict[str, list[list[object]]]) -> bytes:
    """An Excel 97-2003 workbook, with native date and time cells as Excel stores them."""
    date, time = xlwt.easyxf(num_format_str="DD/MM/YYYY"), xlwt.easyxf(num_format_str="HH:MM")
    wb = xlwt.Workbook(encoding="utf-8")
    for name, rows in sheets.items():
        ws = wb.add_sheet(name)
        for i, row in enumerate(rows):
            for j, value in enumerate(row):
                if isinstance(value, dt.datetime):
                    ws.write(i, j, value, date)
                elif isinstance(value, dt.time):
                    ws.write(i, j, value, time)
                else:
                    ws.write(i, j, value)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def native_row() -> list[object]:
    """ROW with native date and time cells, as a register exported to Excel has them."""
    cells: list[object] = list(ROW)
    cells[0] = cells[1] = dt.datetime(2024, 8, 5)
    cells[7], cells[8] = dt.time(9, 30), dt.time(10, 15)
    return cells


def check_row(valid: object) -> None:
    row = valid.to_pylist()[0]
    assert (row["fecha_visita"], row["hora_ingreso"], row["hora_salida"]) == (
        dt.date(2024, 8, 5), dt.time(9, 30), dt.time(10, 15))
    assert row["visitante_nombre"] == "MUÑOZ PEÑA JOSÉ"


def test_a_workbook_named_csv_is_read_as_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "visitas-agosto.csv"
    path.write_bytes(xlsx_bytes(tmp_path, {"Hoja1": [HEADER, native_row()]}))
    report, valid, _ = staged(tmp_path, path, today=TODAY)
    assert report.valid, report.flatten()
    assert report.rows == 1
    check_row(valid)
    assert report.warnings == ["El archivo se llama «visitas-agosto.csv» pero es un libro de "
                               "Excel (.xlsx): se leyó como tal."]


def test_a_csv_named_xlsx_is_read_as_a_csv(tmp_path: Path) -> None:
    path = tmp_path / "visitas.xlsx"
    path.write_text(";".join(HEADER) + "\r\n" + ";".join(ROW) + "\r\n", encoding="cp1252")
    report, valid, _ = staged(tmp_path, path, today=TODAY)
    assert report.valid, report.flatten()
    assert valid.to_pylist()[0]["visitante_nombre"] == "MUÑOZ PEÑA JOSÉ"
    assert report.warnings == ["El archivo se llama «visitas.xlsx» pero es un archivo de texto "
                               "delimitado (CSV): se leyó como tal."]


@pytest.mark.parametrize(("name", "content", "what"), [
    # what some registers export under an .xls name
    ("visitas.xls", b"<html><body><table><tr><td>Fecha de Visita</td></tr></table></body></html>",
     "una página web (HTML), no una hoja de cálculo"),
    ("visitas.xls", b'<?xml version="1.0"?>\n<?mso-application progid="Excel.Sheet"?>\n'
     b'<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"></Workbook>',
     "una hoja de cálculo XML de Excel 2003"),
    ("visitas.csv", bytes(range(256)) * 4, "un archivo binario, no una tabla de texto ni una "
     "hoja de cálculo"),
    ("visitas.xlsx", b"PK\x05\x06" + b"\0" * 18, "un archivo comprimido (.zip)"),
])
def test_a_file_that_is_no_table_says_what_it_is(tmp_path: Path, name: str, content: bytes,
                                                 what: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnreadableUpload) as info:
        read_all(path)
    assert info.value.error_type == "format-error"
    assert str(info.value) == (f"Formato no admitido: «{name}» es {what}. Suba un archivo .csv, "
                               ".xlsx o .xls.")


def test_excel_97_2003_workbook(tmp_path: Path) -> None:
    path = tmp_path / "visitas-agosto.xls"
    path.write_bytes(xls_bytes({"Registro": [["Registro de visitas - Agosto 2024"], HEADER,
                                             native_row()]}))
    report, valid, _ = staged(tmp_path, path, today=TODAY)
    assert report.valid, report.flatten()
    assert report.warnings == []  # one sheet, the name says what it is
    assert valid.column("_fila").to_pylist() == [3]  # the title row counts, as Excel shows it
    check_row(valid)


def test_the_sheet_with_the_header_is_read_and_named(tmp_path: Path) -> None:
    path = tmp_path / "visitas.xlsx"
    path.write_bytes(xlsx_bytes(tmp_path, {
        "Portada": [["Municipalidad de Ejemplo"], ["Registro de visitas de agosto"]],
        "Visitas": [HEADER, native_row()],
        "Resumen": [["Total", 1]]}))
    report, valid, _ = staged(tmp_path, path, today=TODAY)
    assert report.valid, report.flatten()
    check_row(valid)
    assert report.warnings == [
        "Se leyó la hoja «Visitas»: la primera que tiene el encabezado del formato. El libro "
        "tiene 3 hojas: «Portada», «Visitas» y «Resumen»."]
    assert "⚠ Se leyó la hoja «Visitas»" in report.summary_es()


def test_without_a_header_the_first_sheet_with_data_is_read_and_named(tmp_path: Path) -> None:
    path = tmp_path / "visitas.xls"
    path.write_bytes(xls_bytes({"Vacía": [], "Datos": [["fecha", "persona"], ["05/08/2024", "X"]],
                                "Otra": [["a"]]}))
    report, _, _ = staged(tmp_path, path, today=TODAY)
    assert not report.valid and not report.readable
    assert report.warnings == [
        "Se leyó la hoja «Datos»: ninguna hoja tiene el encabezado del formato, así que se leyó "
        "la primera con datos. El libro tiene 3 hojas: «Vacía», «Datos» y «Otra»."]
    assert "missing-label" in report.counts_by_type


def sample_as_xls() -> bytes:
    """The entity's October sample upload, as an Excel 97-2003 workbook of text cells."""
    text = (SAMPLES / SUR / "visitas-2024-10.csv").read_bytes().decode("cp1252")  # as Excel saves it
    return xls_bytes({"Hoja1": list(csv.reader(io.StringIO(text)))})


def test_an_xls_upload_in_the_landing_area_is_ingested_and_published(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    drop(settings, SUR, "visitas-2024-10.xls", sample_as_xls())
    outcome = run_full_pass(settings, echo=lambda _: None, today=TODAY, now=NOW)
    [entity] = [e for e in outcome.entities if e.entity.ruc == SUR]
    [batch] = entity.batches
    # as the same upload in CSV (tests/test_landing.py): 38 of its rows are visits to publish
    assert (batch.name, batch.status, batch.valid_rows) == ("visitas-2024-10.xls", "partial", 38)
    assert len(published_rows(settings.var_dir / "publish" / "latest")) == 38


def test_withdrawal_files_may_be_xls() -> None:
    assert is_withdrawal_file("retiros-octubre.xls")
