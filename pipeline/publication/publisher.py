"""Publish the consolidated table as an immutable release and move `latest/` to it.

Layout of the published tree:

    releases/<id>/                 one immutable directory per release (create-only writes)
        visitas/csv/visitas-YYYY-MM.csv, visitas/json/visitas-YYYY-MM.json
        visitas/parquet/anio=YYYY/visitas-YYYY-MM.parquet   (hive by year, one file per month)
        visitas.duckdb, visitas.schema.json, changes.json, CAMBIOS.md
        cumplimiento.csv, cumplimiento.parquet, cumplimiento.schema.json, cumplimiento.html
                                   compliance per entity and month (`compliance`), whole
        decisores.*, actos_gestion_intereses.*, indicadores_gestion_intereses.*
                                   (CSV, Parquet, schema) the lobbying datasets (`lobbying`),
                                   whole
        datapackage.json, catalog.jsonld, data.json, index.html
        release.json               the manifest, written last: a release without it is unfinished
    latest/                        the served release's files at the same (stable) paths
        datapackage.json, catalog.jsonld, data.json, index.html   naming those stable paths
        objects/<xx>/<sha>/<file>  content-addressed copies of the files the last switch replaced
        release.json               the pointer: the manifest of the release served, written last

Order of a release: data files (each read back: size and sha256), then the descriptors, then
the manifest; only then the switch of `latest/` (see `sync_latest`), the pointer last. A crash
anywhere leaves the pointer on the previous release and `latest/datapackage.json` naming
whole files; the next run resumes from the newest complete release.

Re-running with no change in the data publishes nothing new (no release), and only repairs
`latest/` if a crash left its pointer behind.

A release that would drop more than `release.max_withdrawn_share` of an entity's published
rows without an explicit withdrawal is refused before anything is written (`ReleaseRefused`,
see `pipeline.publication.guard`): `latest/` keeps serving the previous release.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb

from pipeline import locks, reports, workdir
from pipeline.consolidation.visitas import database_path
from pipeline.duckdb_limits import limit_resources
from pipeline.publication import (
    changelog,
    compliance,
    environment,
    guard,
    layout,
    leftovers,
    lobbying,
    overview,
    public_url,
    published,
    tables,
    whole,
)
from pipeline.publication.datapackage import datapackage
from pipeline.publication.dataset import DatasetMeta, load_dataset
from pipeline.publication.dcat import catalog, data_json
from pipeline.publication.index_page import index_html
from pipeline.publication.links import Links
from pipeline.publication.manifest import Manifest, ReleaseFile
from pipeline.publication.months import (
    ReleaseSpec,
    changed,
    columns,
    create_published_view,
    month_hashes,
    schema_hash,
    year_hashes,
)
from pipeline.publication.personal_data import (
    SENTENCES,
    ComputedColumns,
    computed_columns,
    load_policy,
    pseudonym_key,
    published_schema,
)
from pipeline.publication.writers import write_file
from pipeline.settings import Settings
from pipeline.sql import identifier, literal
from pipeline.storage import Storage, StorageError, open_storage
from pipeline.storage.base import sha256_file

JSON_TYPE = "application/json"


@dataclass
class PublicationOutcome:
    location: str
    version: str  # the release `latest/` serves after this run
    rows: int
    files: list[ReleaseFile]
    new_release: bool = True
    previous: str | None = None
    written: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    changes: dict[str, int] = field(default_factory=dict)
    #: entities that lost published rows without withdrawal, within release.max_withdrawn_share
    #: (published, but worth telling the operator)
    unexplained: list[guard.EntityLoss] = field(default_factory=list)
    #: what the operator should fix though the release went out (Spanish, one per line)
    warnings: list[str] = field(default_factory=list)
    #: the lobbying datasets of the release: acts published, entities with a register in
    #: force and visits left for their administrators to review (empty without them)
    lobbying: dict[str, int] = field(default_factory=dict)
    #: where each entity's review file is (`<reports>/<RUC>/decisores-revision.csv`)
    review_files: str = ""


def _json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")


def _release_id(now: dt.datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%SZ")


def published_storage(settings: Settings) -> Storage:
    """The published tree; on a local disk world-readable, so any web server can serve it."""
    return open_storage(settings.publish_url, base_dir=settings.root, public=True)


def complete_releases(storage: Storage) -> list[str]:
    """Ids of the releases that have their manifest, oldest first."""
    suffix = "/" + layout.MANIFEST
    return sorted(o.key[len(layout.RELEASES) + 1:-len(suffix)]
                  for o in storage.list(layout.RELEASES + "/")
                  if o.key.endswith(suffix) and o.key.count("/") == 2)


def load_manifest(storage: Storage, release_id: str) -> Manifest:
    return Manifest.from_json(storage.read_bytes(f"{layout.release_dir(release_id)}/{layout.MANIFEST}"))


def served_release(storage: Storage) -> Manifest | None:
    key = f"{layout.LATEST}/{layout.MANIFEST}"
    return Manifest.from_json(storage.read_bytes(key)) if storage.exists(key) else None


def verify(storage: Storage, key: str, size: int, sha256: str | None) -> None:
    """Read back what the storage holds; raise if it is not what we wrote."""
    stored = storage.size(key)
    if stored != size:
        raise StorageError(f"Verificación fallida: {storage.locate(key)} tiene {stored} bytes, "
                           f"se escribieron {size}.")
    if sha256 is not None and storage.sha256(key) != sha256:
        raise StorageError(f"Verificación fallida: el sha256 de {storage.locate(key)} no coincide.")


def _month_bounds(month: str) -> tuple[str, str]:
    year, mon = int(month[:4]), int(month[5:7])
    nxt = f"{year + 1}-01" if mon == 12 else f"{year}-{mon + 1:02d}"
    return f"{month}-01", f"{nxt}-01"


def publish(settings: Settings, *, now: dt.datetime | None = None,
            storage: Storage | None = None, dataset: str = "visitas",
            database: Path | None = None) -> PublicationOutcome:
    """Cut a release of `dataset` from the consolidated DuckDB table and serve it as latest/.

    Holds the warehouse lock while it reads the database and the published tree's lock
    throughout (`pipeline.locks`, in that order): one publisher at a time per published tree,
    and no consolidation changing the database under it. Raises `LockBusy` if another
    process keeps either past the wait.
    """
    # Before any work: a release for a portal without absolute links is refused outside local.
    warning = public_url.check(settings)
    storage = storage or published_storage(settings)
    wait = settings.lock_wait_seconds
    with ExitStack() as reading:
        reading.enter_context(locks.hold(locks.warehouse(settings), wait))
        with locks.hold(locks.published_tree(settings, storage), wait):
            # An unfinished release and scratch files a killed publisher left (never a live
            # one's: no other publisher can be running now).
            leftovers.clear(settings, storage)
            with workdir.temporary_dir(settings.temp_dir, leftovers.KIND) as tmp:
                outcome = _publish(settings, tmp, now=now, storage=storage, dataset=dataset,
                                   database=database, done_reading=reading.close)
    outcome.warnings += [warning] if warning else []
    return outcome


def _publish(settings: Settings, tmp: Path, *, now: dt.datetime | None, storage: Storage | None,
             dataset: str, database: Path | None,
             done_reading: Callable[[], object] = lambda: None) -> PublicationOutcome:
    """Plan (what changed since the newest release), write the new files locally, upload
    them (each read back), then commit: manifest, and latest/ last. Nothing reaches the
    storage before every local file is written.

    `done_reading` is called once the database is no longer read (the warehouse lock is
    released then, so an upload to S3 does not hold up the next consolidation)."""
    meta, computed = _apply_personal_data_policy(settings, load_dataset(settings.datasets_dir, dataset))
    # a demo release says so in its title and descriptor (`pipeline.publication.environment`)
    meta = environment.mark(meta, settings.environment)
    # Compliance is computed from the visits' own warehouse, so it rides with `visitas`.
    companion = compliance.load(settings) if meta.table == "visitas" else None
    if companion is not None:
        companion = replace(companion, meta=environment.mark(companion.meta, settings.environment))
    # So are the lobbying datasets: they match the published visits to each register.
    lobby = lobbying.load(settings) if meta.table == "visitas" else None
    if lobby is not None:
        lobby = lobbying.LobbyingMeta(*(environment.mark(m, settings.environment)
                                        for m in lobby.metas))
    meta = replace(meta, companions=(*([companion.meta] if companion else []),
                                     *(lobby.metas if lobby else ())))
    spec = ReleaseSpec.of(meta)
    storage = storage or published_storage(settings)
    warnings: list[str] = []
    created = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    with duckdb.connect(str(database or database_path(settings)), read_only=True) as con:
        limit_resources(con, settings)
        computed.register(con)
        create_published_view(con, meta, spec, identifier(meta.table), computed.expressions)
        table = (compliance.stage(con, settings, companion.meta, tmp / "cumplimiento",
                                  _previous_table(storage, companion.meta, tmp / "prev"))
                 if companion is not None else None)
        lobbying_counts: dict[str, int] = {}
        whole_tables = (_lobbying(con, settings, storage, lobby, tmp, warnings, lobbying_counts)
                        if lobby is not None else [])
        plan = _plan(con, storage, meta, spec, computed, created,
                     table.fingerprint if table else None,
                     {t.spec.table: t.staged.fingerprint for t in whole_tables} or None)
        if plan.unchanged:
            outcome = _keep_serving(storage, plan, settings.public_base_url)
            outcome.warnings += warnings
            return outcome
        # Only the months that moved can hold changes (changelog) or losses (guard).
        prev_parquet = _previous_parquet(storage, plan.previous, plan.changed_months,
                                         tmp / "prev")
        unexplained = _guard(con, storage, plan, prev_parquet)
        links = Links(settings.public_base_url, plan.release_id, from_latest=False)
        staged = _write(con, storage, plan, links, tmp, prev_parquet,
                        connect=lambda path: _connect(path, settings),
                        table_changes={t.spec.table: {"titulo": t.spec.meta.title, **t.staged.changes}
                                for t in whole_tables})
        staged.extras += [_reusing(plan, path, entry)
                          for t in whole_tables for path, entry in t.staged.files]
        if companion is not None and table is not None:
            # matplotlib loads in about a second: only when a release is written
            from pipeline.publication import compliance_page

            page = compliance_page.write(con, settings, companion, tmp / "cumplimiento",
                                         version=plan.release_id, created=_iso(plan.created))
            staged.extras += [_reusing(plan, path, entry) for path, entry in [*table.files, page]]
        covered = overview.compute(con, plan.meta, plan.spec)
        spans = published.spans(
            con, plan.meta, (covered["desde"], covered["hasta"]) if covered["desde"] else None,
            {f.entry.path: f.local for f in staged.all if f.local is not None})
    done_reading()
    # From here on the release folder fills: if this process is killed, the next run reads
    # the note and removes the unfinished release.
    leftovers.note_release(tmp, storage, plan.release_id)
    _upload(storage, plan, staged)
    manifest = _commit(storage, plan, staged, links, settings.public_base_url, covered, spans)
    return PublicationOutcome(storage.locate(layout.LATEST), manifest.id, manifest.rows,
                              manifest.files, previous=manifest.previous,
                              written=[f.entry.path for f in staged.all if f.source is None],
                              reused=[f.entry.path for f in staged.all if f.source is not None],
                              changes=staged.changes["totales"], unexplained=unexplained,
                              warnings=warnings, lobbying=lobbying_counts,
                              review_files=(reports.reports_storage(settings).locate(
                                  f"<RUC>/{lobbying.REVIEW_FILE}") if lobbying_counts else ""))


@dataclass(frozen=True)
class _WholeTable:
    spec: tables.WholeTable
    staged: tables.StagedTable


def _lobbying(con: duckdb.DuckDBPyConnection, settings: Settings, storage: Storage,
              lobby: lobbying.LobbyingMeta, tmp: Path, warnings: list[str],
              counts: dict[str, int]) -> list[_WholeTable]:
    """Compute and write the lobbying datasets; put each entity's review file in the reports
    area (a reports area that cannot be written is told, and does not stop the release).
    `counts` receives what the run tells of them (`PublicationOutcome.lobbying`)."""
    previous = {spec.table: _previous_table(storage, spec.meta, tmp / "prev")
                for spec in lobby.specs()}
    reviews = lobbying.compute(con, settings, previous[lobbying.DECISION_MAKERS])
    try:
        lobbying.write_reviews(reports.reports_storage(settings), reviews)
    except (StorageError, OSError) as exc:
        warnings.append(f"No se pudieron escribir los archivos {lobbying.REVIEW_FILE} en la "
                        f"zona de reportes: {exc}. Se escribirán en la próxima publicación.")
    written = [_WholeTable(spec, tables.write(con, spec, tmp / "gestion", previous[spec.table]))
               for spec in lobby.specs()]
    counts.update(actos=next(t.staged.rows for t in written if t.spec.table == lobbying.ACTS),
                  entidades=len(reviews), por_revisar=sum(len(r.rows) for r in reviews))
    return written


def _guard(con: duckdb.DuckDBPyConnection, storage: Storage, plan: ReleasePlan,
           prev_parquet: list[Path]) -> list[guard.EntityLoss]:
    """Refuse the release (raise `ReleaseRefused`) when an entity would lose more than the
    allowed share of its published rows without withdrawal; else the smaller losses."""
    if plan.previous is None:
        return []
    losses = guard.losses(con, plan.meta, plan.spec, plan.changed_months, prev_parquet)
    refused = [loss for loss in losses if loss.refused]
    if refused:
        served = served_release(storage)
        raise guard.ReleaseRefused(refused, table=plan.meta.table,
                                   location=storage.locate(layout.LATEST),
                                   served=served.id if served else None,
                                   served_rows=served.rows if served else None)
    return losses


@dataclass
class ReleasePlan:
    """What the next release is: its id, its partitions and which of them changed."""

    meta: DatasetMeta
    spec: ReleaseSpec
    release_id: str
    created: dt.datetime
    previous: Manifest | None
    schema_hash: str
    same_schema: bool
    months: dict[str, dict[str, Any]]
    changed_months: list[str]
    #: the compliance table's fingerprint (None when the project publishes none)
    compliance: dict[str, Any] | None = None
    #: the other whole tables' fingerprints, by table (None when there are none)
    tables: dict[str, Any] | None = None

    @property
    def unchanged(self) -> bool:
        """Same data and schema as the newest release, compliance included: nothing new to
        publish."""
        return (self.previous is not None and self.same_schema and not self.changed_months
                and self.previous.compliance == self.compliance
                and self.previous.tables == self.tables)

    @property
    def release_dir(self) -> str:
        return layout.release_dir(self.release_id)

    @property
    def previous_files(self) -> dict[str, ReleaseFile]:
        return {f.path: f for f in self.previous.files} if self.previous else {}

    def previous_key(self, path: str) -> str:
        """Where the previous release keeps `path` (only meaningful when there is one)."""
        assert self.previous is not None
        return f"{layout.release_dir(self.previous.id)}/{path}"


@dataclass(frozen=True)
class StagedFile:
    """One file of the release, ready to be put in place: a local file to upload, or a key
    of the previous release to copy server-side."""

    entry: ReleaseFile
    local: Path | None = None
    source: str | None = None


@dataclass
class StagedRelease:
    """Everything the release holds before any of it is uploaded."""

    new: list[StagedFile]  # data files written for this release
    reused: list[StagedFile]  # data files unchanged since the previous release
    extras: list[StagedFile]  # schema, changelog, the whole dataset in one file per format
    changes: dict[str, Any]
    csv_stream: dict[str, Any] | None = None

    @property
    def all(self) -> list[StagedFile]:
        """In upload order: new data, reused data, then the extras."""
        return self.new + self.reused + self.extras

    @property
    def files(self) -> list[ReleaseFile]:
        """As listed in the manifest: data files by path, then the extras."""
        data = sorted((f.entry for f in self.new + self.reused), key=lambda f: f.path)
        return data + [f.entry for f in self.extras]


def _plan(con: duckdb.DuckDBPyConnection, storage: Storage, meta: DatasetMeta, spec: ReleaseSpec,
          computed: ComputedColumns, created: dt.datetime,
          compliance_fingerprint: dict[str, Any] | None = None,
          table_fingerprints: dict[str, Any] | None = None) -> ReleasePlan:
    """Compare the data (`pub`) with the newest complete release: which months changed."""
    done = complete_releases(storage)
    previous = load_manifest(storage, done[-1]) if done else None
    months = month_hashes(con, meta, computed.expressions, computed.key_id)
    shash = schema_hash(meta)
    same_schema = previous is not None and previous.schema_hash == shash
    changed_months = changed(months, _previous_months(previous, same_schema))
    release_id = _release_id(created)
    while release_id in done or (previous and release_id <= previous.id):
        # Two releases within one second (or a clock behind the last release): ids must
        # stay unique and sorted.
        release_id = _next_id(release_id)
    return ReleasePlan(meta, spec, release_id, created, previous, shash, same_schema, months,
                       changed_months, compliance_fingerprint, table_fingerprints)


def _keep_serving(storage: Storage, plan: ReleasePlan, base_url: str) -> PublicationOutcome:
    """No change since the newest release: no new one; only repair latest/ if it lags."""
    previous = plan.previous
    assert previous is not None
    sync_latest(storage, plan.meta, previous, base_url)
    return PublicationOutcome(storage.locate(layout.LATEST), previous.id, previous.rows,
                              previous.files, new_release=False, previous=previous.id,
                              reused=[f.path for f in previous.files])


def _write(con: duckdb.DuckDBPyConnection, storage: Storage, plan: ReleasePlan, links: Links,
           tmp: Path, prev_parquet: list[Path],
           connect: Callable[[Path], duckdb.DuckDBPyConnection],
           table_changes: dict[str, dict[str, Any]] | None = None) -> StagedRelease:
    """Write the release's new files locally under `tmp`; unchanged ones are only named.
    `prev_parquet`: the previous release's Parquet of the changed months."""
    new, reused = _write_months(con, plan, tmp / "out")
    previous = plan.previous
    rows = changelog.compute(con, plan.meta, plan.spec, plan.changed_months, prev_parquet)
    prev_link = links.release(previous.id) if previous else None
    changes = changelog.document(plan.release_id, previous.id if previous else None, prev_link,
                                 rows, table_changes)
    extras = _extras(plan.meta, tmp / "extra", changes, previous=plan)
    monthly = _monthly_parts(storage, new + reused, tmp / "partes")
    built = whole.write(plan.meta, sum(info["rows"] for info in plan.months.values()),
                        monthly["csv"], monthly["parquet"], tmp / "completo", connect)
    extras += [(path, entry, None) for path, entry in built.files]
    return StagedRelease(new, reused, [StagedFile(f, path, src) for path, f, src in extras],
                         changes, built.csv_stream)


