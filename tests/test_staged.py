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



# --- a batch commits whole, and a record without its data is repaired --------------------

def test_a_batch_whose_data_was_lost_is_staged_again_from_the_raw_archive(project) -> None:
    """The record lists its data files (size, sha256, rows) and is written last; a later run
    finds a record whose data is gone or cut short and stages the batch again from the raw
    archive, so its rows are published again, exactly as before."""
    import duckdb

    from pipeline.flow import included_entities, run_full_pass, seed_sample_uploads
    from pipeline.ingestion.staged import batch_records
    from tests.published import parquet_glob

    seed_sample_uploads(project, included_entities(project))
    run_full_pass(project, echo=lambda _: None)
    published = duckdb.sql(f"SELECT * FROM '{parquet_glob(project.var_dir / 'publish')}' "
                           "ORDER BY id_visita").fetchall()
    records = batch_records(project)
    record = next(r for r in records if r["tipo"] == "visitas" and r["filas_validas"])
    folder = project.var_dir / "warehouse" / "batches" / record["entidad_ruc"] / record["sha256"]
    listed = record["archivos"]["valid.parquet"]
    assert listed["bytes"] == (folder / "valid.parquet").stat().st_size
    assert listed["filas"] == record["filas_validas"]
    # the data file is lost; the landing file is gone too (the entity cleaned its folder)
    (folder / "valid.parquet").unlink()
    for upload in (project.var_dir / "landing" / record["entidad_ruc"]).iterdir():
        upload.unlink()

    lines: list[str] = []
    run_full_pass(project, echo=lines.append)
    assert (f"    lote reparado desde el archivo crudo (sus datos faltaban): "
            f"{record['archivo']}") in lines
    assert (folder / "valid.parquet").stat().st_size == listed["bytes"]
    again = duckdb.sql(f"SELECT * FROM '{parquet_glob(project.var_dir / 'publish')}' "
                       "ORDER BY id_visita").fetchall()
    assert again == published


def test_a_batch_that_cannot_be_repaired_is_set_aside_and_reported(project) -> None:
    from pipeline.flow import included_entities, run_full_pass, seed_sample_uploads
    from pipeline.ingestion.staged import batch_records

    seed_sample_uploads(project, included_entities(project))
    run_full_pass(project, echo=lambda _: None)
    record = next(r for r in batch_records(project) if r["tipo"] == "visitas" and r["filas_validas"])
    ruc, sha = record["entidad_ruc"], record["sha256"]
    folder = project.var_dir / "warehouse" / "batches" / ruc / sha
    (folder / "valid.parquet").write_bytes(b"cortado")  # cut short
    for archived in (project.var_dir / "raw" / ruc / sha).iterdir():
        archived.unlink()
    for upload in (project.var_dir / "landing" / ruc).iterdir():
        if upload.read_bytes() and record["archivo"] == upload.name:
            upload.unlink()

    lines: list[str] = []
    run_full_pass(project, echo=lines.append)
    assert not folder.exists()
    assert [s for s in batch_records(project) if s["sha256"] == sha] == []
    assert any(line.startswith(f"    ✘ el lote {sha[:12]}… ({record['archivo']}) perdió sus "
                               "datos y no está en el archivo crudo") for line in lines)
