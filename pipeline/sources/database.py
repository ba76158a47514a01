"""`kind: postgres` and `kind: mysql`: the database an entity's visitor-control system writes,
read incrementally by a cursor column, through DuckDB's postgres and mysql extensions (the
PyPI wheels of DuckDB 1.5.5; why these, in docs/fuentes.md).

```yaml
source:
  kind: postgres                    # or mysql (MariaDB, MySQL)
  url_env: VISITAS_BD_20131370645   # the variable holding postgresql://usuario:clave@host/base
  table: control.visitas            # or query: "SELECT … FROM …"
  cursor: actualizado_en            # grows when a row is inserted or updated
  mapping: {…}
```

Each fetch reads only the rows whose cursor is at or past the one kept
(`pipeline.sources.cursor`), in cursor order, streamed as Arrow record batches: the table is
never in memory, only one batch of `batch_rows` records at a time, handed over as a JSON file
(`records_upload`). Rows at exactly the kept cursor value were partly read before (a second's
timestamp is shared by many rows): those whose content is unchanged are left out by a checksum
kept with the cursor, so none is lost and none staged twice. A row updated later (an exit time
filled in) has a new cursor value and is read again: consolidation applies it as a change.

The same rows give the same records in the same order (cursor, then `key` or every column),
hence the same bytes and the same batch: a run that died before the cursor moved reads again
from the old one and stages nothing new.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import importlib.util
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from pipeline.sources.base import Fetched, Seen, SourceUnavailable, Upload
from pipeline.sources.cursor import (
    decode_value,
    encode_value,
    read_state,
    sortable,
    sql_literal,
)
from pipeline.sources.mapping.language import KindSpec, MappingError, register_kind
from pipeline.sources.records import records_upload
from pipeline.spanish import LIMA

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from pipeline.registry import Entity
    from pipeline.settings import Settings

#: records per batch (JSON file) unless the entity says otherwise: what bounds memory
BATCH_ROWS = 50_000
#: rows DuckDB hands over at a time
ARROW_ROWS = 10_000
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Dialect:
    kind: str
    name: str  # for messages
    schemes: tuple[str, ...]
    default_port: int
    extension: str  # the PyPI wheel's module and the name DuckDB loads
    query_function: str
    quote: str
    backslash_escapes: bool
    example: str

    def identifier(self, name: str) -> str:
        return self.quote + name.replace(self.quote, self.quote * 2) + self.quote


DIALECTS = {
    "postgres": Dialect("postgres", "PostgreSQL", ("postgresql", "postgres"), 5432,
                        "postgres", "postgres_query", '"', False,
                        "postgresql://usuario:clave@servidor:5432/base"),
    "mysql": Dialect("mysql", "MySQL/MariaDB", ("mysql", "mariadb"), 3306, "mysql",
                     "mysql_query", "`", True, "mysql://usuario:clave@servidor:3306/base"),
}


# ---------------------------------------------------------------- the registration's keys


def _check(source: dict[str, Any]) -> None:
    """The keys of `kind: postgres|mysql` (see the module's docstring); MappingError names
    the one to fix."""
    dialect = DIALECTS[source["kind"]]
    env = source.get("url_env")
    if not isinstance(env, str) or not env.strip():
        raise MappingError(f"source.url_env: falta el nombre de la variable de entorno con la "
                           f"URL de conexión ({dialect.example}), p. ej. "
                           "«url_env: VISITAS_BD_20131370645».")
    if "://" in env or not ENV_NAME.fullmatch(env):
        raise MappingError("source.url_env: debe ser el nombre de una variable de entorno "
                           "(letras, números y _), no la URL: la URL lleva la clave y nunca va "
                           "en el archivo de registro.")
    has_table, has_query = "table" in source, "query" in source
    if has_table == has_query:
        raise MappingError("source: indique la tabla (table) o la consulta (query) que se lee, "
                           "una de las dos.")
    what = "table" if has_table else "query"
    if not isinstance(source[what], str) or not source[what].strip():
        raise MappingError(f"source.{what} debe ser un texto: "
                           + ("el nombre de la tabla o vista, p. ej. «control.visitas»."
                              if has_table else "una consulta SELECT."))
    cursor = source.get("cursor")
    if not isinstance(cursor, str) or not cursor.strip():
        raise MappingError("source.cursor: falta la columna que crece cuando una fila se "
                           "inserta o se modifica (una fecha y hora de modificación o un "
                           "número correlativo), p. ej. «cursor: actualizado_en».")
    key = source.get("key")
    if key is not None and not (isinstance(key, list) and key
                                and all(isinstance(k, str) and k for k in key)):
        raise MappingError("source.key debe ser una lista de columnas que identifican una "
                           "fila, p. ej. «key: [id]».")
    rows = source.get("batch_rows")
    if rows is not None and not (isinstance(rows, int) and not isinstance(rows, bool)
                                 and rows >= 1):
        raise MappingError("source.batch_rows debe ser un número entero positivo de filas "
                           "por lote, p. ej. 50000.")


KEYS = ("url_env", "table", "query", "cursor", "key", "batch_rows")
for _kind in DIALECTS:
    register_kind(_kind, KindSpec(keys=KEYS, check=_check))


# ------------------------------------------------------------------------- the connection


@dataclass(frozen=True)
class Target:
    """Where the database is, from the URL in the entity's variable (the password only here)."""

    host: str
    port: int
    database: str
    user: str
    password: str
    options: tuple[tuple[str, str], ...]

    def where(self, dialect: Dialect) -> str:
        """The address without credentials, for messages and provenance."""
        return f"{dialect.schemes[0]}://{self.host}:{self.port}/{self.database}"


def parse_url(dialect: Dialect, env: str, environ: dict[str, str] | os._Environ[str]) -> Target:
    url = environ.get(env, "")
    if not url.strip():
        raise SourceUnavailable(
            f"la variable de entorno {env} no está definida. Debe tener la URL de conexión a "
            f"la base de datos {dialect.name} de la entidad ({dialect.example}) y estar "
            "definida donde corre visitas run o visitas serve.")
    parts = urlsplit(url.strip())
    try:
        port = parts.port or dialect.default_port
    except ValueError:
        port = 0
    database = unquote(parts.path.lstrip("/"))
    if parts.scheme not in dialect.schemes or not parts.hostname or not database or not port:
        # the URL itself is never repeated: it may hold the password
        raise SourceUnavailable(
            f"la variable de entorno {env} no tiene una URL de conexión {dialect.name} "
            f"válida; se espera la forma {dialect.example}.")
    return Target(host=parts.hostname, port=port, database=database,
                  user=unquote(parts.username or ""), password=unquote(parts.password or ""),
                  options=tuple(parse_qsl(parts.query)))


def _extension_file(dialect: Dialect) -> Path:
    module = f"duckdb_extension_{dialect.extension}"
    spec = importlib.util.find_spec(module)
    found = sorted(Path(spec.origin).parent.rglob("*.duckdb_extension")) \
        if spec and spec.origin else []
    if not found:
        raise SourceUnavailable(
            f"falta la extensión {dialect.extension} de DuckDB: instale el paquete "
            f"{module.replace('_', '-')} (la versión de DuckDB del proyecto).")
    return found[0]


def _connect(dialect: Dialect, target: Target, settings: Settings) -> duckdb.DuckDBPyConnection:
    import duckdb

    from pipeline.sql import literal, path_literal

    con = duckdb.connect()
    # extensions cannot be downloaded: the wheel's signed file is installed into a folder of
    # the var dir (not the user's home), once, and loaded from there
    folder = settings.var_dir / "duckdb-extensions"
    folder.mkdir(parents=True, exist_ok=True)
    con.execute(f"SET extension_directory = {path_literal(folder)}")
    con.execute(f"INSTALL {path_literal(_extension_file(dialect))}")
    con.execute(f"LOAD {dialect.extension}")
    # a timestamp with time zone is read as Lima's wall-clock time, the time of the visit
    con.execute("SET TimeZone = 'America/Lima'")
    # credentials in a secret, never in the attach string: DuckDB repeats that string in its
    # connection errors
    secret = {"HOST": target.host, "PORT": str(target.port), "DATABASE": target.database,
              "USER": target.user, "PASSWORD": target.password}
    con.execute("CREATE SECRET fuente (TYPE " + dialect.extension + ", "
                + ", ".join(f"{k} {literal(v)}" for k, v in secret.items()) + ")")
    options = dict(target.options)
    if dialect.kind == "postgres":
        options.setdefault("connect_timeout", "10")
    attach = " ".join(f"{k}={v}" for k, v in options.items())
    con.execute(f"ATTACH {literal(attach)} AS fuente (TYPE {dialect.extension}, "
                "SECRET fuente, READ_ONLY)")
    return con


# ------------------------------------------------------------------------------ the records


#: DuckDB types whose values pass to JSON as they are
NATIVE = ("VARCHAR", "BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT",
          "USMALLINT", "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "BLOB")
#: the native cursor value, read beside the rendered columns
CURSOR_COLUMN = "_cursor_de_extraccion"


def rendered(name: str, kind: str) -> str:
    """The DuckDB expression that renders one column as `_cell` would, done by DuckDB: a
    Python datetime per value costs more than the whole rest of the extraction."""
    from pipeline.sql import identifier

    column = identifier(name)
    if kind.startswith("TIMESTAMP"):
        # Lima's wall-clock time for a timestamp with time zone (the session's TimeZone)
        return (f"CASE WHEN microsecond({column}) % 1000000 = 0 "
                f"THEN strftime({column}, '%Y-%m-%d %H:%M:%S') "
                f"ELSE strftime({column}, '%Y-%m-%d %H:%M:%S.%f') END AS {column}")
    if kind in NATIVE:
        return column
    return f"CAST({column} AS VARCHAR) AS {column}"


def _plain_column(array: pa.Array) -> list[Any]:
    """One column as the JSON values a mapping reads (see `_cell`)."""
    import pyarrow as pa

    values = array.to_pylist()
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or \
            pa.types.is_integer(kind) or pa.types.is_boolean(kind) or pa.types.is_floating(kind):
        return values
    return [_cell(v) for v in values]


def _cell(value: Any) -> Any:
    """A value JSON has no type for, as text the mapping's formats read: a timestamp as Lima's
    `AAAA-MM-DD HH:MM:SS` (a date followed by a time, as `date_format` and `time_format`
    take it), microseconds only when there are some."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(LIMA).replace(tzinfo=None)
        return value.isoformat(sep=" ", timespec="microseconds" if value.microsecond
                               else "seconds")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dict | list):
        return value
    return value if value is None or isinstance(value, str | int | float | bool) \
        else str(value)


def row_hash(record: dict[str, Any]) -> str:
    """What identifies a row's content at the kept cursor value."""
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Query:
    dialect: Dialect
    base: str  # the table's SELECT, or the entity's query
    cursor: str  # as the query returns it
    order: str  # after the cursor: the key, or every column
    since: Any = None  # the kept cursor value; None on the first extraction

    def text(self) -> str:
        d = self.dialect
        where = f"{d.identifier(self.cursor)} IS NOT NULL"
        if self.since is not None:
            where += (f" AND {d.identifier(self.cursor)} >= "
                      f"{sql_literal(self.since, backslash_escapes=d.backslash_escapes)}")
        return (f"SELECT * FROM ({self.base}) AS fuente WHERE {where} "
                f"ORDER BY {d.identifier(self.cursor)}, {self.order}")


def _base(dialect: Dialect, source: dict[str, Any]) -> str:
    if "table" in source:
        table = ".".join(dialect.identifier(p) for p in str(source["table"]).split("."))
        return f"SELECT * FROM {table}"
    return str(source["query"]).strip().rstrip(";")


class Extraction:
    """One fetch's rows, cut into batches of records, with the state after each."""

    def __init__(self, entity: Entity, dialect: Dialect, where: str, query: Query,
                 state: dict[str, Any], workdir: Path, batch_rows: int) -> None:
        self.entity = entity
        self.dialect = dialect
        self.where = where
        self.query = query
        self.workdir = workdir
        self.batch_rows = batch_rows
        self.sequence = int(state.get("lotes", 0)) if query.since is not None else 0
        #: the largest cursor value read, and the content of the rows at exactly that value
        self.top = query.since
        self.top_hashes: set[str] = set(state.get("en_el_limite", [])) \
            if query.since is not None else set()
        self.pending_top: list[dict[str, Any]] = []  # rows at `top` not hashed yet
        self.fetched = Fetched()
        self._chunk: list[dict[str, Any]] = []
        self._first: Any = None

    def add(self, records: list[dict[str, Any]], cursors: list[Any]) -> None:
        """Take the rows of one Arrow batch; hand over a batch of records when full."""
        chunk = self._chunk
        for record, value in zip(records, cursors, strict=True):
            if value == self.query.since and row_hash(record) in self.top_hashes:
                continue  # read and staged by an earlier extraction, unchanged since
            if value != self.top:
                self.top, self.top_hashes, self.pending_top = value, set(), []
            self.pending_top.append(record)
            if not chunk:
                self._first = value
            chunk.append(record)
            if len(chunk) >= self.batch_rows:
                self.flush()
                chunk = self._chunk

    def flush(self) -> None:
        chunk = self._chunk
        if not chunk:
            return
        self.top_hashes.update(row_hash(r) for r in self.pending_top)
        self.pending_top = []
        self.sequence += 1
        name = f"{self.dialect.kind}-{sortable(self.top)}-{self.sequence:06d}.json"
        upload: Upload = records_upload(
            self.entity.ruc, chunk, self.workdir, name, origin=self.where,
            provenance={"consulta": self.query.text(), "cursor": self.query.cursor,
                        "cursor_desde": encode_value(self._first)["valor"],
                        "cursor_hasta": encode_value(self.top)["valor"],
                        "filas_extraidas": len(chunk)})
        self.fetched.uploads.append(upload)
        self.fetched.checkpoints[upload.sha256] = {
            "fuente": self.dialect.kind,
            "origen": self.where,
            "cursor": self.query.cursor,
            "valor": encode_value(self.top),
            "en_el_limite": sorted(self.top_hashes),
            "lotes": self.sequence,
            "extraido_en": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        }
        self._chunk = []


def _batches(con: duckdb.DuckDBPyConnection, dialect: Dialect, sql: str, select: str
             ) -> Iterator[pa.RecordBatch]:
    from pipeline.sql import literal

    result = con.execute(f"SELECT {select} FROM "
                         f"{dialect.query_function}('fuente', {literal(sql)})")
    yield from result.to_arrow_reader(ARROW_ROWS)


# ---------------------------------------------------------------------------------- errors


def _explain(exc: Exception, dialect: Dialect, where: str, target: Target | None,
             env: str, since: Any) -> SourceUnavailable:
    """A DuckDB error as a Spanish message for the operator, without credentials."""
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if target is not None and target.password:
        detail = detail.replace(target.password, "***")
    detail = re.sub(r"(?i)(password|passwd)=\S+", r"\1=***", detail)
    detail = re.sub(r"^[A-Za-z ]*Error: ", "", detail)
    # the query is in the batch's provenance; here it would hide the reason
    detail = re.sub(r'(?i)(query) "[^"]*"', r"\1", detail).strip(" :")[:300]
    low = detail.lower()
    if any(s in low for s in ("password authentication failed", "access denied",
                              "role \"", "no pg_hba.conf entry", "authentication")):
        what = (f"{dialect.name} rechazó el usuario o la clave de la URL en {env}: revise "
                "las credenciales")
    elif any(s in low for s in ("connection refused", "can't connect", "could not connect",
                                "unable to connect", "timeout expired", "timed out",
                                "could not translate host", "unknown mysql server host",
                                "failed to connect")):
        what = (f"no se pudo conectar con la base de datos {dialect.name} en {where}: "
                "¿el servidor está detenido, o cambió su dirección o puerto?")
    elif "database" in low and ("does not exist" in low or "unknown database" in low):
        what = f"la base de datos de {where} no existe: revise la URL en {env}"
    elif any(s in low for s in ("server closed the connection", "lost connection",
                                "gone away", "terminating connection", "connection to server",
                                "eof detected", "broken pipe", "failed to fetch result")):
        what = (f"se perdió la conexión con la base de datos {dialect.name} en {where} "
                "mientras se leía")
    else:
        what = f"la lectura de la base de datos {dialect.name} en {where} falló"
    resume = (f"la próxima ejecución retoma desde el cursor {encode_value(since)['valor']}"
              if since is not None else "la próxima ejecución vuelve a leer desde el inicio")
    return SourceUnavailable(f"{what} ({detail}). No se perdió nada: el cursor no avanzó y "
                             f"{resume}.")


# ---------------------------------------------------------------------------------- source


class DatabaseSource:
    """An entity's visitor-control database (kind postgres or mysql)."""

    def __init__(self, state_path: Path, settings: Settings,
                 environ: dict[str, str] | None = None) -> None:
        self.state_path = state_path
        self.settings = settings
        self.environ = os.environ if environ is None else environ

    def fetch(self, entity: Entity, workdir: Path, seen: Seen | None = None) -> Fetched:
        import duckdb

        source = entity.source
        dialect = DIALECTS[entity.source_kind]
        env = str(source["url_env"])
        target = parse_url(dialect, env, self.environ)
        where = target.where(dialect)
        state = read_state(self.state_path)
        since = None
        if state.get("cursor") == source["cursor"] and state.get("fuente") == dialect.kind \
                and isinstance(state.get("valor"), dict):
            # a cursor of another column (or kind) means nothing here: read from the start
            since = decode_value(state["valor"])
        origin = f"{where} {source['table']}" if "table" in source else f"{where} (consulta)"
        try:
            con = _connect(dialect, target, self.settings)
            try:
                return self._extract(con, entity, dialect, origin, source, since, state,
                                     workdir)
            finally:
                con.close()
        except SourceUnavailable:
            raise
        except duckdb.Error as exc:
            raise _explain(exc, dialect, where, target, env, since) from None

    def _extract(self, con: duckdb.DuckDBPyConnection, entity: Entity, dialect: Dialect,
                 origin: str, source: dict[str, Any], since: Any, state: dict[str, Any],
                 workdir: Path) -> Fetched:
        from pipeline.sql import identifier, literal

        base = _base(dialect, source)
        probe = f"SELECT * FROM ({base}) AS fuente LIMIT 0"
        described = con.execute(
            f"SELECT * FROM {dialect.query_function}('fuente', {literal(probe)})").description
        columns = [d[0] for d in described]
        types = [str(d[1]) for d in described]
        by_fold = {c.lower(): c for c in columns}
        cursor = by_fold.get(str(source["cursor"]).lower())
        if cursor is None:
            raise SourceUnavailable(
                f"la columna cursor «{source['cursor']}» (clave source.cursor) no está en "
                f"{origin}; sus columnas son: {', '.join(columns)}.")
        if source.get("key"):
            missing = [k for k in source["key"] if k.lower() not in by_fold]
            if missing:
                raise SourceUnavailable(
                    f"las columnas {', '.join(missing)} de source.key no están en {origin}; "
                    f"sus columnas son: {', '.join(columns)}.")
            order = ", ".join(dialect.identifier(by_fold[k.lower()]) for k in source["key"])
        else:
            # every column breaks ties, so the same rows always come in the same order
            order = ", ".join(str(i) for i in range(1, len(columns) + 1))
        query = Query(dialect, base, cursor, order, since)
        extraction = Extraction(entity, dialect, origin, query, state, workdir,
                                int(source.get("batch_rows") or BATCH_ROWS))
        select = ", ".join([*(rendered(c, t) for c, t in zip(columns, types, strict=True)),
                            f"{identifier(cursor)} AS {CURSOR_COLUMN}"])
        for batch in _batches(con, dialect, query.text(), select):
            cursors = batch.column(len(columns)).to_pylist()
            plain = [_plain_column(batch.column(i)) for i in range(len(columns))]
            records = [dict(zip(columns, row, strict=True)) for row in zip(*plain, strict=True)]
            extraction.add(records, cursors)
        extraction.flush()
        return extraction.fetched


__all__ = ["BATCH_ROWS", "DIALECTS", "DatabaseSource", "parse_url"]