def _monthly_parts(storage: Storage, staged: list[StagedFile], dest: Path) -> dict[str, list[Path]]:
    """Local copies of the monthly CSV and Parquet, in month order: the files just written,
    and the previous release's (read in place on a local disk, else downloaded)."""
    parts: dict[str, list[Path]] = {"csv": [], "parquet": []}
    for f in sorted(staged, key=lambda f: (f.entry.partition, f.entry.path)):
        if f.entry.format not in parts:
            continue
        local = f.local
        if local is None:
            assert f.source is not None
            local = storage.local_path(f.source)
            if local is None:
                local = dest / f.entry.path
                local.parent.mkdir(parents=True, exist_ok=True)
                storage.download(f.source, local)
        parts[f.entry.format].append(local)
    return parts


def _connect(path: Path, settings: Settings) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    limit_resources(con, settings)
    return con


def _write_months(con: duckdb.DuckDBPyConnection, plan: ReleasePlan,
                  out: Path) -> tuple[list[StagedFile], list[StagedFile]]:
    """The monthly CSV, JSON and Parquet: written when the month changed (or a format is
    missing from the previous release), else reused from the previous release."""
    meta, spec, prev_files = plan.meta, plan.spec, plan.previous_files
    cols = ", ".join(identifier(c) for c in columns(meta))
    order = ", ".join(identifier(c) for c in spec.order_by)
    date = identifier(spec.date_field)
    new: list[StagedFile] = []
    reused: list[StagedFile] = []
    for month, info in plan.months.items():
        start, end = _month_bounds(month)
        # A date range rather than strftime(): DuckDB skips row groups by their min/max,
        # so one month costs its own rows, not the table's.
        query = (f"SELECT {cols} FROM pub WHERE {date} >= DATE {literal(start)} "
                 f"AND {date} < DATE {literal(end)} ORDER BY {order}")
        dirty = month in plan.changed_months
        paths = {fmt: layout.month_file(meta.table, month, fmt) for fmt in ("csv", "json")}
        paths["parquet"] = layout.parquet_file(meta.table, month)
        if dirty or not all(p in prev_files for p in paths.values()):
            # Computed once for the three formats: the published columns cost an
            # HMAC-SHA256 per row (the pseudonym), the month's rows fit in memory or spill.
            con.execute(f"CREATE OR REPLACE TEMP TABLE _month AS {query}")
            query = f"SELECT {cols} FROM _month ORDER BY {order}"
        for fmt, path in paths.items():
            if not dirty and path in prev_files:
                reused.append(StagedFile(prev_files[path], source=plan.previous_key(path)))
                continue
            wf = write_file(con, query, out / path, path, fmt, rows=info["rows"], partition=month)
            new.append(StagedFile(ReleaseFile(path, fmt, wf.bytes, wf.sha256, info["rows"], month),
                                  local=wf.path))
    return new, reused


