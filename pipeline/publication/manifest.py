"""The manifest of a release (`releases/<id>/release.json`): what it holds and why.

Written last inside the release directory, create-only: its presence is what makes a release
complete. It records every file (path, bytes, sha256, rows, partition) and the content hash
of every partition, which the next release compares against to rewrite only what changed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

MEDIATYPES = {
    "csv": "text/csv",
    "csv.gz": "application/gzip",
    "json": "application/json",
    "parquet": "application/vnd.apache.parquet",
    "duckdb": "application/vnd.duckdb",
    "md": "text/markdown",
    "jsonld": "application/ld+json",
    "html": "text/html",
}


@dataclass(frozen=True)
class ReleaseFile:
    path: str  # relative to the release directory
    format: str
    bytes: int
    sha256: str
    rows: int | None = None
    partition: str = ""

    @property
    def mediatype(self) -> str:
        return MEDIATYPES.get(self.format, "application/octet-stream")


@dataclass
class Manifest:
    id: str
    dataset: str
    created: str
    previous: str | None
    schema_hash: str
    rows: int
    months: dict[str, dict[str, Any]]
    years: dict[str, dict[str, Any]]
    files: list[ReleaseFile] = field(default_factory=list)
    #: what the release covers, for its landing page (see `overview`); empty in releases
    #: cut before it was recorded
    overview: dict[str, Any] = field(default_factory=dict)
    #: size and sha256 of the monthly CSVs read as one multi-part resource (see
    #: `pipeline.publication.whole`); None in releases from before it or without rows
    csv_stream: dict[str, Any] | None = None
    #: fingerprint of the compliance table and sha256 of its schema
    #: (`pipeline.publication.compliance`): a release is cut when they change, even if no
    #: visit did; None without compliance
    compliance: dict[str, Any] | None = None
    #: the other tables published whole (the lobbying datasets), by table: fingerprint,
    #: schema sha256 and rows, as for compliance; None in releases without them
    tables: dict[str, Any] | None = None
    #: what the release says of itself as a version of each dataset it publishes, by dataset
    #: name (`pipeline.publication.published.Version`); empty in releases cut before it
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> bytes:
        data = asdict(self)
        return json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        data = json.loads(raw)
        data["files"] = [ReleaseFile(**f) for f in data["files"]]
        return cls(**data)

    def file(self, path: str) -> ReleaseFile | None:
        return next((f for f in self.files if f.path == path), None)

    @property
    def data_files(self) -> list[ReleaseFile]:
        return [f for f in self.files if f.partition]
