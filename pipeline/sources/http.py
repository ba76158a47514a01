"""`kind: http`: an entity's JSON API, read page by page with requests and urllib3's `Retry`
(backoff on 429, 5xx, timeouts and dropped connections; `Retry-After` honoured), and handed
over as JSON batches through the entity's mapping (why this machinery, in docs/fuentes.md).

```yaml
source:
  kind: http
  url: https://visitas.entidad.gob.pe/api/visitas
  records: data                   # where the array is: a key (dotted path); "" top-level
  params: {estado: todos}         # query parameters sent on every request
  headers:                        # a value, or one read from an environment variable
    Authorization: {env: VISITAS_API_20131370645, prefix: "Bearer "}
  pagination: {type: page, param: page, size_param: per_page, size: 100}
  timeout: 30                     # seconds to connect, and between bytes of an answer
  retries: 5                      # per request, waits 1, 2, 4… s (backoff) between tries
  mapping: {…}
```

Pagination: `page` (a page number, from `start`, default 1), `offset` (a record offset, from
`start`, default 0, advancing by the records received) or `next` (the next page's URL, under
the body's key `next`, or in the `Link: <…>; rel="next"` header when no key is given). Pages
stop at an empty page, at a page shorter than `size`, or when there is no next URL.

An API gives its whole answer each time, not what changed: each fetch reads every page, and
the records are cut into batches of `batch_rows`. A batch whose bytes were staged before is
handed over under the name it had then (kept in `cursor.json`), so an API that did not change
stages nothing; one that changed stages new batches named by the time of extraction, which
sort after the earlier ones, so the newer copy of a visit is the one applied.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from pipeline.sources.base import Fetched, Seen, SourceUnavailable
from pipeline.sources.cursor import read_state
from pipeline.sources.mapping.language import KindSpec, MappingError, register_kind
from pipeline.sources.records import records_upload

if TYPE_CHECKING:
    import requests

    from pipeline.registry import Entity

BATCH_ROWS = 50_000
TIMEOUT = 30.0
RETRIES = 5
BACKOFF = 1.0
#: the longest a `Retry-After` is waited (urllib3 would wait hours if told so)
RETRY_AFTER_MAX = 120
#: a guard against an API that ignores the page parameter and never runs out
MAX_PAGES = 100_000
RETRY_STATUSES = (429, 500, 502, 503, 504)
PAGINATION_TYPES = ("page", "offset", "next")
KEYS = ("url", "records", "params", "headers", "pagination", "timeout", "retries", "backoff",
        "batch_rows")
USER_AGENT = "visitas-pipeline (Registro de Visitas en Línea)"


# ---------------------------------------------------------------- the registration's keys


def _number(source: dict[str, Any], key: str, *, integer: bool, minimum: float) -> None:
    value = source.get(key)
    if value is None:
        return
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value < minimum:
        raise MappingError(f"source.{key} debe ser un número {'entero ' if integer else ''}"
                           f"mayor o igual que {minimum:g}.")


def _values(source: dict[str, Any], key: str) -> None:
    """`headers` and `params`: a value, or {env: NAME, prefix: …} for a secret."""
    values = source.get(key)
    if values is None:
        return
    if not isinstance(values, dict):
        raise MappingError(f"source.{key} debe ser un mapa {{nombre: valor}}.")
    for name, value in values.items():
        if isinstance(value, dict):
            extra = set(value) - {"env", "prefix"}
            if extra or not isinstance(value.get("env"), str) or not value["env"]:
                raise MappingError(
                    f"source.{key}.{name}: un valor secreto se escribe "
                    "{env: NOMBRE_DE_LA_VARIABLE} (y opcionalmente prefix: \"Bearer \"); "
                    "el secreto mismo nunca va en el archivo.")
        elif not isinstance(value, str | int | float):
            raise MappingError(f"source.{key}.{name} debe ser un texto o "
                               "{env: NOMBRE_DE_LA_VARIABLE}.")


def _check(source: dict[str, Any]) -> None:
    url = source.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise MappingError("source.url: falta la dirección de la API (http:// o https://), "
                           "p. ej. «url: https://visitas.entidad.gob.pe/api/visitas».")
    records = source.get("records")
    if records is not None and not isinstance(records, str):
        raise MappingError("source.records debe ser la clave que contiene la lista de "
                           "registros (p. ej. «data» o «respuesta.filas»), o \"\" si la "
                           "respuesta es la lista misma.")
    _values(source, "params")
    _values(source, "headers")
    pagination = source.get("pagination")
    if pagination is not None:
        if not isinstance(pagination, dict) or pagination.get("type") not in PAGINATION_TYPES:
            raise MappingError("source.pagination.type debe ser page (número de página), "
                               "offset (desplazamiento) o next (enlace a la página siguiente).")
        allowed = {"type", "param", "start", "size", "size_param", "next"}
        extra = sorted(set(pagination) - allowed)
        if extra:
            raise MappingError(f"clave desconocida source.pagination.{extra[0]}; las claves "
                               f"admitidas son: {', '.join(sorted(allowed))}.")
        if pagination["type"] in ("page", "offset") and not pagination.get("param"):
            raise MappingError(f"source.pagination.param: falta el parámetro de la "
                               f"{'página' if pagination['type'] == 'page' else 'posición'}, "
                               "p. ej. «param: page».")
        if pagination.get("size_param") and not pagination.get("size"):
            raise MappingError("source.pagination.size: falta el tamaño de página que se pide "
                               "con size_param.")
        for key in ("start", "size"):
            _number(pagination, key, integer=True, minimum=0 if key == "start" else 1)
    _number(source, "timeout", integer=False, minimum=0.1)
    _number(source, "retries", integer=True, minimum=0)
    _number(source, "backoff", integer=False, minimum=0)
    _number(source, "batch_rows", integer=True, minimum=1)


register_kind("http", KindSpec(keys=KEYS, check=_check))


# -------------------------------------------------------------------------------- requests


def session(retries: int, backoff: float) -> requests.Session:
    """A session that retries what is worth retrying, with exponential backoff: connection
    errors, timeouts, 429 and 5xx (after the `Retry-After` the server asks for)."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    retry = Retry(total=retries, connect=retries, read=retries, status=retries, other=0,
                  backoff_factor=backoff, backoff_max=60, status_forcelist=RETRY_STATUSES,
                  allowed_methods=frozenset({"GET"}), respect_retry_after_header=True,
                  retry_after_max=RETRY_AFTER_MAX, raise_on_status=True)
    http = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    http.mount("http://", adapter)
    http.mount("https://", adapter)
    http.headers["User-Agent"] = USER_AGENT
    return http


