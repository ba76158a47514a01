"""Header checks: which schema the upload follows, and Frictionless label errors."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.sources.readers import column_names, fold
from pipeline.validation.schema import TableSchema


@dataclass
class LabelResult:
    #: schema field name -> internal column holding it
    mapping: dict[str, str]
    #: Frictionless-shaped label errors: (type, fieldName, fieldNumber, label)
    errors: list[tuple[str, str | None, int | None, str | None]]

    @property
    def blocking(self) -> bool:
        """A batch missing a required column cannot be read as visits at all."""
        return any(t == "missing-label" for t, *_ in self.errors)


def choose_schema(labels: list[str], schemas: list[TableSchema]) -> TableSchema:
    """The upload format whose columns best match the header (first one on a tie)."""
    return max(schemas, key=lambda s: s.match_labels(labels))


def check_labels(labels: list[str], schema: TableSchema) -> LabelResult:
    """Match labels to fields by name, loosely (case, accents, spaces, '_').

    Columns may come in any order. A missing optional column is reported but does not block:
    its cells are treated as empty.
    """
    by_fold = {fold(f.name): f for f in schema.fields}
    required = {f.name for f in schema.fields if f.required}
    mapping: dict[str, str] = {}
    errors: list[tuple[str, str | None, int | None, str | None]] = []
    for number, (label, column) in enumerate(zip(labels, column_names(labels), strict=True), 1):
        if not label.strip():
            errors.append(("blank-label", None, number, label))
            continue
        match = by_fold.get(fold(label))
        if match is None:
            errors.append(("extra-label", None, number, label))
        elif match.name in mapping:
            errors.append(("duplicate-label", match.name, number, label))
        else:
            mapping[match.name] = column
    for number, f in enumerate(schema.fields, 1):
        if f.name not in mapping:
            kind = "missing-label" if f.name in required else "missing-label-optional"
            errors.append((kind, f.name, number, None))
    return LabelResult(mapping, errors)
