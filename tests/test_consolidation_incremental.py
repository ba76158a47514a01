"""Incremental consolidation: one entity's upload recomputes that entity only, and the result
is the same as consolidating everything from scratch."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import duckdb
import pytest

from pipeline.consolidation.visitas import (
    ConsolidationOutcome,
    consolidate,
    consolidated_dir,
    database_path,
    entity_dir,
)
from pipeline.flow import included_entities
from pipeline.publication.guard import ReleaseRefused
from pipeline.publication.publisher import publish
from pipeline.settings import Settings
from tests.published import data_files
from tests.stages import NOW, SAMPLES, drop, ingest, settings_for

NORTE, CENTRO, SUR = "20999100016", "20999200029", "20999300031"
FIRST = {NORTE: ["visitas-2024-08.csv"], CENTRO: ["visitas-2024-09.xlsx"],
         SUR: ["visitas-2024-10.csv"]}
LATER = (SUR, "visitas-2024-10-b.csv")  # fills exit times of visits already published


def upload(s: Settings, ruc: str, name: str, now: dt.datetime = NOW) -> None:
    drop(s, ruc, name, (SAMPLES / ruc / name).read_bytes())
    ingest(s, ruc, now=now)


def run(s: Settings) -> ConsolidationOutcome:
    outcome = consolidate(s, included_entities(s))
    publish(s, now=NOW)
    return outcome


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.iterdir()}


def from_scratch(var_dir: Path, uploads: list[tuple[str, str]]) -> dict[str, bytes]:
    s = settings_for(var_dir)
    for ruc, name in uploads:
        upload(s, ruc, name)
    run(s)
    return data_files(Path(s.publish_url))


def table(s: Settings, sql: str) -> list[tuple]:
    with duckdb.connect(str(database_path(s)), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_one_entitys_upload_recomputes_only_that_entity(tmp_path: Path) -> None:
    s = settings_for(tmp_path / "incremental")
    for ruc, names in FIRST.items():
        for name in names:
            upload(s, ruc, name)
    first = run(s)
    assert first.recomputed_entities == [NORTE, CENTRO, SUR] and first.entities == 3
    assert (first.rows, first.staged_rows, first.changes) == (115, 115, 0)
    others = {ruc: snapshot(entity_dir(s, ruc)) for ruc in (NORTE, CENTRO)}
    assert all("visitas.parquet" in files and "huella.json" in files for files in others.values())

    upload(s, *LATER, now=NOW + dt.timedelta(days=1))
    second = run(s)
    assert second.recomputed_entities == [SUR] and second.removed_entities == []
    # the five copies update their visits' exit time, they add no visit
    assert second.entities == 3 and (second.rows, second.staged_rows, second.changes) == (115, 120, 5)
    # the other entities' consolidated files were not rewritten
    assert {ruc: snapshot(entity_dir(s, ruc)) for ruc in (NORTE, CENTRO)} == others

    uploads = [(r, n) for r, names in FIRST.items() for n in names] + [LATER]
    assert data_files(Path(s.publish_url)) == from_scratch(tmp_path / "scratch", uploads)
    # the history is the same as a from-scratch consolidation's, row for row
    history = "SELECT * EXCLUDE (lote_recibido_en) FROM visitas_historial ORDER BY ALL"
    assert table(s, history) == table(settings_for(tmp_path / "scratch"), history)

    again = run(s)
    assert again.recomputed_entities == [] and again.rows == second.rows
    assert again.changes == second.changes and again.staged_rows == second.staged_rows


def test_an_entity_left_out_of_the_registry_drops_its_rows(tmp_path: Path) -> None:
    s = settings_for(tmp_path / "incremental")
    for ruc, names in FIRST.items():
        for name in names:
            upload(s, ruc, name)
    run(s)
    published = data_files(Path(s.publish_url))
    kept = {CENTRO, SUR}
    keep_files = {ruc: snapshot(entity_dir(s, ruc)) for ruc in kept}
    outcome = consolidate(s, [e for e in included_entities(s) if e.ruc in kept])
    # Consolidation drops the entity; publication refuses to take its published visits away
    # without a withdrawal (tests/test_release_guard.py), so the release stays as it was.
    with pytest.raises(ReleaseRefused):
        publish(s, now=NOW)
    assert data_files(Path(s.publish_url)) == published
    assert outcome.removed_entities == [NORTE] and outcome.recomputed_entities == []
    assert not entity_dir(s, NORTE).exists()
    assert sorted(p.name for p in consolidated_dir(s).iterdir()) == [
        f"entidad_ruc={r}" for r in sorted(kept)]
    assert {ruc: snapshot(entity_dir(s, ruc)) for ruc in kept} == keep_files
    for name in ("visitas", "visitas_historial"):
        assert table(s, f"SELECT DISTINCT entidad_ruc FROM {name} ORDER BY 1") == [
            (r,) for r in sorted(kept)]
    uploads = [(r, n) for r, names in FIRST.items() for n in names]
    scratch = settings_for(tmp_path / "scratch")
    for ruc, name in uploads:
        if ruc in kept:
            upload(scratch, ruc, name)
    consolidate(scratch, [e for e in included_entities(scratch) if e.ruc in kept])
    assert table(s, "SELECT * FROM visitas ORDER BY id_visita") == table(
        scratch, "SELECT * FROM visitas ORDER BY id_visita")

    # back in the registry: its staged batches are consolidated again
    back = run(s)
    assert back.recomputed_entities == [NORTE] and back.entities == 3


def test_a_renamed_entity_keeps_its_rows_under_the_new_name(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    upload(s, NORTE, FIRST[NORTE][0])
    [norte] = [e for e in included_entities(s) if e.ruc == NORTE]
    consolidate(s, [norte])
    renamed = dataclasses.replace(norte, name="Municipalidad Renombrada")
    outcome = consolidate(s, [renamed])
    assert outcome.recomputed_entities == []
    assert table(s, "SELECT DISTINCT entidad_nombre FROM visitas") == [("Municipalidad Renombrada",)]
