"""The embedded default: a directory on the local disk."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pipeline.atomic import SCRATCH_MARKER, is_scratch, scratch_abandoned
from pipeline.storage.base import (
    ObjectInfo,
    Storage,
    StorageError,
    StorageExists,
    sha256_file,
)

#: modes of a public tree (the published one): anyone may read and list it, so a web server
#: running as another user can serve it; only the publisher writes
PUBLIC_FILE_MODE = 0o644
PUBLIC_DIR_MODE = 0o755


class LocalStorage(Storage):
    """A directory. With `public`, every file written is `PUBLIC_FILE_MODE` and every folder
    created `PUBLIC_DIR_MODE`, whatever the umask; otherwise files are private to the owner
    (the raw archive and the landing area hold full document numbers)."""

    def __init__(self, root: Path | str, *, public: bool = False) -> None:
        self.root = Path(root)
        self.url = str(self.root)
        self.public = public

    def path(self, key: str) -> Path:
        if key.startswith("/") or ".." in key.split("/"):
            raise StorageError(f"Clave no válida: {key!r}")
        return self.root / key

    def _walk(self, prefix: str) -> Iterator[tuple[ObjectInfo, bool]]:
        """Every file whose key starts with `prefix`, and whether it is a scratch file.

        A file inside a scratch folder (see `pipeline.atomic.staged_dir`) is scratch too.
        """
        # only the folder the prefix names is walked, not the whole tree
        top = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not top.is_dir():
            return
        for dirpath, _dirs, files in os.walk(top):
            for name in files:
                full = Path(dirpath) / name
                key = full.relative_to(self.root).as_posix()
                if not key.startswith(prefix):
                    continue
                try:
                    stat = full.stat()
                except FileNotFoundError:
                    continue  # renamed or removed since the directory was read
                yield (ObjectInfo(key, stat.st_size, str(stat.st_mtime_ns)),
                       any(is_scratch(part) for part in key.split("/")))

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        # Only the scratch names our own writes use are hidden: any other name, however
        # temporary it looks (`.visitas.csv`, `visitas.tmp-2024.csv`), is someone's file.
        found = [info for info, scratch in self._walk(prefix) if not scratch]
        return iter(sorted(found, key=lambda o: o.key))

    def list_scratch(self, prefix: str = "") -> Iterator[ObjectInfo]:
        found = [info for info, scratch in self._walk(prefix) if scratch]
        return iter(sorted(found, key=lambda o: o.key))

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def read_bytes(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except OSError as exc:
            raise StorageError(f"No se pudo leer {self.locate(key)}: {exc}") from exc

    def download(self, key: str, dest: Path) -> None:
        try:
            shutil.copyfile(self.path(key), dest)
        except OSError as exc:
            raise StorageError(f"No se pudo leer {self.locate(key)}: {exc}") from exc

    def _make_folder(self, folder: Path) -> None:
        """Create `folder` and its missing parents; public ones get their mode explicitly,
        because mkdir's is cut by the umask."""
        if not self.public:
            folder.mkdir(parents=True, exist_ok=True)
            return
        missing = []
        here = folder
        while not here.is_dir():
            missing.append(here)
            here = here.parent
        folder.mkdir(parents=True, exist_ok=True)
        for created in missing:
            os.chmod(created, PUBLIC_DIR_MODE)

    def _atomic_write(self, key: str, writer, if_absent: bool) -> None:
        target = self.path(key)
        # Write beside the target and rename, so a reader never sees half a file. The scratch
        # name follows the project convention, so `list` can hide exactly these files, and
        # names the writer's pid, so a later run can clear what a killed writer left; mkstemp
        # keeps it unique per write, even for two threads of one process.
        prefix = f".{target.name}{SCRATCH_MARKER}{os.getpid()}-"
        for attempt in range(3):
            self._make_folder(target.parent)
            try:
                fd, tmp = tempfile.mkstemp(prefix=prefix, dir=target.parent)
                break
            except FileNotFoundError:
                # a delete emptied the folder and removed it between mkdir and mkstemp
                if attempt == 2:
                    raise
        os.close(fd)
        try:
            writer(Path(tmp))
            if self.public:
                # mkstemp makes the file private; a hard link shares the mode with its source,
                # so this also opens a file of an earlier release published before this mode
                os.chmod(tmp, PUBLIC_FILE_MODE)
            if if_absent:
                try:
                    os.link(tmp, target)  # fails if target exists: create-only
                except FileExistsError as exc:
                    raise StorageExists(f"Ya existe {self.locate(key)}") from exc
                os.unlink(tmp)
            else:
                os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def upload(self, src: Path, key: str, *, content_type: str | None = None,
               if_absent: bool = False) -> None:
        self._atomic_write(key, lambda tmp: shutil.copyfile(src, tmp), if_absent)

    def write_bytes(self, key: str, data: bytes, *, content_type: str | None = None,
                    if_absent: bool = False) -> None:
        self._atomic_write(key, lambda tmp: tmp.write_bytes(data), if_absent)

    def delete(self, key: str) -> None:
        path = self.path(key)
        path.unlink(missing_ok=True)
        self._remove_empty(path.parent)

    def _remove_empty(self, folder: Path) -> None:
        # Keys have no folders: one emptied by its last delete would show in no listing and
        # stay forever (an emptied release folder looked like a release to an operator).
        while folder != self.root and self.root in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                return  # not empty, or gone already
            folder = folder.parent

    def folders(self, prefix: str) -> list[str]:
        top = self.root / prefix.rstrip("/") if prefix.strip("/") else self.root
        try:
            return sorted(e.name for e in top.iterdir() if e.is_dir() and not is_scratch(e.name))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def delete_tree(self, prefix: str) -> None:
        top = self.path(prefix.rstrip("/"))
        if top == self.root:
            raise StorageError(f"No se borra la raíz del almacenamiento {self.url}")
        shutil.rmtree(top, ignore_errors=True)
        if top.exists():
            raise StorageError(f"No se pudo borrar {self.locate(prefix.rstrip('/'))}")
        self._remove_empty(top.parent)

    def clear_abandoned_scratch(self, prefix: str = "") -> list[str]:
        removed = []
        for info in self.list_scratch(prefix):
            path = self.path(info.key)
            # the scratch file itself, or the scratch folder it lies in
            scratch = next(p for p in (path, *path.parents) if is_scratch(p.name))
            if scratch_abandoned(scratch):
                if scratch.is_dir():
                    shutil.rmtree(scratch, ignore_errors=True)
                else:
                    scratch.unlink(missing_ok=True)
                self._remove_empty(scratch.parent)
                removed.append(info.key)
        return removed

    def copy(self, src_key: str, dest_key: str, *, if_absent: bool = False) -> None:
        src = self.path(src_key)
        if not src.is_file():
            raise StorageError(f"No se pudo copiar {self.locate(src_key)}: no existe")

        def link_or_copy(tmp: Path) -> None:
            # A hard link costs nothing and is safe for immutable release files: deleting one
            # name (pruning an old release) leaves the other intact.
            tmp.unlink()
            try:
                os.link(src, tmp)
            except OSError:
                shutil.copyfile(src, tmp)

        self._atomic_write(dest_key, link_or_copy, if_absent)

    def size(self, key: str) -> int:
        try:
            return self.path(key).stat().st_size
        except OSError as exc:
            raise StorageError(f"No se pudo consultar {self.locate(key)}: {exc}") from exc

    def sha256(self, key: str) -> str:
        try:
            return sha256_file(self.path(key))
        except OSError as exc:
            raise StorageError(f"No se pudo leer {self.locate(key)}: {exc}") from exc

    def local_path(self, key: str) -> Path | None:
        path = self.path(key)
        return path if path.is_file() else None
