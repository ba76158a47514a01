"""Environments that cannot leak into each other: `visitas run` in production, then in demo,
on one copy of the project with nothing but VISITAS_ENV (and the secrets each needs) set.

The production tree is hashed before and after the demo run; the demo run keeps its Dagster
instance in a throw-away database of the machine's real PostgreSQL server.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psycopg2
import pytest

from pipeline.dagster_instance import INSTANCE_FILE, prepare_instance
from pipeline.settings import Settings
from tests.processes import VISITAS, make_project
from tests.published import csv_rows

warnings.filterwarnings("ignore", category=dg.BetaWarning)

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
#: trust authentication ignores it: it is here to show it never reaches the disk
PG_PASSWORD = "clave-que-no-se-escribe"
DEMO_RUC = "20999300031"  # the shipped sample entity in the demo stage
PRODUCTION_RUCS = ["20999100016", "20999200029"]
DEMO_TITLE = ("[DEMO — datos de prueba, no oficiales] Registro de Visitas en Línea: visitas a "
              "funcionarios y servidores públicos")
TITLE = "Registro de Visitas en Línea: visitas a funcionarios y servidores públicos"
DEMO_COMPLIANCE_TITLE = ("[DEMO — datos de prueba, no oficiales] Registro de Visitas en Línea: "
                         "cumplimiento de las entidades")
DEMO_LOBBYING_TITLES = [f"[DEMO — datos de prueba, no oficiales] Registro de Visitas en Línea: {t}"
                        for t in ("decisores de las entidades", "actos de gestión de intereses",
                                  "indicadores de gestión de intereses")]


@contextmanager
def throwaway_database() -> Iterator[str]:
    """A new, empty database on the local PostgreSQL server; its URL (with a password)."""
    name = f"visitas_prueba_{secrets.token_hex(6)}"
    admin = psycopg2.connect(f"{PG_SERVER}/postgres")
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name}")
        yield f"postgresql://postgres:{PG_PASSWORD}@127.0.0.1:5432/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


def tree_hashes(root: Path) -> dict[str, str]:
    """Every file and folder under `root`: sha256 of each file, 'carpeta' for each folder."""
    return {p.relative_to(root).as_posix():
            hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "carpeta"
            for p in sorted(root.rglob("*"))}


def visitas_run(env: dict[str, str], environment: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(VISITAS), "run", "--samples"], env={**env, "VISITAS_ENV":
                          environment}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@dataclass
class Runs:
    var: Path
    production_before: dict[str, str]
    production_after: dict[str, str]
    demo_output: str
    pg_url: str


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    root, env = make_project(tmp_path_factory.mktemp("entornos"),
                             VISITAS_PSEUDONYM_KEY=secrets.token_hex(32),
                             VISITAS_PUBLIC_BASE_URL="https://datos.example.gob.pe/visitas")
    var = root / "var"
    # The demo entity put its upload in production's landing area too, too early: production
    # must not take it.
    shutil.copytree(root / "datasets" / "samples" / DEMO_RUC, var / "production" / "landing"
                    / DEMO_RUC)
    visitas_run(env, "production")
    before = tree_hashes(var / "production")
    with throwaway_database() as pg_url:
        demo = visitas_run({**env, "VISITAS_DAGSTER_PG_URL": pg_url}, "demo")
        yield Runs(var, before, tree_hashes(var / "production"), demo.stdout + demo.stderr,
                   pg_url)


def test_a_demo_run_leaves_the_production_tree_byte_for_byte_untouched(runs: Runs) -> None:
    assert runs.production_after == runs.production_before
    # and it did write: a tree of its own, laid out as production's
    assert {p.name for p in (runs.var / "demo").iterdir()} >= {
        "landing", "raw", "warehouse", "publish", "reports", "dagster", "locks", "tmp"}
    assert sorted(p.name for p in runs.var.iterdir()) == ["demo", "production"]
    assert "publicado en " + str(runs.var / "demo" / "publish" / "latest") in runs.demo_output


def test_a_demo_stage_entity_never_reaches_production(runs: Runs) -> None:
    production, demo = runs.var / "production", runs.var / "demo"
    assert sorted({r["entidad_ruc"] for r in csv_rows(production / "publish")}) == PRODUCTION_RUCS
    assert sorted({r["entidad_ruc"] for r in csv_rows(demo / "publish")}) == [
        *PRODUCTION_RUCS, DEMO_RUC]
    # not archived, staged, reported or consolidated either: only its upload waits in landing
    for area in ("raw", "reports", "warehouse/batches", "warehouse/consolidated"):
        assert not list((production / area).glob(f"*{DEMO_RUC}*")), area
    assert sorted(p.name for p in (production / "reports").iterdir()) == PRODUCTION_RUCS


def test_the_demo_release_says_it_is_not_official_everywhere(runs: Runs) -> None:
    latest = runs.var / "demo" / "publish" / "latest"
    package = json.loads((latest / "datapackage.json").read_text("utf-8"))
    assert package["title"] == DEMO_TITLE
    assert package["x-entorno"] == "demo"
    assert package["description"].startswith(
        "Publicación del entorno de demostración: sus datos son de prueba, no son oficiales")
    # the catalogue and each of its datasets (visits, compliance, then the lobbying datasets)
    catalog = json.loads((latest / "catalog.jsonld").read_text("utf-8"))
    titles = [(node["@type"], node["dct:title"]["@value"]) for node in catalog["@graph"]
              if "dct:title" in node]
    datasets = [DEMO_TITLE, DEMO_COMPLIANCE_TITLE, *DEMO_LOBBYING_TITLES]
    assert titles == [("dcat:Catalog", f"Catálogo: {DEMO_TITLE}"),
                      *(("dcat:Dataset", title) for title in datasets)]
    data_json = json.loads((latest / "data.json").read_text("utf-8"))
    assert [d["title"] for d in data_json["dataset"]] == datasets
    page = (latest / "index.html").read_text("utf-8")
    assert ('<p class="demo" role="alert" id="aviso-demo">DEMO — datos de prueba, no '
            "oficiales. Publicación del entorno de demostración: sus datos son de prueba, no "
            "son oficiales y pueden cambiar o desaparecer sin aviso. Los datos oficiales son "
            "los del entorno de producción.</p>") in page
    assert f"<h1>{DEMO_TITLE}</h1>" in page
    assert f"<title>{DEMO_TITLE} — versión " in page
    assert (latest / "CAMBIOS.md").read_text("utf-8").splitlines()[2] == DEMO_TITLE
    # the compliance dataset and its page too
    compliance = (latest / "cumplimiento.html").read_text("utf-8")
    assert 'id="aviso-demo"' in compliance
    assert "<h1>[DEMO — datos de prueba, no oficiales] Registro de Visitas en Línea: cumplimiento" in compliance
    table = next(r for r in package["resources"] if r["name"] == "cumplimiento")
    assert table["title"].startswith("[DEMO — datos de prueba, no oficiales] ")


def test_the_production_release_is_marked_production_and_not_demo(runs: Runs) -> None:
    latest = runs.var / "production" / "publish" / "latest"
    package = json.loads((latest / "datapackage.json").read_text("utf-8"))
    assert (package["title"], package["x-entorno"]) == (TITLE, "production")
    for name in ("catalog.jsonld", "data.json", "index.html"):
        text = (latest / name).read_text("utf-8")
        assert TITLE in text and "DEMO" not in text and "aviso-demo" not in text, name
    assert "DEMO" not in (latest / "cumplimiento.html").read_text("utf-8")


def test_the_demo_dagster_instance_lives_in_postgresql(runs: Runs,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    home = runs.var / "demo" / "dagster"
    text = (home / "dagster.yaml").read_text("utf-8")
    assert text.startswith(INSTANCE_FILE.read_text("utf-8"))
    assert text.endswith("storage:\n  postgres:\n    postgres_url:\n"
                         "      env: VISITAS_DAGSTER_PG_URL\n")
    assert PG_PASSWORD not in text
    # nothing of the instance in SQLite files: runs and events are in the database
    assert sorted(p.name for p in home.iterdir()) == ["dagster.yaml"]

    monkeypatch.setenv("VISITAS_DAGSTER_PG_URL", runs.pg_url)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        # `visitas run` recorded its pass there
        release = json.loads((runs.var / "demo" / "publish" / "latest" / "release.json")
                             .read_text("utf-8"))
        event = instance.get_latest_materialization_event(dg.AssetKey("visits_release"))
        assert event is not None
        assert event.asset_materialization.metadata["release"].value == release["id"]
        assert instance.get_materialized_partitions(dg.AssetKey("visit_batches")) == {
            *PRODUCTION_RUCS, DEMO_RUC}

        @dg.asset
        def sonda() -> dg.MaterializeResult:
            return dg.MaterializeResult(metadata={"filas": 3})

        result = dg.materialize([sonda], instance=instance)
        assert result.success
    # read back from PostgreSQL itself
    with psycopg2.connect(runs.pg_url) as con, con.cursor() as cur:
        cur.execute("SELECT run_id, status FROM runs")
        assert cur.fetchall() == [(result.run_id, "SUCCESS")]
        cur.execute("SELECT asset_key, partition FROM event_logs WHERE dagster_event_type = "
                    "'ASSET_MATERIALIZATION' ORDER BY id")
        assert cur.fetchall() == [
            *((('["visit_batches"]', ruc)) for ruc in sorted([*PRODUCTION_RUCS, DEMO_RUC])),
            ('["visits"]', None), ('["visits_release"]', None), ('["sonda"]', None)]


def test_production_without_a_database_url_and_local_always_keep_dagster_in_sqlite(
        tmp_path: Path) -> None:
    shipped = INSTANCE_FILE.read_text("utf-8")
    url = f"postgresql://dagster:{PG_PASSWORD}@db:5432/dagster"
    for environment, env in [("local", {"VISITAS_DAGSTER_PG_URL": url}),
                             ("production", {})]:
        settings = Settings.from_env(environ={"VISITAS_HOME": str(tmp_path),
                                              "VISITAS_ENV": environment, **env})
        home = prepare_instance(settings)
        assert home == settings.dagster_home
        assert (home / "dagster.yaml").read_text("utf-8") == shipped, environment
    production = Settings.from_env(environ={"VISITAS_HOME": str(tmp_path),
                                            "VISITAS_ENV": "production",
                                            "VISITAS_DAGSTER_PG_URL": url})
    assert PG_PASSWORD not in repr(production)
    assert "env: VISITAS_DAGSTER_PG_URL" in (prepare_instance(production) / "dagster.yaml"
                                             ).read_text("utf-8")


def test_a_database_url_that_is_not_postgresql_is_refused(tmp_path: Path) -> None:
    done = subprocess.run([str(VISITAS), "run"], capture_output=True, text=True, env={
        "VISITAS_HOME": str(tmp_path), "VISITAS_ENV": "demo",
        "VISITAS_DAGSTER_PG_URL": "mysql://dagster@db/dagster", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 78, done.stderr
    assert ("✘ Configuración: VISITAS_DAGSTER_PG_URL no es válido: indique una URL de "
            "PostgreSQL, p. ej. postgresql://dagster:clave@127.0.0.1:5432/dagster.") in done.stderr


def test_dagster_in_production_never_ingests_a_demo_stage_entity(project, monkeypatch) -> None:
    """Even asked for its partition (a code location loaded before the entity went back to
    demo, or in another environment), production's ingestion does not take it."""
    from pipeline.definitions import defs

    monkeypatch.setenv("VISITAS_ENV", "production")
    monkeypatch.setenv("VISITAS_PSEUDONYM_KEY", secrets.token_hex(32))
    production = Settings.from_env()
    shutil.copytree(project.samples_dir / DEMO_RUC, Path(production.landing_url) / DEMO_RUC)
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("ingest_entity").execute_in_process(
            instance=instance, partition_key=DEMO_RUC)
        logs = [e.user_message for e in instance.all_logs(result.run_id)]
    assert result.success
    metadata = result.asset_materializations_for_node("visit_batches")[0].metadata
    assert (metadata["new_batches"].value, metadata["valid_rows"].value) == (0, 0)
    assert (f"{DEMO_RUC} está en demo y el entorno production solo procesa entidades en "
            "producción: no se ingiere.") in logs
    # nothing written: no archive, no batch, no report, no lock; the uploads wait in landing
    assert sorted(p.relative_to(production.var_dir).as_posix()
                  for p in production.var_dir.rglob("*")) == [
        "landing", f"landing/{DEMO_RUC}", f"landing/{DEMO_RUC}/decisores.csv",
        f"landing/{DEMO_RUC}/visitas-2024-10-b.csv", f"landing/{DEMO_RUC}/visitas-2024-10.csv"]
