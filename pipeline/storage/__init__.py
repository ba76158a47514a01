"""Object storage behind one interface: a local directory or an S3 bucket."""

from pipeline.storage.base import ObjectInfo, Storage, StorageError, StorageExists
from pipeline.storage.factory import open_storage

__all__ = ["ObjectInfo", "Storage", "StorageError", "StorageExists", "open_storage"]
