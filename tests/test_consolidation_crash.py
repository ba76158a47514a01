"""An interrupted consolidation leaves each entity's folder whole (old or new, never half), and
the next run clears its scratch and gives the same tables as a run that never failed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from pipeline.consolidation import visitas
from pipeline.consolidation.visitas import consolidate, consolidated_dir, database_path, entity_dir
from pipeline.flow import included_entities
from pipeline.settings import Settings
from tests.processes import dead_pid
from tests.stages import SAMPLES, drop, ingest, settings_for

NORTE, CENTRO, SUR = "20999100016", "20999200029", "20999300031"
FIRST = [(NORTE, "visitas-2024-08.csv"), (SUR, "visitas-2024-10.csv")]
SECOND = [(CENTRO, "visitas-2024-09.xlsx"), (SUR, "visitas-2024-10-b.csv")]


def upload(s: Settings, uploads: list[tuple[str, str]]) -> None:
    for ruc, name in uploads:
        drop(s, ruc, name, (SAMPLES / ruc / name).read_bytes())
        ingest(s, ruc)


def folder(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


def tables(s: Settings) -> dict[str, list[tuple]]:
    with duckdb.connect(str(database_path(s)), read_only=True) as con:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                for t in ("visitas", "visitas_historial", "consolidado")}


def hidden(s: Settings) -> list[str]:
    return sorted(p.name for p in consolidated_dir(s).iterdir() if p.name.startswith("."))


def test_failure_while_swapping_an_entity_in(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings_for(tmp_path / "crash")
    upload(s, FIRST)
    consolidate(s, included_entities(s))
    before = folder(entity_dir(s, SUR))
    upload(s, SECOND)

    real = visitas.staged_dir

    @contextmanager
    def failing(target: Path) -> Iterator[Path]:
        with real(target) as scratch:
            yield scratch
            if target == entity_dir(s, SUR):  # SUR's folder is complete in scratch: fail now
                raise OSError("disco lleno")

    monkeypatch.setattr(visitas, "staged_dir", failing)
    with pytest.raises(OSError, match="disco lleno"):
        consolidate(s, included_entities(s))
    assert folder(entity_dir(s, SUR)) == before  # the old result, whole
    assert "huella.json" in folder(entity_dir(s, CENTRO))  # swapped in before the failure
    assert hidden(s) == []

    monkeypatch.setattr(visitas, "staged_dir", real)
    again = consolidate(s, included_entities(s))
    assert again.recomputed_entities == [SUR]

    clean = settings_for(tmp_path / "clean")
    upload(clean, FIRST + SECOND)
    consolidate(clean, included_entities(clean))
    assert tables(s) == tables(clean)


def test_leftovers_of_a_killed_run_are_cleared_and_never_read(tmp_path: Path) -> None:
    s = settings_for(tmp_path / "killed")
    upload(s, FIRST)
    consolidate(s, included_entities(s))
    root = consolidated_dir(s)
    # As if killed between moving SUR's old folder aside and renaming the new one in, with
    # the partitioned output and a half-built folder still on disk.
    pid = dead_pid()
    entity_dir(s, SUR).rename(root / f".entidad_ruc={SUR}.staging-old-{pid}")
    for name in (f".partes.staging-{pid}", f".entidad_ruc={NORTE}.staging-{pid}", ".tmp-4242"):
        (root / name).mkdir()
        (root / name / "visitas.parquet").write_bytes(b"no es parquet")
    upload(s, SECOND)
    outcome = consolidate(s, included_entities(s))
    assert outcome.recomputed_entities == [CENTRO, SUR]
    assert hidden(s) == []

    clean = settings_for(tmp_path / "clean")
    upload(clean, FIRST + SECOND)
    consolidate(clean, included_entities(clean))
    assert tables(s) == tables(clean)
