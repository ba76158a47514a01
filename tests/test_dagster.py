"""The real Dagster machinery: definitions load, assets materialise, the sensor reacts."""

from __future__ import annotations

import json
import shutil
import warnings

import dagster as dg
import pytest

from tests.conftest import REPO_ROOT

warnings.filterwarnings("ignore", category=dg.BetaWarning)
SAMPLE_RUCS = ["20999100016", "20999200029", "20999300031"]


@pytest.fixture
def defs(project):
    from pipeline.definitions import defs

    return defs


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def seed(settings, ruc: str) -> None:
    target = settings.var_dir / "landing" / ruc
    target.mkdir(parents=True, exist_ok=True)
    for path in (REPO_ROOT / "datasets" / "samples" / ruc).iterdir():
        shutil.copy(path, target / path.name)


def test_definitions_load(defs):
    assert {k.to_user_string() for k in defs.resolve_all_asset_keys()} == {
        "visit_batches", "visits", "visits_release"}
    assert sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__")) == [
        "full_pass", "ingest_entity", "publish_visits"]
    assert [s.name for s in defs.sensors] == ["landing_sensor", "automation", "run_failure_mail"]
    assert [s.name for s in defs.schedules] == ["full_pass_hourly"]
    partitions = defs.resolve_assets_def("visit_batches").partitions_def
    assert partitions.get_partition_keys() == SAMPLE_RUCS


def test_full_pass_job_over_every_partition_in_one_run(defs, project, instance):
    for ruc in SAMPLE_RUCS:
        seed(project, ruc)
    result = defs.resolve_job_def("full_pass").execute_in_process(
        instance=instance,
        tags={"dagster/asset_partition_range_start": SAMPLE_RUCS[0],
              "dagster/asset_partition_range_end": SAMPLE_RUCS[-1]},
    )
    assert result.success
    batches = result.asset_materializations_for_node("visit_batches")[0].metadata
    assert batches["valid_rows"].value == 37 + 40 + 43
    assert batches["rejected_rows"].value == 4
    release = result.asset_materializations_for_node("visits_release")[0].metadata
    assert release["dagster/row_count"].value == 115
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"staged_batches_sound": True, "uploads_readable": True}
    package = json.loads((project.var_dir / "publish/latest/datapackage.json").read_text("utf-8"))
    assert [r["path"] for r in package["resources"] if r["format"] == "csv"] == [
        [f"visitas/csv/visitas-2024-{m:02d}.csv" for m in (8, 9, 10)], "cumplimiento.csv",
        "decisores.csv", "actos_gestion_intereses.csv", "indicadores_gestion_intereses.csv"]


def test_one_partition_then_publish(defs, project, instance):
    seed(project, SAMPLE_RUCS[1])
    from pipeline.assets.ingestion import visit_batches
    from pipeline.assets.resources import PipelineSettings

    ingest = dg.materialize([visit_batches], partition_key=SAMPLE_RUCS[1], instance=instance,
                            resources={"settings": PipelineSettings()})
    assert ingest.success
    publish = defs.resolve_job_def("publish_visits").execute_in_process(instance=instance)
    assert publish.success
    release = publish.asset_materializations_for_node("visits_release")[0].metadata
    assert release["dagster/row_count"].value == 40


def test_landing_sensor_requests_only_the_changed_entity(defs, project, instance):
    sensor = defs.resolve_sensor_def("landing_sensor")
    seed(project, SAMPLE_RUCS[0])
    first = sensor(dg.build_sensor_context(instance=instance, definitions=defs))
    assert [r.partition_key for r in first.run_requests] == [SAMPLE_RUCS[0]]

    # Nothing new: nothing requested.
    again = sensor(dg.build_sensor_context(instance=instance, definitions=defs, cursor=first.cursor))
    assert again.run_requests == []

    # A new upload for another entity triggers just that entity.
    seed(project, SAMPLE_RUCS[2])
    third = sensor(dg.build_sensor_context(instance=instance, definitions=defs, cursor=again.cursor))
    assert [r.partition_key for r in third.run_requests] == [SAMPLE_RUCS[2]]


