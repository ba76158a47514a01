"""Which releases to keep: the last N, the newest of each month, and the one latest/ serves.

Every release directory is self-contained (unchanged files are server-side copies or hard
links, not references into other releases), so removing a release directory never breaks a
kept one; latest/ holds its own content-addressed copies, which are collected separately.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.publication import layout
from pipeline.publication.publisher import collect_objects, complete_releases, served_release
from pipeline.storage import Storage


@dataclass
class RetentionPlan:
    keep: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    #: crashed attempts: directories without a manifest, older than the newest release
    unfinished: list[str] = field(default_factory=list)


def release_dirs(storage: Storage) -> list[str]:
    return sorted({o.key.split("/")[1] for o in storage.list(layout.RELEASES + "/")
                   if o.key.count("/") >= 2})


def plan(storage: Storage, keep_last: int) -> RetentionPlan:
    done = complete_releases(storage)
    served = served_release(storage)
    keep = set(done[-keep_last:]) if keep_last > 0 else set()
    by_month: dict[str, str] = {}
    for rid in done:  # ids sort by time: the last one seen per month is its newest
        by_month[rid[:6]] = rid
    keep |= set(by_month.values())
    if served is not None:
        keep.add(served.id)
    newest = done[-1] if done else ""
    unfinished = [d for d in release_dirs(storage) if d not in done and d < newest]
    return RetentionPlan(sorted(keep), [r for r in done if r not in keep], unfinished)


def prune(storage: Storage, keep_last: int, *, dry_run: bool = False) -> RetentionPlan:
    result = plan(storage, keep_last)
    if dry_run:
        return result
    for rid in result.remove + result.unfinished:
        # The manifest goes first: a half-deleted release then reads as unfinished, never as
        # a complete release with missing files.
        manifest = f"{layout.release_dir(rid)}/{layout.MANIFEST}"
        if storage.exists(manifest):
            storage.delete(manifest)
        for obj in storage.list(layout.release_dir(rid) + "/"):
            storage.delete(obj.key)
    served = served_release(storage)
    if served is not None:
        collect_objects(storage, {layout.object_key(f.sha256, f.path) for f in served.files})
    return result
