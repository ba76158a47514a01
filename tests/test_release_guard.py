"""A run never withdraws published visits by accident.

Published visits leave the dataset only by an explicit withdrawal (`retiros*.csv`, `visitas
withdraw`). When every source fails, when the working folder is empty (a new machine pointing
at the same published tree), or when one entity's source fails, `latest/` keeps serving what
it served; a release that would drop more than `release.max_withdrawn_share` of an entity's
published visits without withdrawals is refused and reported, and `visitas run` exits non-zero.
"""

from __future__ import annotations

import datetime as dt
import shutil
import socket
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.flow import run_full_pass
from pipeline.publication import layout
from pipeline.settings import Settings
from pipeline.storage import Storage, StorageError, open_storage
from pipeline.storage.local import LocalStorage
from tests.publication_helpers import assert_whole
from tests.published import csv_rows, release_dir
from tests.stages import NOW, SAMPLES, TODAY

NORTE, CENTRO, SUR = "20999100016", "20999200029", "20999300031"
NAMES = {NORTE: "Municipalidad Distrital de Ejemplo Norte", CENTRO: "Ministerio de Ejemplo",
         SUR: "Gobierno Regional de Ejemplo Sur"}
SAMPLE_ROWS = {NORTE: 37, CENTRO: 40, SUR: 38}
LATER = NOW + dt.timedelta(hours=1)
# The exit codes of `visitas run`, as README documents them.
EXIT_OK, EXIT_NOT_PUBLISHED, EXIT_PARTIAL = 0, 3, 4


# --- helpers -----------------------------------------------------------------------------

def tree(storage: Storage) -> dict[str, bytes]:
    """Every object of a published tree, by key: what a harvester could read (the
    publishers' lock records under `.locks/` are not published data)."""
    return {o.key: storage.read_bytes(o.key) for o in storage.list("")
            if not o.key.startswith(".locks/")}


def served_id(storage: Storage) -> str:
    import json

    return json.loads(storage.read_bytes(f"{layout.LATEST}/{layout.MANIFEST}"))["id"]


def assert_still_served(storage: Storage, before: dict[str, bytes], release_id: str) -> None:
    """Nothing was published: the same release, the same bytes, every file hash-verified."""
    assert served_id(storage) == release_id
    assert tree(storage) == before
    assert_whole(storage, layout.LATEST)
    assert_whole(storage, layout.release_dir(release_id))


