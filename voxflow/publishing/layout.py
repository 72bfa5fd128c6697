"""Where each part of the read-along EPUB lives and what it is called: one place for each name."""

from __future__ import annotations

from pathlib import PurePosixPath

CONTENT_DIR = "EPUB"  # everything but mimetype and META-INF lives under this folder
PACKAGE_FILE = "package.opf"
NAV_FILE = "nav.xhtml"
CSS_FILE = "style.css"
# The class a reading system puts on the sentence being read (media:active-class and the CSS).
ACTIVE_CLASS = "-epub-media-overlay-active"

# EPUB 3 core media types for audio; other formats must be converted first (e.g. the AAC part).
AUDIO_MEDIA_TYPES = {".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".mp4": "audio/mp4"}


def span_id(segment_index: int) -> str:
    """The id of a sentence's span, unique within its chapter file (segment indices are)."""
    return f"s{segment_index}"


def chapter_stem(chapter_index: int) -> str:
    return f"chapter-{chapter_index:03d}"


def xhtml_href(chapter_index: int) -> str:
    return f"{chapter_stem(chapter_index)}.xhtml"


def smil_href(chapter_index: int) -> str:
    return f"{chapter_stem(chapter_index)}.smil"


def audio_href(chapter_index: int, suffix: str) -> str:
    return f"audio/{chapter_stem(chapter_index)}{suffix.lower()}"


def xhtml_id(chapter_index: int) -> str:
    return f"xhtml-{chapter_index:03d}"


def smil_id(chapter_index: int) -> str:
    return f"smil-{chapter_index:03d}"


def audio_id(chapter_index: int) -> str:
    return f"audio-{chapter_index:03d}"


def zip_path(href: str) -> str:
    """A package-relative href as its path inside the zip."""
    return str(PurePosixPath(CONTENT_DIR) / href)


# The read-along EPUB of an EPUB input (voxflow.publishing.source): the source's files keep
# their zip paths under this folder, and its documents link this stylesheet (the active class
# only, so the source's own styles stay as they are).
SOURCE_DIR = "source"
OVERLAY_CSS_FILE = "overlay.css"


def page_xhtml_id(chapter_index: int, page: int) -> str:
    """The id of a chapter's `page`-th source document (from 1; the first is `xhtml_id`)."""
    return xhtml_id(chapter_index) + (f"-{page}" if page > 1 else "")


def page_smil_id(chapter_index: int, page: int) -> str:
    return smil_id(chapter_index) + (f"-{page}" if page > 1 else "")


def page_smil_href(chapter_index: int, page: int) -> str:
    suffix = f"-{page}" if page > 1 else ""
    return f"{chapter_stem(chapter_index)}{suffix}.smil"
