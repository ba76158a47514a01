"""File uploads dropped by each entity in its landing area: `<landing>/<RUC>/<file>`.

Every file in the entity's folder is an upload, whatever its name: `.visitas.csv` or
`visitas.tmp-2024.csv` are the entity's files, and a file that is not a visit table
(`.DS_Store`, `notas.docx`) becomes a rejected batch whose report says what to send instead.
Only what cannot be an upload is skipped, and each skipped entry is reported with its reason:
the pipeline's own scratch files (`pipeline.atomic`: a write into the landing area still in
progress, or one a crash interrupted) and folder markers.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.atomic import is_scratch
from pipeline.registry import Entity
from pipeline.sources.base import Fetched, Seen, SkippedFile, Upload
from pipeline.storage import Storage
from pipeline.storage.base import sha256_file

SCRATCH_REASON = "archivo temporal de una escritura en curso o interrumpida"
FOLDER_REASON = "es una carpeta, no un archivo"


def skip_reason(name: str) -> str | None:
    """Why `name` (a key relative to the entity's folder) is not an upload; None if it is one.

    The one rule shared by the source and the landing sensor, so the sensor launches a run
    exactly when there is something new to ingest.
    """
    if not name or name.endswith("/"):
        # Zero-byte `folder/` objects that S3 consoles and sync tools create.
        return FOLDER_REASON
    if any(is_scratch(part) for part in name.split("/")):
        # Found in a listing only where the backend does not hide its own scratch (S3 holding
        # a copy of a local landing folder); LocalStorage reports these via list_scratch.
        return SCRATCH_REASON
    return None


class LandingSource:
    def __init__(self, landing: Storage) -> None:
        self.landing = landing

    def fetch(self, entity: Entity, workdir: Path, seen: Seen | None = None) -> Fetched:
        prefix = f"{entity.ruc}/"
        fetched = Fetched()
        for obj in self.landing.list(prefix):
            relative = obj.key[len(prefix):]
            reason = skip_reason(relative)
            if reason:
                fetched.skipped.append(SkippedFile(relative, reason))
                continue
            name = relative.rsplit("/", 1)[-1]
            identity = (obj.key, obj.size, obj.version)
            known = (seen or {}).get(identity) if obj.version else None
            if known is not None:
                # the same object as when it was ingested: no need to copy and hash it again
                fetched.uploads.append(Upload(entity.ruc, name, self.landing.locate(obj.key),
                                              known, obj.size, None, identity))
                continue
            local = workdir / f"{len(fetched.uploads):05d}-{name}"
            self.landing.download(obj.key, local)
            fetched.uploads.append(Upload(
                entity_ruc=entity.ruc,
                name=name,
                origin=self.landing.locate(obj.key),
                sha256=sha256_file(local),
                size=local.stat().st_size,
                path=local,
                seen=identity if obj.version else None,
            ))
        fetched.skipped.extend(SkippedFile(obj.key[len(prefix):], SCRATCH_REASON)
                               for obj in self.landing.list_scratch(prefix))
        fetched.skipped.sort(key=lambda s: s.name)
        return fetched
