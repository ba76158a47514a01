"""`visitas validate FILE` on a large upload, beside frictionless-py and a plain DuckDB scan.

What an administrator runs on an upload, in both accepted layouts (`upload-normalizado`, one
field per fact; `upload-oficial`, the 12 official columns with composite fields), on a
generated 1M-row CSV with the repetition of a real visitor log and about 0.3 % of rows broken
(`benchmarks/_uploads.py`):

- the CLI end to end, as a subprocess (`visitas validate FILE --json > /dev/null`): wall time
  with the interpreter's start-up, and peak RSS (the process's VmHWM);
- `validate_file` in a fresh process, timed after a warm-up on a 100-row file: the per-row
  rate without start-up;
- frictionless-py 5 on the same file with an equivalent typed schema (dates and times typed,
  `required` and `maxLength` as in the upload schema), in process after the same warm-up, on
  a prefix of the file (its per-row rate does not depend on the file's length);
- DuckDB alone reading the file (`read_csv`, every column as text and touched).

The tools alternate, each run in its own process (so each peak RSS is its own), best and median
of several runs. On the prefix, both tools' errors are compared cell by cell. Then the CLI runs
once on uploads of growing size (normalised layout) to show whether its memory grows.

    python -m benchmarks validation          (sizes: BENCH_VALIDATION_ROWS, BENCH_REPEATS,
                                              BENCH_FRICTIONLESS_ROWS, BENCH_VALIDATION_SIZES)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks._host import machine_line, peak_rss_mib
from benchmarks._uploads import (
    LAYOUTS,
    NORMALISED,
    OFFICIAL,
    ROOT,
    bench_env,
    head,
    run_measured,
    typed_schema,
    write_upload,
)

SECTION = "validation"
ROWS = int(os.environ.get("BENCH_VALIDATION_ROWS", "1000000"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))
FRICTIONLESS_ROWS = int(os.environ.get("BENCH_FRICTIONLESS_ROWS", "50000"))
#: upload sizes of the memory series (normalised layout, the CLI once each)
MEMORY_SIZES = tuple(int(n) for n in os.environ.get(
    "BENCH_VALIDATION_SIZES", "500000,1000000,2000000,5000000").split(",") if n)
WARMUP_ROWS = 100
VISITAS = Path(sys.executable).parent / "visitas"
#: frictionless's error type → ours on the same cell (ours names what is wrong in the
#: register's terms where frictionless only says the cell is not of its type)
TYPE_MAP = {"type-error": {"invalid-date", "invalid-time", "constraint-error"},
            "constraint-error": {"constraint-error"}}
TARGETS = {NORMALISED: 50, OFFICIAL: 25}
MEMORY_TARGET_MIB = 1536
FLAT_GROWTH = 1.10


# ------------------------------------------------------------------ measured in a child


def _child(kind: str, layout: str, path: str, warmup: str) -> dict[str, object]:
    """Run one tool on `path` after a warm-up on `warmup`; only that tool is imported."""
    if kind == "ours":
        from pipeline.validation.upload import upload_schemas, validate_file

        schemas = upload_schemas(ROOT / "schemas")

        def task(file: str) -> tuple[int, int]:
            report = validate_file(Path(file), Path(file).name, schemas)
            return report.rows, report.error_count
    elif kind == "frictionless":
        import frictionless

        schema = frictionless.Schema.from_descriptor(typed_schema(layout))

        def task(file: str) -> tuple[int, int]:
            with frictionless.system.use_context(trusted=True):
                report = frictionless.Resource(file, schema=schema).validate(
                    limit_errors=10**9)
            return report.tasks[0].stats["rows"], len(report.tasks[0].errors)
    elif kind == "scan":
        import duckdb

        con = duckdb.connect()

        def task(file: str) -> tuple[int, int]:
            source = f"read_csv('{file}', all_varchar=true, header=true)"
            names = [r[0] for r in con.sql(f"DESCRIBE SELECT * FROM {source}").fetchall()]
            touched = ", ".join(f'sum(length("{n}"))' for n in names)
            return con.sql(f"SELECT count(*), {touched} FROM {source}").fetchone()[0], 0
    elif kind == "errors":
        return _errors(layout, path)
    else:
        raise ValueError(kind)
    task(warmup)  # imports, plugin discovery, connections: start-up, not per-row work
    started = time.perf_counter()
    rows, errors = task(path)
    seconds = time.perf_counter() - started
    return {"rows": rows, "errors": errors, "seconds": seconds, "maxrss_mb": peak_rss_mib()}


def _errors(layout: str, path: str) -> dict[str, object]:
    """Every error both tools find in `path`: [rowNumber, fieldName, type] each."""
    import frictionless

    from pipeline.validation.upload import upload_schemas, validate_file

    report = validate_file(Path(path), Path(path).name, upload_schemas(ROOT / "schemas"),
                           error_limit=10**9)
    ours = report.flatten(("rowNumber", "fieldName", "type"))
    schema = frictionless.Schema.from_descriptor(typed_schema(layout))
    with frictionless.system.use_context(trusted=True):
        theirs = frictionless.Resource(path, schema=schema).validate(limit_errors=10**9)
    return {"ours": ours, "frictionless": theirs.flatten(["rowNumber", "fieldName", "type"]),
            "rows": report.rows}


def _in_child(kind: str, layout: str, path: Path, warmup: Path) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-m", "benchmarks.validation", kind, layout, str(path),
                          str(warmup)], capture_output=True, text=True, cwd=ROOT,
                         env=bench_env())
    if out.returncode:
        raise RuntimeError(f"{kind} {layout}: {out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _cli(path: Path, rows: int, **env: str) -> dict[str, object]:
    """`visitas validate FILE --json > /dev/null`, timed from the outside."""
    r = run_measured([str(VISITAS), "validate", str(path), "--json"], env=bench_env(**env))
    if r["code"] not in (0, 1):  # 1: the upload has errors, as these do on purpose
        raise RuntimeError(f"visitas validate {path}: exit {r['code']}: {r['stderr']}")
    return {**r, "rows": rows}


# ------------------------------------------------------------------ the parent


def _summary(runs: list[dict[str, object]]) -> dict[str, float]:
    seconds = [float(r["seconds"]) for r in runs]
    return {"rows": float(runs[0]["rows"]), "best": min(seconds),
            "median": statistics.median(seconds),
            "maxrss_mb": max(float(r["maxrss_mb"]) for r in runs)}


def _cell(cell: tuple[int | None, str | None]) -> tuple[int, str]:
    return cell[0] or 0, cell[1] or ""


def compare(found: dict[str, object]) -> dict[str, object]:
    """Cells flagged by each tool, the cells both flag, and how their error types pair up."""
    ours = {(r, f): t for r, f, t in found["ours"]}
    theirs = {(r, f): t for r, f, t in found["frictionless"]}
    both = ours.keys() & theirs.keys()
    pairs = Counter((theirs[c], ours[c]) for c in both)
    mapped = all(o in TYPE_MAP.get(t, {t}) for t, o in pairs)
    return {"ours": len(ours), "frictionless": len(theirs), "both": len(both),
            "only_ours": sorted(ours.keys() - both, key=_cell)[:5], "only_frictionless":
            sorted(theirs.keys() - both, key=_cell)[:5], "pairs": pairs,
            "rows_ours": len({r for r, _ in ours}), "rows_frictionless": len({r for r, _ in theirs}),
            "same": ours.keys() == theirs.keys() and mapped,
            "by_field": Counter(f for _, f in both)}


def measure() -> dict[str, object]:
    results: dict[str, object] = {"layouts": {}, "memory": {}, "sizes": {}}
    with tempfile.TemporaryDirectory(prefix="bench-validation-") as tmp:
        for layout in LAYOUTS:
            path = Path(tmp) / f"{layout}-{ROWS}.csv"
            write_upload(path, ROWS, layout)
            prefix, warmup = Path(tmp) / f"{layout}-prefix.csv", Path(tmp) / f"{layout}-warmup.csv"
            head(path, prefix, FRICTIONLESS_ROWS)
            head(path, warmup, WARMUP_ROWS)
            runs: dict[str, list[dict[str, object]]] = {k: [] for k in
                                                        ("cli", "ours", "frictionless", "scan")}
            for _ in range(REPEATS):  # interleaved: other jobs' load falls on every tool alike
                runs["cli"].append(_cli(path, ROWS))
                runs["ours"].append(_in_child("ours", layout, path, warmup))
                runs["frictionless"].append(_in_child("frictionless", layout, prefix, warmup))
                runs["scan"].append(_in_child("scan", layout, path, warmup))
            errors = _in_child("errors", layout, prefix, warmup)
            results["layouts"][layout] = {
                "runs": {k: _summary(v) for k, v in runs.items()},
                "errors_found": runs["ours"][0]["errors"], "compare": compare(errors),
                "mib": path.stat().st_size / 2**20}
            path.unlink()
        for rows in MEMORY_SIZES:
            path = Path(tmp) / f"memory-{rows}.csv"
            write_upload(path, rows, NORMALISED)
            # the CLI rejects unread what ingestion would (VISITAS_MAX_UPLOAD_MB, a policy);
            # raised here so that files of any size are read
            r = _cli(path, rows, VISITAS_MAX_UPLOAD_MB="100000")
            results["memory"][rows] = {**_summary([r]), "mib": path.stat().st_size / 2**20}
            path.unlink()
    return results


def rate(s: dict[str, float], key: str = "best") -> float:
    return s["rows"] / s[key]


LABELS = {"cli": "`visitas validate FILE --json` (subprocess, wall time incl. start-up)",
          "ours": "`validate_file` in process, after warm-up",
          "frictionless": "frictionless-py, typed schema, in process, after warm-up",
          "scan": "DuckDB plain scan (`read_csv`, all columns as text, every column touched)"}


def render(results: dict[str, object], started: float, before: str) -> str:
    import duckdb
    import frictionless

    lines = [
        "## Validation of one upload (`benchmarks/validation.py`)",
        "",
        f"Command: `make bench` (`python -m benchmarks validation`). Measured "
        f"{time.strftime('%Y-%m-%d')}; the section took {(time.perf_counter() - started) / 60:.0f} "
        f"min. duckdb {duckdb.__version__}, frictionless {frictionless.__version__}.",
        f"Machine at the start: {before}.",
        f"Machine at the end: {machine_line()}.",
        "",
        f"Uploads: seeded CSVs of {ROWS:,} visits generated by DuckDB "
        "(`benchmarks/_uploads.py`): 300 days sorted by day, 4,000 visitors, 50 officials, a "
        "few dozen reasons and rooms, and 3 rows in 1,000 broken — an impossible date "
        "(31/02/2024), a malformed entry time (`8h15`, `25:70`), an empty required cell "
        "(visitor or official), an over-long cell (> 1,000 characters). Every other cell also "
        "passes the register's domain rules. `upload-normalizado`: the "
        f"{len(typed_schema(NORMALISED)['fields'])} columns of its schema, one fact each "
        "(the visited entity's RUC and name included); "
        "`upload-oficial`: the 12 official columns, with the composite document, visitor's "
        "entity, official and reason.",
        "",
        "frictionless-py gets the upload schema with dates as `type: date, format: %d/%m/%Y` "
        "and times as `type: time, format: %H:%M`, `required` and `maxLength` unchanged, and "
        "the official layout's composite fields as strings. It is measured on the first "
        f"{FRICTIONLESS_ROWS:,} rows of the same file (its per-row rate; the whole file would "
        "take minutes per run), in process after a warm-up; so is `validate_file`, on the whole "
        f"file. Times are the best and the median of {REPEATS} runs, the tools interleaved, "
        "each run in its own process; peak RSS is that process's own VmHWM (the CLI's is read "
        "from /proc while it runs).",
        "",
        "| layout | measurement | rows | best s | median s | rows/s (best) | rows/s (median) "
        "| peak RSS MiB |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for layout, res in results["layouts"].items():
        for kind, label in LABELS.items():
            s = res["runs"][kind]
            lines.append(f"| `{layout}` ({res['mib']:.0f} MiB) | {label} | {int(s['rows']):,} | "
                         f"{s['best']:.2f} | {s['median']:.2f} | {rate(s):,.0f} | "
                         f"{rate(s, 'median'):,.0f} | {s['maxrss_mb']:.0f} |")
    lines += ["", "Ratios (rows/s; best run of each, then medians):", ""]
    for layout, res in results["layouts"].items():
        r = res["runs"]
        fr, scan = rate(r["frictionless"]), rate(r["scan"])
        cli, ours = rate(r["cli"]), rate(r["ours"])
        med = {k: rate(r[k], "median") for k in r}
        target = TARGETS[layout]
        met = "met" if cli / fr >= target else "NOT met"
        lines += [
            f"- **`{layout}`: target ≥ {target}× frictionless-py — {met}**: the CLI end to end "
            f"is **{cli / fr:,.1f}×** frictionless-py's rate ({med['cli'] / med['frictionless']:,.1f}× "
            f"from the medians); `validate_file` in process {ours / fr:,.1f}× "
            f"({med['ours'] / med['frictionless']:,.1f}×). {target}× frictionless here is "
            f"{target * fr:,.0f} rows/s.",
            f"- `{layout}`: ours / DuckDB plain scan: CLI {cli / scan:.2f}, in process "
            f"{ours / scan:.2f} of the scan's rate (medians: {med['cli'] / med['scan']:.2f}, "
            f"{med['ours'] / med['scan']:.2f}).",
        ]
    lines += ["", "**Same errors found** (on the prefix: the set of (rowNumber, fieldName) each "
              "tool flags, and how the error types pair up on the cells both flag). frictionless "
              "reports a cell that does not parse as its type as `type-error`; ours names the "
              "register's reason: an impossible date is `invalid-date`, an out-of-range time "
              "`invalid-time`, a time off the upload schema's pattern `constraint-error` "
              "(pattern); empty required and over-long cells are `constraint-error` in both.", ""]
    for layout, res in results["layouts"].items():
        c = res["compare"]
        pairs = ", ".join(f"{t} → {o}: {n}" for (t, o), n in sorted(c["pairs"].items()))
        fields = ", ".join(f"{f} {n}" for f, n in sorted(c["by_field"].items()))
        verdict = "**yes**" if c["same"] else "**NO**"
        extra = ""
        if not c["same"]:
            extra = (f" Only ours (first): {c['only_ours']}; only frictionless (first): "
                     f"{c['only_frictionless']}.")
        lines.append(f"- `{layout}`: {verdict} — {c['ours']:,} cells in {c['rows_ours']:,} rows "
                     f"flagged by ours, {c['frictionless']:,} cells in "
                     f"{c['rows_frictionless']:,} rows by frictionless, {c['both']:,} by both. "
                     f"Types (frictionless → ours): {pairs}. Fields: {fields}.{extra}")
    lines += ["", "**Memory flat in the size of the upload** (`upload-normalizado`, the CLI once "
              "per size; `VISITAS_MAX_UPLOAD_MB` raised, a policy the CLI applies as ingestion "
              "does):", "",
              "| rows | file MiB | wall s | rows/s | peak RSS MiB |", "|---:|---:|---:|---:|---:|"]
    memory = results["memory"]
    for rows, s in memory.items():
        lines.append(f"| {rows:,} | {s['mib']:.0f} | {s['best']:.1f} | {rate(s):,.0f} | "
                     f"{s['maxrss_mb']:.0f} |")
    if len(memory) >= 2:
        from pipeline.validation.driver import CHUNK_ROWS

        peaks = [s["maxrss_mb"] for s in memory.values()]
        sizes = list(memory)
        # flat: the two largest uploads peak within FLAT_GROWTH of each other; smaller ones
        # may peak lower, when the whole file is less than the chunks the driver holds
        growth = peaks[-1] / peaks[-2]
        met = max(peaks) <= MEMORY_TARGET_MIB and growth <= FLAT_GROWTH
        steps = ", ".join(f"{p:.0f} MiB at {n / 1e6:g}M" for n, p in zip(sizes, peaks,
                                                                         strict=True))
        lines += ["", f"- **Target ≤ {MEMORY_TARGET_MIB / 1024:.1f} GB and flat — "
                  f"{'met' if met else 'NOT met'}**: peak RSS {steps} rows; from "
                  f"{sizes[-2]:,} to {sizes[-1]:,} rows (×{sizes[-1] / sizes[-2]:.1f}) it "
                  f"grows ×{growth:.2f} (flat: ≤ ×{FLAT_GROWTH}). The driver holds up to about "
                  f"three chunks of {CHUNK_ROWS:,} rows, so uploads smaller than that peak "
                  "lower."]
    return "\n".join(lines)


def run() -> str:
    started = time.perf_counter()
    before = machine_line()
    return render(measure(), started, before)


if __name__ == "__main__":
    if len(sys.argv) == 5:
        print(json.dumps(_child(*sys.argv[1:5]), default=list))
    else:
        print(run())
