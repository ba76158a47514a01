"""Entity sources: where raw visit records come from, all behind one interface."""

from pipeline.sources.base import Fetched, SkippedFile, Source, Upload, source_for

__all__ = ["Fetched", "SkippedFile", "Source", "Upload", "source_for"]
