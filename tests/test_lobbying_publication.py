"""The lobbying datasets end to end, on a scenario whose truth is known: decision-makers who
change post or leave office mid-month, name variants, homonyms in other areas, visits on the
boundary days of a validity window, a register re-uploaded with a correction and a bad one
that leaves the previous register in force. The published acts equal the truth, the uncertain
visits are exactly those in the entity's review file, and analysts join the acts to the visits
with DuckDB."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipeline.flow import run_full_pass
from pipeline.settings import Settings
from tests.stages import NOW, TODAY, drop, settings_for

SUR = "20999300031"
ENTITY = "Gobierno Regional de Ejemplo Sur"
HEADER = ("Fecha de Registro,Fecha de Visita,Entidad visitada,Visitante,Documento del visitante,"
          "Entidad del visitante,Funcionario visitado,Hora Ingreso,Hora Salida,Motivo,"
          "Lugar específico,Observación")
PRIVATE = "Entidad privada - CONSTRUCTORA EJEMPLO ANDINO S.A.C."
PERSONAL = "Persona natural - a titulo personal"
LOBBY = "Gestión de intereses - Propuesta de convenio"
WORK = "Reunión de trabajo - Coordinación de obra"

GOVERNOR = "GOBERNACIÓN REGIONAL - GOBERNADOR REGIONAL"
HEALTH = "DIRECCIÓN REGIONAL DE SALUD - DIRECTOR"
EDUCATION = "DIRECCIÓN REGIONAL DE EDUCACIÓN - DIRECTOR"

#: (label, visit date, official as the upload writes it, motive, visitor's entity)
VISITS = [
    ("V1", "01/10/2024", f"CONDORI APAZA FELIX ROBERTO - {GOVERNOR}", LOBBY, PRIVATE),
    ("V2", "02/10/2024", f"Condori Apaza, Félix  Roberto - {GOVERNOR}", WORK, PRIVATE),
    ("V3", "15/10/2024", "CHOQUEHUANCA RIVERA ANA LUCÍA - GERENCIA GENERAL REGIONAL - "
                         "GERENTE GENERAL REGIONAL", LOBBY, PRIVATE),
    ("V4", "16/10/2024", "CHOQUEHUANCA RIVERA ANA - GERENCIA REGIONAL DE INFRAESTRUCTURA - "
                         "GERENTE REGIONAL DE INFRAESTRUCTURA", LOBBY, PERSONAL),
    ("V5", "10/10/2024", "LLERENA ZEVALLOS MARCO ANTONIO - GERENCIA REGIONAL DE DESARROLLO "
                         "ECONÓMICO - GERENTE REGIONAL", LOBBY, PRIVATE),
    ("V6", "11/10/2024", "LLERENA ZEVALLOS MARCO ANTONIO - GERENCIA REGIONAL DE DESARROLLO "
                         "ECONÓMICO - GERENTE REGIONAL", LOBBY, PRIVATE),
    ("V7", "03/10/2024", f"QUISPE MAMANI JUAN CARLOS - {HEALTH}", LOBBY, PRIVATE),
    ("V8", "04/10/2024", "QUISPE MAMANI JUAN CARLOS - SECRETARÍA GENERAL - ASESOR", LOBBY,
     PRIVATE),
    ("V9", "05/10/2024", f"CONDORY APAZA FELIX ROBERTO - {GOVERNOR}", LOBBY, PRIVATE),
    ("V10", "06/10/2024", "ARANA SALAS HUGO - OFICINA REGIONAL DE ADMINISTRACIÓN - "
                          "ESPECIALISTA ADMINISTRATIVO", LOBBY, PRIVATE),
    ("V11", "07/10/2024", "CHOQUE QUISPE ROSA AMELIA - GERENCIA REGIONAL DE PLANEAMIENTO - "
                          "JEFA DE OFICINA", LOBBY, PRIVATE),
]

REGISTER_V1 = """Nombre,Cargo,Área,Desde,Hasta
CONDORI APAZA FÉLIX ROBERTO,GOBERNADOR REGIONAL,GOBERNACIÓN REGIONAL,01/01/2023,
CHOQUEHUANCA RIVERA ANA LUCÍA,GERENTE GENERAL REGIONAL,GERENCIA GENERAL REGIONAL,01/01/2023,15/10/2024
CHOQUEHUANCA RIVERA ANA LUCÍA,GERENTE REGIONAL DE INFRAESTRUCTURA,GERENCIA REGIONAL DE INFRAESTRUCTURA,16/10/2024,
LLERENA ZEVALLOS MARCO ANTONIO,GERENTE REGIONAL,GERENCIA REGIONAL DE DESARROLLO ECONÓMICO,01/01/2023,09/10/2024
QUISPE MAMANI JUAN CARLOS,DIRECTOR,DIRECCIÓN REGIONAL DE SALUD,01/01/2024,
QUISPE MAMANI JUAN CARLOS,DIRECTOR,DIRECCIÓN REGIONAL DE EDUCACIÓN,01/01/2024,
"""
#: the correction: Llerena left on the 10th, not the 9th; Choque was missing
REGISTER_V2 = REGISTER_V1.replace("01/01/2023,09/10/2024", "01/01/2023,10/10/2024") + (
    "CHOQUE QUISPE ROSA AMELIA,JEFA DE OFICINA,GERENCIA REGIONAL DE PLANEAMIENTO,01/01/2024,\n")
#: overlapping periods for the same person and post: rejected whole
REGISTER_BAD = REGISTER_V2 + "CONDORI APAZA FÉLIX ROBERTO,GOBERNADOR REGIONAL,GOBERNACIÓN REGIONAL,01/06/2024,\n"

#: the truth once the corrected register is in force: visit → (decision-maker, post, area)
ACTS = {
    "V1": ("CONDORI APAZA FÉLIX ROBERTO", "GOBERNADOR REGIONAL", "GOBERNACIÓN REGIONAL"),
    "V3": ("CHOQUEHUANCA RIVERA ANA LUCÍA", "GERENTE GENERAL REGIONAL",
           "GERENCIA GENERAL REGIONAL"),
    "V4": ("CHOQUEHUANCA RIVERA ANA LUCÍA", "GERENTE REGIONAL DE INFRAESTRUCTURA",
           "GERENCIA REGIONAL DE INFRAESTRUCTURA"),
    "V5": ("LLERENA ZEVALLOS MARCO ANTONIO", "GERENTE REGIONAL",
           "GERENCIA REGIONAL DE DESARROLLO ECONÓMICO"),
    "V7": ("QUISPE MAMANI JUAN CARLOS", "DIRECTOR", "DIRECCIÓN REGIONAL DE SALUD"),
    "V11": ("CHOQUE QUISPE ROSA AMELIA", "JEFA DE OFICINA", "GERENCIA REGIONAL DE PLANEAMIENTO"),
}
#: with the first register: Llerena's last day was wrong and Choque missing
ACTS_V1 = {k: v for k, v in ACTS.items() if k not in ("V5", "V11")}
#: two homonyms the visit cannot separate (V8), a name only close to a decision-maker's (V9),
#: and a visit the day after a decision-maker left office (V6: the register may be late)
REVIEW = ["V8", "V9", "V6"]  # in date order, as the file lists them


def _visitor(label: str) -> str:
    return f"VISITANTE PRUEBA {label}"


def visits_csv() -> bytes:
    lines = [HEADER]
    for n, (label, day, official, motive, entity) in enumerate(VISITS):
        lines.append(f"{day},{day},{ENTITY},{_visitor(label)},DNI {40000000 + n},"
                     f"\"{entity}\",\"{official}\",{9 + n % 8:02d}:{n:02d},,{motive},Sala 1,")
    return ("\n".join(lines) + "\n").encode("utf-8")


def run(settings: Settings, hours: int) -> list[str]:
    """One `visitas run`: what it printed."""
    lines: list[str] = []
    outcome = run_full_pass(settings, echo=lines.append, today=TODAY,
                            now=NOW + dt.timedelta(hours=hours))
    assert [e.error for e in outcome.entities if e.error] == []
    return lines


def latest(settings: Settings) -> Path:
    return settings.var_dir / "publish" / "latest"


def table(settings: Settings, name: str) -> list[dict[str, Any]]:
    with duckdb.connect() as con:
        cur = con.execute(f"SELECT * FROM read_parquet('{latest(settings) / name}.parquet')")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def labels_of_acts(settings: Settings) -> dict[str, tuple[str, str, str]]:
    by_visitor = {r["visitante_nombre"]: r for r in table(settings, "actos_gestion_intereses")}
    return {v.removeprefix("VISITANTE PRUEBA "): (r["decisor_nombre"], r["decisor_cargo"],
                                                  r["decisor_area"])
            for v, r in by_visitor.items()}


def review(settings: Settings) -> list[dict[str, str]]:
    path = settings.var_dir / "reports" / SUR / "decisores-revision.csv"
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The visits and the first register, then the corrected one, then a bad one: what was
    published after each run."""
    settings = settings_for(tmp_path_factory.mktemp("gestion"))
    drop(settings, SUR, "visitas-2024-10.csv", visits_csv())
    run(settings, 0)  # no register yet: no acts
    seen: dict[str, Any] = {"settings": settings, "no_register": table(settings, "actos_gestion_intereses")}
    drop(settings, SUR, "decisores.csv", REGISTER_V1.encode("utf-8"))
    run(settings, 1)
    seen["v1"] = labels_of_acts(settings)
    drop(settings, SUR, "decisores-corregido.csv", REGISTER_V2.encode("utf-8"))
    seen["printed_v2"] = run(settings, 2)
    seen["v2"] = labels_of_acts(settings)
    seen["review_v2"] = review(settings)
    drop(settings, SUR, "decisores-2024-11.csv", REGISTER_BAD.encode("utf-8"))
    run(settings, 3)
    seen["after_bad"] = labels_of_acts(settings)
    return seen


