"""Publishing formats built from a finished conversion: the read-along EPUB3 and its check."""

from voxflow.publishing.epub3 import build_read_along_epub
from voxflow.publishing.epubcheck import EpubCheckMissing, EpubCheckReport, run_epubcheck

__all__ = ["EpubCheckMissing", "EpubCheckReport", "build_read_along_epub", "run_epubcheck"]