def _upload(storage: Storage, plan: ReleasePlan, staged: StagedRelease) -> None:
    """Put every file in the release directory, create-only, each verified before the next:
    new files uploaded, unchanged ones copied server-side from the previous release (hard
    links on a local disk)."""
    # Objects left by a crashed attempt with the same id: the release never completed, so
    # nothing references them.
    _clear_unfinished(storage, plan.release_id)
    for f in staged.all:
        key = f"{plan.release_dir}/{f.entry.path}"
        if f.source is not None:
            storage.copy(f.source, key, if_absent=True)
        else:
            assert f.local is not None
            storage.upload(f.local, key, content_type=f.entry.mediatype, if_absent=True)
        _verify_staged(storage, key, f)


def _verify_staged(storage: Storage, key: str, f: StagedFile) -> None:
    """Read back what the storage holds for `f`: size, and sha256 of what was uploaded (a
    copy's bytes are the previous release's, whose sha256 was checked when uploaded)."""
    verify(storage, key, f.entry.bytes, f.entry.sha256 if f.source is None else None)


def _commit(storage: Storage, plan: ReleasePlan, staged: StagedRelease, links: Links,
            base_url: str, covered: dict[str, Any],
            spans: dict[str, tuple[str, str]]) -> Manifest:
    """Complete the verified release, then serve it: its descriptors, its manifest (from now
    on the release is complete), then latest/ (the pointer last). `spans`: the period each
    dataset's rows cover."""
    previous = plan.previous
    created = _iso(plan.created)
    versions = published.record(
        plan.meta, staged.files, release_id=plan.release_id, created=created, previous=previous,
        first_release=_first_release(storage, previous), totals=staged.changes["totales"],
        covered=spans, table_totals=staged.changes.get("otros_conjuntos"))
    manifest = Manifest(id=plan.release_id, dataset=plan.meta.name, created=created,
                        previous=previous.id if previous else None, schema_hash=plan.schema_hash,
                        rows=sum(info["rows"] for info in plan.months.values()),
                        # kept in the manifest as a summary per year; files are cut by month
                        months=plan.months, years=year_hashes(plan.months), files=staged.files,
                        overview=covered, csv_stream=staged.csv_stream,
                        compliance=plan.compliance, tables=plan.tables, datasets=versions)
    rdir = plan.release_dir
    for name, body, ctype in release_documents(plan.meta, manifest, links,
                                               staged.changes["totales"]):
        storage.write_bytes(f"{rdir}/{name}", body, content_type=ctype, if_absent=True)
    storage.write_bytes(f"{rdir}/{layout.MANIFEST}", manifest.to_json(), content_type=JSON_TYPE,
                        if_absent=True)
    sync_latest(storage, plan.meta, manifest, base_url)
    return manifest