def resolve(values: dict[str, Any] | None, what: str, environ: Any) -> dict[str, str]:
    """Headers or parameters with the secrets read from their variables."""
    out: dict[str, str] = {}
    for name, value in (values or {}).items():
        if isinstance(value, dict):
            secret = environ.get(value["env"], "")
            if not secret:
                raise SourceUnavailable(
                    f"la variable de entorno {value['env']} ({what} {name} de la API) no está "
                    "definida: defínala donde corre visitas run o visitas serve.")
            out[str(name)] = str(value.get("prefix", "")) + secret
        else:
            out[str(name)] = str(value)
    return out


@dataclass
class Page:
    url: str  # as requested, without the secret parameters
    number: int
    records: list[dict[str, Any]]


def _explain(exc: Exception, url: str) -> SourceUnavailable:
    import requests

    if isinstance(exc, requests.exceptions.RetryError):
        cause = "respondió con errores (429 o 5xx) en todos los intentos"
    elif isinstance(exc, requests.exceptions.Timeout):
        cause = "no respondió a tiempo en ninguno de los intentos"
    elif isinstance(exc, requests.exceptions.ConnectionError):
        reason = str(exc)
        cause = ("no acepta conexiones (¿está detenida o cambió su dirección?)"
                 if "refused" in reason.lower() or "max retries" in reason.lower()
                 else "no se pudo conectar")
    else:
        cause = f"falló ({type(exc).__name__})"
    return SourceUnavailable(f"la API {url} {cause}. No se perdió nada: la próxima ejecución "
                             "la vuelve a leer.")


_STATUS_HELP = {401: "no autorizado: revise la credencial de source.headers",
                403: "acceso denegado: revise la credencial de source.headers",
                404: "no existe esa dirección: revise source.url"}


