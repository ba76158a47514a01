"""The real responses of three entities' own visitor APIs (`../shared/real-samples/`) ingest
through one declarative mapping each, with no entity-specific code: every parsed field is
checked against the raw JSON, and the rows lacking what the law requires are quarantined
with that reason (MEF gives no document number; MIMP often gives a unit's acronym where the
official's name should be).

The samples hold real people's data: they are read from the shared folder, never copied into
the repository. A missing folder is a failure, not a skip.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from pipeline.ingestion.staging import ParquetSink
from pipeline.registry import parse_entity
from pipeline.validation.upload import upload_schemas, validate_file
from tests.conftest import REPO_ROOT

SAMPLES = REPO_ROOT.parent / "shared" / "real-samples"
SCHEMAS = upload_schemas(REPO_ROOT / "schemas")
TODAY = dt.date(2025, 1, 1)

MEF = """
ruc: "20131370645"
name: "Ministerio de Economía y Finanzas"
stage: demo
administrator: {email: "visitas@mef.gob.pe"}
source:
  kind: files
  mapping:
    Fecha de Visita: {column: fecha, date_format: "%d/%m/%Y"}
    Visitante: visitante
    Entidad del visitante: rz_empresa
    Funcionario visitado: funcionario
    Hora Ingreso: horaIn
    Hora Salida: horaOut
    Motivo: motivo
    Lugar específico: no_lugar_r
"""

MIMP = """
ruc: "20336951527"
name: "Ministerio de la Mujer y Poblaciones Vulnerables"
stage: demo
administrator: {email: "visitas@mimp.gob.pe"}
source:
  kind: files
  layouts:
    - name: sistema-2015
      records: rows
      mapping:
        fecha_visita: {column: fec_fecha, date_format: "%d/%m/%Y"}
        hora_ingreso: {column: ingreso, time_format: "%I:%M %p"}
        hora_salida: {column: salida, time_format: "%I:%M %p"}
        visitante_nombre: txt_nombre_visitante
        visitante_tipo_documento: {value: DNI}
        visitante_numero_documento: txt_dni
        visitante_entidad: txt_entidad
        # the system writes the programme's acronym where no official was named
        funcionario_nombre: {column: txt_nombre_funcionario, values: {PNCVFS: null}}
        funcionario_area: txt_unidad
        motivo: {column: txt_observacion, values: {CITACION: Otros Motivos}, default: Otros Motivos}
        motivo_detalle: {column: txt_observacion, values: {CITACION: Citación}}
"""

CONGRESO = """
ruc: "20161749126"
name: "Congreso de la República"
stage: demo
administrator: {email: "visitas@congreso.gob.pe"}
source:
  kind: files
  layouts:
    - name: api-2021
      when_headers: [idVisita, fechaVisitaRecepcion]
      mapping:
        fecha_visita: {column: fechaVisitaRecepcion, date_format: "%d/%m/%y %H:%M"}
        hora_ingreso: {column: fechaVisitaRecepcion, time_format: "%H:%M"}
        hora_salida: {column: fechaVisitaTermino, time_format: "%H:%M"}
        visitante_nombre: entidadVisitanteNombreCompleto
        visitante_tipo_documento: {column: entidadVisitanteTipoDocumento, values: {"DNI/LE": DNI}}
        visitante_numero_documento: entidadVisitanteDocumento
        visitante_entidad: {column: entidad, values: {SIN INSTITUCION: null}}
        funcionario_nombre: empleado
        funcionario_cargo: cargo
        funcionario_area: centroCostoNombre
        motivo: {column: motivo, values: {NORMAL: Otros Motivos}}
        lugar: ubicacion
