"""What in an entity's landing folder is an upload: every file except the pipeline's own scratch,
which is skipped and reported. Checked on the local directory and on a real S3 (SeaweedFS)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace

import pytest

from pipeline.assets.sensors import landing_fingerprints
from pipeline.atomic import is_scratch
from pipeline.flow import run_full_pass
from pipeline.ingestion.staged import batch_records
from pipeline.settings import Settings
from pipeline.storage import open_storage
from tests.conftest import REPO_ROOT
from tests.published import csv_rows

NOW = dt.datetime(2024, 11, 1, 12, 0, tzinfo=dt.UTC)
RUC = "20999300031"
SAMPLES = REPO_ROOT / "datasets" / "samples"
# Names an entity may well give its files: a leading dot, ".tmp-" inside.
HIDDEN_LOOKING = {
    ".visitas-octubre.csv": SAMPLES / RUC / "visitas-2024-10.csv",
    "visitas.tmp-2024.csv": SAMPLES / RUC / "visitas-2024-10-b.csv",
}
# The name the pipeline's own storage writes through: never an upload, whatever it holds.
SCRATCH = ".visitas-noviembre.csv.staging-4242"
SCRATCH_REASON = "archivo temporal de una escritura en curso o interrumpida"

Put = Callable[[str, bytes], None]


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def landing(request: pytest.FixtureRequest, project: Settings) -> tuple[Settings, Put]:
    """Settings whose landing (and raw archive) is a local folder or an S3 bucket, and a way to
    drop a file in the entity's landing folder as the entity would."""
    if request.param == "local":
        folder = project.var_dir / "landing" / RUC

        def put_local(name: str, data: bytes) -> None:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)

        return project, put_local
    server = request.getfixturevalue("s3_env")
    bucket = request.getfixturevalue("s3_bucket")
    client = server.client()

    def put_s3(name: str, data: bytes) -> None:
        client.put_object(Bucket=bucket, Key=f"landing/{RUC}/{name}", Body=data)

    return replace(project, landing_url=f"s3://{bucket}/landing",
                   raw_url=f"s3://{bucket}/raw"), put_s3


def archived_names(settings: Settings) -> list[str]:
    raw = open_storage(settings.raw_url, base_dir=settings.root)
    return sorted(o.key.rsplit("/", 1)[-1] for o in raw.list(f"{RUC}/"))


def test_dot_and_tmp_names_are_ingested_and_published(landing: tuple[Settings, Put]) -> None:
    settings, put = landing
    for name, sample in HIDDEN_LOOKING.items():
        put(name, sample.read_bytes())
    lines: list[str] = []
    outcome = run_full_pass(settings, echo=lines.append, now=NOW)

    [entity] = [e for e in outcome.entities if e.entity.ruc == RUC]
    assert entity.error is None
    assert entity.skipped == []
    assert not [line for line in lines if "omitido" in line]
    records = {r["archivo"]: r for r in batch_records(settings, [RUC])}
    assert {name: (r["estado"], r["filas_validas"], r["filas_rechazadas"])
            for name, r in records.items()} == {
        ".visitas-octubre.csv": ("partial", 38, 2),
        "visitas.tmp-2024.csv": ("published", 5, 0),
    }
    assert archived_names(settings) == sorted(HIDDEN_LOOKING)
    # 38 visits: the second file re-sends 5 of them with the exit time filled in, which leaves
    # 2 of the first file's 7 blank exit times.
    rows = csv_rows(settings.var_dir / "publish")
    assert len(rows) == outcome.publication.rows == 38
    assert {r["entidad_ruc"] for r in rows} == {RUC}
    assert sum(1 for r in rows if not r["hora_salida"]) == 2


def test_only_the_pipelines_own_scratch_is_skipped_and_it_is_reported(
        landing: tuple[Settings, Put]) -> None:
    settings, put = landing
    assert is_scratch(SCRATCH)
    put("visitas-2024-10.csv", (SAMPLES / RUC / "visitas-2024-10.csv").read_bytes())
    # Valid rows of another month: had it been ingested, they would be published.
    put(SCRATCH, (SAMPLES / "20999100016" / "visitas-2024-08.csv").read_bytes())
    put(".DS_Store", b"\x00\x00\x00\x01Bud1\x00\x00\x10\x00")
    put("notas.docx", b"PK\x03\x04 no es una hoja de visitas")
    lines: list[str] = []
    outcome = run_full_pass(settings, echo=lines.append, now=NOW)

    [entity] = [e for e in outcome.entities if e.entity.ruc == RUC]
    assert [(s.name, s.reason) for s in entity.skipped] == [(SCRATCH, SCRATCH_REASON)]
    assert f"    archivo omitido: {SCRATCH} ({SCRATCH_REASON})" in lines
    batches = {b.name: b for b in entity.batches}
    assert sorted(batches) == [".DS_Store", "notas.docx", "visitas-2024-10.csv"]
    # Files that are not visit tables go through validation like any other upload: a rejected
    # batch whose Spanish report says what to send instead.
    for name, what in ((".DS_Store", "un archivo binario, no una tabla de texto ni una hoja de "
                                     "cálculo"),
                       ("notas.docx", "un archivo comprimido dañado o incompleto")):
        batch = batches[name]
        assert (batch.status, batch.readable, batch.rows) == ("rejected", False, 0)
        [error] = batch.report["tasks"][0]["errors"]
        assert error["type"] == "format-error"
        assert (f"Formato no admitido: «{name}» es {what}. Suba un archivo .csv, .xlsx o .xls."
                in batch.summary)
    assert batches["visitas-2024-10.csv"].status == "partial"
    assert archived_names(settings) == [".DS_Store", "notas.docx", "visitas-2024-10.csv"]
    assert outcome.publication.rows == len(csv_rows(settings.var_dir / "publish")) == 38