def test_landing_sensor_reacts_to_dot_and_tmp_names_not_to_scratch(defs, project, instance):
    sensor = defs.resolve_sensor_def("landing_sensor")
    folder = project.var_dir / "landing" / SAMPLE_RUCS[2]
    folder.mkdir(parents=True)
    samples = REPO_ROOT / "datasets" / "samples" / SAMPLE_RUCS[2]
    shutil.copy(samples / "visitas-2024-10.csv", folder / ".visitas-octubre.csv")
    first = sensor(dg.build_sensor_context(instance=instance, definitions=defs))
    assert [r.partition_key for r in first.run_requests] == [SAMPLE_RUCS[2]]

    # The pipeline's own scratch file is not an upload: no run for it.
    (folder / ".visitas-noviembre.csv.staging-4242").write_bytes(b"a medio escribir")
    again = sensor(dg.build_sensor_context(instance=instance, definitions=defs,
                                           cursor=first.cursor))
    assert again.run_requests == []

    shutil.copy(samples / "visitas-2024-10-b.csv", folder / "visitas.tmp-2024.csv")
    third = sensor(dg.build_sensor_context(instance=instance, definitions=defs,
                                           cursor=again.cursor))
    assert [r.partition_key for r in third.run_requests] == [SAMPLE_RUCS[2]]


def test_skipped_landing_files_are_in_the_materialization(defs, project, instance):
    from pipeline.assets.ingestion import visit_batches
    from pipeline.assets.resources import PipelineSettings

    ruc = SAMPLE_RUCS[1]
    seed(project, ruc)
    scratch = ".visitas-2024-10.xlsx.staging-4242"
    (project.var_dir / "landing" / ruc / scratch).write_bytes(b"a medio escribir")
    result = dg.materialize([visit_batches], partition_key=ruc, instance=instance,
                            resources={"settings": PipelineSettings()})
    assert result.success
    metadata = result.asset_materializations_for_node("visit_batches")[0].metadata
    assert metadata["new_batches"].value == 2  # its visits and its decision-makers register
    assert metadata["skipped_files"].value == [{
        "entidad_ruc": ruc, "archivo": scratch,
        "motivo": "archivo temporal de una escritura en curso o interrumpida"}]


def test_hourly_schedule_asks_for_one_run_over_every_entity(defs, instance):
    schedule = defs.resolve_schedule_def("full_pass_hourly")
    request = schedule(dg.build_schedule_context(instance=instance))
    assert request.tags["dagster/asset_partition_range_start"] == SAMPLE_RUCS[0]
    assert request.tags["dagster/asset_partition_range_end"] == SAMPLE_RUCS[-1]
    assert schedule.job_name == "full_pass"


