"""The mapping language of an entity's `source:`: how its own columns or keys become the
columns of an upload layout (the 12 official ones or the normalised ones), so the existing
validation and normalisation do the rest. Documented with examples in docs/fuentes.md.

Parsed and checked once, when the registry is loaded: every mistake is a `MappingError`
naming the key to fix (`source.layouts[1].mapping.hora_ingreso.time_format`), which the
registry prefixes with the file's name.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import string
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from pipeline.normalization.project import NORMALISED, OFFICIAL, SCHEMAS_DIR
from pipeline.sources.readers.header import fold

#: the upload layouts a mapping may produce, as `into:` names them
TARGETS = {"oficial": OFFICIAL, "normalizado": NORMALISED}
TARGET_NAMES = {OFFICIAL: "formato oficial de 12 columnas",
                NORMALISED: "formato normalizado"}
#: every kind of source and the keys of `source:` it accepts besides the common ones. A new
#: kind (http, postgres, mysql) adds itself here with its own keys and check (see
#: `register_kind`); the mapping applies to whatever files or records it hands over.
COMMON_KEYS = ("kind", "mapping", "layouts")
LAYOUT_KEYS = ("name", "when_headers", "into", "records", "mapping")
ORIGINS = ("column", "template", "value", "from")
FIELD_KEYS = (*ORIGINS, "pattern", "split", "values", "default", "date_format", "time_format")
FROM_PLACES = ("title", "filename")
#: the name of the one layout of the short form `mapping: {…}`
SHORT_FORM_NAME = "principal"
#: files of other features found in the same places: never read through a visit mapping
RESERVED_PREFIXES = ("retiros", "decisores")


class MappingError(ValueError):
    """Raised by `parse_source` when an entity's `source:` is not valid; the message names
    the key to fix and says what it should hold, in Spanish."""


@dataclass(frozen=True)
class KindSpec:
    """What one kind of source accepts under `source:` besides the common keys."""

    keys: tuple[str, ...] = ()
    #: checks the kind's own keys; raises MappingError naming the key
    check: Any = None


SOURCE_KINDS: dict[str, KindSpec] = {"files": KindSpec()}


def register_kind(kind: str, spec: KindSpec) -> None:
    """Declare a kind of source (its own keys and their check), so registrations may use it."""
    SOURCE_KINDS[kind] = spec


@cache
def upload_fields(target: str) -> tuple[tuple[str, str, bool], ...]:
    """(name, type family, required) of each field of an upload layout, in order; the family
    is 'date', 'time' or 'text' (by what the normalisation parses the field as)."""
    fields = json.loads((SCHEMAS_DIR / f"{target}.schema.json").read_text("utf-8"))["fields"]
    out = []
    for f in fields:
        name = str(f["name"])
        folded = fold(name)
        family = "date" if folded.startswith("fecha") else \
            "time" if folded.startswith("hora") else "text"
        out.append((name, family, bool(f.get("constraints", {}).get("required"))))
    return tuple(out)


@dataclass(frozen=True)
class Split:
    """Parts `first`..`last` (1-based, negative from the end) of a value cut at `separator`."""

    separator: str
    first: int
    last: int

    def apply(self, text: str) -> str:
        parts = text.split(self.separator)
        n = len(parts)
        first = self.first if self.first > 0 else n + self.first + 1
        last = self.last if self.last > 0 else n + self.last + 1
        if first < 1 or last > n or first > last:
            return ""
        return self.separator.join(parts[first - 1:last]).strip()


@dataclass(frozen=True)
class FieldRule:
    """How one upload field is made from the source (see docs/fuentes.md)."""

    field: str
    family: str  # 'date' | 'time' | 'text'
    key: str  # where it is declared, for messages
    origin: str  # 'column' | 'template' | 'value' | 'title' | 'filename'
    #: aliases of one column (the first the file has is read); a template's columns
    columns: tuple[str, ...] = ()
    #: a template as (literal text, column or None) pieces
    template: tuple[tuple[str, str | None], ...] = ()
    value: str = ""
    pattern: re.Pattern[str] | None = None
    split: Split | None = None
    #: folded source value → upload value ('' for none)
    values: tuple[tuple[str, str], ...] = ()
    default: str | None = None
    formats: tuple[str, ...] = ()

    @cached_property
    def value_map(self) -> dict[str, str]:
        return dict(self.values)

    @property
    def plain(self) -> bool:
        """A column copied as it is: nothing to compute per value."""
        return (self.origin == "column" and self.pattern is None and self.split is None
                and not self.values and self.default is None and not self.formats)


@dataclass(frozen=True)
class Layout:
    """One shape of an entity's files or records, and how it becomes an upload layout."""

    name: str
    key: str
    target: str  # OFFICIAL | NORMALISED
    fields: tuple[FieldRule, ...]
    #: the headers a file must have to be read with this layout (declared, or derived from
    #: the columns of the required upload fields); each entry lists a column's aliases
    when_headers: tuple[tuple[str, ...], ...]
    records: str | None = None

    @property
    def columns(self) -> list[str]:
        """Every source column the layout names (to find the header among title rows)."""
        named = [c for rule in self.fields for c in rule.columns]
        named += [c for aliases in self.when_headers for c in aliases]
        return list(dict.fromkeys(named))

    def missing_headers(self, labels: list[str]) -> list[str]:
        have = {fold(label) for label in labels}
        return [aliases[0] for aliases in self.when_headers
                if not any(fold(a) in have for a in aliases)]


