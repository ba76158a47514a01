"""Backfill throughput: an entity's history exports ingested end to end through
`visitas backfill` (the command users run), in a fresh project, on every core.

- HTML: web pages saved from a spreadsheet in Windows-1252 and UTF-8 (`html-2014` of
  `benchmarks/_history.py`: one table per day, the date in a title, times as `8.23`);
- JSON: an API's `{"data": [...]}` pages (`json-2020`: date and time in one value, value
  maps, a split);
- the fixed cost per small file: many JSON files of 9 records (`json-2022`: nested records,
  templates), timed against the same command on one such file.

Every run starts from an empty warehouse; wall time includes starting the command and its
worker processes. Peak RSS is the largest of the command and its workers.

    python -m benchmarks backfill        (BENCH_BACKFILL_ROWS, default 100000 per format)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._history import ENTITY_YAML, RUC, write_corpus
from benchmarks._host import machine_line

SECTION = "backfill"
ROOT = Path(__file__).resolve().parents[1]
ROWS = int(os.environ.get("BENCH_BACKFILL_ROWS", "100000"))
SMALL_FILES = int(os.environ.get("BENCH_BACKFILL_SMALL_FILES", "150"))
VISITAS = Path(sys.executable).with_name("visitas")
_MEASURE = ("import json, resource, subprocess, sys, time\n"
            "t = time.perf_counter()\n"
            "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
            "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
            "print(json.dumps({'seconds': time.perf_counter() - t, 'code': p.returncode,\n"
            "  'out': p.stdout, 'err': p.stderr, 'cpu': u.ru_utime + u.ru_stime,\n"
            "  'rss': u.ru_maxrss / 1024}))\n")


def _project(root: Path) -> dict[str, str]:
    shutil.copytree(ROOT / "schemas", root / "schemas")
    shutil.copytree(ROOT / "datasets", root / "datasets",
                    ignore=lambda folder, names: names if folder.endswith("entities") else [])
    (root / "datasets" / "entities" / f"{RUC}.yaml").write_text(ENTITY_YAML, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VISITAS_")}
    return {**env, "VISITAS_HOME": str(root), "VISITAS_ENV": "local"}


def _corpus(folder: Path, layout: str, rows: int, per_file: int) -> tuple[int, int]:
    """Write about `rows` rows of one layout in files of about `per_file` rows."""
    per_call = {"html-2014": (4, 18), "json-2020": (3, 10), "json-2022": (3, 9)}[layout]
    scale = max(1, round(per_file / per_call[1]))
    calls = max(1, round(rows / (per_call[0] * per_call[1] * scale)))
    files = total = 0
    for k in range(calls):
        corpus = write_corpus(folder / f"parte{k:03d}", scale=scale, seed=k, layouts=(layout,))
        files += len(corpus.files)
        total += corpus.rows
    return files, total


def _backfill(env: dict[str, str], paths: list[Path], workers: int) -> dict:
    root = Path(env["VISITAS_HOME"])
    shutil.rmtree(root / "var", ignore_errors=True)  # every run from an empty warehouse
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(VISITAS), "backfill", RUC,
                           *map(str, paths), "--procesos", str(workers), "--json",
                           "--today", "2024-12-31"],
                          env=env, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    if result["code"] not in (0, 1):
        raise RuntimeError(f"visitas backfill failed: {result['err']}")
    result["report"] = json.loads(result["out"])
    return result


def run() -> str:
    started = time.perf_counter()
    before = machine_line()
    cores = len(os.sched_getaffinity(0))
    rows: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-backfill-") as tmp:
        base = Path(tmp)
        env = _project(base / "proyecto")
        for layout, label in (("html-2014", "HTML (Windows-1252 and UTF-8 pages)"),
                              ("json-2020", "JSON (`{\"data\": [...]}` pages)")):
            folder = base / layout
            files, total = _corpus(folder, layout, ROWS, 5000)
            size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
            for workers in sorted({1, cores}):
                result = _backfill(env, [folder], workers)
                totals = result["report"]["totales"]
                assert totals["filas"] == total, (totals, total)
                rows.append(f"| {label} | {workers} | {files} | {total:,} | "
                            f"{size / 2**20:,.1f} | {result['seconds']:.1f} | "
                            f"{total / result['seconds']:,.0f} | {result['cpu']:.1f} | "
                            f"{result['cpu'] / result['seconds']:.2f} | "
                            f"{total / result['cpu']:,.0f} | {result['rss']:.0f} |")
        small = base / "pequenos"
        files, total = _corpus(small, "json-2022", SMALL_FILES * 9, 9)
        one = sorted(p for p in small.rglob("*.json"))[:1]
        single = min(_backfill(env, one, cores)["seconds"] for _ in range(3))
        many = _backfill(env, [small], cores)
        assert many["report"]["totales"]["archivos"] == files
        fixed_ms = (many["seconds"] - single) / max(1, files - 1) * 1000
    return "\n".join([
        "## Backfill of an entity's history (`benchmarks/backfill.py`)",
        "",
        f"Command: `make bench` (`python -m benchmarks backfill`). Measured "
        f"{time.strftime('%Y-%m-%d')}; the section took "
        f"{(time.perf_counter() - started) / 60:.0f} min.",
        f"Machine at the start: {before}.",
        f"Machine at the end: {machine_line()}.",
        "",
        "End to end through `visitas backfill RUC FOLDER --procesos N` in a fresh process, "
        "from an empty warehouse: hashing, the layout chosen per file, the mapping, "
        "validation, normalisation, Parquet staging, reports, batch records and the raw "
        "archive. Files of about 5,000 rows, about 1 row in 50 wrong on purpose (quarantined). "
        "Wall time includes starting the command and its worker processes.",
        "",
        "CPU seconds are those of the command and its workers together (user + system): rows "
        "per CPU-second is what a row costs whatever else the machine is doing. Cores busy is "
        "CPU seconds over wall seconds: with 2 processes it reaches 2, and the wall-time rows/s "
        "nearly doubles, only when no other work holds the second core (see the load "
        "average).",
        "",
        "| history | processes | files | rows | MiB | wall s | rows/s | CPU s | cores busy "
        "| rows per CPU-s | peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        f"- Fixed cost per small file: {fixed_ms:.0f} ms of wall time per file on "
        f"{cores} processes ({files} JSON files of 9 records in {many['seconds']:.1f} s, against "
        f"{single:.1f} s for the command on one such file, its start-up included).",
    ])


if __name__ == "__main__":
    print(run())
