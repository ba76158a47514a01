"""click's own words (help headings, usage errors) in Spanish.

click marks its messages for translation with `gettext`, looked up at call time in each of
its modules. Rather than a compiled catalogue found through the process's locale (which an
administrator's terminal or a cron job may not set), `install` points those lookups at this
table, so `visitas` speaks Spanish whatever the locale. A message missing here stays in
English: tests/test_cli.py checks that the ones a user meets are covered.
"""

from __future__ import annotations

import importlib

CATALOG: dict[str, str] = {
    "Usage:": "Uso:",
    "Options": "Opciones",
    "Commands": "Comandos",
    "Positional arguments": "Argumentos",
    "Show this message and exit.": "Mostrar esta ayuda y salir.",
    "Show the version and exit.": "Mostrar la versión y salir.",
    "%(prog)s, version %(version)s": "%(prog)s, versión %(version)s",
    "required": "obligatoria",
    "default: {default}": "por defecto: {default}",
    "env var: {var}": "variable de entorno: {var}",
    "(dynamic)": "(calculado)",
    "deprecated": "obsoleta",
    "Aborted!": "Cancelado.",
    "Error: {message}": "Error: {message}",
    "Try '{command} {option}' for help.": "Vea '{command} {option}' para la ayuda.",
    "Missing command.": "Falta el comando.",
    "Missing option": "Falta la opción",
    "Missing argument": "Falta el argumento",
    "Missing parameter": "Falta un parámetro",
    "Missing parameter: {param_name}": "Falta el parámetro: {param_name}",
    "Missing {param_type}": "Falta un valor",
    "No such option {name!r}.": "No existe la opción {name!r}.",
    "No such command {name!r}.": "No existe el comando {name!r}.",
    "Invalid value for {param_hint}: {message}": "Valor no válido para {param_hint}: {message}",
    "Invalid value: {message}": "Valor no válido: {message}",
    "Got unexpected extra argument ({args})": "Sobra un argumento ({args})",
    "Got unexpected extra arguments ({args})": "Sobran argumentos ({args})",
    "Option {name!r} does not take a value.": "La opción {name!r} no lleva valor.",
    "Option {name!r} requires an argument.": "La opción {name!r} necesita un valor.",
    "Option {name!r} requires {nargs} arguments.": "La opción {name!r} necesita {nargs} valores.",
    "Did you mean {possibility}?": "¿Quiso decir {possibility}?",
    "(Did you mean one of: {possibilities}?)": "(¿Quiso decir una de estas: {possibilities}?)",
    "Choose from:\n\t{choices}": "Elija entre:\n\t{choices}",
    "{value!r} is not {choice}.": "{value!r} no es {choice}.",
    "{value!r} is not one of {choices}.": "{value!r} no es ninguna de {choices}.",
    "{value!r} does not match the format {format}.": "{value!r} no tiene el formato {format}.",
    "{value!r} does not match the formats {formats}.":
        "{value!r} no tiene ninguno de los formatos {formats}.",
    "{value} is not in the range {range}.": "{value} está fuera del rango {range}.",
    "{value!r} is not a valid {number_type}.": "{value!r} no es un número válido.",
    "{value!r} is not a valid boolean. Recognized values: {states}":
        "{value!r} no es un valor sí/no. Valores aceptados: {states}",
    "file": "archivo",
    "directory": "carpeta",
    "path": "ruta",
    "{name} {filename!r} does not exist.": "{name} {filename!r}: no existe.",
    "{name} {filename!r} is a file.": "{name} {filename!r}: es un archivo.",
    "{name} {filename!r} is a directory.": "{name} {filename!r}: es una carpeta.",
    "{name} {filename!r} is not readable.": "{name} {filename!r}: no se puede leer.",
    "{name} {filename!r} is not writable.": "{name} {filename!r}: no se puede escribir.",
    "Could not open file {filename!r}: {message}": "No se pudo abrir {filename!r}: {message}",
}

_MODULES = ("core", "decorators", "exceptions", "formatting", "parser", "termui", "types")


def gettext(message: str) -> str:
    return CATALOG.get(message, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return gettext(singular if n == 1 else plural)


#: the names click shows as an option's value when it has no metavar of its own
_TYPE_NAMES = {"StringParamType": "texto", "IntParamType": "entero", "FloatParamType": "número",
               "IntRange": "entero", "FloatRange": "número"}


def install() -> None:
    """Make click's modules look their messages up here."""
    import click.types

    for cls, name in _TYPE_NAMES.items():
        getattr(click.types, cls).name = name
    for name in _MODULES:
        module = importlib.import_module(f"click.{name}")
        if hasattr(module, "_"):
            module._ = gettext  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = ngettext  # type: ignore[attr-defined]