def _first_release(storage: Storage, previous: Manifest | None) -> Manifest | None:
    """The oldest complete release, whose time stands for a dataset's first publication when
    the previous release was cut before versions were recorded (None otherwise: the
    previous release's record says it)."""
    if previous is None or previous.datasets:
        return None
    done = complete_releases(storage)
    return load_manifest(storage, done[0]) if done else None


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _reusing(plan: ReleasePlan, local: Path, entry: ReleaseFile) -> StagedFile:
    """`local` to upload, or, when the previous release holds the same bytes at the same
    path, that file to copy (so the release summary tells it apart from what changed)."""
    same = plan.previous_files.get(entry.path) if plan.previous else None
    if same is not None and same.sha256 == entry.sha256:
        return StagedFile(same, local, plan.previous_key(entry.path))
    return StagedFile(entry, local)


def _previous_table(storage: Storage, meta: DatasetMeta, dest: Path) -> Path | None:
    """The newest complete release's Parquet of a table published whole (compliance), read
    in place on a local disk, else downloaded; None when it has none."""
    done = complete_releases(storage)
    if not done:
        return None
    path = layout.table_file(meta.table, "parquet")
    if load_manifest(storage, done[-1]).file(path) is None:
        return None
    key = f"{layout.release_dir(done[-1])}/{path}"
    local = storage.local_path(key)
    if local is None:
        local = dest / path
        local.parent.mkdir(parents=True, exist_ok=True)
        storage.download(key, local)
    return local


