"""An entity's S3 key pair, derived from one master secret (VISITAS_ACCESS_MASTER_KEY).

Deriving instead of storing means there is no credentials file to leak or lose: the operator
keeps one secret, and `visitas access credentials RUC` gives the same pair every time.
Changing the master key changes every entity's pair at once (a rotation: regenerate the
server's identities and hand the new pairs out).

Formats, chosen so that every S3 server and client accepts them:

* access key id: 20 characters, `RV` + the RUC (11 digits) + 7 upper-case letters and digits
  of HMAC-SHA256(master, "visitas/access-key-id/v1/" + RUC) in base 32. The RUC in it lets an
  operator tell from a server log or CloudTrail whose key was used; the HMAC part makes it
  depend on the master key as well.
* secret access key: 40 letters and digits (base 62) of HMAC-SHA256(master,
  "visitas/secret-access-key/v1/" + RUC), about 238 bits. Letters and digits only, so it can
  be pasted into a shell, a URL or a configuration file without quoting.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import string
from dataclasses import dataclass

from pipeline.faults import EXIT_CONFIG, OperationalError

MASTER_KEY_VARIABLE = "VISITAS_ACCESS_MASTER_KEY"
#: shorter master keys are refused: the derived secrets can be no stronger than it
MIN_MASTER_KEY_LENGTH = 32
KEY_ID_PREFIX = "RV"
KEY_ID_LENGTH = 20
SECRET_LENGTH = 40
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
# Labels keep the two derivations (and any later one) independent of each other.
_KEY_ID_LABEL = "visitas/access-key-id/v1/"
_SECRET_LABEL = "visitas/secret-access-key/v1/"


class MasterKeyError(OperationalError):
    """VISITAS_ACCESS_MASTER_KEY is missing or too short to derive credentials from."""

    def __init__(self, what: str) -> None:
        super().__init__(
            what,
            f"Defina {MASTER_KEY_VARIABLE} con un secreto de al menos {MIN_MASTER_KEY_LENGTH} "
            "caracteres, guardado fuera del repositorio (p. ej. el resultado de "
            "'openssl rand -base64 32'); la misma clave da siempre las mismas credenciales",
            EXIT_CONFIG,
        )


@dataclass(frozen=True)
class KeyPair:
    access_key_id: str
    secret_access_key: str

    def __repr__(self) -> str:
        # never let the secret reach a log or a test failure
        return f"KeyPair(access_key_id={self.access_key_id!r})"


def master_key(environ: dict[str, str] | None = None) -> str:
    """The master secret from the environment, refused when missing or short."""
    env = os.environ if environ is None else environ
    value = env.get(MASTER_KEY_VARIABLE, "")
    if not value.strip():
        raise MasterKeyError(f"{MASTER_KEY_VARIABLE} no está definida: sin ella no se pueden "
                             "derivar las credenciales de las entidades")
    if len(value) < MIN_MASTER_KEY_LENGTH:
        raise MasterKeyError(f"{MASTER_KEY_VARIABLE} es demasiado corta ({len(value)} de "
                             f"{MIN_MASTER_KEY_LENGTH} caracteres como mínimo)")
    return value


def _hmac(master: str, label: str, ruc: str) -> bytes:
    return hmac.new(master.encode("utf-8"), (label + ruc).encode("utf-8"),
                    hashlib.sha256).digest()


def access_key_id(master: str, ruc: str) -> str:
    tail = base64.b32encode(_hmac(master, _KEY_ID_LABEL, ruc)).decode("ascii")
    return f"{KEY_ID_PREFIX}{ruc}{tail}"[:KEY_ID_LENGTH]


def secret_access_key(master: str, ruc: str) -> str:
    number = int.from_bytes(_hmac(master, _SECRET_LABEL, ruc), "big")
    chars = []
    for _ in range(SECRET_LENGTH):
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return "".join(chars)


def entity_keys(master: str, ruc: str) -> KeyPair:
    """The key pair of the entity with this RUC (11 digits, as registered)."""
    if not (len(ruc) == 11 and ruc.isascii() and ruc.isdigit()):
        raise ValueError(f"RUC no válido para derivar credenciales: {ruc!r}")
    return KeyPair(access_key_id(master, ruc), secret_access_key(master, ruc))