def closed_port() -> int:
    """A local port nobody listens on: an S3 endpoint that refuses every connection."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["run", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def seed_landing(landing: Path, rucs: tuple[str, ...] = (NORTE, CENTRO, SUR)) -> None:
    for ruc in rucs:
        shutil.copytree(SAMPLES / ruc, landing / ruc, dirs_exist_ok=True)


def rows_of(publish_dir: Path, ruc: str) -> list[dict[str, str]]:
    return [r for r in csv_rows(publish_dir) if r["entidad_ruc"] == ruc]


@pytest.fixture
def published(project: Settings, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """`visitas run` on the samples, publishing to a tree outside the working folder (as a
    bucket would be): (publish dir, the release latest/ serves)."""
    publish_dir = tmp_path / "publicado"
    monkeypatch.setenv("VISITAS_PUBLISH_URL", str(publish_dir))
    code, output = run_cli()
    assert code == EXIT_OK, output
    assert len(csv_rows(publish_dir)) == 115
    return publish_dir, served_id(LocalStorage(publish_dir))


# --- every source fails ------------------------------------------------------------------

def unreachable_landing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VISITAS_LANDING_URL", "s3://rvl/landing")
    monkeypatch.setenv("VISITAS_S3_ENDPOINT_URL", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "clave")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secreto")
    monkeypatch.setenv("AWS_REGION", "us-east-1")


def test_every_source_down_keeps_latest_and_exits_non_zero(project, published, monkeypatch):
    publish_dir, release = published
    store = LocalStorage(publish_dir)
    before = tree(store)
    unreachable_landing(monkeypatch)

    code, output = run_cli("--no-samples")

    assert code == EXIT_NOT_PUBLISHED, output
    assert_still_served(store, before, release)
    for ruc in NAMES:
        assert f"✘ {ruc} {NAMES[ruc]}: No se pudo leer la fuente de {ruc}" in output
    assert "Ninguna fuente se pudo leer (3 entidades)" in output
    assert f"latest/ sigue sirviendo la versión {release} (115 visitas)" in output
    assert "3 con fuente caída" in output


def test_every_source_down_on_a_new_machine_publishes_nothing(project, published, monkeypatch):
    """The catastrophic case of the issue: an empty working folder and no source: the release
    would have 0 rows and withdraw every published visit."""
    publish_dir, release = published
    store = LocalStorage(publish_dir)
    before = tree(store)
    shutil.rmtree(project.var_dir)
    unreachable_landing(monkeypatch)

    code, output = run_cli("--no-samples")

    assert code == EXIT_NOT_PUBLISHED, output
    assert_still_served(store, before, release)
    assert "Publicación rechazada" in output
    for ruc, n in SAMPLE_ROWS.items():
        assert (f"{ruc} {NAMES[ruc]}: {n} visitas publicadas, 0 en la nueva versión;"
                f" sin retiro explícito: {n} (100 %; máximo 20 %)") in output
    assert f"latest/ sigue sirviendo la versión {release} (115 visitas)" in output


# --- an empty working folder -------------------------------------------------------------

def test_empty_working_folder_publishes_nothing_then_recovers(project, published):
    publish_dir, release = published
    store = LocalStorage(publish_dir)
    before = tree(store)
    shutil.rmtree(project.var_dir)  # a new machine: no warehouse, no landing, same tree

    code, output = run_cli("--no-samples")

    assert code == EXIT_NOT_PUBLISHED, output
    assert_still_served(store, before, release)
    assert "Publicación rechazada: la nueva versión quitaría visitas publicadas" in output
    for ruc, n in SAMPLE_ROWS.items():
        assert (f"{ruc} {NAMES[ruc]}: {n} visitas publicadas, 0 en la nueva versión;"
                f" sin retiro explícito: {n} (100 %; máximo 20 %)") in output
    assert "release.max_withdrawn_share" in output
    assert "nada publicado" in output.splitlines()[-1]

    # The uploads come back (the landing area restored): the same data, so no new release.
    code, output = run_cli()
    assert code == EXIT_OK, output
    assert served_id(store) == release
    assert tree(store) == before


@pytest.mark.s3
def test_empty_working_folder_on_s3_publishes_nothing(tmp_path, project, s3_env, s3_bucket):
    settings = replace(project, publish_url=f"s3://{s3_bucket}/publicado",
                       pseudonym_key="clave-de-prueba")
    seed_landing(Path(settings.landing_url))
    first = run_full_pass(settings, echo=lambda _: None, today=TODAY, now=NOW)
    assert first.exit_code == EXIT_OK and first.publication.rows == 115
    store = open_storage(settings.publish_url)
    before = tree(store)
    release = served_id(store)

    lines: list[str] = []
    fresh = replace(settings, var_dir=tmp_path / "otra-maquina",
                    landing_url=str(tmp_path / "otra-maquina" / "landing"),
                    raw_url=str(tmp_path / "otra-maquina" / "raw"))
    outcome = run_full_pass(fresh, echo=lines.append, today=TODAY, now=LATER)

    assert outcome.exit_code == EXIT_NOT_PUBLISHED
    assert outcome.publication is None and outcome.refusal is not None
    assert {(loss.entity, loss.before, loss.after) for loss in outcome.refusal.losses} == {
        (ruc, n, 0) for ruc, n in SAMPLE_ROWS.items()}
    assert_still_served(store, before, release)
    text = "\n".join(lines)
    assert "Publicación rechazada" in text
    assert f"{SUR} {NAMES[SUR]}: 38 visitas publicadas, 0 en la nueva versión" in text


# --- one entity's source fails -----------------------------------------------------------

@pytest.fixture
def two_entities(tmp_path: Path) -> Settings:
    """NORTE and SUR published; CENTRO has not uploaded yet."""
    from tests.stages import settings_for

    settings = settings_for(tmp_path / "var", VISITAS_LANDING_URL=str(tmp_path / "landing"),
                            VISITAS_PUBLISH_URL=str(tmp_path / "publicado"))
    seed_landing(Path(settings.landing_url), (NORTE, SUR))
    outcome = run_full_pass(settings, echo=lambda _: None, today=TODAY, now=NOW)
    assert outcome.exit_code == EXIT_OK
    return settings


def norte_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """NORTE's source raises; the others answer as usual."""
    import pipeline.ingestion.batches as batches
    from pipeline.sources import source_for

    class Down:
        def fetch(self, *args, **kwargs):
            raise StorageError("No se pudo listar s3://rvl/landing/20999100016/: tiempo agotado")

    monkeypatch.setattr(batches, "source_for",
                        lambda entity, settings: Down() if entity.ruc == NORTE
                        else source_for(entity, settings))