def _previous_months(previous: Manifest | None, same_schema: bool) -> dict[str, dict[str, Any]]:
    if previous is None:
        return {}
    if same_schema:
        return previous.months
    # Another schema (a column added, say): every partition is rewritten, and months that
    # vanished still count, so their rows are reported as withdrawn.
    stale = {"hash": "otro-esquema"}
    return {m: stale for m in previous.months}


def _next_id(release_id: str) -> str:
    stem, _, n = release_id.partition(".")
    return f"{stem}.{int(n or 0) + 1:03d}"


def _clear_unfinished(storage: Storage, release_id: str) -> None:
    for obj in storage.list(layout.release_dir(release_id) + "/"):
        storage.delete(obj.key)


def _previous_parquet(storage: Storage, previous: Manifest | None, months: list[str],
                      dest: Path) -> list[Path]:
    """The previous release's Parquet files that hold `months`.

    Releases published before the monthly cut have one Parquet per year (partition 'YYYY'),
    so a year file counts when one of its months changed.
    """
    if previous is None:
        return []
    wanted = set(months) | {m[:4] for m in months}
    found = []
    for f in previous.files:
        if f.format == "parquet" and f.partition in wanted:
            key = f"{layout.release_dir(previous.id)}/{f.path}"
            local = storage.local_path(key)
            if local is None:
                local = dest / f.path
                local.parent.mkdir(parents=True, exist_ok=True)
                storage.download(key, local)
            found.append(local)
    return found


