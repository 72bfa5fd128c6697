"""The document model every importer produces: Document → Chapter → Block → Segment.

Chapter indices are 1-based (they are what users see and type); block and segment
indices are 0-based positions within their chapter.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


def text_hash(text: str) -> str:
    """Stable content hash of a segment's normalised text (hex SHA-256)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class Segment:
    """One sentence: the unit that is synthesised and stored under its hash."""

    chapter_index: int
    block_index: int
    index: int
    text: str

    @property
    def hash(self) -> str:
        return text_hash(self.text)


@dataclass(slots=True)
class Block:
    """One paragraph or list item; longer pauses go between blocks than between segments."""

    index: int
    segments: list[Segment] = field(default_factory=list)


@dataclass(slots=True)
class Chapter:
    index: int
    title: str
    blocks: list[Block] = field(default_factory=list)

    @property
    def segments(self) -> list[Segment]:
        return [segment for block in self.blocks for segment in block.segments]


@dataclass(frozen=True, slots=True)
class SkippedSection:
    """A source section (an EPUB spine document) not imported as a chapter, and why."""

    file: str
    title: str  # its TOC entry or first heading; "" when it has neither
    reason: str  # e.g. 'epub:type "imprint" (front matter)', "guide: colophon", "no text"

    def to_dict(self) -> dict[str, str]:
        return {"file": self.file, "title": self.title, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class BookMetadata:
    """What the source says about the book beyond its title; the audiobook's files carry it.

    `cover` holds JPEG or PNG bytes only (see voxflow.cover), `cover_type` their media type.
    """

    author: str | None = None
    year: str | None = None  # four digits
    language: str | None = None  # as the source gives it, e.g. "en-GB"
    cover: bytes | None = field(default=None, repr=False)
    cover_type: str | None = None


@dataclass(slots=True)
class Document:
    title: str
    chapters: list[Chapter] = field(default_factory=list)
    source_format: str = ""
    encoding: str | None = None
    skipped: list[SkippedSection] = field(default_factory=list)
    metadata: BookMetadata = field(default_factory=BookMetadata)

    def to_dict(self) -> dict:
        """The `voxflow parse --json` shape."""
        return {
            "title": self.title,
            "chapters": [
                {
                    "index": chapter.index,
                    "title": chapter.title,
                    "blocks": [
                        {
                            "index": block.index,
                            "segments": [
                                {"index": s.index, "text": s.text, "hash": s.hash}
                                for s in block.segments
                            ],
                        }
                        for block in chapter.blocks
                    ],
                }
                for chapter in self.chapters
            ],
            "skipped": [section.to_dict() for section in self.skipped],
        }


@dataclass(slots=True)
class RawChapter:
    """What an importer yields before segmentation: a title and its paragraphs of text."""

    title: str
    paragraphs: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RawDocument:
    title: str
    chapters: list[RawChapter] = field(default_factory=list)
    source_format: str = ""
    encoding: str | None = None
    skipped: list[SkippedSection] = field(default_factory=list)
    metadata: BookMetadata = field(default_factory=BookMetadata)
