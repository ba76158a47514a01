"""Header checks: which schema a file follows, how its columns meet the schema's fields, and
Frictionless label errors.

Two ways to read a header:
- `positional` is Frictionless's own for a schema-driven CSV (`visitas validate --schema`):
  field N is column N, and labels must equal the field names exactly;
- `by_name` is the upload layouts': columns may come in any order and labels are matched
  loosely (case, accents, spaces, '_'); an optional column may be left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.sources.readers import column_names, fold
from pipeline.validation.driver import Target
from pipeline.validation.report import ReportError
from pipeline.validation.schema import TableSchema

#: the column of reasons in a CSV of rejected rows (`rejected.py`): an upload made from that
#: file, corrected, carries it; it is no column of the format, and no error either
REASONS_LABEL = "Errores de validación"


@dataclass
class Header:
    target: Target
    errors: list[ReportError]
    #: a required column is missing: the rows cannot be read as the schema's records
    blocking: bool = False


def choose_schema(labels: list[str], schemas: list[TableSchema]) -> TableSchema:
    """The upload layout whose columns best match the header (first one on a tie)."""
    return max(schemas, key=lambda s: s.match_labels(labels))


def positional(labels: list[str], schema: TableSchema) -> Header:
    """Header errors exactly as frictionless reports them for a schema-driven CSV."""
    errors: list[ReportError] = []
    names = schema.field_names
    seen: dict[str, int] = {}
    for number, label in enumerate(labels, 1):
        if number > len(names):
            errors.append(ReportError("extra-label", fieldName="", fieldNumber=number, cell=label))
            continue
        name = names[number - 1]
        if not label:
            errors.append(ReportError("blank-label", fieldName=name, fieldNumber=number, cell=label))
        elif label in seen:
            errors.append(ReportError("duplicate-label", fieldName=name, fieldNumber=number,
                                      cell=label, note=f'at position "{seen[label]}"'))
        elif label != name:
            errors.append(ReportError("incorrect-label", fieldName=name, fieldNumber=number,
                                      cell=label))
        seen.setdefault(label, number)
    for number in range(len(labels) + 1, len(names) + 1):
        errors.append(ReportError("missing-label", fieldName=names[number - 1], fieldNumber=number))
    # cells are checked against the field in the same position, up to the shorter of the two
    columns = column_names(len(labels))
    mapping = {f.name: columns[i] for i, f in enumerate(schema.fields[:len(labels)])}
    return Header(Target(schema, mapping, labels), errors)


def by_name(labels: list[str], schema: TableSchema) -> Header:
    """Match labels to fields by name, loosely; report what does not match.

    A missing optional column is no error: its cells are empty. A missing required column
    blocks the file. Cell errors are numbered by the column's position in the file.
    """
    by_fold = {fold(f.name): f for f in schema.fields}
    expected = f"columnas esperadas: {', '.join(schema.field_names)}"
    mapping: dict[str, str] = {}
    numbers: dict[str, int] = {}
    errors: list[ReportError] = []
    ignored = fold(REASONS_LABEL)
    for number, (label, column) in enumerate(zip(labels, column_names(len(labels)),
                                                 strict=True), 1):
        if fold(label) == ignored:
            continue
        if not label.strip():
            errors.append(ReportError("blank-label", fieldNumber=number, cell=label,
                                      note=expected))
            continue
        match = by_fold.get(fold(label))
        if match is None:
            errors.append(ReportError("extra-label", fieldNumber=number, cell=label,
                                      note=expected))
        elif match.name in mapping:
            errors.append(ReportError("duplicate-label", fieldName=match.name,
                                      fieldNumber=number, cell=label, note=expected))
        else:
            mapping[match.name] = column
            numbers[match.name] = number
    blocking = False
    for number, f in enumerate(schema.fields, 1):
        if f.name not in mapping and f.required:
            blocking = True
            errors.append(ReportError("missing-label", fieldName=f.name, fieldNumber=number,
                                      note=expected))
    return Header(Target(schema, mapping, labels, numbers), errors, blocking)
