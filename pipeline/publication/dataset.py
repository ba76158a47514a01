"""Metadata of each published dataset, declared in `datasets/<name>.yaml`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class DatasetMeta:
    name: str
    table: str
    title: str
    description: str
    schema_path: Path
    licence: dict[str, str]
    keywords: list[str]
    publisher: dict[str, str]
    extra: dict[str, Any] = field(default_factory=dict)
    #: the schema as published when a policy changes it (e.g. personal data); else the file's
    schema_override: dict[str, Any] | None = None
    #: datasets published in the same release, each with its own schema and resources
    #: (the compliance table, `cumplimiento`, beside `visitas`)
    companions: tuple[DatasetMeta, ...] = ()

    @property
    def schema(self) -> dict[str, Any]:
        if self.schema_override is not None:
            return self.schema_override
        return json.loads(self.schema_path.read_text(encoding="utf-8"))


def load_dataset(datasets_dir: Path, table: str) -> DatasetMeta:
    path = datasets_dir / f"{table}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    known = {"name", "table", "title", "description", "schema", "licence", "keywords", "publisher"}
    return DatasetMeta(
        name=data["name"],
        table=data["table"],
        title=data["title"],
        description=data["description"],
        schema_path=datasets_dir.parent / data["schema"],
        licence=data["licence"],
        keywords=list(data.get("keywords", [])),
        publisher=data["publisher"],
        extra={k: v for k, v in data.items() if k not in known},
    )
