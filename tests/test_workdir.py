"""Temporary folders live under the working folder, go away on exit, and what a killed process
left is cleared, never what a live one is using."""

from __future__ import annotations

import os
import time
from pathlib import Path

import duckdb
import pytest

from pipeline import workdir
from pipeline.atomic import clear_scratch, scratch_owner
from pipeline.duckdb_limits import limit_resources
from pipeline.settings import Settings
from pipeline.storage.local import LocalStorage
from tests.processes import dead_pid, live_pid

OLD = time.time() - 8 * 24 * 3600


def test_temporary_dir_is_under_the_root_and_removed_on_exit(tmp_path: Path) -> None:
    root = tmp_path / "var" / "tmp"
    with workdir.temporary_dir(root, "ingesta_20999100016") as folder:
        assert folder.parent == root and folder.is_dir()
        assert workdir.owner(folder.name) == ("ingesta_20999100016", os.getpid())
        (folder / "carga.csv").write_text("DNI 12345678")
    assert list(root.iterdir()) == []
    with pytest.raises(RuntimeError), workdir.temporary_dir(root, "publicacion") as folder:
        (folder / "x").write_text("x")
        raise RuntimeError("falla")
    assert list(root.iterdir()) == []


def test_only_leftovers_of_processes_that_are_gone_are_cleared(tmp_path: Path) -> None:
    root = tmp_path / "tmp"
    dead = root / f"ingesta-{dead_pid()}-0a1b2c3d"
    mine = root / f"publicacion-{os.getpid()}-0a1b2c3d"
    foreign = root / "notas-del-operador"
    with live_pid() as pid:
        alive = root / f"validacion-{pid}-0a1b2c3d"
        for folder in (dead, mine, foreign, alive):
            folder.mkdir(parents=True)
            (folder / "carga.csv").write_text("DNI 12345678")
        assert workdir.clear_leftovers(root) == [dead]
        assert sorted(root.iterdir()) == sorted([mine, foreign, alive])


def test_a_reused_pid_does_not_keep_a_leftover(tmp_path: Path) -> None:
    """A container restarted after a kill gives the new run the killed run's pids: a process
    that started after the leftover was last touched cannot be its owner."""
    root = tmp_path / "tmp"
    with live_pid() as pid:
        for owner in (pid, os.getpid()):
            folder = root / f"ingesta-{owner}-0a1b2c3d"
            folder.mkdir(parents=True)
            os.utime(folder, (OLD, OLD))
        assert sorted(p.name for p in workdir.clear_leftovers(root)) == sorted(
            f"ingesta-{owner}-0a1b2c3d" for owner in (pid, os.getpid()))


def test_a_leftover_with_a_note_is_left_to_its_reader(tmp_path: Path) -> None:
    root = tmp_path / "tmp"
    noted = root / f"publicacion-{dead_pid()}-0a1b2c3d"
    noted.mkdir(parents=True)
    (noted / workdir.NOTE).write_text("{}")
    assert workdir.clear_leftovers(root) == []
    assert workdir.leftovers(root, "publicacion") == [noted]
    for path in (noted, noted / workdir.NOTE):
        os.utime(path, (OLD, OLD))
    assert workdir.clear_leftovers(root) == [noted]  # unless nobody read it for a week


def test_the_older_fixed_spill_folder_goes_by_age(tmp_path: Path) -> None:
    root = tmp_path / "tmp"
    (root / "duckdb").mkdir(parents=True)
    assert workdir.clear_leftovers(root) == []
    os.utime(root / "duckdb", (OLD, OLD))
    assert workdir.clear_leftovers(root) == [root / "duckdb"]


def test_scratch_of_a_live_writer_is_kept(tmp_path: Path) -> None:
    gone = dead_pid()
    names = {f".lote.staging-{gone}": True, f".lote.staging-old-{gone}": True,
             f".lote.staging-{os.getpid()}": False, ".x.csv.staging-abcdefgh": False}
    assert scratch_owner(f".lote.staging-old-{gone}") == gone
    assert scratch_owner(f".x.csv.staging-{gone}-ab_12cd") == gone
    assert scratch_owner(".x.csv.staging-abcdefgh") is None
    for name in names:
        (tmp_path / name).mkdir()
    with live_pid() as pid:
        (tmp_path / f".batch.json.staging-{pid}").write_text("{}")
        clear_scratch(tmp_path)
        left = {p.name for p in tmp_path.iterdir()}
    assert left == {name for name, gone_ in names.items() if not gone_} | {
        f".batch.json.staging-{pid}"}


def test_local_storage_scratch_names_its_writer(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    seen: list[str] = []

    def peek(path: Path) -> None:
        seen.extend(p.name for p in path.parent.iterdir())
        path.write_bytes(b"a")

    storage._atomic_write("d/a.csv", peek, False)
    assert scratch_owner(seen[0]) == os.getpid()
    gone = tmp_path / "d" / f".b.csv.staging-{dead_pid()}-x1y2z3w4"
    gone.write_bytes(b"a medio escribir")
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / gone.name).write_bytes(b"a medio escribir")
    kept = tmp_path / "d" / f".c.csv.staging-{os.getpid()}-x1y2z3w4"
    kept.write_bytes(b"escritura en curso")
    assert storage.clear_abandoned_scratch() == [f"d/{gone.name}", f"e/{gone.name}"]
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == sorted(["a.csv", kept.name])
    assert not (tmp_path / "e").exists()  # emptied, so removed


def test_deleting_the_last_object_of_a_folder_removes_the_folder(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "pub")
    storage.write_bytes("releases/r1/visitas/csv/a.csv", b"a")
    storage.write_bytes("releases/r1/release.json", b"{}")
    storage.delete("releases/r1/visitas/csv/a.csv")
    assert sorted(p.name for p in (tmp_path / "pub" / "releases" / "r1").iterdir()) == [
        "release.json"]
    storage.delete("releases/r1/release.json")
    assert not (tmp_path / "pub" / "releases").exists()
    assert (tmp_path / "pub").is_dir()  # the root stays
    (tmp_path / "pub" / "releases" / "r2" / "vacia").mkdir(parents=True)
    assert storage.folders("releases/") == ["r2"]


def test_each_duckdb_connection_spills_to_its_own_folder(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path / "var", duckdb_memory="64MB")
    spills = []
    for _ in range(2):
        con = duckdb.connect(config={"preserve_insertion_order": False})
        limit_resources(con, settings)
        spills.append(Path(con.execute("SELECT current_setting('temp_directory')").fetchone()[0]))
        con.close()
    assert spills[0] != spills[1]
    assert all(s.parent == settings.temp_dir for s in spills)
    assert workdir.owner(spills[0].name) == ("duckdb", os.getpid())