def test_sensor_fingerprint_follows_the_same_rule(landing: tuple[Settings, Put]) -> None:
    settings, put = landing
    assert RUC not in landing_fingerprints(settings)
    put(SCRATCH, b"a medio escribir")
    assert RUC not in landing_fingerprints(settings)  # nothing to ingest: no run to launch
    put(".visitas-octubre.csv", (SAMPLES / RUC / "visitas-2024-10.csv").read_bytes())
    first = landing_fingerprints(settings)[RUC]
    put("visitas.tmp-2024.csv", (SAMPLES / RUC / "visitas-2024-10-b.csv").read_bytes())
    second = landing_fingerprints(settings)[RUC]
    assert second != first
    put(".visitas-diciembre.csv.staging-99", b"otra escritura en curso")
    assert landing_fingerprints(settings)[RUC] == second


@pytest.mark.s3
def test_an_s3_folder_marker_is_reported_not_ingested(project: Settings, s3_env,
                                                      s3_bucket: str) -> None:
    """Consoles and sync tools create empty `folder/` objects; they are not uploads."""
    from pipeline.flow import included_entities
    from pipeline.ingestion.batches import ingest_entity

    client = s3_env.client()
    client.put_object(Bucket=s3_bucket, Key=f"landing/{RUC}/octubre/", Body=b"")
    client.put_object(Bucket=s3_bucket, Key=f"landing/{RUC}/visitas-2024-10-b.csv",
                      Body=(SAMPLES / RUC / "visitas-2024-10-b.csv").read_bytes())
    settings = replace(project, landing_url=f"s3://{s3_bucket}/landing",
                       raw_url=f"s3://{s3_bucket}/raw")
    entity = next(e for e in included_entities(settings) if e.ruc == RUC)
    outcome = ingest_entity(settings, entity, now=NOW)

    assert [b.name for b in outcome.batches] == ["visitas-2024-10-b.csv"]
    assert [(s.name, s.reason) for s in outcome.skipped] == [
        ("octubre/", "es una carpeta, no un archivo")]


def test_files_already_ingested_are_not_read_again(landing: tuple[Settings, Put],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """An entity's folder keeps every file it ever uploaded: a run reads only what is new or
    rewritten, and a file rewritten under the same name is read again."""
    from pipeline.ingestion.batches import ingest_entity
    from pipeline.registry import load_registry
    from pipeline.storage.base import Storage

    settings, put = landing
    [entity] = [e for e in load_registry(settings.entities_dir) if e.ruc == RUC]
    first = (SAMPLES / RUC / "visitas-2024-10.csv").read_bytes()
    put("octubre.csv", first)
    put("octubre-b.csv", (SAMPLES / RUC / "visitas-2024-10-b.csv").read_bytes())
    downloads: list[str] = []
    for cls in {type(open_storage(settings.landing_url, base_dir=settings.root)), Storage}:
        original = cls.download

        def counting(self, key, dest, _original=original):  # type: ignore[no-untyped-def]
            downloads.append(key.rsplit("/", 1)[-1])
            return _original(self, key, dest)

        monkeypatch.setattr(cls, "download", counting)
    ingest_entity(settings, entity, now=NOW)
    assert sorted(downloads) == ["octubre-b.csv", "octubre.csv"]

    downloads.clear()
    again = ingest_entity(settings, entity, now=NOW)
    assert downloads == []
    assert [(b.name, b.status) for b in again.batches] == [
        ("octubre-b.csv", "unchanged"), ("octubre.csv", "unchanged")]

    # the same name, other bytes (a corrected upload): read and staged as a new batch
    put("octubre.csv", first.replace(b"\n", b"\r\n", 1) + b"")
    downloads.clear()
    third = ingest_entity(settings, entity, now=NOW)
    assert downloads == ["octubre.csv"]
    assert [b.status != "unchanged" for b in third.batches] == [False, True]