def _extras(meta: DatasetMeta, out: Path, changes: dict[str, Any], *,
            previous: ReleasePlan | None = None) -> list[tuple[Path, ReleaseFile, str | None]]:
    """Schema and changelog; (local file, entry, key to copy from). A file with the same
    bytes as the previous release's is copied from it, so the release summary tells it apart
    from what changed."""
    out.mkdir(parents=True, exist_ok=True)
    result: list[tuple[Path, ReleaseFile, str | None]] = []
    schema_name = meta.schema_path.name
    texts = {
        # the schema as published (a policy may have changed it), not the file as kept
        schema_name: (_json(meta.schema), "json"),
        layout.CHANGES: (_json(changes), "json"),
        layout.CHANGES_MD: (changelog.markdown(meta.title, changes).encode("utf-8"), "md"),
    }
    for name, (body, fmt) in texts.items():
        path = out / name
        path.write_bytes(body)
        entry = ReleaseFile(name, fmt, len(body), sha256_file(path))
        same = previous.previous_files.get(name) if previous else None
        if previous and same is not None and same.sha256 == entry.sha256:
            result.append((path, same, previous.previous_key(name)))
        else:
            result.append((path, entry, None))
    return result


def _apply_personal_data_policy(settings: Settings,
                                meta: DatasetMeta) -> tuple[DatasetMeta, ComputedColumns]:
    """The dataset as published under its personal-data policy (DESIGN §8), and how the
    affected columns are computed. A dataset without a `personal_data` block is unchanged."""
    if "personal_data" not in meta.extra:
        return meta, ComputedColumns()
    policy = load_policy(meta.extra)
    published = replace(
        meta,
        schema_override=published_schema(meta.schema, policy),
        description=f"{meta.description} {SENTENCES[policy.document_number]}",
        extra={**meta.extra, "x-datos-personales": policy.metadata()},
    )
    return published, computed_columns(policy, pseudonym_key(settings))