@dataclass(frozen=True)
class SourceMapping:
    """Every layout an entity declared, in the order they are tried."""

    layouts: tuple[Layout, ...]

    @property
    def known_labels(self) -> list[str]:
        return list(dict.fromkeys(c for layout in self.layouts for c in layout.columns))

    @property
    def record_keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(la.records for la in self.layouts if la.records))


def applies_to(filename: str) -> bool:
    """Whether a visit mapping reads this file: withdrawal and decision-makers files keep
    their own formats."""
    return not filename.lower().startswith(RESERVED_PREFIXES)


# ------------------------------------------------------------------------------- parsing


def parse_source(source: Any) -> SourceMapping | None:
    """Check an entity's `source:` and compile its mapping (None when it declares none).

    Raises MappingError naming the key to fix.
    """
    if source is None:
        source = {}
    if not isinstance(source, dict):
        raise MappingError("la clave source debe ser un mapa, p. ej. «source: {kind: files}».")
    kind = source.get("kind", "files")
    if kind not in SOURCE_KINDS:
        raise MappingError(f"el tipo de fuente (clave source.kind) debe ser uno de: "
                           f"{', '.join(SOURCE_KINDS)}.")
    spec = SOURCE_KINDS[kind]
    allowed = (*COMMON_KEYS, *spec.keys)
    for key in source:
        if key not in allowed:
            raise MappingError(f"clave desconocida source.{key}; las claves admitidas con "
                               f"kind: {kind} son: {', '.join(allowed)}.")
    if spec.check is not None:
        spec.check(source)
    if "mapping" in source and "layouts" in source:
        raise MappingError("use source.mapping (un solo formato) o source.layouts (varios), "
                           "no ambas.")
    if "mapping" in source:
        return SourceMapping((_layout({"name": SHORT_FORM_NAME, "mapping": source["mapping"]},
                                      "source", short=True),))
    if "layouts" not in source:
        return None
    layouts = source["layouts"]
    if not isinstance(layouts, list) or not layouts:
        raise MappingError("source.layouts debe ser una lista de formatos, cada uno con su "
                           "mapping.")
    parsed = tuple(_layout(item, f"source.layouts[{i}]", index=i)
                   for i, item in enumerate(layouts))
    names = [la.name for la in parsed]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise MappingError(f"source.layouts[{i}].name: el nombre «{name}» ya lo usa otro "
                               "formato; cada formato necesita un nombre propio.")
    return SourceMapping(parsed)


