"""Every encoding and delimiter seen in the wild reads into the same table."""

from __future__ import annotations

import codecs
import datetime as dt
from pathlib import Path

import openpyxl
import pyarrow as pa
import pytest

from pipeline.ingestion.staging import ParquetSink
from pipeline.sources.readers import TableStream, UnreadableUpload, open_table
from pipeline.validation.upload import known_labels, upload_schemas, validate_file
from tests.conftest import REPO_ROOT

SCHEMAS = upload_schemas(REPO_ROOT / "schemas")


def read_all(path: Path) -> tuple[TableStream, pa.Table]:
    """The upload's header and every row it streams."""
    stream = open_table(path, path.name, known_labels(SCHEMAS))
    return stream, pa.Table.from_batches(list(stream.batches), schema=stream.schema)


def staged(tmp_path: Path, path: Path, **kwargs: object) -> tuple[object, pa.Table, pa.Table]:
    """Validate and stage an upload as ingestion does: (report, valid rows, quarantine)."""
    import datetime as dt

    import pyarrow.parquet as pq

    folder = tmp_path / "lote"
    folder.mkdir(exist_ok=True)
    sink = ParquetSink(folder, ruc="20999100016", batch="x", name=path.name,
                       ingested=dt.datetime(2024, 9, 1, tzinfo=dt.UTC))
    report = validate_file(path, path.name, SCHEMAS, sink=sink, **kwargs)
    sink.close(keep_valid=report.readable)
    valid = pq.read_table(folder / "valid.parquet") if (folder / "valid.parquet").exists() \
        else None
    quarantine = pq.read_table(folder / "quarantine.parquet") \
        if (folder / "quarantine.parquet").exists() else None
    return report, valid, quarantine
HEADER = ["Fecha de Registro", "Fecha de Visita", "Entidad visitada", "Visitante",
          "Documento del visitante", "Entidad del visitante", "Funcionario visitado",
          "Hora Ingreso", "Hora Salida", "Motivo", "Lugar específico", "Observación"]
ROW = ["05/08/2024", "05/08/2024", "Municipalidad", "MUÑOZ PEÑA JOSÉ", "DNI 04567891",
       "Entidad privada - CAFÉ ANDINO S.A.C.", "DÍAZ ROSA - GERENCIA - Gerente", "09:30", "10:15",
       "Reunión de trabajo - Coordinación", "Oficina 301", "Señalización €"]


def csv_bytes(delimiter: str, encoding: str, *, title: bool = False) -> bytes:
    lines = [delimiter.join(HEADER), delimiter.join(ROW)]
    if title:
        lines.insert(0, "Registro de visitas - Agosto 2024")
    text = "\r\n".join(lines) + "\r\n"
    if encoding == "utf-8-sig":
        return codecs.BOM_UTF8 + text.encode("utf-8")
    return text.encode(encoding)


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_csv_encodings_and_delimiters(tmp_path, delimiter, encoding):
    path = tmp_path / "carga.csv"
    path.write_bytes(csv_bytes(delimiter, encoding))
    upload, table = read_all(path)
    assert upload.labels == HEADER
    assert upload.delimiter == delimiter
    assert upload.encoding == encoding
    assert upload.header_row == 1
    row = table.to_pylist()[0]
    assert row["_fila"] == 2
    assert [row[f"c{i + 1}"] for i in range(12)] == ROW


def test_csv_with_title_row_numbers_rows_physically(tmp_path):
    path = tmp_path / "carga.csv"
    path.write_bytes(csv_bytes(";", "utf-8", title=True))
    upload, table = read_all(path)
    assert upload.header_row == 2
    assert table.column("_fila").to_pylist() == [3]


def test_xlsx_title_row_and_native_cells(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Registro de visitas - Agosto 2024"])
    ws.append(HEADER)
    cells: list[object] = list(ROW)
    cells[0] = cells[1] = dt.datetime(2024, 8, 5)
    cells[7], cells[8] = dt.time(9, 30), dt.time(10, 15)
    ws.append(cells)
    path = tmp_path / "carga.xlsx"
    wb.save(path)
    report, valid, _ = staged(tmp_path, path, today=dt.date(2024, 9, 1))
    assert report.valid, report.flatten()
    row = valid.to_pylist()[0]
    assert row["_fila"] == 3
    assert (row["fecha_visita"], row["hora_ingreso"], row["hora_salida"]) == (
        dt.date(2024, 8, 5), dt.time(9, 30), dt.time(10, 15))


@pytest.mark.parametrize(("name", "content", "error_type", "words"), [
    ("vacio.csv", b"", "source-error", "vacío"),
    ("blanco.csv", b"\r\n\r\n", "source-error", "vacío"),
    ("roto.xlsx", b"PK\x03\x04 un libro cortado a la mitad", "format-error", "dañado"),
    ("datos.pdf", b"%PDF-1.4", "format-error",
     "Formato no admitido: «datos.pdf» es un documento PDF. Suba un archivo .csv, .xlsx o .xls."),
])
def test_unreadable_files(tmp_path, name, content, error_type, words):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnreadableUpload) as info:
        read_all(path)
    assert info.value.error_type == error_type
    assert words in str(info.value)


def test_ragged_rows_are_reported_not_dropped(tmp_path):
    path = tmp_path / "carga.csv"
    text = ";".join(HEADER) + "\n" + ";".join(ROW) + "\n" + ";".join([*ROW, "sobra"]) + "\n"
    path.write_text(text, encoding="utf-8")
    report, valid, quarantine = staged(tmp_path, path, today=dt.date(2024, 9, 1))
    assert report.flatten() == [[3, "", "extra-cell"]]
    assert valid.num_rows == 1
    assert quarantine.column("_fila").to_pylist() == [3]
    assert quarantine.column("texto_fila").to_pylist() == [";".join([*ROW, "sobra"])]