def package_json(meta: DatasetMeta, manifest: Manifest,
                 path_of: Callable[[ReleaseFile], str] = lambda f: f.path) -> bytes:
    """The release's datapackage.json; `path_of` where each file is named (its path in the
    release, which is also its stable path under latest/, unless said otherwise)."""
    return _json(datapackage(
        meta, manifest.files, version=manifest.id, created=manifest.created, path_of=path_of,
        csv_stream=manifest.csv_stream,
        extra={
            **({"x-datos-personales": meta.extra["x-datos-personales"]}
               if "x-datos-personales" in meta.extra else {}),
            **({environment.ENVIRONMENT_KEY: meta.extra[environment.ENVIRONMENT_KEY]}
               if environment.ENVIRONMENT_KEY in meta.extra else {}),
            **({"previousVersion": manifest.previous} if manifest.previous else {}),
        }))


def release_documents(meta: DatasetMeta, manifest: Manifest, links: Links,
                      totals: dict[str, int]) -> list[tuple[str, bytes, str]]:
    """datapackage.json, catalog.jsonld, data.json and index.html of a release, in that order."""
    previous = links.release(manifest.previous) if manifest.previous else None
    return [
        (layout.DATAPACKAGE, package_json(meta, manifest), JSON_TYPE),
        (layout.CATALOG, _json(catalog(meta, manifest, links, totals)), "application/ld+json"),
        (layout.DATA_JSON, _json(data_json(meta, manifest, links, totals)), JSON_TYPE),
        (layout.INDEX, index_html(meta, manifest, link=links, previous_link=previous,
                                  totals=totals,
                                  identity=(links.identifier(meta.name),
                                            links.stable(layout.INDEX))).encode("utf-8"),
         "text/html; charset=utf-8"),
    ]


