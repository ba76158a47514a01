"""`kind: http`: an entity's JSON API read through a local server.

The three real API responses of `../shared/real-samples/` ingest through `kind: http` with the
same mapping each that reads them as files (tests/test_real_samples.py), with no entity-specific
code, and stage exactly what the file path stages. A paginated API that answers 429, 500, slowly
or not at all delivers every record exactly once (page number, offset and next-link
pagination). An API that is down or refuses the credential fails only its own entity, with a
Spanish message that never shows the secret.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import ClassVar

import pyarrow.parquet as pq
import pytest
import yaml

from pipeline.flow import included_entities, run_full_pass, seed_sample_uploads
from pipeline.ingestion.batches import batch_folders, ingest_entity
from pipeline.ingestion.staging import ParquetSink
from pipeline.registry import parse_entity
from pipeline.sources.cursor import cursor_path, read_state
from pipeline.validation.upload import upload_schemas, validate_file
from tests import test_real_samples as real
from tests.apiserver import DROP, Reply, Request, api_server
from tests.published import csv_rows

NOW = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.UTC)
TODAY = real.TODAY
SAMPLES = real.SAMPLES
#: sample file, its registration as a file source, where its records are in the answer
REAL = {
    "mef": ("mef-2020-03-12.json", real.MEF, "data"),
    "mimp": ("mimp-2015-08-20.json", real.MIMP, "rows"),
    "congreso": ("congreso-2021-08-24.json", real.CONGRESO, '""'),
}


def as_http(registration: str, url: str, records: str, extra: str = "") -> str:
    """The file registration of test_real_samples, its mapping untouched, as an API source."""
    assert "  kind: files\n" in registration
    return registration.replace(
        "  kind: files\n",
        f"  kind: http\n  url: {url}\n  records: {records}\n  timeout: 5\n  backoff: 0.01\n"
        f"{extra}")


def staged(settings, ruc: str) -> tuple[list[dict], list[dict], list[dict]]:
    """The entity's staged valid rows and quarantined rows (source columns only), and its
    batches' records."""
    valid, rejected, records = [], [], []
    for folder in batch_folders(settings, ruc):
        records.append(json.loads((folder / "batch.json").read_text("utf-8")))
        for name, rows in (("valid.parquet", valid), ("quarantine.parquet", rejected)):
            if (folder / name).exists():
                rows += [{k: v for k, v in r.items() if k not in ("_archivo", "_lote",
                                                                  "_ingestado", "_ingesta")}
                         for r in pq.read_table(folder / name).to_pylist()]
    return valid, rejected, records


def as_file(tmp_path, registration: str, sample: str) -> tuple[object, list[dict], list[dict]]:
    """What the same sample stages when uploaded as a file."""
    entity = parse_entity(yaml.safe_load(registration), f"{sample}.yaml")
    sink = ParquetSink(tmp_path, ruc=entity.ruc, batch="lote", name=sample,
                       ingested=NOW)
    report = validate_file(SAMPLES / sample, sample, upload_schemas(real.REPO_ROOT / "schemas"),
                           entity=entity, mapping=entity.mapping, today=TODAY, sink=sink)
    sink.close(keep_valid=report.readable)
    out = []
    for name in ("valid.parquet", "quarantine.parquet"):
        path = tmp_path / name
        out.append([{k: v for k, v in r.items() if k not in ("_archivo", "_lote", "_ingestado",
                                                               "_ingesta")}
                    for r in pq.read_table(path).to_pylist()] if path.exists() else [])
    return report, out[0], out[1]


@pytest.mark.parametrize("system", sorted(REAL))
def test_a_real_api_answer_ingests_through_kind_http_as_it_does_as_a_file(project, tmp_path,
                                                                       system):
    sample, registration, records = REAL[system]
    path = SAMPLES / sample
    assert path.is_file(), f"missing real sample {path} (the shared folder must be there)"
    body = path.read_bytes()
    with api_server({"/api/visitas": lambda r: Reply(body=body)}) as api:
        text = as_http(registration, f"{api.base}/api/visitas", records)
        entity = parse_entity(yaml.safe_load(text), f"{system}.yaml")
        (project.entities_dir / f"{entity.ruc}.yaml").write_text(text, "utf-8")
        entity = next(e for e in included_entities(project) if e.ruc == entity.ruc)
        outcome = ingest_entity(project, entity, today=TODAY, now=NOW)
        assert outcome.error is None, outcome.error
        assert len(api.requests_to("/api/visitas")) == 1
    report, file_valid, file_rejected = as_file(tmp_path, registration, sample)
    valid, rejected, records_ = staged(project, entity.ruc)
    (batch,) = outcome.batches
    assert batch.rows == report.rows > 0
    assert (batch.valid_rows, batch.rejected_rows) == (report.valid_rows, report.rejected_rows)
    assert batch.report["tasks"][0]["errors"] == report.to_dict()["tasks"][0]["errors"]
    assert valid == file_valid and rejected == file_rejected
    (meta,) = records_
    assert meta["fuente"] == "http" and meta["origen"] == f"{api.base}/api/visitas"
    assert meta["url"] == f"{api.base}/api/visitas" and meta["registros"] == report.rows