def test_workspace_yaml_loads_with_the_dagster_cli():
    import subprocess
    import sys
    from pathlib import Path

    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run([str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Validation successful for code location pipeline.definitions" in result.stdout + result.stderr


def test_a_damaged_staged_batch_blocks_publication(defs, project, instance):
    for ruc in SAMPLE_RUCS:
        seed(project, ruc)
    job = defs.resolve_job_def("full_pass")
    tags = {"dagster/asset_partition_range_start": SAMPLE_RUCS[0],
            "dagster/asset_partition_range_end": SAMPLE_RUCS[-1]}
    assert job.execute_in_process(instance=instance, tags=tags).success
    served = (project.var_dir / "publish/latest/release.json").read_bytes()

    damaged = next((project.warehouse_dir / "batches").glob("*/*/valid.parquet"))
    # the same size, other bytes: ingestion's repair (by recorded sizes) does not see it, the
    # check reads the file (a file cut short is staged again instead: tests/test_staged.py)
    damaged.write_bytes(b"x" * damaged.stat().st_size)
    result = job.execute_in_process(instance=instance, tags=tags, raise_on_error=False)
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["staged_batches_sound"].passed is False
    assert damaged.parent.name in str(checks["staged_batches_sound"].metadata["damaged"].value)
    assert result.asset_materializations_for_node("visits") == []
    assert result.asset_materializations_for_node("visits_release") == []
    # The previous release is still the one served.
    assert (project.var_dir / "publish/latest/release.json").read_bytes() == served


def test_a_cli_pass_shows_in_the_dagster_asset_history(project):
    """`visitas run` and `visitas serve` share one instance: the CLI's pass is recorded there
    as materialisations of the assets it changed."""
    from click.testing import CliRunner

    from pipeline.cli import main
    from pipeline.dagster_instance import prepare_instance

    # where Dagster was never started, a pass records nothing (and opens no instance)
    elsewhere = project.root / "otra-carpeta"
    done = CliRunner().invoke(main, ["run"], env={"VISITAS_VAR_DIR": str(elsewhere)})
    assert done.exit_code == 0, done.output
    assert (elsewhere / "publish" / "latest").is_dir() and not (elsewhere / "dagster").exists()
    # once `visitas serve` has prepared the instance, passes are recorded in it
    prepare_instance(project)
    done = CliRunner().invoke(main, ["run"])
    assert done.exit_code == 0, done.output
    release = json.loads((project.var_dir / "publish" / "latest" / "release.json").read_text())
    with dg.DagsterInstance.from_config(str(project.var_dir / "dagster")) as inst:
        latest = {}
        for key in ("visits", "visits_release"):
            event = inst.get_latest_materialization_event(dg.AssetKey(key))
            assert event is not None, key
            latest[key] = event.asset_materialization
        partitions = inst.get_materialized_partitions(dg.AssetKey("visit_batches"))
    assert partitions == set(SAMPLE_RUCS)
    assert latest["visits"].tags == {"visitas/origen": "visitas-run"}
    assert latest["visits"].metadata["dagster/row_count"].value == 115
    assert latest["visits_release"].metadata["release"].value == release["id"]
    assert latest["visits_release"].metadata["dagster/row_count"].value == release["rows"] == 115


# --- one writer at a time ----------------------------------------------------------------

def test_writing_assets_are_in_pools_of_one(defs):
    """The shipped instance settings give each writing asset's pool a limit of 1: two
    Dagster runs never run a step of the same pool at once."""
    import yaml

    pools = {key: defs.resolve_assets_def(key).op.pool
             for key in ("visit_batches", "visits", "visits_release")}
    assert pools == {"visit_batches": "visitas_ingestion", "visits": "visitas_warehouse",
                     "visits_release": "visitas_publication"}
    settings = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text("utf-8"))
    with dg.instance_for_test(overrides=settings) as inst:
        for pool in pools.values():
            info = inst.event_log_storage.get_concurrency_info(pool)
            assert info.limit == 1, info


def test_a_command_line_run_and_a_dagster_run_exclude_each_other(defs, project, instance,
                                                                 monkeypatch):
    """A live `visitas run` consolidating: Dagster's consolidation does not run beside it, it
    fails with the Spanish message naming who holds the warehouse."""
    import os

    from tests.processes import lock_holder

    seed(project, SAMPLE_RUCS[0])
    monkeypatch.setenv("VISITAS_LOCK_WAIT", "0")
    with lock_holder(dict(os.environ), "warehouse") as holder:
        result = defs.resolve_job_def("publish_visits").execute_in_process(
            instance=instance, raise_on_error=False)
        assert holder.poll() is None
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert failure.step_key == "visits"
    description = failure.event_specific_data.error.message
    assert (f"Otro proceso está escribiendo el almacén (consolidado y visitas.duckdb): visitas "
            f"run (prueba) (PID {holder.pid} en el equipo ") in description
    assert "Espere a que termine y vuelva a ejecutar" in description
    assert not (project.var_dir / "warehouse" / "visitas.duckdb").exists()