def test_an_entity_without_register_publishes_no_acts(scenario: dict[str, Any]) -> None:
    assert scenario["no_register"] == []


def test_published_acts_equal_the_truth(scenario: dict[str, Any]) -> None:
    assert scenario["v1"] == ACTS_V1
    assert scenario["v2"] == ACTS


def test_a_bad_register_leaves_the_previous_one_in_force(scenario: dict[str, Any]) -> None:
    settings = scenario["settings"]
    assert scenario["after_bad"] == ACTS
    versions = {(r["version_registro"], r["vigente"]) for r in table(settings, "decisores")}
    assert versions == {(1, False), (2, True)}
    assert len([r for r in table(settings, "decisores") if r["vigente"]]) == 7


def test_uncertain_visits_are_exactly_the_review_file(scenario: dict[str, Any]) -> None:
    rows = scenario["review_v2"]
    assert [r["visitante_nombre"].removeprefix("VISITANTE PRUEBA ") for r in rows] == REVIEW
    assert [r["fecha_visita"] for r in rows] == ["2024-10-04", "2024-10-05", "2024-10-11"]
    assert rows[0]["funcionario_nombre"] == "QUISPE MAMANI JUAN CARLOS"
    # both homonyms are named as candidates, with their area
    assert "DIRECCIÓN REGIONAL DE SALUD" in rows[0]["candidatos"]
    assert "DIRECCIÓN REGIONAL DE EDUCACIÓN" in rows[0]["candidatos"]
    assert rows[1]["candidatos"].startswith("CONDORI APAZA FÉLIX ROBERTO (GOBERNADOR REGIONAL")
    assert rows[2]["candidatos"] == ("LLERENA ZEVALLOS MARCO ANTONIO (GERENTE REGIONAL, GERENCIA "
                                     "REGIONAL DE DESARROLLO ECONÓMICO; 2023-01-01 a 2024-10-10)")
    assert all(r["razon"] for r in rows)
    # never published as acts
    acts = scenario["v2"]
    assert not set(REVIEW) & set(acts)


