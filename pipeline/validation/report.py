"""A typed validation report in the Frictionless report shape, plus a Spanish summary."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pipeline.spanish import plural
from pipeline.validation.errors import ERROR_TYPES, render

DEFAULT_ERROR_LIMIT = 1000
#: the errors of a file that could not be read as a table
UNREADABLE_TYPES = frozenset({"source-error", "format-error", "encoding-error"})
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
    #: records that repeat an earlier one cell for cell (each visit publishes once)
    duplicate_rows: int = 0
    seconds: float = 0.0
    error_limit: int = DEFAULT_ERROR_LIMIT
    #: an upload of visits (rejected rows are quarantined); False for any table against any
    #: schema (`visitas validate --schema`), whose records are rows
    upload: bool = True
    #: the header as the file has it, and the column (1-based) each field was read from
    labels: list[str] = field(default_factory=list)
    field_columns: dict[str, int] = field(default_factory=dict)
    #: the layout of the entity's mapping the file was read with ('' without one)
    layout: str = ""

    @property
    def valid(self) -> bool:
        return self.error_count == 0

    @property
    def readable(self) -> bool:
        """False when the file could not be read as a table with the expected columns: none
        of its rows goes on (a required column missing or another entity's file included)."""
        return not any(ERROR_TYPES[e.type].scope in ("table",) or e.type == "missing-label"
                       for e in self.errors)

    @property
    def unreadable(self) -> bool:
        """The file could not be read as a table at all (empty, damaged, not a table, too
        large); a file read whose header or entity is wrong is invalid, not unreadable."""
        return any(e.type in UNREADABLE_TYPES for e in self.errors)

    @property
    def exit_code(self) -> int:
        """`visitas validate`'s: 0 valid, 1 invalid, 2 unreadable."""
        return 0 if self.valid else 2 if self.unreadable else 1

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
                "labels": list(self.labels),
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
                    "filasRepetidas": self.duplicate_rows,
                    "erroresOmitidos": max(0, self.error_count - len(self.errors)),
                    "erroresOmitidosPorTipo": self.omitted_by_type(),
                    **({"formatoFuente": self.layout} if self.layout else {}),
                },
            }],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    def detailed_by_type(self) -> dict[str, list[ReportError]]:
        """The detailed errors by type: types in the order they first appear, then the types
        with no detailed error (beyond the limit), most frequent first."""
        by_type: dict[str, list[ReportError]] = {}
        for error in self.errors:
            by_type.setdefault(error.type, []).append(error)
        for kind, _ in sorted(self.counts_by_type.items(), key=lambda kv: (-kv[1], kv[0])):
            by_type.setdefault(kind, [])
        return by_type

    def omitted_by_type(self) -> dict[str, int]:
        """Per type, the errors counted but not detailed (types with none left out omitted)."""
        detailed = Counter(e.type for e in self.errors)
        return {kind: n - detailed[kind] for kind, n in sorted(self.counts_by_type.items())
                if n > detailed[kind]}

    def verdict_es(self) -> str:
        """One sentence: valid or not, and what becomes of the rows."""
        noun = ("visita", "visitas") if self.upload else ("fila", "filas")
        if self.valid:
            if self.upload and not self.valid_rows:
                return "válido, pero no tiene ninguna visita que publicar."
            if self.duplicate_rows:
                distinct = self.valid_rows - self.duplicate_rows
                return (f"válido. {plural(self.valid_rows, 'fila válida', 'filas válidas')}, "
                        f"{plural(distinct, 'visita distinta', 'visitas distintas')}, "
                        f"{'lista' if distinct == 1 else 'listas'} para publicar.")
            if not self.upload:
                meets = "cumple" if self.valid_rows == 1 else "cumplen"
                return f"válido. {plural(self.valid_rows, 'fila', 'filas')} {meets} el esquema."
            ready = "lista" if self.valid_rows == 1 else "listas"
            return f"válido. {plural(self.valid_rows, *noun)} {ready} para publicar."
        if self.unreadable:
            return "no se pudo leer el archivo."
        if not self.readable:
            rows = ("ninguna de sus filas sigue su curso" if self.rows != 1
                    else "su fila no sigue su curso")
            missing = self.counts_by_type.get("missing-label", 0)
            if missing:
                why = ("le falta una columna obligatoria" if missing == 1 else
                       f"le faltan {missing} columnas obligatorias")
            else:
                why = "es de otra entidad"
            return f"el archivo se leyó, pero {why}: {rows}."
        return f"{self.errors_es()}; {self.rows_outcome_es()}."

    def errors_es(self) -> str:
        return (f"{plural(self.error_count, 'error', 'errores')} en "
                f"{plural(self.rejected_rows, 'fila', 'filas')}")

    def rows_outcome_es(self) -> str:
        """What becomes of the rows of a file read with errors (no final stop)."""
        if not self.upload:
            return (f"{plural(self.valid_rows, 'fila cumple', 'filas cumplen')} el esquema"
                    if self.valid_rows else "ninguna fila cumple el esquema")
        rejected = (f"{'la fila' if self.rejected_rows == 1 else 'las filas'} con errores "
                    f"{'queda' if self.rejected_rows == 1 else 'quedan'} en cuarentena")
        if not self.valid_rows:
            return f"ninguna visita es válida y {rejected}"
        go = "seguirá" if self.valid_rows == 1 else "seguirán"
        return (f"{plural(self.valid_rows, 'visita válida', 'visitas válidas')} {go} su curso "
                f"y {rejected}")

    def summary_es(self, examples: int = 3) -> str:
        """A short human report in Spanish for the entity's administrator: every error type
        with its count, a few examples of each, and how many are not shown."""
        name = self.place.rsplit("/", 1)[-1]
        lines = [f"{'✔' if self.valid else '✘'} {name}: {self.verdict_es()}"]
        if self.placeholder_rows:
            lines.append(f"  {self.placeholder_rows} filas de 'No se recibieron visitas' omitidas."
                         if self.placeholder_rows > 1 else
                         "  1 fila de 'No se recibieron visitas' omitida.")
        lines.extend(f"  ⚠ {warning}" for warning in self.warnings)
        for kind, detailed in self.detailed_by_type().items():
            total = self.counts_by_type.get(kind, len(detailed))
            spec = ERROR_TYPES[kind]
            lines.append(f"  • {spec.title} [{kind}] — {plural(total, 'caso', 'casos')}."
                         f" Cómo corregir: {spec.fix}")
            shown = detailed[:examples]
            lines.extend(f"      {error.message}" for error in shown)
            lines.append(f"      {self.not_shown_es(len(shown), total)}" if total > len(shown)
                         else "")
        omitted = self.error_count - len(self.errors)
        if omitted > 0:
            lines.append(f"  El reporte detalla {len(self.errors)} de los {self.error_count} "
                         f"errores (límite de errores detallados: {self.error_limit}); los "
                         "conteos incluyen todos.")
        return "\n".join(line for line in lines if line)

    def not_shown_es(self, shown: int, total: int, *, of_type: bool = False) -> str:
        """What is left out of a type's examples, in a sentence."""
        if shown:
            left = total - shown
            return (f"… y {plural(left, 'caso más', 'casos más')}"
                    f"{' de este tipo' if of_type else ''} que no se "
                    f"{'muestra' if left == 1 else 'muestran'}.")
        first = ("el primer error" if self.error_limit == 1 else
                 f"los primeros {self.error_limit} errores")
        return f"Ningún caso detallado: el reporte detalla solo {first} del archivo."