# ------------------------------------------------------------------ a paginated, flaky API

TOTAL = 237
PAGE = 20
RECORDS = [{"id": n, "fecha": "05/08/2024", "hora": f"{8 + n // 60:02d}:{n % 60:02d}",
            "dni": f"4{n:07d}", "nombre": f"VISITANTE API {n}", "funcionario": "PEREZ ANA",
            "motivo": "Reunión de trabajo"} for n in range(1, TOTAL + 1)]
API_RUC = "20999500006"
API_ENV = "VISITAS_API_20999500006"


def api_registration(url: str, pagination: str, *, extra: str = "") -> str:
    return f"""
ruc: "{API_RUC}"
name: "Municipalidad de Ejemplo con API"
stage: production
administrator: {{email: "sistemas@muniejemploapi.gob.pe"}}
source:
  kind: http
  url: {url}
  records: resultados.visitas
  headers:
    Authorization: {{env: {API_ENV}, prefix: "Bearer "}}
  pagination: {pagination}
  timeout: 0.5
  retries: 4
  backoff: 0.01{extra}
  mapping:
    fecha_visita: {{column: fecha, date_format: "%d/%m/%Y"}}
    hora_ingreso: hora
    visitante_nombre: nombre
    visitante_tipo_documento: {{value: DNI}}
    visitante_numero_documento: dni
    funcionario_nombre: funcionario
    motivo: motivo
"""


class FlakyApi:
    """Pages of `RECORDS`; the first request of some pages fails in one way each."""

    FAULTS: ClassVar[dict[int, Reply | str]] = {2: Reply(429, {"error": "demasiadas solicitudes"}, {"Retry-After": "0"}),
              4: Reply(500, {"error": "interno"}),
              6: "slow",
              8: DROP,
              9: Reply(503, b"<html>Servicio no disponible</html>")}

    def __init__(self, pagination: str) -> None:
        self.pagination = pagination
        self.tries: dict[int, int] = {}

    def __call__(self, request: Request) -> Reply:
        if request.headers.get("Authorization") != "Bearer token-secreto":
            return Reply(401, {"error": "no autorizado"})
        if self.pagination == "page":
            number = int(request.query.get("page", "1"))
        else:
            number = int(request.query.get("offset", "0")) // PAGE + 1
        self.tries[number] = self.tries.get(number, 0) + 1
        fault = self.FAULTS.get(number) if self.tries[number] == 1 else None
        start = (number - 1) * PAGE
        records = RECORDS[start:start + PAGE]
        body: dict = {"resultados": {"visitas": records}}
        if self.pagination == "next" and start + PAGE < TOTAL:
            body["siguiente"] = f"/api/visitas?offset={start + PAGE}&limit={PAGE}"
        if fault == "slow":
            return Reply(body=body, delay=1.5)  # past the 0.5 s timeout: tried again
        return fault or Reply(body=body)


PAGINATIONS = {
    "page": "{type: page, param: page, size: 20, size_param: per_page}",
    "offset": "{type: offset, param: offset, size: 20, size_param: limit}",
    "next": "{type: next, next: siguiente}",
}


@pytest.mark.parametrize("kind", sorted(PAGINATIONS))
def test_a_paginated_flaky_api_delivers_every_record_exactly_once(project, monkeypatch, kind):
    flaky = FlakyApi(kind)
    with api_server({"/api/visitas": flaky}) as api:
        text = api_registration(f"{api.base}/api/visitas", PAGINATIONS[kind])
        (project.entities_dir / f"{API_RUC}.yaml").write_text(text, "utf-8")
        monkeypatch.setenv(API_ENV, "token-secreto")
        entity = next(e for e in included_entities(project) if e.ruc == API_RUC)
        outcome = ingest_entity(project, entity, today=TODAY, now=NOW)
        assert outcome.error is None, outcome.error
        pages = (TOTAL + PAGE - 1) // PAGE
        # every faulty page was asked for again, every other page once
        assert flaky.tries == {n: 2 if n in FlakyApi.FAULTS else 1 for n in range(1, pages + 1)}
    valid, rejected, records = staged(project, API_RUC)
    assert rejected == []
    assert sorted(r["visitante_nombre"] for r in valid) == sorted(r["nombre"] for r in RECORDS)
    assert len(valid) == TOTAL
    (meta,) = records
    assert meta["paginas"] == [1, pages] and meta["registros"] == TOTAL
    assert "token-secreto" not in json.dumps(meta)