def _layout(data: Any, key: str, *, index: int = 0, short: bool = False) -> Layout:
    if not isinstance(data, dict):
        raise MappingError(f"{key} debe ser un mapa con las claves {', '.join(LAYOUT_KEYS)}.")
    for k in data:
        if k not in LAYOUT_KEYS:
            raise MappingError(f"clave desconocida {key}.{k}; las claves de un formato son: "
                               f"{', '.join(LAYOUT_KEYS)}.")
    mapping_key = f"{key}.mapping"
    mapping = data.get("mapping")
    if not isinstance(mapping, dict) or not mapping:
        raise MappingError(f"{mapping_key} debe ser un mapa {{columna del formato de carga: "
                           "columna o clave de la fuente}} con al menos una columna.")
    name = data.get("name", f"formato {index + 1}")
    if not isinstance(name, str) or not name.strip():
        raise MappingError(f"{key}.name debe ser un texto: el nombre del formato en los "
                           "reportes.")
    target = _target(data.get("into"), mapping, key, mapping_key)
    by_fold = {fold(name): (name, family, required)
               for name, family, required in upload_fields(target)}
    rules: list[FieldRule] = []
    for upload_field, spec in mapping.items():
        found = by_fold.get(fold(str(upload_field)))
        field_key = f"{mapping_key}.{upload_field}"
        if found is None:
            raise MappingError(
                f"{field_key}: «{upload_field}» no es una columna del "
                f"{TARGET_NAMES[target]}; use una de: "
                f"{', '.join(n for n, _, _ in upload_fields(target))}.")
        if any(r.field == found[0] for r in rules):
            raise MappingError(f"{field_key}: la columna «{found[0]}» ya está asignada en "
                               f"{mapping_key}.")
        rules.append(_field(found[0], found[1], spec, field_key))
    when = data.get("when_headers")
    if when is None:
        # the columns of the required upload fields the layout reads: a file without them
        # cannot be of this layout
        required = {n for n, _, req in upload_fields(target) if req}
        derived = [r.columns for r in rules if r.field in required and r.origin == "column"]
        derived += [(c,) for r in rules if r.field in required and r.origin == "template"
                    for c in r.columns]
        when_headers = tuple(dict.fromkeys(derived))
    else:
        if isinstance(when, str):
            when = [when]
        if not isinstance(when, list) or not when or not all(
                isinstance(w, str | list) for w in when):
            raise MappingError(f"{key}.when_headers debe ser una lista de nombres de columna "
                               "(o de claves) que el archivo tiene.")
        when_headers = tuple(_aliases(w, f"{key}.when_headers") for w in when)
    records = data.get("records")
    if records is not None and (not isinstance(records, str) or not records.strip()):
        raise MappingError(f"{key}.records debe ser la clave del JSON que contiene la lista de "
                           "registros, p. ej. «data» o «respuesta.filas».")
    return Layout(str(name).strip(), "source" if short else key, target, tuple(rules),
                  when_headers, records)


def _target(into: Any, mapping: dict[Any, Any], key: str, mapping_key: str) -> str:
    if into is not None:
        if str(into) not in TARGETS and str(into) not in TARGETS.values():
            raise MappingError(f"{key}.into debe ser «oficial» (las 12 columnas publicadas) o "
                               "«normalizado» (una columna por dato).")
        return TARGETS.get(str(into), str(into))
    # told by the upload columns named: each layout's are its own
    names = {target: {fold(n) for n, _, _ in upload_fields(target)} for target in TARGETS.values()}
    keys = [fold(str(k)) for k in mapping]
    fits = [t for t, folded in names.items() if all(k in folded for k in keys)]
    if fits:
        return fits[0]
    counts = {t: sum(k in folded for k in keys) for t, folded in names.items()}
    best = max(counts, key=lambda t: counts[t])
    stray = next(str(k) for k in mapping if fold(str(k)) not in names[best])
    raise MappingError(
        f"{mapping_key}.{stray}: «{stray}» no es una columna del {TARGET_NAMES[best]}; use "
        f"una de: {', '.join(n for n, _, _ in upload_fields(best))}. (Las columnas de un "
        "formato son todas del formato oficial o todas del normalizado.)")


def _aliases(value: Any, key: str) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str | int) and str(v).strip() for v in values):
        raise MappingError(f"{key} debe ser un nombre de columna, o una lista de nombres "
                           "(alias: se lee el primero que el archivo tenga).")
    return tuple(str(v).strip() for v in values)


