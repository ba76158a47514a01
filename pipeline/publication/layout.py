"""Where each file of a release lives, relative to the release directory.

Monthly CSV and JSON as on the national portal; Parquet partitioned by year, hive style
(`anio=YYYY/`), so DuckDB, pyarrow and Spark read the year as a column and skip years, with
one file per month inside the year directory: a change to one month rewrites only that
month's files (a yearly file would force re-sorting and rewriting millions of rows).
"""

from __future__ import annotations

RELEASES = "releases"
LATEST = "latest"
#: content-addressed copies `latest/datapackage.json` names while the stable files they stand
#: for are being replaced (see `publisher.sync_latest`)
OBJECTS = "objects"
MANIFEST = "release.json"
DATAPACKAGE = "datapackage.json"
CATALOG = "catalog.jsonld"
DATA_JSON = "data.json"
INDEX = "index.html"
CHANGES = "changes.json"
CHANGES_MD = "CAMBIOS.md"
DUCKDB = "visitas.duckdb"
#: the compliance page (`pipeline.publication.compliance_page`)
COMPLIANCE_PAGE = "cumplimiento.html"


def month_file(table: str, month: str, fmt: str) -> str:
    return f"{table}/{fmt}/{table}-{month}.{fmt}"


def parquet_file(table: str, month: str) -> str:
    """The month's Parquet, inside its year's hive directory (`anio=YYYY/`)."""
    return f"{table}/parquet/anio={month[:4]}/{table}-{month}.parquet"


def parquet_glob(table: str) -> str:
    return f"{table}/parquet/anio=*/*.parquet"


def release_dir(release_id: str) -> str:
    return f"{RELEASES}/{release_id}"


def object_key(sha256: str, path: str) -> str:
    """Where `latest/` keeps a copy during a switch: named by content, never overwritten."""
    return f"{OBJECTS}/{sha256[:2]}/{sha256}/{path.rsplit('/', 1)[-1]}"


def complete_file(table: str, fmt: str) -> str:
    """The whole dataset in one file (`visitas-completo.parquet`, `visitas-completo.csv.gz`)."""
    return f"{table}-completo.{fmt}"


def table_file(table: str, fmt: str) -> str:
    """A small table published whole in each release (`cumplimiento.csv`)."""
    return f"{table}.{fmt}"