def test_one_source_down_keeps_its_rows_and_publishes_the_others(two_entities, monkeypatch):
    settings = two_entities
    publish_dir = Path(settings.publish_url)
    norte_before = rows_of(publish_dir, NORTE)
    sur_before = rows_of(publish_dir, SUR)
    assert len(norte_before) == 37
    seed_landing(Path(settings.landing_url), (CENTRO,))
    norte_down(monkeypatch)

    lines: list[str] = []
    outcome = run_full_pass(settings, echo=lines.append, today=TODAY, now=LATER)

    assert outcome.exit_code == EXIT_PARTIAL
    assert outcome.publication is not None and outcome.publication.new_release
    assert rows_of(publish_dir, NORTE) == norte_before
    assert rows_of(publish_dir, SUR) == sur_before
    assert len(rows_of(publish_dir, CENTRO)) == 40
    assert outcome.publication.changes == {"agregadas": 40, "modificadas": 0, "retiradas": 0}
    text = "\n".join(lines)
    assert f"✘ {NORTE} {NAMES[NORTE]}: No se pudo leer la fuente de {NORTE}" in text
    assert (f"1 de 3 entidades con fuente caída ({NORTE}): se conservan sus visitas publicadas"
            in text)


def test_one_source_down_with_its_staged_batches_gone(two_entities, monkeypatch):
    """The entity's staged batches are missing (the warehouse was partly cleaned): its rows
    come from its consolidated Parquet, kept as it was while its source is down."""
    settings = two_entities
    publish_dir = Path(settings.publish_url)
    norte_before = rows_of(publish_dir, NORTE)
    release = served_id(LocalStorage(publish_dir))
    shutil.rmtree(settings.warehouse_dir / "batches" / NORTE)
    norte_down(monkeypatch)

    outcome = run_full_pass(settings, echo=lambda _: None, today=TODAY, now=LATER)

    assert outcome.exit_code == EXIT_PARTIAL
    assert NORTE not in outcome.consolidation.removed_entities
    assert outcome.publication is not None and not outcome.publication.new_release
    assert served_id(LocalStorage(publish_dir)) == release
    assert rows_of(publish_dir, NORTE) == norte_before


def test_one_source_down_on_a_new_machine_is_refused(two_entities, monkeypatch):
    """Nothing anywhere in the working folder holds NORTE's rows: the release is refused rather
    than published without them."""
    settings = two_entities
    store = LocalStorage(Path(settings.publish_url))
    before = tree(store)
    release = served_id(store)
    shutil.rmtree(settings.var_dir)
    norte_down(monkeypatch)

    lines: list[str] = []
    outcome = run_full_pass(settings, echo=lines.append, today=TODAY, now=LATER)

    assert outcome.exit_code == EXIT_NOT_PUBLISHED
    assert [(loss.entity, loss.before, loss.after) for loss in outcome.refusal.losses] == [
        (NORTE, 37, 0)]
    assert_still_served(store, before, release)
    assert (f"{NORTE} {NAMES[NORTE]}: 37 visitas publicadas, 0 en la nueva versión;"
            " sin retiro explícito: 37 (100 %; máximo 20 %)") in "\n".join(lines)


# --- the share of an entity's rows a release may drop without withdrawals ----------------

