"""Compliance (`cumplimiento`) on a scenario whose truth is known: uploads written here with a
known number of rows per entity and month, rejected rows, blank exit times and «Otros
Motivos»; two full passes; the exact published rows, and the page as Chromium shows it."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest

from pipeline.flow import run_full_pass
from pipeline.settings import Settings
from tests import chromium
from tests.dom import parse

NORTE, NORTE_NAME = "20999100016", "Municipalidad Distrital de Ejemplo Norte"
SUR, SUR_NAME = "20999300031", "Gobierno Regional de Ejemplo Sur"
CENTRO, CENTRO_NAME = "20999200029", "Ministerio de Ejemplo"  # never uploads
T1 = dt.datetime(2024, 10, 10, 15, 0, tzinfo=dt.UTC)  # 10:00 in Lima
T2 = dt.datetime(2024, 11, 1, 12, 0, tzinfo=dt.UTC)  # 07:00 in Lima, 22 days later
HEADER = ("Fecha de Registro;Fecha de Visita;Entidad visitada;Visitante;Documento del visitante;"
          "Entidad del visitante;Funcionario visitado;Hora Ingreso;Hora Salida;Motivo;"
          "Lugar específico;Observación")
OTROS = "Otros Motivos - Consulta"
REUNION = "Reunión de trabajo - Coordinación"
HIDDEN = frozenset({"head", "style", "script", "title"})


def row(entity: str, day: str, dni: str, entry: str, exit_: str, motive: str) -> str:
    return (f"{day};{day};{entity};VISITANTE {dni};DNI {dni};Persona natural - a titulo personal;"
            f"PEREZ LUNA ANA - GERENCIA GENERAL - GERENTE;{entry};{exit_};{motive};Oficina 1;")


def upload(settings: Settings, ruc: str, name: str, rows: list[str]) -> None:
    folder = Path(settings.landing_url) / ruc
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")


# NORTE, first upload (T1): August 1 visit; September 6 visits on 3 days, 2 without exit
# time, 3 «Otros Motivos»; 2 rows rejected (exit before entry; a date that does not exist,
# counted in the file's own month, September).
NORTE_SEPT = [
    row(NORTE_NAME, "02/09/2024", "10000001", "09:00", "", OTROS),
    row(NORTE_NAME, "02/09/2024", "10000002", "10:00", "", REUNION),
    row(NORTE_NAME, "05/09/2024", "10000003", "09:00", "09:30", OTROS),
    row(NORTE_NAME, "05/09/2024", "10000004", "10:00", "10:30", OTROS),
    row(NORTE_NAME, "05/09/2024", "10000005", "11:00", "11:30", REUNION),
    row(NORTE_NAME, "30/09/2024", "10000006", "09:00", "09:45", REUNION),
    row(NORTE_NAME, "10/09/2024", "10000007", "15:00", "14:00", REUNION),  # exit before entry
    row(NORTE_NAME, "31/02/2024", "10000008", "09:00", "09:30", REUNION),  # no such date
    row(NORTE_NAME, "20/08/2024", "10000009", "16:00", "16:20", REUNION),
]
# NORTE, second upload (T2), named to sort after the first: the two exit times filled, and
# one October visit without exit time, «Otros Motivos».
NORTE_FIX = [
    row(NORTE_NAME, "02/09/2024", "10000001", "09:00", "09:40", OTROS),
    row(NORTE_NAME, "02/09/2024", "10000002", "10:00", "10:50", REUNION),
    row(NORTE_NAME, "15/10/2024", "10000010", "12:00", "", OTROS),
]
# SUR (T1 only): August 2 visits on one day; one September row rejected.
SUR_AUG = [
    row(SUR_NAME, "05/08/2024", "20000001", "09:00", "10:00", "Gestión de intereses - Proyecto"),
    row(SUR_NAME, "05/08/2024", "20000002", "11:00", "12:00", REUNION),
    row(SUR_NAME, "03/09/2024", "20000003", "15:00", "14:00", REUNION),  # exit before entry
]
COLUMNS = ["entidad_ruc", "entidad_nombre", "mes", "visitas_publicadas", "filas_recibidas",
           "filas_rechazadas", "pct_sin_hora_salida", "pct_otros_motivos",
           "demora_mediana_dias", "dias_con_visitas", "ultima_carga"]
T1_TEXT, T2_TEXT = "2024-10-10T15:00:00Z", "2024-11-01T12:00:00Z"
EXPECTED = [
    # August: 1 visit, with exit time, uploaded 51 days later
    [NORTE, NORTE_NAME, "2024-08", "1", "1", "0", "0.0", "0.0", "51.0", "1", T1_TEXT],
    # September: 6 published; 6 + 2 rejected in the first upload, 2 more rows in the second;
    # exit times filled by the second; delays 38, 38, 35, 35, 35, 10 days (median 35): the
    # second upload changed two visits but did not bring them first
    [NORTE, NORTE_NAME, "2024-09", "6", "10", "2", "0.0", "50.0", "35.0", "3", T2_TEXT],
    # October: 1 visit without exit time, «Otros Motivos», 17 days late
    [NORTE, NORTE_NAME, "2024-10", "1", "1", "0", "100.0", "100.0", "17.0", "1", T2_TEXT],
    [SUR, SUR_NAME, "2024-08", "2", "2", "0", "0.0", "0.0", "66.0", "1", T1_TEXT],
    # only a rejected row: nothing published, so no percentages nor delay
    [SUR, SUR_NAME, "2024-09", "0", "1", "1", "", "", "", "0", T1_TEXT],
    # nothing at all, up to the last month any entity has
    [SUR, SUR_NAME, "2024-10", "0", "0", "0", "", "", "", "0", ""],
]


@pytest.fixture
def scenario(project: Settings) -> Settings:
    """The two passes of the scenario, with silence set at 20 days in datasets/."""
    yaml = project.datasets_dir / "cumplimiento.yaml"
    yaml.write_text(yaml.read_text("utf-8").replace("silencio_dias: 30", "silencio_dias: 20"),
                    encoding="utf-8")
    upload(project, NORTE, "visitas-2024-09.csv", NORTE_SEPT)
    upload(project, SUR, "visitas-2024-08.csv", SUR_AUG)
    first = run_full_pass(project, echo=lambda _: None, today=T1.date(), now=T1)
    assert first.exit_code == 0
    upload(project, NORTE, "visitas-2024-09-z-salidas.csv", NORTE_FIX)
    second = run_full_pass(project, echo=lambda _: None, today=T2.date(), now=T2)
    assert second.exit_code == 0 and second.publication.new_release
    return project


def test_published_compliance_rows_are_the_known_truth(scenario: Settings) -> None:
    latest = scenario.var_dir / "publish" / "latest"
    with (latest / "cumplimiento.csv").open(encoding="utf-8", newline="") as fh:
        published = list(csv.reader(fh))
    assert published == [COLUMNS, *EXPECTED]
    # In the release's Data Package with its own schema, and kept by latest/ like every file.
    package = json.loads((latest / "datapackage.json").read_text("utf-8"))
    table = next(r for r in package["resources"] if r["name"] == "cumplimiento")
    assert table["type"] == "table" and table["path"] == "cumplimiento.csv"
    assert [f["name"] for f in table["schema"]["fields"]] == COLUMNS
    assert table["schema"]["fields"][2]["title"] == "Mes"
    manifest = json.loads((latest / "release.json").read_text("utf-8"))
    paths = {f["path"] for f in manifest["files"]}
    assert {"cumplimiento.csv", "cumplimiento.parquet", "cumplimiento.schema.json",
            "cumplimiento.html"} <= paths
    import duckdb

    parquet = duckdb.sql(f"SELECT entidad_ruc, mes, visitas_publicadas, ultima_carga "
                         f"FROM '{latest / 'cumplimiento.parquet'}' ORDER BY ALL").fetchall()
    assert [(r[0], r[1], r[2]) for r in parquet] == [(e[0], e[2], int(e[3])) for e in EXPECTED]
    assert parquet[1][3] == T2

    # A run that finds nothing new publishes nothing, compliance included.
    again = run_full_pass(scenario, echo=lambda _: None, today=T2.date(),
                          now=T2 + dt.timedelta(days=3))
    assert again.exit_code == 0 and not again.publication.new_release


def test_a_file_rejected_whole_publishes_a_release_for_compliance(scenario: Settings) -> None:
    """No visit changes, compliance does: a release is cut for it."""
    upload(scenario, SUR, "visitas-2024-10.csv",
           [row(SUR_NAME, "07/10/2024", "20000004", "15:00", "14:00", REUNION)])
    later = T2 + dt.timedelta(days=1)
    outcome = run_full_pass(scenario, echo=lambda _: None, today=later.date(), now=later)
    assert outcome.publication.new_release and outcome.publication.changes == {
        "agregadas": 0, "modificadas": 0, "retiradas": 0}
    published = list(csv.reader((scenario.var_dir / "publish" / "latest" / "cumplimiento.csv")
                                .open(encoding="utf-8", newline="")))
    assert published[-1] == [SUR, SUR_NAME, "2024-10", "0", "1", "1", "", "", "", "0",
                             "2024-11-02T12:00:00Z"]


def test_compliance_page_as_a_person_sees_it(tmp_path: Path, scenario: Settings) -> None:
    page = scenario.var_dir / "publish" / "latest" / "cumplimiento.html"
    browser = chromium.binary(required=True)  # never skipped, in CI or not
    dom = parse(chromium.dump_dom(browser, tmp_path / "chromium", page.as_uri()))
    text = dom.one("body").text(skip=HIDDEN)
    assert dom.one("h1").text() == "Registro de Visitas en Línea: cumplimiento de las entidades"
    assert [h.text() for h in dom.iter("h2")] == [
        "Entidades en silencio", "Indicadores por entidad y mes", "Diccionario de datos"]
    assert "publicada el 1 de noviembre de 2024 a las 07:00 (hora de Lima)" in text
    assert "2 entidades con datos, de agosto de 2024 a octubre de 2024." in text
    # Silent: CENTRO never uploaded; SUR's last upload is 22 days old, over the 20 set.
    assert "Entidades sin cargas de visitas en más de 20 días al 1 de noviembre de 2024." in text
    silent = [[td.text() for td in tr.iter("td")]
              for tr in dom.after_heading("Entidades en silencio", "table").one("tbody").iter("tr")]
    assert silent == [[CENTRO_NAME, CENTRO, "nunca", ""],
                      [SUR_NAME, SUR, "10 de octubre de 2024", "22"]]
    # A chart per indicator, each an inline SVG drawn with the entities and months as text.
    indicators = ["Visitas publicadas", "Filas recibidas", "Filas rechazadas",
                  "Visitas sin hora de salida (%)", "Visitas con motivo «Otros Motivos» (%)",
                  "Demora mediana de publicación (días)", "Días con visitas"]
    assert [h.text() for h in dom.iter("h3")] == ["Días desde la última carga", *indicators]
    for title in indicators:
        figure = dom.after_heading(title, "figure")
        labels = [t.text() for t in figure.iter("text")]
        assert len(figure.iter("svg")) == 1, title
        assert NORTE_NAME in labels and SUR_NAME in labels, title
        assert {"ago 2024", "sept 2024", "oct 2024"} <= set(labels), title
    exit_labels = [t.text() for t in dom.after_heading(indicators[3], "figure").iter("text")]
    assert "100" in exit_labels and "—" in exit_labels  # a month without visits is a dash
    assert "35" in [t.text() for t in dom.after_heading(indicators[5], "figure").iter("text")]
    # Nothing from the network: no script, stylesheet or image to fetch; links are relative.
    assert not dom.iter("script") and not dom.iter("link") and not dom.iter("img")
    hrefs = [a.attrs["href"] for a in dom.iter("a")]
    assert hrefs == ["cumplimiento.csv", "cumplimiento.parquet", "cumplimiento.schema.json",
                     "index.html"]
    assert all((page.parent / h).is_file() for h in hrefs)
    # The data dictionary, from the schema.
    assert "demora_mediana_dias" in text and "Días distintos del mes con al menos una visita" in text
