"""Files named on the command line, checked before anything reads them, with Spanish messages.

click's own checks (`click.Path(exists=True)`) answer in English ("Invalid value for 'FILE':
Path 'x' does not exist."); an administrator validating an upload reads Spanish.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

#: `visitas validate`: the file (or the schema) cannot be read
EXIT_UNREADABLE = 2


class UnreadableInput(click.ClickException):
    """A file named on the command line that cannot be read: `Error: …` and exit code 2."""

    exit_code = EXIT_UNREADABLE


def readable_file(path: Path, role: str) -> Path:
    """`path`, if it names a file this process can read; `role` names it ("El archivo")."""
    if path.is_dir():
        raise UnreadableInput(f"{role} {path} es una carpeta, no un archivo.")
    if not path.exists():
        raise UnreadableInput(f"{role} {path} no existe. Revise la ruta y el nombre.")
    if not os.access(path, os.R_OK):
        raise UnreadableInput(f"No se puede leer {role.lower()} {path}: no tiene permiso de "
                              "lectura. Revise sus permisos (chmod) o cópielo a su carpeta.")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise UnreadableInput(f"No se puede leer {role.lower()} {path}: "
                              f"{exc.strerror or exc}.") from exc
    return path
