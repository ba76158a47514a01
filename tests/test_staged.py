"""pipeline.ingestion.staged: staged batches as consolidation and the checks read them."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from pipeline.consolidation.visitas import (
    VISIT_FIELDS,
    consolidate,
    consolidated_dir,
    database_path,
)
from pipeline.flow import included_entities
from pipeline.ingestion.staged import (
    batch_records,
    batches_dir,
    staged_files,
    unsound_staged_batches,
)
from pipeline.ingestion.staging import PROVENANCE
from pipeline.settings import Settings
from tests.stages import SAMPLES, drop, ingest, settings_for

NORTE, SUR = "20999100016", "20999300031"
WITHDRAWAL = "id_visita,motivo\n0123456789abcdef,Registro duplicado\n"


def staged(tmp_path: Path) -> Settings:
    s = settings_for(tmp_path)
    for ruc, name in ((NORTE, "visitas-2024-08.csv"), (SUR, "visitas-2024-10.csv"),
                      (SUR, "visitas-2024-10-b.csv")):
        drop(s, ruc, name, (SAMPLES / ruc / name).read_bytes())
    drop(s, SUR, "retiros-2024-10.csv", WITHDRAWAL.encode())
    ingest(s, NORTE)
    ingest(s, SUR)
    return s


def tables(s: Settings) -> dict[str, list[tuple]]:
    with duckdb.connect(str(database_path(s)), read_only=True) as con:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                for t in ("visitas", "visitas_historial", "consolidado")}


def test_records_and_files_of_staged_batches(tmp_path: Path) -> None:
    s = staged(tmp_path)
    records = batch_records(s)
    assert [(r["entidad_ruc"], r["archivo"], r.get("tipo")) for r in records] == [
        (NORTE, "visitas-2024-08.csv", "visitas"),
        (SUR, "retiros-2024-10.csv", "retiros"),
        (SUR, "visitas-2024-10-b.csv", "visitas"),
        (SUR, "visitas-2024-10.csv", "visitas"),
    ]
    assert [r["entidad_ruc"] for r in batch_records(s, {NORTE})] == [NORTE]
    sur = {r["sha256"]: r["tipo"] for r in batch_records(s, [SUR])}
    assert sorted(p.parent.name for p in staged_files(s, SUR, "valid")) == sorted(
        sha for sha, kind in sur.items() if kind == "visitas")
    [withdrawals] = staged_files(s, SUR, "withdrawals")
    assert withdrawals.parent.name == next(sha for sha, kind in sur.items() if kind == "retiros")
    assert staged_files(s, NORTE, "withdrawals") == []
    assert staged_files(s, "20000000000", "valid") == []
    assert unsound_staged_batches(s, [*VISIT_FIELDS, *PROVENANCE]) == []


def test_scratch_folders_are_never_read(tmp_path: Path) -> None:
    s = staged(tmp_path)
    consolidate(s, included_entities(s))
    before, records, files = tables(s), batch_records(s), staged_files(s, SUR, "valid")
    # What an interrupted staging leaves beside the batches: a complete-looking copy under
    # the writer's scratch name, and a half-written one.
    batch = files[0].parent
    shutil.copytree(batch, batch.with_name(batch.name + ".tmp"))
    half = batches_dir(s, SUR) / f".{batch.name}.staging-4242"
    half.mkdir()
    (half / "valid.parquet").write_bytes(b"a medio escribir")
    assert batch_records(s) == records
    assert staged_files(s, SUR, "valid") == files
    assert unsound_staged_batches(s, [*VISIT_FIELDS, *PROVENANCE]) == []
    # consolidated again from nothing, the tables are the same
    shutil.rmtree(consolidated_dir(s))
    database_path(s).unlink()
    consolidate(s, included_entities(s))
    assert tables(s) == before


def test_damaged_batch_is_named(tmp_path: Path) -> None:
    s = staged(tmp_path)
    target = staged_files(s, NORTE, "valid")[0]
    target.write_bytes(b"no es parquet")
    [problem] = unsound_staged_batches(s, list(VISIT_FIELDS))
    assert problem.startswith(f"{NORTE}/{target.parent.name}: ")

