"""The storage interface every stage writes through.

Keys are always '/'-separated and relative to the storage root (a directory or an
S3 bucket + prefix), so the same code publishes to `var/publish/` or `s3://bucket/publish/`.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


class StorageError(RuntimeError):
    """Raised by a storage backend when an object cannot be read or written.

    The message names the location (directory or bucket/key) and the underlying cause;
    `action` and `location`, when given, say the same for `pipeline.faults` to word it.
    """

    def __init__(self, message: str, *, action: str | None = None,
                 location: str | None = None) -> None:
        super().__init__(message)
        self.action = action
        self.location = location


class StorageExists(StorageError):
    """A create-only write (`if_absent`) found the key already there: someone else wrote it."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    #: changes whenever the object is written again (a file's mtime, an S3 ETag): with the key
    #: and size, it tells an object already read from one that must be read again
    version: str = ""


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class Storage(ABC):
    """A flat key space of immutable-ish objects."""

    #: human-readable location, e.g. 'var/publish' or 's3://bucket/publish'
    url: str

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Objects whose key starts with `prefix`, sorted by key."""

    def list_scratch(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """The storage's own unfinished writes under `prefix`, which `list` leaves out.

        Lets a caller that scans a folder others also write to (the landing area) report what
        it is not taking yet, instead of skipping it silently. Backends whose writes appear
        atomically, with no scratch object (S3), have none.
        """
        return iter(())

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def read_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    def download(self, key: str, dest: Path) -> None:
        """Copy the object to a local file (streamed, for large objects)."""

    @abstractmethod
    def upload(self, src: Path, key: str, *, content_type: str | None = None,
               if_absent: bool = False) -> None:
        """Store a local file under `key`.

        With `if_absent`, the write is create-only: it raises StorageExists if the key exists.
        """

    @abstractmethod
    def write_bytes(self, key: str, data: bytes, *, content_type: str | None = None,
                    if_absent: bool = False) -> None: ...

    @abstractmethod
    def delete(self, key: str) -> None: ...

    @abstractmethod
    def copy(self, src_key: str, dest_key: str, *, if_absent: bool = False) -> None:
        """Server-side copy within the same storage (the bytes never pass through us).

        With `if_absent`, raises StorageExists if `dest_key` exists.
        """

    def size(self, key: str) -> int:
        """Size in bytes of the stored object, as the storage reports it."""
        for info in self.list(key):
            if info.key == key:
                return info.size
        raise StorageError(f"No existe {self.locate(key)}")

    @abstractmethod
    def sha256(self, key: str) -> str:
        """sha256 of the stored object, read back from the storage.

        Streamed, so that verifying a multi-gigabyte release file never holds it in memory.
        """

    def folders(self, prefix: str) -> list[str]:
        """Names of the folders directly under `prefix` (which ends with '/'), sorted.

        Backends with real folders (a local directory) also name those that hold no object:
        what a write interrupted before its first file, or a partial delete, leaves behind.
        """
        return sorted({o.key[len(prefix):].split("/", 1)[0] for o in self.list(prefix)
                       if "/" in o.key[len(prefix):]})

    def delete_tree(self, prefix: str) -> None:
        """Remove everything under `prefix` (which ends with '/'), unfinished writes included.

        Only for a folder nobody writes to any more (an abandoned release).
        """
        for obj in self.list(prefix):
            self.delete(obj.key)

    def clear_abandoned_scratch(self, prefix: str = "") -> list[str]:
        """Remove the scratch files under `prefix` whose writer is gone; return their keys.

        Backends whose writes appear atomically, with no scratch object (S3), have none.
        """
        return []

    def local_path(self, key: str) -> Path | None:
        """A local file holding the object, when the storage is a local directory.

        Lets DuckDB read a previous release in place instead of downloading it.
        """
        return None

    def locate(self, key: str) -> str:
        """Where a key lives, for messages and summaries."""
        return f"{self.url.rstrip('/')}/{key}"