"""


def ingest(tmp_path: Path, registration: str, sample: str) -> tuple[object, list, list]:
    """The sample read through the entity's mapping, as ingestion stages it."""
    path = SAMPLES / sample
    assert path.is_file(), f"missing real sample {path} (the shared folder must be there)"
    entity = parse_entity(yaml.safe_load(registration), f"{sample}.yaml")
    sink = ParquetSink(tmp_path, ruc=entity.ruc, batch="lote", name=sample,
                       ingested=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    report = validate_file(path, sample, SCHEMAS, entity=entity, mapping=entity.mapping,
                           today=TODAY, sink=sink)
    sink.close(keep_valid=report.readable)
    valid = pq.read_table(tmp_path / "valid.parquet").to_pylist()
    quarantine = tmp_path / "quarantine.parquet"
    rejected = pq.read_table(quarantine).to_pylist() if quarantine.exists() else []
    return report, valid, rejected


def words(text: str | None) -> str | None:
    """What the normalisation makes of a name or a label: spaces cleaned (and commas gone)."""
    if text is None:
        return None
    cleaned = " ".join(text.replace(",", " ").split())
    return cleaned or None


def test_the_samples_folder_is_there():
    assert sorted(p.name for p in SAMPLES.glob("*.json")) == [
        "congreso-2021-08-24.json", "mef-2020-03-12.json", "mimp-2015-08-20.json"]


def test_mef_rows_are_parsed_and_quarantined_for_lack_of_a_document(tmp_path):
    raw = json.loads((SAMPLES / "mef-2020-03-12.json").read_text("utf-8"))["data"]
    report, valid, rejected = ingest(tmp_path, MEF, "mef-2020-03-12.json")
    assert report.readable and report.rows == len(raw) == 10
    # the law requires the visitor's identification: MEF's API gives none, so every row is
    # quarantined for it, and for nothing else
    assert valid == []
    assert report.flatten() == [[n, "Documento del visitante", "constraint-error"]
                                for n in range(1, 11)]
    assert {e.note for e in report.errors} == {'constraint "required" is "True"'}
    # what was read from each record is exactly the record's own values
    assert [r["_fila"] for r in rejected] == list(range(1, 11))
    for record, row in zip(raw, rejected, strict=True):
        assert row["Fecha de Visita"] == dt.datetime.strptime(
            record["fecha"], "%d/%m/%Y").date().isoformat()
        assert row["Visitante"] == record["visitante"]
        assert row["Entidad del visitante"] == record["rz_empresa"]
        assert row["Funcionario visitado"] == record["funcionario"]
        assert (row["Hora Ingreso"], row["Hora Salida"]) == (record["horaIn"], record["horaOut"])
        assert row["Motivo"] == record["motivo"]
        assert row["Lugar específico"] == record["no_lugar_r"]
        assert row["Documento del visitante"] == ""
    assert "El formato no asigna «Documento del visitante», obligatoria" in report.summary_es()


def test_mef_rows_normalise_as_an_upload_would(tmp_path):
    """With the document the law requires (as a corrected export would have it), the same
    mapping stages every MEF row, its composite official split by the normalisation."""
    raw = json.loads((SAMPLES / "mef-2020-03-12.json").read_text("utf-8"))
    for k, record in enumerate(raw["data"]):
        record["dni"] = f"{40000000 + k}"
    corrected = tmp_path / "mef-con-documento.json"
    corrected.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    registration = MEF.replace("    Visitante: visitante\n",
                               "    Visitante: visitante\n    Documento del visitante: dni\n")
    entity = parse_entity(yaml.safe_load(registration), "mef.yaml")
    sink = ParquetSink(tmp_path, ruc=entity.ruc, batch="lote", name=corrected.name,
                       ingested=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    report = validate_file(corrected, corrected.name, SCHEMAS, entity=entity,
                           mapping=entity.mapping, today=TODAY, sink=sink)
    sink.close(keep_valid=True)
    assert report.valid, report.flatten()
    valid = pq.read_table(tmp_path / "valid.parquet").to_pylist()
    for record, row in zip(raw["data"], valid, strict=True):
        name, area, post = (p.strip() for p in record["funcionario"].split(" - "))
        assert row["fecha_visita"] == dt.date(2020, 3, 12)
        assert row["hora_ingreso"] == dt.datetime.strptime(record["horaIn"], "%H:%M").time()
        assert row["hora_salida"] == dt.datetime.strptime(record["horaOut"], "%H:%M").time()
        assert row["visitante_nombre"] == words(record["visitante"])
        assert (row["visitante_tipo_documento"], row["visitante_numero_documento"]) == (
            "DNI", record["dni"])
        assert row["visitante_entidad"] == words(record["rz_empresa"])  # trailing space gone
        assert (row["funcionario_nombre"], row["funcionario_area"], row["funcionario_cargo"]) \
            == (name, area, post)
        assert (row["motivo"], row["lugar"]) == (record["motivo"], record["no_lugar_r"])


def test_mimp_rows_without_an_official_are_quarantined_for_it(tmp_path):
    raw = json.loads((SAMPLES / "mimp-2015-08-20.json").read_text("utf-8"))["rows"]
    report, valid, rejected = ingest(tmp_path, MIMP, "mimp-2015-08-20.json")
    assert report.readable and report.rows == len(raw) == 20
    named = [n for n, r in enumerate(raw, 1) if "," in r["txt_nombre_funcionario"]
             and r["txt_nombre_funcionario"].split(",")[1].strip()]
    unnamed = [n for n in range(1, 21) if n not in named]
    assert len(named) == 6 and len(unnamed) == 14
    # the law requires the official visited: rows naming only the programme are quarantined
    # for the official's name, and for nothing else
    assert report.flatten() == [[n, "funcionario_nombre", "constraint-error"] for n in unnamed]
    assert [r["_fila"] for r in rejected] == unnamed
    assert [r["_fila"] for r in valid] == named
    for row in valid:
        record = raw[row["_fila"] - 1]
        assert row["fecha_visita"] == dt.datetime.strptime(record["fec_fecha"], "%d/%m/%Y").date()
        assert row["hora_ingreso"] == dt.datetime.strptime(record["ingreso"], "%I:%M %p").time()
        assert row["hora_salida"] == (dt.datetime.strptime(record["salida"], "%I:%M %p").time()
                                      if record["salida"] else None)
        assert row["visitante_nombre"] == words(record["txt_nombre_visitante"])
        assert (row["visitante_tipo_documento"], row["visitante_numero_documento"]) == (
            "DNI", record["txt_dni"])
        assert row["visitante_entidad"] == words(record["txt_entidad"])
        assert row["funcionario_nombre"] == words(record["txt_nombre_funcionario"])
        assert row["funcionario_area"] == words(record["txt_unidad"])
        assert row["motivo"] == "Otros Motivos"
        assert row["motivo_detalle"] == ("Citación" if record["txt_observacion"] else None)
    for row in rejected:
        record = raw[row["_fila"] - 1]
        assert row["visitante_numero_documento"] == record["txt_dni"]
        assert row["funcionario_nombre"] == ""


def test_congreso_rows_are_all_parsed(tmp_path):
    raw = json.loads((SAMPLES / "congreso-2021-08-24.json").read_text("utf-8"))
    report, valid, rejected = ingest(tmp_path, CONGRESO, "congreso-2021-08-24.json")
    assert report.valid, report.flatten()
    assert rejected == [] and len(valid) == len(raw) == 2
    for record, row in zip(raw, valid, strict=True):
        received = dt.datetime.strptime(record["fechaVisitaRecepcion"], "%d/%m/%y %H:%M")
        assert row["fecha_visita"] == received.date() == dt.date(2021, 8, 24)  # two-digit year
        assert row["hora_ingreso"] == received.time()
        assert row["hora_salida"] == dt.datetime.strptime(record["fechaVisitaTermino"],
                                                          "%H:%M").time()
        assert row["visitante_nombre"] == words(record["entidadVisitanteNombreCompleto"])
        assert record["entidadVisitanteTipoDocumento"] == "DNI/LE"
        assert (row["visitante_tipo_documento"], row["visitante_numero_documento"]) == (
            "DNI", record["entidadVisitanteDocumento"])  # leading zero kept
        # "SIN INSTITUCION" means none, as a missing value does
        assert record["entidad"] in ("SIN INSTITUCION", None)
        assert row["visitante_entidad"] is None
        assert row["funcionario_nombre"] == words(record["empleado"])  # "APELLIDOS, NOMBRES"
        assert row["funcionario_cargo"] == record["cargo"]
        assert row["funcionario_area"] == record["centroCostoNombre"]
        assert row["motivo"] == "Otros Motivos"
        assert row["lugar"] == words(record["ubicacion"])


@pytest.mark.parametrize(("registration", "sample"), [
    (MEF, "mef-2020-03-12.json"), (MIMP, "mimp-2015-08-20.json"),
    (CONGRESO, "congreso-2021-08-24.json")])
def test_each_mapping_is_plain_registration(registration, sample):
    """No code per entity: what reads each sample is its registration file alone."""
    data = yaml.safe_load(registration)
    assert set(data["source"]) <= {"kind", "mapping", "layouts"}
    assert parse_entity(data, "x.yaml").mapping is not None