def test_a_release_dropping_an_entitys_rows_is_refused(two_entities):
    """SUR's first upload is gone from the landing area and from the warehouse: of its 38
    published visits only the 5 of its second upload would remain."""
    settings = two_entities
    store = LocalStorage(Path(settings.publish_url))
    before = tree(store)
    release = served_id(store)
    (Path(settings.landing_url) / SUR / "visitas-2024-10.csv").unlink()
    for meta in (settings.warehouse_dir / "batches" / SUR).glob("*/batch.json"):
        if '"archivo": "visitas-2024-10.csv"' in meta.read_text("utf-8"):
            shutil.rmtree(meta.parent)

    lines: list[str] = []
    outcome = run_full_pass(settings, echo=lines.append, today=TODAY, now=LATER)

    assert outcome.exit_code == EXIT_NOT_PUBLISHED
    [loss] = outcome.refusal.losses
    assert (loss.entity, loss.before, loss.after, loss.lost, loss.withdrawn) == (SUR, 38, 5, 33, 0)
    assert_still_served(store, before, release)
    assert (f"{SUR} {NAMES[SUR]}: 38 visitas publicadas, 5 en la nueva versión;"
            " sin retiro explícito: 33 (86,8 %; máximo 20 %)") in "\n".join(lines)


def test_the_threshold_is_read_from_the_dataset(two_entities, tmp_path):
    """With release.max_withdrawn_share at 0.9 in datasets/visitas.yaml, the same loss (86.8 %
    of SUR) is published, and reported."""
    settings = two_entities
    root = tmp_path / "proyecto"
    for folder in ("datasets", "schemas"):
        shutil.copytree(settings.root / folder, root / folder)
    yaml_path = root / "datasets" / "visitas.yaml"
    text = yaml_path.read_text("utf-8")
    assert "max_withdrawn_share: 0.2" in text
    yaml_path.write_text(text.replace("max_withdrawn_share: 0.2", "max_withdrawn_share: 0.9"),
                         "utf-8")
    settings = replace(settings, root=root)
    (Path(settings.landing_url) / SUR / "visitas-2024-10.csv").unlink()
    for meta in (settings.warehouse_dir / "batches" / SUR).glob("*/batch.json"):
        if '"archivo": "visitas-2024-10.csv"' in meta.read_text("utf-8"):
            shutil.rmtree(meta.parent)

    lines: list[str] = []
    outcome = run_full_pass(settings, echo=lines.append, today=TODAY, now=LATER)

    assert outcome.exit_code == EXIT_OK
    assert len(rows_of(Path(settings.publish_url), SUR)) == 5
    assert (f"aviso: {SUR} {NAMES[SUR]}: 38 visitas publicadas, 5 en la nueva versión;"
            " sin retiro explícito: 33 (86,8 %; máximo 90 %)") in "\n".join(lines)


def test_an_explicit_withdrawal_of_most_rows_is_applied(project, published):
    publish_dir, release = published
    ids = [r["id_visita"] for r in rows_of(publish_dir, SUR)][:30]
    result = CliRunner().invoke(main, ["withdraw", SUR, *ids, "--motivo", "Carga duplicada"])
    assert result.exit_code == 0, result.output

    code, output = run_cli()

    assert code == EXIT_OK, output
    assert served_id(LocalStorage(publish_dir)) != release
    remaining = rows_of(publish_dir, SUR)
    assert len(remaining) == 8 and not {r["id_visita"] for r in remaining} & set(ids)
    assert "30 retiradas" in output
    # no warning of visits lost without withdrawal (only the local one on the base URL)
    assert [line for line in output.splitlines()
            if "aviso:" in line and "VISITAS_PUBLIC_BASE_URL" not in line] == []


def test_a_deregistered_entity_is_not_dropped_silently(project, published):
    """An entity file removed (or broken) by mistake: its published visits stay."""
    publish_dir, release = published
    store = LocalStorage(publish_dir)
    before = tree(store)
    (project.entities_dir / f"{CENTRO}.yaml").unlink()

    code, output = run_cli()

    assert code == EXIT_NOT_PUBLISHED, output
    assert_still_served(store, before, release)
    assert f"{CENTRO}: 40 visitas publicadas, 0 en la nueva versión" in output


