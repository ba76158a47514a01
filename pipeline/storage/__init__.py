"""Object storage behind one interface: a local directory or an S3 bucket."""

from pipeline.storage.base import ObjectInfo, Storage, StorageError
from pipeline.storage.factory import open_storage

__all__ = ["ObjectInfo", "Storage", "StorageError", "open_storage"]
