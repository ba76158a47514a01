"""Entity sources: where raw visit records come from, all behind one interface."""

# each kind of source declares its keys under `source:` when imported, before any registry
# file is read
from pipeline.sources import database as _database  # noqa: F401
from pipeline.sources import http as _http  # noqa: F401
from pipeline.sources.base import Fetched, SkippedFile, Source, Upload, source_for

__all__ = ["Fetched", "SkippedFile", "Source", "Upload", "source_for"]
