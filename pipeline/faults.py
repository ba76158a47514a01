"""Operational faults: what went wrong outside the code, told to an operator in Spanish.

A refused credential, an unreachable endpoint, a setting with a bad value, a database another
process holds, a working folder that cannot be written: none of these is a bug, and a
traceback of 77 lines hides the one thing to do. `describe` turns such an exception into a
`Fault` (what happened, what to do, the exit code); anything else is a bug and keeps its
traceback. `visitas` prints faults this way (`visitas --debug …` adds the traceback); Dagster
keeps the traceback in its logs.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

# Exit codes of `visitas` for operational faults (as in BSD's sysexits.h, so they never
# collide with the 0/1/2 of `visitas validate` or click's 2 for a usage error).
EXIT_USAGE = 64  #: an argument names what does not exist (an unregistered entity's RUC)
EXIT_UNAVAILABLE = 69  #: a service cannot be reached (S3 endpoint down, network)
EXIT_IO = 74  #: reading or writing failed (disk full, storage error)
EXIT_BUSY = 75  #: another process holds the database or the run's lock: try again later
EXIT_ACCESS = 77  #: credentials or file permissions refused
EXIT_CONFIG = 78  #: a setting is missing or invalid

_CREDENTIALS_REFUSED = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken",
                        "ExpiredToken", "InvalidClientTokenId", "TokenRefreshRequired"}
_ACCESS_DENIED = {"AccessDenied", "403", "AllAccessDisabled", "AccountProblem"}
_ERRNO_ES = {
    errno.EACCES: "permiso denegado",
    errno.EPERM: "operación no permitida",
    errno.ENOSPC: "no queda espacio en el disco",
    errno.EDQUOT: "se agotó la cuota de disco",
    errno.EROFS: "el sistema de archivos es de solo lectura",
    errno.ENOTDIR: "una parte de la ruta no es una carpeta",
    errno.EISDIR: "es una carpeta",
    errno.EEXIST: "ya existe",
    errno.ENOENT: "no existe",
    errno.EIO: "error de entrada/salida del disco",
}
_VAR_DIR = "la carpeta de trabajo (VISITAS_VAR_DIR)"


class OperationalError(RuntimeError):
    """An error that is the environment's, not the code's, with what to do about it.

    Raise it (or a subclass) where the code knows better than `describe` can guess.
    """

    def __init__(self, what: str, todo: str, code: int = EXIT_IO) -> None:
        super().__init__(what)
        self.what, self.todo, self.code = what, todo, code


@dataclass(frozen=True)
class Fault:
    what: str  #: what happened, in Spanish, naming the setting, file or location
    todo: str  #: what to do about it
    code: int  #: the exit code of `visitas`


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and the exceptions it was raised from, outermost first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "?", "!")) else f"{text}."


def describe(exc: BaseException) -> Fault | None:
    """The operational fault `exc` is, or None when it is a bug (keep the traceback)."""
    from pipeline.publication.personal_data import PersonalDataError
    from pipeline.registry import RegistryError
    from pipeline.settings import SettingsError
    from pipeline.storage.base import StorageError

    if isinstance(exc, OperationalError):
        return Fault(_sentence(exc.what), _sentence(exc.todo), exc.code)
    if isinstance(exc, SettingsError):
        return Fault(_sentence(str(exc)), "Defina o corrija esa variable de entorno y vuelva a "
                     "ejecutar.", EXIT_CONFIG)
    if isinstance(exc, PersonalDataError):
        return Fault(_sentence(str(exc)), "Corrija datasets/visitas.yaml y vuelva a ejecutar.",
                     EXIT_CONFIG)
    if isinstance(exc, RegistryError):
        return Fault(_sentence(str(exc)), "Corrija el registro de la entidad en "
                     "datasets/entities/ y vuelva a ejecutar.", EXIT_CONFIG)
    if isinstance(exc, StorageError):
        return _storage(exc)
    duck = _duckdb(exc)
    if duck is not None:
        return duck
    if isinstance(exc, OSError):
        return _os(exc)
    return None


def _storage(exc: BaseException) -> Fault:
    from botocore.exceptions import (
        ClientError,
        HTTPClientError,
        NoCredentialsError,
        PartialCredentialsError,
    )
    from botocore.exceptions import ConnectionError as BotoConnectionError

    action = getattr(exc, "action", None)
    location = getattr(exc, "location", None)
    action = {"escribir": "escribir en"}.get(action or "", action)
    doing = f" al {action} {location}" if action and location else ""
    for cause in _chain(exc):
        if isinstance(cause, ClientError):
            code = str(cause.response.get("Error", {}).get("Code", ""))
            if code in _CREDENTIALS_REFUSED:
                return Fault(f"S3 rechazó las credenciales ({code}){doing}.",
                             "Revise AWS_ACCESS_KEY_ID y AWS_SECRET_ACCESS_KEY (y "
                             "AWS_SESSION_TOKEN si son credenciales temporales).", EXIT_ACCESS)
            if code in _ACCESS_DENIED:
                return Fault(f"S3 denegó el acceso ({code}){doing}.",
                             "Las credenciales no tienen permiso sobre ese bucket: revise su "
                             "política de acceso o use otras (AWS_ACCESS_KEY_ID, "
                             "AWS_SECRET_ACCESS_KEY).", EXIT_ACCESS)
            if code == "NoSuchBucket":
                return Fault(f"El bucket no existe{doing}.",
                             "Cree el bucket o corrija la URL s3:// (VISITAS_LANDING_URL, "
                             "VISITAS_RAW_URL, VISITAS_PUBLISH_URL).", EXIT_CONFIG)
        if isinstance(cause, NoCredentialsError | PartialCredentialsError):
            return Fault(f"No hay credenciales de S3{doing}.",
                         "Defina AWS_ACCESS_KEY_ID y AWS_SECRET_ACCESS_KEY.", EXIT_CONFIG)
        if isinstance(cause, BotoConnectionError | HTTPClientError):
            endpoint = os.environ.get("VISITAS_S3_ENDPOINT_URL") or "AWS"
            return Fault(f"No se pudo conectar con S3 ({endpoint}){doing}.",
                         "Compruebe VISITAS_S3_ENDPOINT_URL y la red, y vuelva a ejecutar "
                         "cuando el servicio responda.", EXIT_UNAVAILABLE)
        if isinstance(cause, OSError) and cause is not exc:
            return _os(cause)
    return Fault(_sentence(str(exc)), "Compruebe ese almacenamiento (espacio, permisos, "
                 "conexión) y vuelva a ejecutar: la pasada retoma donde quedó.", EXIT_IO)


def _duckdb(exc: BaseException) -> Fault | None:
    import duckdb

    if not isinstance(exc, duckdb.IOException):
        return None
    text = str(exc)
    first = text.splitlines()[0].removeprefix("IO Error: ")
    if "lock" in text.lower():
        found = re.search(r'file "([^"]+)"', text)
        pid = re.search(r"PID (\d+)", text)
        base = found[1] if found else "la base DuckDB"
        holder = f" (PID {pid[1]})" if pid else ""
        return Fault(f"{base} está en uso por otro proceso{holder}.",
                     "Espere a que termine la otra pasada (o deténgala) y vuelva a ejecutar.",
                     EXIT_BUSY)
    if "permission denied" in text.lower():
        return Fault(f"DuckDB no pudo abrir un archivo: {first}.",
                     f"Dé permiso de lectura y escritura sobre {_VAR_DIR} al usuario que "
                     "ejecuta visitas.", EXIT_ACCESS)
    return Fault(f"DuckDB no pudo leer o escribir: {_sentence(first)}",
                 f"Compruebe {_VAR_DIR} (espacio, permisos) y vuelva a ejecutar.", EXIT_IO)


def _os(exc: OSError) -> Fault:
    if isinstance(exc, BlockingIOError):
        return Fault("Otro proceso tiene tomado el bloqueo de esta operación.",
                     "Espere a que termine la otra pasada y vuelva a ejecutar.", EXIT_BUSY)
    reason = _ERRNO_ES.get(exc.errno or 0, exc.strerror or str(exc))
    where = f" {exc.filename}" if exc.filename else ""
    if isinstance(exc, PermissionError):
        return Fault(f"No se pudo usar{where}: {reason}.",
                     f"Dé permiso de lectura y escritura sobre {_VAR_DIR} y las carpetas que "
                     "usa al usuario que ejecuta visitas.", EXIT_ACCESS)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return Fault(f"No se pudo escribir{where}: {reason}.",
                     "Libere espacio (o apunte VISITAS_VAR_DIR a otro disco) y vuelva a "
                     "ejecutar.", EXIT_IO)
    return Fault(f"No se pudo usar{where}: {reason}.",
                 f"Compruebe que {_VAR_DIR} exista, sea una carpeta y se pueda escribir.",
                 EXIT_IO)
