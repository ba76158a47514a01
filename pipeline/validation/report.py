"""A typed validation report in the Frictionless report shape, plus a Spanish summary."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pipeline.spanish import plural
from pipeline.validation.errors import ERROR_TYPES, render

DEFAULT_ERROR_LIMIT = 1000
#: characters of a cell quoted in a report; a longer cell is cut and its length given
QUOTE_CHARS = 200


@dataclass
class ReportError:
    type: str
    rowNumber: int | None = None  # Frictionless's own key names
    fieldName: str | None = None
    fieldNumber: int | None = None
    cell: str | None = None
    note: str = ""
    #: the cell's length when `cell` quotes only its first characters
    cellLength: int | None = None

    def __post_init__(self) -> None:
        if self.cell is not None and self.cellLength is None and len(self.cell) > QUOTE_CHARS:
            self.cell, self.cellLength = self.cell[:QUOTE_CHARS], len(self.cell)

    @property
    def title(self) -> str:
        return ERROR_TYPES[self.type].title

    @property
    def message(self) -> str:
        slots = dict(self.__dict__)
        if self.cellLength is not None:
            slots["cell"] = f"{self.cell}…"
        message = render(self.type, slots)
        if self.cellLength is not None:
            message += (f" (La celda tiene {self.cellLength:,} caracteres; se muestran los "
                        f"primeros {QUOTE_CHARS}.)").replace(",", ".")
        return message

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "description": ERROR_TYPES[self.type].fix,
            "message": self.message,
            "tags": ["#table", "#row", "#cell"] if self.rowNumber else ["#table", "#header"],
            "note": self.note,
        }
        for key in ("rowNumber", "fieldName", "fieldNumber", "cell", "cellLength"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data


@dataclass
class Report:
    """Validation outcome of one batch (one uploaded file)."""

    place: str
    rows: int = 0
    bytes: int = 0
    sha256: str = ""
    schema: str = ""
    errors: list[ReportError] = field(default_factory=list)
    #: what deserves the administrator's attention without rejecting anything (Spanish)
    warnings: list[str] = field(default_factory=list)
    #: counts over ALL errors, also those beyond the error limit
    error_count: int = 0
    counts_by_type: dict[str, int] = field(default_factory=dict)
    counts_by_field: dict[str, int] = field(default_factory=dict)
    rejected_rows: int = 0
    valid_rows: int = 0
    placeholder_rows: int = 0
    seconds: float = 0.0
    error_limit: int = DEFAULT_ERROR_LIMIT
    #: False for any table checked against any Table Schema (`visitas validate --schema`): its
    #: rows are rows, not visits, and nothing goes on to publication or quarantine
    rows_are_visits: bool = True

    @property
    def valid(self) -> bool:
        return self.error_count == 0

    @property
    def readable(self) -> bool:
        """False when the file could not be read as a table with the expected columns."""
        return not any(ERROR_TYPES[e.type].scope in ("table",) or e.type == "missing-label"
                       for e in self.errors)

    def add(self, error: ReportError) -> None:
        self.error_count += 1
        self.counts_by_type[error.type] = self.counts_by_type.get(error.type, 0) + 1
        if error.fieldName:
            self.counts_by_field[error.fieldName] = self.counts_by_field.get(error.fieldName, 0) + 1
        if len(self.errors) < self.error_limit:
            self.errors.append(error)

    def record(self, examples: list[ReportError], counts: list[tuple[str, str | None, int]]) -> None:
        """Add a batch's errors: the first examples in full, and counts over all of them."""
        room = max(0, self.error_limit - len(self.errors))
        self.errors.extend(examples[:room])
        for kind, field_name, n in counts:
            self.error_count += n
            self.counts_by_type[kind] = self.counts_by_type.get(kind, 0) + n
            if field_name:
                self.counts_by_field[field_name] = self.counts_by_field.get(field_name, 0) + n

    def flatten(self, spec: tuple[str, ...] = ("rowNumber", "fieldName", "type")) -> list[list[Any]]:
        """[[rowNumber, fieldName, type], …] as in frictionless's `report.flatten()`."""
        return [[getattr(e, key) for key in spec] for e in self.errors]

    def to_dict(self) -> dict[str, Any]:
        errors = [e.to_dict() for e in self.errors]
        stats = {
            "errors": self.error_count,
            "warnings": len(self.warnings),
            "seconds": round(self.seconds, 3),
            "rows": self.rows,
            "bytes": self.bytes,
            "sha256": self.sha256,
        }
        return {
            "valid": self.valid,
            "stats": {**stats, "tasks": 1},
            "warnings": [],
            "errors": [],
            "tasks": [{
                "name": self.place.rsplit("/", 1)[-1],
                "type": "table",
                "valid": self.valid,
                "place": self.place,
                "labels": [],
                "stats": stats,
                "warnings": list(self.warnings),
                "errors": errors,
                "schema": self.schema,
                "summary": {
                    "filasLeidas": self.rows,
                    "filasValidas": self.valid_rows,
                    "filasRechazadas": self.rejected_rows,
                    "filasSinVisitas": self.placeholder_rows,
                    "erroresPorTipo": dict(sorted(self.counts_by_type.items())),
                    "erroresPorColumna": dict(sorted(self.counts_by_field.items())),
                    "erroresOmitidos": max(0, self.error_count - len(self.errors)),
                },
            }],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    def summary_es(self, examples: int = 3) -> str:
        """A short human report in Spanish for the entity's administrator."""
        name = self.place.rsplit("/", 1)[-1]
        lines = []
        if not self.rows_are_visits and self.readable:
            meets = "cumple" if self.valid_rows == 1 else "cumplen"
            lines.append(
                f"✔ {name}: válido. {plural(self.valid_rows, 'fila', 'filas')} {meets} el esquema."
                if self.valid else
                f"✘ {name}: {plural(self.error_count, 'error', 'errores')} en "
                f"{plural(self.rejected_rows, 'fila', 'filas')}; "
                f"{plural(self.valid_rows, 'fila cumple', 'filas cumplen')} el esquema.")
        elif self.valid:
            ready = "lista" if self.valid_rows == 1 else "listas"
            lines.append(f"✔ {name}: válido. {plural(self.valid_rows, 'visita', 'visitas')} "
                         f"{ready} para publicar.")
        elif not self.readable:
            lines.append(f"✘ {name}: no se pudo procesar el archivo.")
        else:
            go = "seguirá" if self.valid_rows == 1 else "seguirán"
            stay = "queda" if self.rejected_rows == 1 else "quedan"
            lines.append(
                f"✘ {name}: {plural(self.error_count, 'error', 'errores')} en "
                f"{plural(self.rejected_rows, 'fila', 'filas')}; "
                f"{plural(self.valid_rows, 'visita válida', 'visitas válidas')} {go} su curso y "
                f"{'la fila' if self.rejected_rows == 1 else 'las filas'} con errores {stay} en "
                "cuarentena."
            )
        if self.placeholder_rows:
            lines.append(f"  {self.placeholder_rows} filas de 'No se recibieron visitas' omitidas."
                         if self.placeholder_rows > 1 else
                         "  1 fila de 'No se recibieron visitas' omitida.")
        lines.extend(f"  ⚠ {warning}" for warning in self.warnings)
        shown: Counter[str] = Counter()
        for error in self.errors:
            if shown[error.type] >= examples:
                continue
            if shown[error.type] == 0:
                total = self.counts_by_type.get(error.type, 0)
                spec = ERROR_TYPES[error.type]
                lines.append(f"  • {spec.title} [{error.type}] — {plural(total, 'caso', 'casos')}."
                             f" Cómo corregir: {spec.fix}")
            shown[error.type] += 1
            lines.append(f"      {error.message}")
        return "\n".join(lines)