def test_the_run_tells_the_acts_and_the_visits_to_review(scenario: dict[str, Any]) -> None:
    reports = scenario["settings"].var_dir / "reports"
    assert (f"  gestión de intereses: 6 actos publicados (1 entidad con registro de decisores); "
            f"3 visitas por revisar en {reports}/<RUC>/decisores-revision.csv"
            ) in scenario["printed_v2"]


def test_the_indicator_counts_visits_acts_and_other_motives(scenario: dict[str, Any]) -> None:
    [row] = table(scenario["settings"], "indicadores_gestion_intereses")
    assert row == {"entidad_ruc": SUR, "entidad_nombre": ENTITY, "mes": "2024-10",
                   "visitas_a_decisores": 7, "actos_gestion_intereses": 6,
                   "visitas_decisores_privados_otro_motivo": 1, "visitas_por_revisar": 3}


def test_analysts_join_acts_to_visits_with_duckdb(scenario: dict[str, Any]) -> None:
    folder = latest(scenario["settings"])
    with duckdb.connect() as con:
        joined = con.execute(f"""
            SELECT v.visitante_nombre, v.motivo, a.representa, a.visitante_id = v.visitante_id
            FROM read_parquet('{folder / 'actos_gestion_intereses.parquet'}') a
            JOIN read_parquet('{folder / 'visitas-completo.parquet'}') v USING (id_visita)
            ORDER BY a.fecha_visita""").fetchall()
    assert [r[0].removeprefix("VISITANTE PRUEBA ") for r in joined] == [
        "V1", "V7", "V11", "V5", "V3", "V4"]
    assert {r[1] for r in joined} == {"Gestión de intereses"}
    assert [r[2] for r in joined] == ["CONSTRUCTORA EJEMPLO ANDINO S.A.C."] * 5 + ["a título personal"]
    assert all(r[3] for r in joined)