def _field(name: str, family: str, spec: Any, key: str) -> FieldRule:
    if isinstance(spec, str | int | list) and not isinstance(spec, bool):
        spec = {"column": spec}
    if not isinstance(spec, dict):
        raise MappingError(f"{key} debe ser el nombre de una columna de la fuente, o un mapa "
                           f"con una de las claves {', '.join(ORIGINS)}.")
    for k in spec:
        if k not in FIELD_KEYS:
            raise MappingError(f"clave desconocida {key}.{k}; las claves de una columna son: "
                               f"{', '.join(FIELD_KEYS)}.")
    given = [k for k in ORIGINS if k in spec]
    if len(given) != 1:
        raise MappingError(f"{key} debe indicar de dónde sale el valor con una sola de las "
                           f"claves {', '.join(ORIGINS)}"
                           + (f" (tiene {', '.join(given)})." if given else "."))
    origin = given[0]
    kwargs: dict[str, Any] = {}
    if origin == "column":
        kwargs["columns"] = _aliases(spec["column"], f"{key}.column")
    elif origin == "template":
        kwargs["template"] = _template(spec["template"], f"{key}.template")
        kwargs["columns"] = tuple(c for _, c in kwargs["template"] if c is not None)
    elif origin == "value":
        value = spec["value"]
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise MappingError(f"{key}.value debe ser un texto: el valor constante de la "
                               "columna.")
        kwargs["value"] = str(value)
    else:
        place = spec["from"]
        if place not in FROM_PLACES:
            raise MappingError(f"{key}.from debe ser «title» (las filas de título del archivo) "
                               "o «filename» (el nombre del archivo).")
        origin = str(place)
    if "pattern" in spec:
        kwargs["pattern"] = _pattern(spec["pattern"], f"{key}.pattern")
    if "split" in spec:
        kwargs["split"] = _split(spec["split"], f"{key}.split")
    if "values" in spec:
        kwargs["values"] = _values(spec["values"], f"{key}.values")
    if "default" in spec:
        if not isinstance(spec["default"], str | int | float) or isinstance(spec["default"], bool):
            raise MappingError(f"{key}.default debe ser un texto: el valor de la columna "
                               "cuando la fuente no trae ninguno.")
        kwargs["default"] = str(spec["default"])
    for fmt_key, wanted in (("date_format", "date"), ("time_format", "time")):
        if fmt_key in spec:
            if family != wanted:
                kinds = "de fecha" if wanted == "date" else "de hora"
                raise MappingError(f"{key}.{fmt_key}: «{name}» no es una columna {kinds}; "
                                   f"{fmt_key} solo va en columnas {kinds}.")
            kwargs["formats"] = _formats(spec[fmt_key], wanted, f"{key}.{fmt_key}")
    return FieldRule(field=name, family=family, key=key, origin=origin, **kwargs)


def _template(value: Any, key: str) -> tuple[tuple[str, str | None], ...]:
    if not isinstance(value, str) or not value.strip():
        raise MappingError(f"{key} debe ser un texto con columnas entre llaves, p. ej. "
                           "«{tipo_doc} {num_doc}».")
    pieces: list[tuple[str, str | None]] = []
    try:
        for literal, column, spec, conversion in string.Formatter().parse(value):
            if spec or conversion:
                raise ValueError
            pieces.append((literal, column.strip() if column is not None else None))
    except ValueError as exc:
        raise MappingError(f"{key}: la plantilla «{value}» no es válida: cada columna va entre "
                           "llaves, sin formato ({{columna}}); una llave literal se escribe "
                           "doble ({{{{ o }}}}).") from exc
    if not any(c for _, c in pieces):
        raise MappingError(f"{key}: la plantilla «{value}» no nombra ninguna columna entre "
                           "llaves; para un valor fijo use value.")
    if any(c == "" for _, c in pieces):
        raise MappingError(f"{key}: la plantilla «{value}» tiene llaves vacías; escriba el "
                           "nombre de la columna entre ellas.")
    return tuple(pieces)


def _pattern(value: Any, key: str) -> re.Pattern[str]:
    if not isinstance(value, str) or not value:
        raise MappingError(f"{key} debe ser una expresión regular (se toma su primer grupo "
                           "entre paréntesis, o todo lo que coincide).")
    try:
        compiled = re.compile(value)
    except re.error as exc:
        raise MappingError(f"{key}: la expresión regular «{value}» no es válida: {exc}.") from exc
    return compiled


