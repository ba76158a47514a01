"""Read a published tree the way a harvester would: through latest/, into the served release."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path


def release_dir(publish_dir: Path) -> Path:
    """The release folder `latest/` serves."""
    manifest = json.loads((publish_dir / "latest" / "release.json").read_text("utf-8"))
    return publish_dir / "releases" / manifest["id"]


def parquet_glob(publish_dir: Path) -> str:
    return str(release_dir(publish_dir) / "visitas" / "parquet" / "anio=*" / "*.parquet")


def data_files(publish_dir: Path) -> dict[str, bytes]:
    """Every CSV, JSON and Parquet data file of the served release, by relative path."""
    root = release_dir(publish_dir) / "visitas"
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def csv_rows(publish_dir: Path) -> list[dict[str, str]]:
    """The rows of every monthly CSV, month by month."""
    rows: list[dict[str, str]] = []
    for path in sorted((release_dir(publish_dir) / "visitas" / "csv").glob("*.csv")):
        rows.extend(csv.DictReader(io.StringIO(path.read_text("utf-8"))))
    return rows