def test_an_unchanged_api_stages_nothing_and_a_change_is_published(project, monkeypatch):
    answer = {"resultados": {"visitas": RECORDS[:30]}}
    with api_server({"/api/visitas": lambda r: Reply(body=answer)}) as api:
        text = api_registration(f"{api.base}/api/visitas", "{type: page, param: page, size: 100}",
                                extra="\n  batch_rows: 20")
        (project.entities_dir / f"{API_RUC}.yaml").write_text(text, "utf-8")
        monkeypatch.setenv(API_ENV, "token-secreto")
        seed_sample_uploads(project, included_entities(project))
        first = run_full_pass(project, echo=lambda _: None, today=TODAY, now=NOW)
        assert first.exit_code == 0, first.problems()
        names = sorted(b.name for b in first.entities[-1].batches)
        assert len(names) == 2  # 30 records in batches of 20
        again = ingest_entity(project, included_entities(project)[-1], today=TODAY, now=NOW)
        assert [b.status for b in again.batches] == ["unchanged", "unchanged"]
        assert sorted(b.name for b in again.batches) == names
        for folder in batch_folders(project, API_RUC):  # no other name recorded for them
            assert len(json.loads((folder / "batch.json").read_text("utf-8"))["nombres"]) == 1
        assert sorted(read_state(cursor_path(project, API_RUC))["lotes"].values()) == names
        # the API now gives visit 25 an exit time: the second batch changes
        changed = [dict(r) for r in RECORDS[:30]]
        changed[24]["salida"] = "18:45"
        answer["resultados"]["visitas"] = changed
        (project.entities_dir / f"{API_RUC}.yaml").write_text(
            text.replace("    hora_ingreso: hora\n", "    hora_ingreso: hora\n"
                         "    hora_salida: salida\n"), "utf-8")
        third = run_full_pass(project, echo=lambda _: None, today=TODAY,
                              now=NOW + dt.timedelta(hours=1))
        assert third.exit_code == 0, third.problems()
    ours = [r for r in csv_rows(project.var_dir / "publish") if r["entidad_ruc"] == API_RUC]
    assert len(ours) == 30
    assert [r["hora_salida"][:5] for r in ours if r["visitante_nombre"] == "VISITANTE API 25"] \
        == ["18:45"]


@pytest.mark.parametrize("fault", ["down", "credential", "errors", "variable"])
def test_an_api_that_fails_fails_only_its_entity(project, monkeypatch, fault):
    def route(request: Request) -> Reply:
        if fault == "errors":
            return Reply(500, {"error": "interno"})
        if request.headers.get("Authorization") != "Bearer token-secreto":
            return Reply(401, {"error": "no autorizado"})
        return Reply(body={"resultados": {"visitas": RECORDS[:5]}})

    with api_server({"/api/visitas": route}) as api:
        url = f"{api.base}/api/visitas"
        if fault == "down":
            api.httpd.server_close()  # nobody listens there any more
        text = api_registration(url, "{type: page, param: page, size: 100}")
        (project.entities_dir / f"{API_RUC}.yaml").write_text(text, "utf-8")
        if fault != "variable":
            monkeypatch.setenv(API_ENV, "token-equivocado" if fault == "credential"
                               else "token-secreto")
        else:
            monkeypatch.delenv(API_ENV, raising=False)
        seed_sample_uploads(project, included_entities(project))
        lines: list[str] = []
        outcome = run_full_pass(project, echo=lines.append, today=TODAY, now=NOW)
    assert outcome.exit_code == 4, lines
    error = next(e for e in outcome.entities if e.entity.ruc == API_RUC).error
    assert error is not None and error.startswith(f"No se pudo leer la fuente de {API_RUC}: ")
    expected = {
        "down": f"la API {url}?page=1 no acepta conexiones",
        "credential": f"la API {url}?page=1 respondió con el código 401 (no autorizado: revise "
                      "la credencial de source.headers).",
        "errors": f"la API {url}?page=1 respondió con errores (429 o 5xx) en todos los intentos",
        "variable": f"la variable de entorno {API_ENV} (cabecera Authorization de la API) no "
                    "está definida",
    }[fault]
    assert expected in error, error
    assert "token-" not in "\n".join(lines)
    assert outcome.publication is not None and outcome.publication.rows > 0
    assert list(batch_folders(project, API_RUC)) == []