class Pages:
    """The pages of one API, as `source:` describes its pagination."""

    def __init__(self, source: dict[str, Any], environ: Any) -> None:
        self.url = str(source["url"])
        self.records = source.get("records")
        self.params = resolve(source.get("params"), "parámetro", environ)
        #: values read from environment variables: sent, never shown
        self.secrets = [v for k, v in self.params.items()
                        if isinstance((source.get("params") or {}).get(k), dict) and v]
        self.secret_params = {k: v for k, v in self.params.items() if v in self.secrets}
        self.headers = resolve(source.get("headers"), "cabecera", environ)
        self.pagination = dict(source.get("pagination") or {})
        self.timeout = float(source.get("timeout", TIMEOUT))
        self.http = session(int(source.get("retries", RETRIES)),
                            float(source.get("backoff", BACKOFF)))

    def shown(self, url: str) -> str:
        """`url` as messages and provenance show it: a secret parameter's value masked."""
        from urllib.parse import quote, quote_plus

        for secret in self.secrets:
            for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
                url = url.replace(form, "***")
        return url

    def _get(self, url: str, params: dict[str, str]) -> tuple[Any, requests.Response]:
        import requests

        public = self.shown(requests.Request("GET", url, params=params).prepare().url or url)
        try:
            response = self.http.get(url, params=params, headers=self.headers,
                                     timeout=(self.timeout, self.timeout))
        except requests.RequestException as exc:
            raise _explain(exc, public) from None
        try:
            if response.status_code >= 400:
                hint = _STATUS_HELP.get(response.status_code, "")
                raise SourceUnavailable(
                    f"la API {public} respondió con el código {response.status_code}"
                    + (f" ({hint})" if hint else "") + ".")
            try:
                return response.json(), response
            except ValueError:
                raise SourceUnavailable(
                    f"la API {public} no respondió JSON (tipo "
                    f"{response.headers.get('Content-Type', 'desconocido')}): revise "
                    "source.url.") from None
        finally:
            response.close()

    def _records(self, body: Any, url: str) -> list[dict[str, Any]]:
        from pipeline.sources.readers.jsonfile import find_records
        from pipeline.sources.readers.table import UnreadableUpload

        if self.records == "":
            if not isinstance(body, list):
                raise SourceUnavailable(f"la API {url} no respondió una lista de registros "
                                        "(source.records: \"\"); indique en records la clave "
                                        "que la contiene.")
            records = body
        else:
            try:
                records, _ = find_records(body, (self.records,) if self.records else ())
            except UnreadableUpload as exc:
                raise SourceUnavailable(f"la API {url}: {exc}") from None
        if not all(isinstance(r, dict) for r in records):
            raise SourceUnavailable(f"la API {url} devolvió registros que no son objetos "
                                    "({\"clave\": valor, …}).")
        return records

    def __iter__(self) -> Iterator[Page]:
        kind = self.pagination.get("type")
        size = self.pagination.get("size")
        param = self.pagination.get("param")
        position = int(self.pagination.get("start", 1 if kind == "page" else 0))
        url: str | None = self.url
        params = dict(self.params)
        if self.pagination.get("size_param"):
            params[self.pagination["size_param"]] = str(size)
        previous: str | None = None
        for number in range(1, MAX_PAGES + 1):
            assert url is not None
            if kind in ("page", "offset"):
                params[param] = str(position)
            # a next page's URL carries its own parameters, but not the secret ones
            body, response = self._get(
                url, params if number == 1 or kind != "next" else self.secret_params)
            shown = self.shown(response.url)
            records = self._records(body, shown)
            fingerprint = json.dumps(records, sort_keys=True, ensure_ascii=False)
            if previous is not None and records and fingerprint == previous:
                raise SourceUnavailable(
                    f"la API {self.url} devolvió la misma página dos veces seguidas: no "
                    "pagina como dice source.pagination (revise param).")
            previous = fingerprint
            yield Page(shown, number, records)
            if not records or kind is None or (size and len(records) < int(size)):
                return
            if kind == "page":
                position += 1
            elif kind == "offset":
                position += len(records)
            else:
                url = self._next(body, response)
                if not url:
                    return
        raise SourceUnavailable(f"la API {self.url} tiene más de {MAX_PAGES} páginas: revise "
                                "source.pagination.")

    def _next(self, body: Any, response: requests.Response) -> str | None:
        key = self.pagination.get("next")
        if key:
            value: Any = body
            for part in str(key).split("."):
                value = value.get(part) if isinstance(value, dict) else None
            return urljoin(response.url, value) if isinstance(value, str) and value else None
        link = response.links.get("next", {}).get("url")
        return urljoin(response.url, link) if link else None


# ---------------------------------------------------------------------------------- source


class HttpSource:
    """An entity's JSON API (kind http)."""

    def __init__(self, state_path: Path, environ: Any = None) -> None:
        self.state_path = state_path
        self.environ = os.environ if environ is None else environ

    def fetch(self, entity: Entity, workdir: Path, seen: Seen | None = None) -> Fetched:
        source = entity.source
        pages = Pages(source, self.environ)
        state = read_state(self.state_path)
        known: dict[str, str] = dict(state.get("lotes", {})) \
            if state.get("fuente") == "http" else {}
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        batch_rows = int(source.get("batch_rows") or BATCH_ROWS)
        fetched = Fetched()
        names: dict[str, str] = {}
        chunk: list[dict[str, Any]] = []
        first_page = last_page = 0
        first_url = ""

        def flush() -> None:
            part = len(names) + 1
            upload = records_upload(
                entity.ruc, chunk, workdir, f"http-{stamp}-{part:04d}.json", origin=pages.url,
                provenance={"url": first_url, "paginas": [first_page, last_page],
                            "registros": len(chunk)})
            name = known.get(upload.sha256)
            if name is not None:
                # the same records as a batch staged before: under the name they had, so
                # nothing is staged and its place among the entity's batches stays
                (workdir / upload.name).rename(workdir / name)
                upload = replace(upload, name=name, path=workdir / name)
            names[upload.sha256] = upload.name
            fetched.uploads.append(upload)
            # what a run that dies here would want to reuse: the earlier names too
            fetched.checkpoints[upload.sha256] = {"fuente": "http", "url": pages.url,
                                                  "extraido_en": stamp,
                                                  "lotes": {**known, **names}}
            chunk.clear()

        for page in pages:
            for record in page.records:
                if not chunk:
                    first_page, first_url = page.number, page.url
                last_page = page.number
                chunk.append(record)
                if len(chunk) >= batch_rows:
                    flush()
        if chunk:
            flush()
        if fetched.uploads:
            # once the whole answer is in, only its own batches' names are worth keeping
            last = fetched.uploads[-1].sha256
            fetched.checkpoints[last] = {**fetched.checkpoints[last], "lotes": names}
        return fetched


__all__ = ["HttpSource", "Pages", "session"]
