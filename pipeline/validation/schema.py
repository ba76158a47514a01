"""Table Schemas are JSON descriptors in `schemas/`; code loads them and never restates them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from pipeline.sources.readers import fold


@dataclass(frozen=True)
class Field:
    name: str
    type: str = "string"
    format: str = "default"
    title: str = ""
    description: str = ""
    constraints: dict[str, Any] = field(default_factory=dict)
    #: the field's whole descriptor (trueValues, bareNumber, decimalChar, …)
    descriptor: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def required(self) -> bool:
        return bool(self.constraints.get("required"))


@dataclass(frozen=True)
class TableSchema:
    name: str
    fields: tuple[Field, ...]
    missing_values: tuple[str, ...] = ("",)
    primary_key: tuple[str, ...] = ()
    descriptor: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def match_labels(self, labels: list[str]) -> int:
        """How many of this schema's field names appear among the labels (loosely)."""
        folded = {fold(label) for label in labels}
        return sum(1 for f in self.fields if fold(f.name) in folded)


def schema_from_descriptor(descriptor: dict[str, Any], name: str = "schema") -> TableSchema:
    fields = tuple(
        Field(
            name=f["name"],
            type=f.get("type", "string"),
            format=f.get("format", "default"),
            title=f.get("title", ""),
            description=f.get("description", ""),
            constraints=dict(f.get("constraints", {})),
            descriptor=dict(f),
        )
        for f in descriptor["fields"]
    )
    pk = descriptor.get("primaryKey", ())
    return TableSchema(
        name=name,
        fields=fields,
        missing_values=tuple(descriptor.get("missingValues", [""])),
        primary_key=(pk,) if isinstance(pk, str) else tuple(pk),
        descriptor=descriptor,
    )


@cache
def load_schema(path: Path) -> TableSchema:
    descriptor = json.loads(Path(path).read_text(encoding="utf-8"))
    return schema_from_descriptor(descriptor, Path(path).name.removesuffix(".schema.json"))
