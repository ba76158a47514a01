"""Pick a storage backend from a location string."""

from __future__ import annotations

from pathlib import Path

from pipeline.storage.base import Storage


def open_storage(location: str | Path, *, base_dir: Path | None = None,
                 public: bool = False) -> Storage:
    """`s3://bucket/prefix` opens S3 storage; anything else is a local directory.

    Relative directories are resolved against `base_dir` (the project root by default).
    `public`: a local directory anyone may read (the published tree); see `LocalStorage`.
    """
    text = str(location)
    if text.startswith("s3://"):
        from pipeline.storage.s3 import S3Storage

        bucket, _, prefix = text[len("s3://"):].partition("/")
        return S3Storage(bucket=bucket, prefix=prefix)
    from pipeline.storage.local import LocalStorage

    path = Path(text)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return LocalStorage(path, public=public)
