"""The mapping language of an entity's `source:` (docs/fuentes.md): checked when the registry
is loaded, with errors naming the file and the key to fix; and what each of its parts does to
a file: aliases, constants, value maps, dates from a title row or the file name, date and
time formats, splits, templates, several layouts chosen by the headers; HTML pages and JSON
files read only for entities that declare a mapping."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from pipeline.ingestion.staging import ParquetSink
from pipeline.registry import RegistryError, load_entity, parse_entity
from pipeline.sources.readers import UnreadableUpload, open_table
from pipeline.validation.upload import upload_schemas, validate_file
from tests.conftest import REPO_ROOT

SCHEMAS = upload_schemas(REPO_ROOT / "schemas")
RUC = "20999100016"
BASE = {"ruc": RUC, "name": "Municipalidad Distrital de Ejemplo Norte", "stage": "demo",
        "administrator": {"email": "rvl@muniejemplonorte.gob.pe"}}


def entity(source: dict):
    return parse_entity({**BASE, "source": source}, f"{RUC}.yaml")


def staged(tmp_path: Path, path: Path, source: dict) -> tuple[object, list[dict]]:
    e = entity(source)
    folder = tmp_path / "lote"
    folder.mkdir(exist_ok=True)
    sink = ParquetSink(folder, ruc=RUC, batch="x", name=path.name,
                       ingested=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    report = validate_file(path, path.name, SCHEMAS, entity=e, mapping=e.mapping,
                           today=dt.date(2025, 1, 1), sink=sink)
    sink.close(keep_valid=report.readable)
    valid = folder / "valid.parquet"
    return report, pq.read_table(valid).to_pylist() if valid.exists() else []


# ------------------------------------------------------------- checked at registry load


@pytest.mark.parametrize(("source", "message"), [
    ({"kind": "ftp"}, "el tipo de fuente (clave source.kind) debe ser uno de: files, postgres, "
                      "mysql, http."),
    ({"kind": "files", "mapeo": {}}, "clave desconocida source.mapeo; las claves admitidas "
                                     "con kind: files son: kind, mapping, layouts."),
    ({"mapping": {"Visitante": "v", "Fecha visitada": "f"}},
     "source.mapping.Fecha visitada: «Fecha visitada» no es una columna del formato oficial de "
     "12 columnas; use una de: Fecha de Registro, Fecha de Visita,"),
    ({"mapping": {"fecha_visita": "f", "Visitante": "v"}},
     "(Las columnas de un formato son todas del formato oficial o todas del normalizado.)"),
    ({"layouts": [{"mapping": {"hora_ingreso": {"column": "h", "time_format": "%H"}}}]},
     "source.layouts[0].mapping.hora_ingreso.time_format: el formato «%H» debe tener hora y "
     "minutos (%H o %I, %M)."),
    ({"layouts": [{"mapping": {"fecha_visita": {"column": "f", "date_format": "%d/%m/%Q"}}}]},
     "source.layouts[0].mapping.fecha_visita.date_format: el formato «%d/%m/%Q» debe tener "
     "día, mes y año"),
    ({"layouts": [{"mapping": {"motivo": {"column": "m", "date_format": "%d/%m/%Y"}}}]},
     "source.layouts[0].mapping.motivo.date_format: «Motivo» no es una columna de fecha"),
    ({"layouts": [{"mapping": {"motivo": {"column": "m", "value": "x"}}}]},
     "source.layouts[0].mapping.motivo debe indicar de dónde sale el valor con una sola de "
     "las claves column, template, value, from (tiene column, value)."),
    ({"layouts": [{"mapping": {"motivo": {"colum": "m"}}}]},
     "clave desconocida source.layouts[0].mapping.motivo.colum"),
    ({"layouts": [{"mapping": {"fecha_visita": {"from": "titulo"}}}]},
     "source.layouts[0].mapping.fecha_visita.from debe ser «title»"),
    ({"layouts": [{"mapping": {"lugar": {"column": "u", "pattern": "(["}}}]},
     "source.layouts[0].mapping.lugar.pattern: la expresión regular «([» no es válida"),
    ({"layouts": [{"mapping": {"lugar": {"column": "u", "split": {"separator": ":",
                                                                  "part": 0}}}}]},
     "source.layouts[0].mapping.lugar.split.part debe ser un número de parte distinto de 0"),
    ({"layouts": [{"name": "a", "mapping": {"lugar": "u"}},
                  {"name": "a", "mapping": {"lugar": "u"}}]},
     "source.layouts[1].name: el nombre «a» ya lo usa otro formato"),
    ({"layouts": [{"mapping": {"Documento del visitante": {"template": "{tipo} {}"}}}]},
     "source.layouts[0].mapping.Documento del visitante.template: la plantilla «{tipo} {}» "
     "tiene llaves vacías"),
    ({"mapping": {"lugar": "u"}, "layouts": []}, "use source.mapping (un solo formato) o "
                                                 "source.layouts (varios), no ambas."),
])
def test_a_wrong_mapping_is_refused_naming_the_file_and_the_key(tmp_path, source, message):
    path = tmp_path / f"{RUC}.yaml"
    path.write_text(yaml.safe_dump({**BASE, "source": source}, allow_unicode=True), "utf-8")
    with pytest.raises(RegistryError) as info:
        load_entity(path)
    assert str(info.value).startswith(f"{RUC}.yaml: ")
    assert message in str(info.value)


def test_an_entity_without_mapping_has_none():
    assert entity({"kind": "files"}).mapping is None
    assert entity(None).mapping is None  # `source:` left empty, as before


# ------------------------------------------------------------- what each part does


def test_the_simplest_mapping_renames_columns(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("fecha,nombre,doc,hora,funcionario,motivo\n"
                    "05/08/2024,PÉREZ, ANA,12345678,09:30,TORRES LUIS - ALCALDÍA - ALCALDE,"
                    "Reunión de trabajo - Obras\n".replace("PÉREZ, ANA", '"PÉREZ, ANA"'),
                    encoding="utf-8")
    report, valid = staged(tmp_path, path, {"mapping": {
        "Fecha de Visita": "fecha", "Visitante": "nombre", "Documento del visitante": "doc",
        "Hora Ingreso": "hora", "Funcionario visitado": "funcionario", "Motivo": "motivo"}})
    assert report.valid, report.flatten()
    assert report.layout == "principal"
    row = valid[0]
    assert (row["fecha_visita"], row["hora_ingreso"]) == (dt.date(2024, 8, 5), dt.time(9, 30))
    assert row["visitante_nombre"] == "PÉREZ ANA"
    assert (row["funcionario_nombre"], row["funcionario_area"], row["funcionario_cargo"]) == (
        "TORRES LUIS", "ALCALDÍA", "ALCALDE")
    assert (row["motivo"], row["motivo_detalle"]) == ("Reunión de trabajo", "Obras")


def test_dates_from_a_title_row_and_times_in_several_formats(tmp_path):
    path = tmp_path / "dia.csv"
    path.write_text("REGISTRO DE VISITAS DEL 12 DE MARZO DE 2015\n"
                    "Visitante;DNI;Ingreso;Salida;Funcionario;Motivo\n"
                    "QUISPE ROSA;01234567;8.23;10:26:48 AM;VARGAS ELSA;REU\n"
                    "MAMANI JOSÉ;07654321;07:56 PM;;VARGAS ELSA;XYZ\n"
                    "TORRES ANA;17654321;25.99;;VARGAS ELSA;REU\n", encoding="cp1252")
    report, valid = staged(tmp_path, path, {"layouts": [{"name": "diario", "mapping": {
        "fecha_visita": {"from": "title", "pattern": r"(\d+ DE \w+ DE \d{4})",
                         "date_format": "%d de %B de %Y"},
        "visitante_nombre": "Visitante", "visitante_tipo_documento": {"value": "DNI"},
        "visitante_numero_documento": "DNI",
        "hora_ingreso": {"column": "Ingreso", "time_format": ["%H.%M", "%I:%M %p"]},
        "hora_salida": {"column": "Salida", "time_format": "%I:%M:%S %p"},
        "funcionario_nombre": "Funcionario",
        "motivo": {"column": "Motivo", "values": {"REU": "Reunión de trabajo"},
                   "default": "Otros Motivos"}}}]})
    assert report.flatten() == [[5, "hora_ingreso", "time-format-mismatch"]]
    assert [(r["_fila"], r["fecha_visita"], r["hora_ingreso"], r["hora_salida"], r["motivo"])
            for r in valid] == [
        (3, dt.date(2015, 3, 12), dt.time(8, 23), dt.time(10, 26, 48), "Reunión de trabajo"),
        (4, dt.date(2015, 3, 12), dt.time(19, 56), None, "XYZ")]  # unmapped values kept
    assert valid[0]["visitante_numero_documento"] == "01234567"


def test_dates_from_the_file_name_and_a_split(tmp_path):
    path = tmp_path / "visitas_20240805.csv"
    path.write_text("Visitante,Documento,Hora,Oficina,Motivo\n"
                    "QUISPE ROSA,DNI 01234567,09:00,PISO 2 : ALCALDÍA : VARGAS ELSA,"
                    "Otros Motivos\n", encoding="utf-8")
    report, valid = staged(tmp_path, path, {"mapping": {
        "fecha_visita": {"from": "filename", "pattern": r"_(\d{8})", "date_format": "%Y%m%d"},
        "visitante_nombre": "Visitante", "visitante_tipo_documento": {
            "column": "Documento", "split": {"separator": " ", "part": 1}},
        "visitante_numero_documento": {"column": "Documento",
                                       "split": {"separator": " ", "part": -1}},
        "hora_ingreso": "Hora",
        "funcionario_nombre": {"column": "Oficina", "split": {"separator": ":", "part": -1}},
        "funcionario_area": {"column": "Oficina", "split": {"separator": ":", "part": "2..-2"}},
        "lugar": {"column": "Oficina", "split": {"separator": ":", "part": 1}},
        "motivo": "Motivo"}})
    assert report.valid, report.flatten()
    row = valid[0]
    assert row["fecha_visita"] == dt.date(2024, 8, 5)
    assert (row["visitante_tipo_documento"], row["visitante_numero_documento"]) == (
        "DNI", "01234567")
    assert (row["funcionario_nombre"], row["funcionario_area"], row["lugar"]) == (
        "VARGAS ELSA", "ALCALDÍA", "PISO 2")


def test_a_file_name_without_the_date_is_reported(tmp_path):
    path = tmp_path / "visitas.csv"
    path.write_text("Visitante,Documento,Hora,Funcionario,Motivo\n"
                    "QUISPE ROSA,DNI 01234567,09:00,VARGAS ELSA,Otros Motivos\n", "utf-8")
    report, valid = staged(tmp_path, path, {"mapping": {
        "Fecha de Visita": {"from": "filename", "pattern": r"(\d{4}-\d{2}-\d{2})",
                            "date_format": "%Y-%m-%d"},
        "Visitante": "Visitante", "Documento del visitante": "Documento",
        "Hora Ingreso": "Hora", "Funcionario visitado": "Funcionario", "Motivo": "Motivo"}})
    assert valid == []
    assert report.flatten() == [[2, "Fecha de Visita", "date-format-mismatch"]]
    assert report.errors[0].message == (
        "Fila 2, «Fecha de Visita»: «visitas.csv» no es una fecha en el formato que la "
        "correspondencia de la entidad declara (se busca en el nombre del archivo con el "
        "patrón «(\\d{4}-\\d{2}-\\d{2})»; formato «%Y-%m-%d»).")


def test_layouts_are_chosen_by_headers_and_an_upload_layout_is_read_as_it_is(tmp_path):
    source = {"layouts": [
        {"name": "antiguo", "when_headers": ["NOMBRE"], "mapping": {
            "Visitante": "NOMBRE", "Fecha de Visita": "DIA", "Documento del visitante": "DOC",
            "Hora Ingreso": "H", "Funcionario visitado": "F", "Motivo": "M"}},
        {"name": "nuevo", "when_headers": ["visitor"], "mapping": {
            "Visitante": "visitor", "Fecha de Visita": "day", "Documento del visitante": "id",
            "Hora Ingreso": "in", "Funcionario visitado": "host", "Motivo": "why"}}]}
    rows = "05/08/2024,QUISPE ROSA,DNI 01234567,09:00,VARGAS ELSA,Otros Motivos\n"
    old = tmp_path / "a.csv"
    old.write_text("DIA,NOMBRE,DOC,H,F,M\n" + rows, "utf-8")
    new = tmp_path / "b.csv"
    new.write_text("day,visitor,id,in,host,why\n" + rows, "utf-8")
    official = tmp_path / "c.csv"
    official.write_text("Fecha de Visita,Visitante,Documento del visitante,Hora Ingreso,"
                        "Funcionario visitado,Motivo\n" + rows, "utf-8")
    for path, layout in ((old, "antiguo"), (new, "nuevo"), (official, "")):
        report, valid = staged(tmp_path, path, source)
        assert report.valid, (path.name, report.flatten())
        assert report.layout == layout
        assert valid[0]["visitante_numero_documento"] == "01234567"


def test_a_missing_optional_column_is_told_and_left_empty(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("DIA,NOMBRE,DOC,H,F,M\n05/08/2024,QUISPE ROSA,DNI 01234567,09:00,"
                    "VARGAS ELSA,Otros Motivos\n", "utf-8")
    report, _valid = staged(tmp_path, path, {"mapping": {
        "Visitante": "NOMBRE", "Fecha de Visita": "DIA", "Documento del visitante": "DOC",
        "Hora Ingreso": "H", "Funcionario visitado": "F", "Motivo": "M",
        "Observación": ["OBS", "OBSERVACIONES"]}})
    assert report.valid
    assert ("La columna «OBS», que el formato usa para «Observación», no está en el archivo: "
            "«Observación» queda vacía.") in report.warnings


# ------------------------------------------------------------- HTML and JSON readers


PAGE = """<html><head><meta charset="utf-8"></head><body>
<h1>Registro</h1><table><caption>Visitas del 05/08/2024</caption>
<tr><th>Visitante</th><th>Documento</th><th>Hora</th></tr>
<tr><td>QUISPE&nbsp;ROSA</td><td>DNI 01234567</td><td>09:00</td></tr>
<tr><td colspan=3>Visitas del 06/08/2024</td></tr>
<tr><td>MAMANI<br>JOSÉ</td><td>DNI 07654321</td><td>10:00</td><td>sobra</td></tr>
<tr><th>Visitante</th><th>Documento</th><th>Hora</th></tr>
<tr><td>TORRES ANA</td><td>DNI 17654321</td></tr>
</table></body></html>"""


def test_a_web_page_is_read_as_one_table_with_its_titles(tmp_path):
    path = tmp_path / "visitas.xls"
    path.write_text(PAGE, encoding="utf-8")
    stream = open_table(path, path.name, ["Visitante", "Documento", "Hora"], extended=True)
    rows = [r for b in stream.batches for r in b.to_pylist()]
    assert stream.labels == ["Visitante", "Documento", "Hora"]
    assert stream.file_format == "html" and stream.header_row == 1
    assert rows == [{"_fila": 2, "c1": "QUISPE ROSA", "c2": "DNI 01234567", "c3": "09:00"},
                    {"_fila": 6, "c1": "TORRES ANA", "c2": "DNI 17654321", "c3": ""}]
    assert [(r.number, r.cells) for r in stream.ragged] == [
        (4, ["MAMANI JOSÉ", "DNI 07654321", "10:00", "sobra"])]
    assert stream.titles == [(2, "Registro Visitas del 05/08/2024"),
                             (4, "Visitas del 06/08/2024")]
    assert stream.notes == ["El archivo se llama «visitas.xls» pero es una página web (HTML): "
                            "se leyó como tal."]


def test_a_windows_1252_page_is_decoded(tmp_path):
    path = tmp_path / "visitas.html"
    path.write_bytes(PAGE.replace('<meta charset="utf-8">', "").encode("cp1252"))
    stream = open_table(path, path.name, ["Visitante", "Documento", "Hora"], extended=True)
    assert stream.encoding == "cp1252"
    assert [r["c1"] for b in stream.batches for r in b.to_pylist()] == ["QUISPE ROSA",
                                                                        "TORRES ANA"]
    assert [r.cells[0] for r in stream.ragged] == ["MAMANI JOSÉ"]
    assert stream.notes == []


@pytest.mark.parametrize(("content", "labels", "rows"), [
    ('[{"a": "1", "b": null}, {"a": 2.5, "c": true}]', ["a", "b", "c"],
     [["1", "", ""], ["2.5", "", "true"]]),
    ('{"total": 2, "rows": [{"a": {"x": "1", "y": [1, 2]}}]}', ["a.x", "a.y"], [["1", "[1, 2]"]]),
    ('{"respuesta": {"filas": [{"a": "1"}]}}', ["a"], [["1"]]),
    ('[["a", "b"], ["1", "2"]]', ["a", "b"], [["1", "2"]]),
])
def test_json_records_wherever_they_are(tmp_path, content, labels, rows):
    path = tmp_path / "datos.json"
    path.write_text(content, encoding="utf-8")
    stream = open_table(path, path.name, [], extended=True, record_keys=("respuesta.filas",))
    assert stream.labels == labels
    read = [r for b in stream.batches for r in b.to_pylist()]
    assert [[r[f"c{i + 1}"] for i in range(len(labels))] for r in read] == rows
    first = 2 if content.startswith("[[") else 1
    assert [r["_fila"] for r in read] == list(range(first, first + len(rows)))


@pytest.mark.parametrize(("content", "message"), [
    ("{\"a\": 1,}", "El archivo no es un JSON válido: Expecting property name enclosed in "
                    "double quotes (línea 1, columna 9)."),
    ('{"x": 1, "y": 2}', "El JSON es un objeto sin una lista de registros reconocible "
                         "(claves: «x», «y»)."),
    ('[1, 2]', "Los registros del JSON deben ser objetos"),
    ('{"data": []}', "El JSON no tiene ningún registro: la lista está vacía."),
])
def test_json_that_holds_no_records_is_refused_saying_why(tmp_path, content, message):
    path = tmp_path / "datos.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UnreadableUpload) as info:
        open_table(path, path.name, [], extended=True)
    assert message in str(info.value)


def test_without_a_mapping_pages_and_json_are_read_as_always(tmp_path):
    page = tmp_path / "visitas.xls"
    page.write_text(PAGE, encoding="utf-8")
    with pytest.raises(UnreadableUpload) as info:
        open_table(page, page.name, ["Visitante"])
    assert str(info.value) == ("Formato no admitido: «visitas.xls» es una página web (HTML), no "
                               "una hoja de cálculo. Suba un archivo .csv, .xlsx o .xls.")
    data = tmp_path / "visitas.json"
    data.write_text('[{"a": 1}]', encoding="utf-8")
    stream = open_table(data, data.name, ["Visitante"])
    assert stream.file_format == "csv"  # and its name told apart, as any unknown suffix is
    assert stream.notes == ["El archivo se llama «visitas.json» pero es un archivo de texto "
                            "delimitado (CSV): se leyó como tal."]
    # and an entity's mapping never reads withdrawal or decision-makers files
    report = validate_file(page, "retiros-2024.xls", SCHEMAS, mapping=entity(
        {"mapping": {"Visitante": "Visitante"}}).mapping)
    assert report.unreadable


def test_records_extracted_by_a_source_go_through_the_mapping(tmp_path):
    """What a source that extracts records (an API, a database) hands to ingestion."""
    from pipeline.sources.records import records_upload

    rows = [{"dia": dt.date(2024, 8, 5), "hora": dt.time(9, 30), "nombre": "QUISPE, ROSA",
             "dni": "01234567", "funcionario": "VARGAS ELSA", "motivo": None}]
    upload = records_upload(RUC, rows, tmp_path, "consulta-0001.json",
                            origin="postgresql://sistema/visitas",
                            provenance={"cursor_desde": 1, "cursor_hasta": 1})
    again = records_upload(RUC, rows, tmp_path, "consulta-0001b.json", origin="x")
    assert upload.sha256 == again.sha256  # the same records: the same batch
    assert upload.provenance == {"cursor_desde": 1, "cursor_hasta": 1}
    report, valid = staged(tmp_path, upload.path, {"mapping": {
        "fecha_visita": {"column": "dia", "date_format": "%Y-%m-%d"}, "hora_ingreso": "hora",
        "visitante_nombre": "nombre", "visitante_tipo_documento": {"value": "DNI"},
        "visitante_numero_documento": "dni", "funcionario_nombre": "funcionario",
        "motivo": {"column": "motivo", "default": "Otros Motivos"}}})
    assert report.valid, report.flatten()
    assert (valid[0]["fecha_visita"], valid[0]["hora_ingreso"], valid[0]["visitante_nombre"]) \
        == (dt.date(2024, 8, 5), dt.time(9, 30), "QUISPE ROSA")