def sync_latest(storage: Storage, meta: DatasetMeta, manifest: Manifest, base_url: str) -> None:
    """Serve `manifest`'s release as latest/; a no-op when latest/ already serves it.

    latest/ holds the release's files at their stable paths (`latest/visitas/csv/…`), which
    are replaced one by one (S3 has no multi-object switch), so `latest/datapackage.json` must
    never name a stable file while it is being replaced. The switch:

    1. the files whose content moves are copied under `latest/objects/<sha256>/` (named by
       content, never overwritten);
    2. `latest/datapackage.json` is replaced by the new release's, naming those copies for
       the moving files and the stable paths (which keep their content) for the others;
    3. the moving files are copied to their stable paths;
    4. catalog.jsonld, data.json and index.html, then datapackage.json naming stable paths
       only, then the pointer `release.json`;
    5. files of the old release the new one lacks (a month gone) and the copies of earlier
       switches are removed: nothing names them any more.

    So the descriptor always names whole files with their sizes and hashes, and no document
    ever names a missing file. A crash anywhere leaves the pointer on the previous release;
    the next run does the switch again.
    """
    pointer = f"{layout.LATEST}/{layout.MANIFEST}"
    body = manifest.to_json()
    old = served_release(storage)
    settled = old is not None and _settled(storage, old)
    if old is not None and settled and old.to_json() == body:
        return
    rdir = layout.release_dir(manifest.id)
    # What the stable paths hold is known only when latest/ is settled on the pointer's
    # release; after a crash mid-switch (or in the older layout, with copies only) every
    # file counts as moving.
    known = {f.path: f.sha256 for f in old.files} if old is not None and settled else {}
    moving = [f for f in manifest.files if known.get(f.path) != f.sha256]
    for f in moving:
        key = f"{layout.LATEST}/{layout.object_key(f.sha256, f.path)}"
        if not storage.exists(key):
            storage.copy(f"{rdir}/{f.path}", key)
            verify(storage, key, f.bytes, None)
    in_motion = {f.path for f in moving}
    if moving and old is not None:
        storage.write_bytes(
            f"{layout.LATEST}/{layout.DATAPACKAGE}",
            package_json(meta, manifest, lambda f: layout.object_key(f.sha256, f.path)
                         if f.path in in_motion else f.path),
            content_type=JSON_TYPE)
    for f in moving:
        key = f"{layout.LATEST}/{f.path}"
        storage.copy(f"{rdir}/{f.path}", key)
        verify(storage, key, f.bytes, None)
    links = Links(base_url, manifest.id, from_latest=True)
    totals = json.loads(storage.read_bytes(f"{rdir}/{layout.CHANGES}"))["totales"]
    documents = release_documents(meta, manifest, links, totals)
    # datapackage.json last of the documents: it is what harvesters follow.
    for name, doc, ctype in documents[1:] + documents[:1]:
        storage.write_bytes(f"{layout.LATEST}/{name}", doc, content_type=ctype)
    storage.write_bytes(pointer, body, content_type=JSON_TYPE)
    _collect_latest(storage, manifest, {layout.object_key(f.sha256, f.path) for f in moving})


def _settled(storage: Storage, served: Manifest) -> bool:
    """Whether latest/ holds exactly `served`'s files at their stable paths: its descriptor
    is that release's and names stable paths only (not copies under objects/)."""
    key = f"{layout.LATEST}/{layout.DATAPACKAGE}"
    if not storage.exists(key):
        return False
    package = json.loads(storage.read_bytes(key))
    paths = [p for r in package.get("resources", [])
             for p in (r["path"] if isinstance(r.get("path"), list) else [r.get("path", "")])]
    return (package.get("version") == served.id
            and not any(p.startswith(f"{layout.OBJECTS}/") for p in paths))


def _collect_latest(storage: Storage, manifest: Manifest, copies: set[str]) -> list[str]:
    """Remove from latest/ what the served release does not name: stable files it lacks
    and content copies other than `copies` (this switch's, kept for whoever read the
    descriptor that named them)."""
    keep = {f.path for f in manifest.files} | copies | {
        layout.MANIFEST, layout.DATAPACKAGE, layout.CATALOG, layout.DATA_JSON, layout.INDEX}
    prefix = f"{layout.LATEST}/"
    removed = []
    for obj in storage.list(prefix):
        if obj.key[len(prefix):] not in keep:
            storage.delete(obj.key)
            removed.append(obj.key)
    return removed


def collect_objects(storage: Storage, keep: set[str]) -> list[str]:
    prefix = f"{layout.LATEST}/{layout.OBJECTS}/"
    removed = []
    for obj in storage.list(prefix):
        if obj.key[len(layout.LATEST) + 1:] not in keep:
            storage.delete(obj.key)
            removed.append(obj.key)
    return removed
