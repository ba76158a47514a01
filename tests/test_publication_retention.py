"""Retention: the last N releases, the newest of each month, and whatever latest/ serves."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.consolidation.visitas import database_path
from pipeline.publication import layout
from pipeline.publication.publisher import complete_releases, publish, served_release
from pipeline.publication.retention import prune
from pipeline.storage.local import LocalStorage
from pipeline.storage.s3 import S3Storage
from tests.processes import dead_pid, live_pid
from tests.publication_helpers import Crash, CrashingAt, assert_whole, settings_for, write_table
from tests.s3server import S3Server

# Two releases in January, three in February.
WHEN = [dt.datetime(2024, 1, 10, tzinfo=dt.UTC), dt.datetime(2024, 1, 20, tzinfo=dt.UTC),
        dt.datetime(2024, 2, 5, tzinfo=dt.UTC), dt.datetime(2024, 2, 6, tzinfo=dt.UTC),
        dt.datetime(2024, 2, 7, tzinfo=dt.UTC)]


def _releases(tmp_path: Path, storage: LocalStorage | S3Storage) -> list[str]:
    settings = settings_for(tmp_path)
    db = database_path(settings)
    write_table(db)
    ids = []
    for n, when in enumerate(WHEN):
        with duckdb.connect(str(db)) as con:  # one changed row per release
            con.execute(f"UPDATE visitas SET observacion = 'v{n}' WHERE id_visita = '0000000000000001'")
        ids.append(publish(settings, now=when, storage=storage).version)
    return ids


@pytest.mark.s3
def test_prune_keeps_last_n_one_per_month_and_latest(tmp_path: Path, s3_env: S3Server,
                                                     s3_bucket: str) -> None:
    storage = S3Storage(s3_bucket, "pub")
    ids = _releases(tmp_path, storage)
    # A crashed attempt older than the newest release: a directory without manifest, and a
    # multipart upload it never completed (in no listing, yet stored).
    storage.write_bytes(f"releases/{ids[0]}.001/visitas/csv/x.csv", b"a")
    client = s3_env.client()
    client.create_multipart_upload(Bucket=s3_bucket,
                                   Key=f"pub/releases/{ids[0]}.001/visitas/csv/y.csv")
    # One started an hour ago may be a publisher at work: kept.
    recent = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).strftime("%Y%m%dT%H%M%SZ")
    storage.write_bytes(f"releases/{recent}/visitas/csv/x.csv", b"a")
    result = prune(storage, keep_last=2)
    assert result.unfinished == [f"{ids[0]}.001"]
    assert result.recent_unfinished == [recent]
    assert client.list_multipart_uploads(Bucket=s3_bucket, Prefix="pub/").get("Uploads", []) == []
    assert [o.key for o in storage.list("releases/") if "/visitas/csv/x.csv" in o.key] == [
        f"releases/{recent}/visitas/csv/x.csv"]
    # last 2 (Feb 6, Feb 7) + newest of January (Jan 20) + newest of February (Feb 7).
    assert result.keep == [ids[1], ids[3], ids[4]]
    assert result.remove == [ids[0], ids[2]]
    assert complete_releases(storage) == [ids[1], ids[3], ids[4]]
    assert not list(storage.list(f"releases/{ids[0]}"))
    assert served_release(storage).id == ids[4]  # type: ignore[union-attr]
    assert_whole(storage, layout.LATEST)
    for rid in result.keep:  # kept releases made of reused (copied) files are intact
        assert_whole(storage, layout.release_dir(rid))


def test_prune_keeps_the_release_latest_serves(tmp_path: Path) -> None:
    """A run that dies after completing its release but before moving latest/ leaves latest/
    on an older release, which is neither among the last N nor the newest of its month."""
    storage = LocalStorage(tmp_path / "publish")
    ids = _releases(tmp_path, storage)
    settings = settings_for(tmp_path)
    with duckdb.connect(str(database_path(settings))) as con:
        con.execute("UPDATE visitas SET observacion = 'v5' WHERE id_visita = '0000000000000001'")
    with pytest.raises(Crash):
        publish(settings, now=dt.datetime(2024, 2, 8, tzinfo=dt.UTC),
                storage=CrashingAt(storage, f"{layout.LATEST}/{layout.DATAPACKAGE}"))
    newest = "20240208T000000Z"
    assert complete_releases(storage) == [*ids, newest]
    assert served_release(storage).id == ids[4]  # type: ignore[union-attr]

    result = prune(storage, keep_last=1)
    # last 1 and newest of February (Feb 8), newest of January (Jan 20), served (Feb 7).
    assert result.keep == [ids[1], ids[4], newest]
    assert complete_releases(storage) == [ids[1], ids[4], newest]
    assert served_release(storage).id == ids[4]  # type: ignore[union-attr]
    assert_whole(storage, layout.LATEST)


def test_cli_releases_list_and_prune(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    publish_dir = tmp_path / "publish"
    ids = _releases(tmp_path, LocalStorage(publish_dir))
    monkeypatch.setenv("VISITAS_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("VISITAS_PUBLISH_URL", str(publish_dir))
    runner = CliRunner()
    listed = runner.invoke(main, ["releases", "list"])
    assert listed.exit_code == 0, listed.output
    previous = ["-", *ids[:-1]]
    # 28 files: the 19 of the visits and compliance, and CSV, Parquet and schema of each of
    # the 3 datasets published whole (decisores, actos and indicadores de gestión de intereses)
    assert listed.output.splitlines() == [
        f"{'*' if rid == ids[-1] else ' '} {rid}         360 filas    28 archivos  anterior: {before}"
        for rid, before in zip(ids, previous, strict=True)]
    # --keep 1: the newest release, which is also February's, and the newest of January.
    dry = runner.invoke(main, ["releases", "prune", "--keep", "1", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert dry.output == (f"Conservadas: {ids[1]}, {ids[4]}\n"
                          f"Se borrarían: {ids[0]}, {ids[2]}, {ids[3]}\n")
    assert complete_releases(LocalStorage(publish_dir)) == ids
    done = runner.invoke(main, ["releases", "prune", "--keep", "1"])
    assert done.exit_code == 0, done.output
    assert done.output == f"Conservadas: {ids[1]}, {ids[4]}\nBorradas: {ids[0]}, {ids[2]}, {ids[3]}\n"
    assert complete_releases(LocalStorage(publish_dir)) == [ids[1], ids[4]]
    assert_whole(LocalStorage(publish_dir), layout.LATEST)
    assert "--keep" in runner.invoke(main, ["releases", "prune", "--help"]).output


def test_cli_prune_removes_unfinished_releases_and_says_so(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Unfinished releases (no release.json) left by crashes: older than the age, or of a
    publisher that is gone, they are removed with their empty folders and scratch files."""
    publish_dir = tmp_path / "publish"
    ids = _releases(tmp_path, LocalStorage(publish_dir))
    releases = publish_dir / "releases"
    hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    empty, scratch_only, recent, killed, running = (
        f"{ids[0]}.001", f"{ids[2]}.001", hour_ago.strftime("%Y%m%dT%H%M%SZ"),
        (hour_ago + dt.timedelta(seconds=1)).strftime("%Y%m%dT%H%M%SZ"),
        (hour_ago + dt.timedelta(seconds=2)).strftime("%Y%m%dT%H%M%SZ"))
    (releases / empty / "visitas" / "csv").mkdir(parents=True)  # a crash before any file
    scratch = releases / scratch_only / "visitas" / "csv" / f".x.csv.staging-{dead_pid()}-ab12cd34"
    scratch.parent.mkdir(parents=True)
    scratch.write_bytes(b"a medio escribir")
    for rid in (recent, killed, running):
        (releases / rid / "visitas" / "csv").mkdir(parents=True)
        (releases / rid / "visitas" / "csv" / "visitas-2024-01.csv").write_bytes(b"a")
    var = tmp_path / "var"
    monkeypatch.setenv("VISITAS_VAR_DIR", str(var))
    monkeypatch.setenv("VISITAS_PUBLISH_URL", str(publish_dir))
    runner = CliRunner()
    with live_pid() as pid:
        # what publishers write in their temporary folder before their first upload
        for owner, rid in ((dead_pid(), killed), (pid, running)):
            folder = var / "tmp" / f"publicacion-{owner}-0a1b2c3d"
            folder.mkdir(parents=True)
            (folder / "pendiente.json").write_text(json.dumps(
                {"almacenamiento": str(publish_dir), "version": rid}))
        dry = runner.invoke(main, ["releases", "prune", "--keep", "5", "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert dry.output.splitlines()[2:] == [
            f"Inconclusas (sin release.json) que se borrarían: {empty}, {scratch_only}, {killed}",
            "Inconclusas recientes, no se tocan (podrían estar publicándose; se borran pasadas "
            f"24 horas): {recent}, {running}"]
        assert (releases / empty).is_dir() and scratch.exists()

        done = runner.invoke(main, ["releases", "prune", "--keep", "5"])
        assert done.exit_code == 0, done.output
        assert done.output.splitlines() == [
            f"Conservadas: {', '.join(ids)}", "Borradas: ninguna",
            f"Inconclusas (sin release.json) borradas: {empty}, {scratch_only}, {killed}",
            "Inconclusas recientes, no se tocan (podrían estar publicándose; se borran pasadas "
            f"24 horas): {recent}, {running}"]
        assert sorted(p.name for p in releases.iterdir()) == sorted([*ids, recent, running])
        assert [p.name for p in (var / "tmp").iterdir()] == [f"publicacion-{pid}-0a1b2c3d"]

    later = runner.invoke(main, ["releases", "prune", "--keep", "5", "--unfinished-hours", "0"])
    assert later.exit_code == 0, later.output
    assert sorted(p.name for p in releases.iterdir()) == ids
    assert complete_releases(LocalStorage(publish_dir)) == ids