# --- the publication stage on its own ------------------------------------------------------

def test_publish_refuses_on_its_own(tmp_path):
    """The guard lives in `publish`, which Dagster's `visits_release` calls too."""
    import duckdb

    from pipeline.consolidation.visitas import database_path
    from pipeline.publication.guard import ReleaseRefused
    from pipeline.publication.publisher import publish
    from tests.publication_helpers import RUCS, change_table, settings_for, write_table

    settings = settings_for(tmp_path)
    db = database_path(settings)
    write_table(db)
    store = LocalStorage(tmp_path / "publish")
    first = publish(settings, now=NOW, storage=store)
    # 3 of entity 1's 120 visits go without a withdrawal: below the threshold, published, named.
    change_table(db)
    second = publish(settings, now=LATER, storage=store)
    assert second.new_release
    assert [(w.entity, w.before, w.after, w.lost) for w in second.unexplained] == [
        (RUCS[1], 120, 117, 3)]
    before = tree(store)
    # Half of entity 0's visits vanish: refused, nothing written.
    with duckdb.connect(str(db)) as con:
        con.execute(f"DELETE FROM visitas WHERE entidad_ruc = '{RUCS[0]}' AND hash(id_visita) % 2 = 0")
        kept = con.execute(f"SELECT count(*) FROM visitas WHERE entidad_ruc = '{RUCS[0]}'").fetchone()[0]
    with pytest.raises(ReleaseRefused) as refused:
        publish(settings, now=LATER + dt.timedelta(hours=1), storage=store)
    [loss] = refused.value.losses
    assert (loss.entity, loss.before, loss.after, loss.lost) == (RUCS[0], 120, kept, 120 - kept)
    assert refused.value.served == second.version != first.version
    assert tree(store) == before
    assert release_dir(tmp_path / "publish").name == second.version


def test_threshold_setting_is_validated(tmp_path):
    from pipeline.publication.dataset import load_dataset
    from pipeline.publication.months import ReleaseSpec
    from pipeline.settings import PROJECT_ROOT

    meta = load_dataset(PROJECT_ROOT / "datasets", "visitas")
    assert ReleaseSpec.of(meta).max_withdrawn_share == 0.2
    for bad in (-0.1, 1.5, "mucho"):
        broken = replace(meta, extra={**meta.extra,
                                      "release": {**meta.extra["release"],
                                                  "max_withdrawn_share": bad}})
        with pytest.raises(ValueError, match=r"release\.max_withdrawn_share"):
            ReleaseSpec.of(broken)


# --- Dagster ---------------------------------------------------------------------------

def test_dagster_full_pass_on_an_empty_working_folder_fails_in_spanish(project, tmp_path,
                                                                      monkeypatch):
    import warnings

    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    from pipeline.definitions import defs

    publish_dir = tmp_path / "publicado"
    monkeypatch.setenv("VISITAS_PUBLISH_URL", str(publish_dir))
    seed_landing(project.var_dir / "landing")
    tags = {"dagster/asset_partition_range_start": NORTE,
            "dagster/asset_partition_range_end": SUR}
    job = defs.resolve_job_def("full_pass")
    with dg.instance_for_test() as instance:
        assert job.execute_in_process(instance=instance, tags=tags).success
        store = LocalStorage(publish_dir)
        before = tree(store)
        release = served_id(store)
        shutil.rmtree(project.var_dir)

        result = job.execute_in_process(instance=instance, tags=tags, raise_on_error=False)

        assert not result.success
        assert result.asset_materializations_for_node("visits_release") == []
        failure = result.failure_data_for_node("visits_release")
        assert failure is not None
        description = failure.user_failure_data.description
        assert "Publicación rechazada" in description
        assert f"{SUR} {NAMES[SUR]}: 38 visitas publicadas, 0 en la nueva versión" in description
        logged = [e.message for e in instance.all_logs(result.run_id)
                  if e.level >= 40 and e.message]
        assert any("Publicación rechazada" in m for m in logged)
    assert_still_served(store, before, release)