def test_the_datasets_are_in_the_datapackage_and_the_changelog(scenario: dict[str, Any]) -> None:
    folder = latest(scenario["settings"])
    package = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    names = {r["name"] for r in package["resources"]}
    assert {"decisores", "actos_gestion_intereses", "indicadores_gestion_intereses"} <= names
    acts = next(r for r in package["resources"] if r["name"] == "actos_gestion_intereses")
    assert acts["schema"]["primaryKey"] == ["id_visita"]
    changes = json.loads((folder / "changes.json").read_text(encoding="utf-8"))
    # the bad register changed nothing; the release before it (the correction) added 2 acts
    release = json.loads((folder / "release.json").read_text(encoding="utf-8"))
    assert changes["version"] == release["id"]
    assert changes["otros_conjuntos"]["actos_gestion_intereses"]["agregadas"] == 2


def test_each_lobbying_dataset_is_in_the_catalogue_and_passes_the_shapes(
        scenario: dict[str, Any]) -> None:
    """With rows, each lobbying dataset is its own dcat:Dataset with the period it covers,
    and the catalogue has no violation of DCAT-AP 3.0.0's shapes (shapes.ttl, range.ttl)."""
    import pyshacl
    import rdflib
    from rdflib.namespace import DCAT, DCTERMS, RDF

    from tests.test_publication_harvest import validators

    folder = latest(scenario["settings"])
    body = (folder / "catalog.jsonld").read_bytes()
    graph = rdflib.Graph().parse(data=body, format="json-ld",
                                 publicID=(folder / "catalog.jsonld").as_uri())
    periods = {}
    for dataset in graph.subjects(RDF.type, DCAT.Dataset):
        temporal = graph.value(dataset, DCTERMS.temporal)
        periods[str(dataset).rsplit("#", 1)[1]] = tuple(
            str(graph.value(temporal, DCAT[p])) for p in ("startDate", "endDate"))
    assert periods == {
        "registro-visitas": ("2024-10-01", "2024-10-16"),
        "cumplimiento-registro-visitas": ("2024-10", "2024-10"),
        "decisores-registro-visitas": ("2023-01-01", "2024-10-16"),
        "actos-gestion-intereses": ("2024-10-01", "2024-10-16"),
        "indicadores-gestion-intereses": ("2024-10", "2024-10"),
    }
    shapes = rdflib.Graph()
    for name in ("shapes.ttl", "range.ttl"):
        shapes.parse(validators() / "dcat-ap-3.0.0" / name, format="turtle")
    conforms, _results, text = pyshacl.validate(graph, shacl_graph=shapes)
    assert conforms, text


def test_each_dataset_version_says_what_changed(scenario: dict[str, Any]) -> None:
    """The release records, for portals, each dataset's version with notes from the changes:
    the correction added two acts; the register's version 2 added its 7 rows and the 6 of
    version 1 changed (no longer `vigente`)."""
    folder = latest(scenario["settings"])
    release = json.loads((folder / "release.json").read_text(encoding="utf-8"))
    notes = {name: v["notes"] for name, v in release["datasets"].items()}
    previous = release["previous"]
    assert notes["actos-gestion-intereses"] == (
        f"Versión {release['id']}: 2 filas agregadas, 0 modificadas y 0 retiradas respecto de "
        f"la versión {previous}; 6 filas en total.")
    assert notes["decisores-registro-visitas"] == (
        f"Versión {release['id']}: 7 filas agregadas, 6 modificadas y 0 retiradas respecto de "
        f"la versión {previous}; 13 filas en total.")
