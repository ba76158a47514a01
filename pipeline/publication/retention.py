"""Which releases to keep: the last N, the newest of each month, and the one latest/ serves.

Every release directory is self-contained (unchanged files are server-side copies or hard
links, not references into other releases), so removing a release directory never breaks a
kept one; latest/ holds its own content-addressed copies, which are collected separately.

A release folder without its manifest is unfinished: a publisher crashed, or is writing it
right now. Its id is the time it was started; once older than `UNFINISHED_AGE` it is taken
for a crashed attempt and removed (folder, scratch files and, on S3, pending multipart
uploads). A younger one is left alone and reported.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pipeline.publication import layout
from pipeline.publication.publisher import collect_objects, complete_releases, served_release
from pipeline.storage import Storage

#: no release takes this long to write: an unfinished one this old was abandoned
UNFINISHED_AGE = dt.timedelta(hours=24)


@dataclass
class RetentionPlan:
    keep: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    #: crashed attempts: folders without a manifest, older than the unfinished age
    unfinished: list[str] = field(default_factory=list)
    #: folders without a manifest too young to tell from a release being written: kept
    recent_unfinished: list[str] = field(default_factory=list)


def release_dirs(storage: Storage) -> list[str]:
    """Every folder under releases/, empty ones included where the storage has folders."""
    return storage.folders(layout.RELEASES + "/")


def started(release_id: str) -> dt.datetime | None:
    """When a release was started, from its id (`20250101T000000Z`, `….001`); None if the
    name is not a release id."""
    try:
        return dt.datetime.strptime(release_id.split(".", 1)[0], "%Y%m%dT%H%M%SZ"
                                    ).replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def plan(storage: Storage, keep_last: int, *, now: dt.datetime | None = None,
         unfinished_age: dt.timedelta = UNFINISHED_AGE) -> RetentionPlan:
    done = complete_releases(storage)
    served = served_release(storage)
    keep = set(done[-keep_last:]) if keep_last > 0 else set()
    by_month: dict[str, str] = {}
    for rid in done:  # ids sort by time: the last one seen per month is its newest
        by_month[rid[:6]] = rid
    keep |= set(by_month.values())
    if served is not None:
        keep.add(served.id)
    now = now or dt.datetime.now(dt.UTC)
    unfinished, recent = [], []
    for folder in release_dirs(storage):
        when = started(folder)
        if folder in done or when is None:
            continue  # a release, or a folder that is none of ours
        (unfinished if now - when > unfinished_age else recent).append(folder)
    return RetentionPlan(sorted(keep), [r for r in done if r not in keep], unfinished, recent)


def prune(storage: Storage, keep_last: int, *, dry_run: bool = False,
          now: dt.datetime | None = None,
          unfinished_age: dt.timedelta = UNFINISHED_AGE) -> RetentionPlan:
    result = plan(storage, keep_last, now=now, unfinished_age=unfinished_age)
    if dry_run:
        return result
    for rid in result.remove + result.unfinished:
        # The manifest goes first: a half-deleted release then reads as unfinished, never as
        # a complete release with missing files.
        manifest = f"{layout.release_dir(rid)}/{layout.MANIFEST}"
        if storage.exists(manifest):
            storage.delete(manifest)
        storage.delete_tree(layout.release_dir(rid) + "/")
    served = served_release(storage)
    if served is not None:
        collect_objects(storage, {layout.object_key(f.sha256, f.path) for f in served.files})
    return result