_PART = re.compile(r"\s*(-?\d+)\s*(?:\.\.\s*(-?\d+)\s*)?")


def _split(value: Any, key: str) -> Split:
    if not isinstance(value, dict) or set(value) - {"separator", "part"} or \
            not isinstance(value.get("separator"), str) or not value["separator"]:
        raise MappingError(f"{key} debe ser un mapa con separator (el texto que separa las "
                           "partes, p. ej. « - ») y part (1 la primera, -1 la última, «2..-2» "
                           "las del medio).")
    part = value.get("part", 1)
    match = _PART.fullmatch(str(part)) if not isinstance(part, bool) else None
    if match is None or int(match.group(1)) == 0 or (match.group(2) and int(match.group(2)) == 0):
        raise MappingError(f"{key}.part debe ser un número de parte distinto de 0 (1 la "
                           "primera, -1 la última) o un rango «desde..hasta», p. ej. «2..-2».")
    first = int(match.group(1))
    last = int(match.group(2)) if match.group(2) else first
    return Split(value["separator"], first, last)


def value_key(text: str) -> str:
    """How value-map keys and source values are compared: folded (no case, accents or doubled
    spaces) and without spaces or punctuation around ('PNCVFS , ' is 'pncvfs')."""
    return fold(text).strip(" ,;:.-_/")


def _values(value: Any, key: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict) or not value:
        raise MappingError(f"{key} debe ser un mapa {{valor de la fuente: valor de la carga}}; "
                           "null (~) deja la columna vacía.")
    out: dict[str, str] = {}
    for source_value, upload_value in value.items():
        if upload_value is not None and (not isinstance(upload_value, str | int | float)
                                         or isinstance(upload_value, bool)):
            raise MappingError(f"{key}.{source_value}: el valor debe ser un texto, o null para "
                               "dejar la columna vacía.")
        folded = value_key(str(source_value))
        if folded in out:
            raise MappingError(f"{key}.{source_value}: el valor «{source_value}» se repite (se "
                               "comparan sin mayúsculas, tildes ni signos alrededor).")
        out[folded] = "" if upload_value is None else str(upload_value)
    return tuple(out.items())


_SAMPLE = dt.datetime(2024, 11, 27, 16, 5, 9)
_DAY, _MONTH, _YEAR = ("%d", "%j"), ("%m", "%b", "%B"), ("%Y", "%y")


def _formats(value: Any, family: str, key: str) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    what = ("de fecha, p. ej. «%d/%m/%Y» o «%d/%m/%y %H:%M»" if family == "date" else
            "de hora, p. ej. «%H:%M», «%I:%M:%S %p» o «%H.%M»")
    if not values or not all(isinstance(v, str) and "%" in v for v in values):
        raise MappingError(f"{key} debe ser un formato {what} (códigos de strptime), o una "
                           "lista de formatos.")
    for fmt in values:
        if family == "date" and not (any(d in fmt for d in _DAY)
                                     and any(m in fmt for m in _MONTH)
                                     and any(y in fmt for y in _YEAR)):
            raise MappingError(f"{key}: el formato «{fmt}» debe tener día, mes y año "
                               "(%d, %m o %b/%B, %Y o %y).")
        if family == "time" and not (("%H" in fmt or "%I" in fmt) and "%M" in fmt):
            raise MappingError(f"{key}: el formato «{fmt}» debe tener hora y minutos "
                               "(%H o %I, %M).")
        try:
            dt.datetime.strptime(_SAMPLE.strftime(fmt), fmt)
        except ValueError as exc:
            raise MappingError(f"{key}: el formato «{fmt}» no es válido ({exc}); use los "
                               f"códigos de strptime, p. ej. {what.split('p. ej. ')[1]}.") from exc
    return tuple(values)


__all__ = ["RESERVED_PREFIXES", "SOURCE_KINDS", "FieldRule", "KindSpec", "Layout",
           "MappingError", "SourceMapping", "Split", "applies_to", "parse_source",
           "register_kind", "upload_fields", "value_key"]
