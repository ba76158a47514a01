"""Fixed cost per small upload: one day's visits (40 rows, official layout), in process.

Entities upload small files often, so what one upload costs beyond its rows matters. A fresh
process warms up on a few uploads, then handles ITERATIONS more, each a different day's file
(its own bytes and checksum), and times each one. Four ways, each in its own process, from
the least to the most of what ingestion does per upload:

- `validate`: `validate_file(path, name, schemas, entity=...)`, no sink (what
  `visitas validate FILE --entity RUC` runs after start-up);
- `sink`: the same, staging the valid rows and the quarantine through a `ParquetSink` into a
  temporary folder;
- `stage`: what ingestion does for one new upload once it has it locally: its sha256 and
  `pipeline.ingestion.batches._stage_batch` (scratch folder renamed into place, Parquet
  sink, report.json, informe.txt, batch.json);
- `ingest`: `ingest_entity` on an entity whose landing folder gets one new file per
  iteration — the above plus listing the landing folder, copying and hashing its files and
  archiving the raw upload. The folder grows by one file per iteration, so its first and last
  iterations are reported apart.

    python -m benchmarks uploads             (BENCH_UPLOAD_ITERATIONS, default 200)
    python -m benchmarks.uploads --profile validate    cProfile of one mode's loop, top 15
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._host import machine_line, peak_rss_mib
from benchmarks._uploads import OFFICIAL, ROOT, bench_env, write_upload

SECTION = "uploads"
ITERATIONS = int(os.environ.get("BENCH_UPLOAD_ITERATIONS", "200"))
#: a way stops early once its timed uploads took this long (at least MIN_ITERATIONS run)
BUDGET_SECONDS = float(os.environ.get("BENCH_UPLOAD_SECONDS", "100"))
MIN_ITERATIONS = 30
WARMUP = 5
ROWS = 40
MODES = ("validate", "sink", "stage", "ingest")
TARGET_MS = 50
RUC = "20999100016"
NAME = "MUNICIPALIDAD DISTRITAL DE EJEMPLO NORTE"


def day_files(folder: Path, count: int) -> list[Path]:
    """`count` uploads of one day each (ROWS visits), cut from one generated log."""
    log = folder / "log.csv"
    write_upload(log, ROWS * count, OFFICIAL, days=count, entity_name=NAME)
    lines = log.read_text("utf-8").splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    start = dt.date(2024, 1, 1)
    files = []
    for k in range(count):
        path = folder / f"visitas-{(start + dt.timedelta(days=k)).isoformat()}.csv"
        path.write_text(header + "".join(body[k * ROWS:(k + 1) * ROWS]), encoding="utf-8")
        files.append(path)
    log.unlink()
    return files


def _entity():
    from pipeline.registry import Entity

    return Entity(RUC, NAME, "production", {"kind": "files"},
                  {"email": "rvl@example.gob.pe"})


def _task(mode: str, work: Path):
    """The per-upload function of `mode`: takes a day's file, handles it once."""
    from pipeline.ingestion.staging import ParquetSink
    from pipeline.settings import Settings
    from pipeline.validation.upload import upload_schemas, validate_file

    settings = Settings(var_dir=work / "var", pseudonym_key="clave-de-benchmark")
    schemas = upload_schemas(settings.schemas_dir)
    entity = _entity()
    today = dt.date(2025, 1, 1)
    if mode == "validate":
        return lambda path: validate_file(path, path.name, schemas, entity=entity, today=today)
    if mode == "sink":
        def sink(path: Path) -> None:
            folder = work / "sink" / path.stem
            folder.mkdir(parents=True)
            writer = ParquetSink(folder, ruc=RUC, batch=path.stem, name=path.name,
                                 ingested=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
            report = validate_file(path, path.name, schemas, entity=entity, today=today,
                                   sink=writer)
            writer.close(keep_valid=report.readable)
        return sink
    if mode == "stage":
        from pipeline.ingestion.batches import _stage_batch, batches_dir
        from pipeline.sources.base import Upload
        from pipeline.storage.base import sha256_file

        def stage(path: Path) -> None:
            sha = sha256_file(path)
            upload = Upload(RUC, path.name, str(path), sha, path.stat().st_size, path)
            _stage_batch(settings, entity, upload, schemas, batches_dir(settings, RUC) / sha,
                         today=today, now=None, archived=str(path))
        return stage
    if mode == "ingest":
        from pipeline.ingestion.batches import ingest_entity

        landing = Path(settings.landing_url) / RUC
        landing.mkdir(parents=True)

        def ingest(path: Path) -> None:
            (landing / path.name).write_bytes(path.read_bytes())
            outcome = ingest_entity(settings, entity, today=today)
            assert outcome.error is None and len(outcome.new_batches) == 1, outcome
        return ingest
    raise ValueError(mode)


def child(mode: str, files_dir: str) -> dict[str, object]:
    files = sorted(Path(files_dir).glob("visitas-*.csv"))
    with tempfile.TemporaryDirectory(prefix=f"bench-uploads-{mode}-") as tmp:
        task = _task(mode, Path(tmp))
        for path in files[:WARMUP]:
            task(path)
        times: list[float] = []
        for path in files[WARMUP:]:
            started = time.perf_counter()
            task(path)
            times.append((time.perf_counter() - started) * 1000)
            if len(times) >= MIN_ITERATIONS and sum(times) > BUDGET_SECONDS * 1000:
                break
    return {"ms": times, "maxrss_mb": peak_rss_mib()}


def profile(mode: str) -> None:
    import cProfile
    import pstats

    with tempfile.TemporaryDirectory(prefix="bench-uploads-profile-") as tmp:
        files = day_files(Path(tmp), WARMUP + ITERATIONS)
        task = _task(mode, Path(tmp) / "work")
        for path in files[:WARMUP]:
            task(path)
        profiler = cProfile.Profile()
        profiler.enable()
        for path in files[WARMUP:]:
            task(path)
        profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(15)
    stats.sort_stats("cumulative").print_stats(25)


def _in_child(mode: str, files: Path) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-m", "benchmarks.uploads", "--child", mode,
                          str(files)], capture_output=True, text=True, cwd=ROOT, env=bench_env())
    if out.returncode:
        raise RuntimeError(f"{mode}: {out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


LABELS = {"validate": "`validate_file`, no sink",
          "sink": "`validate_file` + `ParquetSink` (valid and quarantine Parquet)",
          "stage": "sha256 + `_stage_batch` (sink, report.json, informe.txt, batch.json, "
                   "rename into place)",
          "ingest": "`ingest_entity`, one new file in the landing folder"}


def run() -> str:
    started = time.perf_counter()
    before = machine_line()
    with tempfile.TemporaryDirectory(prefix="bench-uploads-") as tmp:
        files = Path(tmp) / "files"
        files.mkdir()
        day_files(files, WARMUP + ITERATIONS)
        results = {mode: _in_child(mode, files) for mode in MODES}
    lines = [
        "## Fixed cost per small upload (`benchmarks/uploads.py`)",
        "",
        f"Command: `make bench` (`python -m benchmarks uploads`). Measured "
        f"{time.strftime('%Y-%m-%d')}; the section took "
        f"{(time.perf_counter() - started) / 60:.0f} min.",
        f"Machine at the start: {before}.",
        f"Machine at the end: {machine_line()}.",
        "",
        f"Each upload is one day's visits of one entity: {ROWS} rows in the official layout "
        "(generated as in the validation section, so about 3 rows in 1,000 are broken), a "
        f"different file each time. Each way runs in a fresh process: {WARMUP} uploads to warm "
        f"up, then up to {ITERATIONS} timed one by one (a way stops after "
        f"{BUDGET_SECONDS:.0f} s of timed uploads, at least {MIN_ITERATIONS}: count below). "
        "Medians closer than the spread between them (p95) are noise on this shared machine.",
        "",
        "| per upload | uploads | median ms | p95 ms | mean ms | min ms | peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for mode in MODES:
        ms = results[mode]["ms"]
        lines.append(f"| {LABELS[mode]} | {len(ms)} | {statistics.median(ms):.1f} | {_pct(ms, 0.95):.1f} | "
                     f"{statistics.fmean(ms):.1f} | {min(ms):.1f} | "
                     f"{results[mode]['maxrss_mb']:.0f} |")
    med = {m: statistics.median(results[m]["ms"]) for m in MODES}
    ingest = results["ingest"]["ms"]
    tail = max(1, len(ingest) // 10)
    early, late = statistics.median(ingest[:tail]), statistics.median(ingest[-tail:])
    lines += [
        "",
        f"- **Target ≤ {TARGET_MS} ms per small upload in process — "
        f"{'met' if med['stage'] <= TARGET_MS else 'NOT met'}**: validating alone "
        f"{med['validate']:.0f} ms (median), staging it as ingestion does {med['stage']:.0f} ms, "
        f"through `ingest_entity` {med['ingest']:.0f} ms.",
        f"- Breakdown (differences of medians): validation {med['validate']:.0f} ms; Parquet "
        f"sink {med['sink'] - med['validate']:+.0f} ms; hashing, reports, batch.json and the "
        f"rename {med['stage'] - med['sink']:+.0f} ms; the rest of `ingest_entity` (listing "
        f"the landing folder, copying and hashing the new file, archiving the raw upload) "
        f"{med['ingest'] - med['stage']:+.0f} ms. Validation is almost all of it.",
        f"- `ingest_entity` as the landing folder grows: median {early:.0f} ms over the first "
        f"{tail} iterations ({WARMUP + 1}–{WARMUP + tail} files in the folder), {late:.0f} ms "
        f"over the last {tail} ({WARMUP + len(ingest) - tail + 1}–{WARMUP + len(ingest)} files). "
        "Each call lists the folder; files already ingested and unchanged (same key, size and "
        "version) are neither copied nor hashed again.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], sys.argv[3])))
    elif len(sys.argv) == 3 and sys.argv[1] == "--profile":
        profile(sys.argv[2])
    else:
        print(run())
