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


class SchemaError(ValueError):
    """A Table Schema file that cannot be used, said in Spanish (where, and what to fix)."""


#: json's messages, said in Spanish
_JSON_MESSAGES = {
    "Expecting value": "se esperaba un valor",
    "Expecting property name enclosed in double quotes":
        "se esperaba el nombre de una propiedad entre comillas dobles (¿una coma de más?)",
    "Expecting ',' delimiter": "falta una coma",
    "Expecting ':' delimiter": "faltan los dos puntos entre el nombre y el valor",
    "Unterminated string starting at": "una cadena de texto no se cierra",
    "Extra data": "hay más texto después del final del JSON",
    "Invalid control character at": "hay un carácter de control dentro de una cadena",
    "Invalid \\escape": "hay una barra invertida (\\) que no es un escape válido",
}


@cache
def load_schema(path: Path) -> TableSchema:
    """The Table Schema in `path`; SchemaError when it is not one."""
    name = Path(path).name
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SchemaError(f"No se pudo leer el esquema {name}: {exc.strerror or exc}.") from exc
    try:
        descriptor = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        from pipeline.sources.readers.sniff import sniff

        raise SchemaError(f"El esquema {name} no es un archivo JSON: es {sniff(path).what}. "
                          "Indique con --schema el archivo JSON del Table Schema.") from exc
    except json.JSONDecodeError as exc:
        what = _JSON_MESSAGES.get(exc.msg, "el JSON está mal formado")
        raise SchemaError(f"El esquema {name} no es un JSON válido: {what} (línea {exc.lineno}, "
                          f"columna {exc.colno}).") from exc
    problems = descriptor_problems(descriptor)
    if problems:
        raise SchemaError(f"El esquema {name} no es un Table Schema válido: "
                          f"{'; '.join(problems)}.")
    return schema_from_descriptor(descriptor, name.removesuffix(".schema.json"))


def descriptor_problems(descriptor: object) -> list[str]:
    """What keeps a JSON value from being a Table Schema the validator can apply (Spanish)."""
    if not isinstance(descriptor, dict):
        return ["debe ser un objeto JSON ({…}) con la lista «fields»"]
    fields = descriptor.get("fields")
    if not isinstance(fields, list) or not fields:
        return ["falta la lista «fields» con al menos un campo"]
    problems: list[str] = []
    names: list[str] = []
    for number, f in enumerate(fields, 1):
        if not isinstance(f, dict):
            problems.append(f"el campo {number} de «fields» no es un objeto")
            continue
        name = f.get("name")
        if not isinstance(name, str) or not name:
            problems.append(f"el campo {number} de «fields» no tiene «name»")
            continue
        names.append(name)
        for key, kind, label in (("type", str, "un texto"), ("format", str, "un texto"),
                                 ("constraints", dict, "un objeto")):
            if key in f and not isinstance(f[key], kind):
                problems.append(f"«{key}» del campo «{name}» debe ser {label}")
    if "missingValues" in descriptor and not (
            isinstance(descriptor["missingValues"], list)
            and all(isinstance(v, str) for v in descriptor["missingValues"])):
        problems.append("«missingValues» debe ser una lista de textos")
    key = descriptor.get("primaryKey", [])
    for part in [key] if isinstance(key, str) else key if isinstance(key, list) else [None]:
        if part not in names:
            problems.append(f"«primaryKey» nombra «{part}», que no es un campo")
    return problems
