"""Turn an importer's RawDocument into the Document model: numbering and segmentation."""

from __future__ import annotations

from voxflow.document import Block, Chapter, Document, RawDocument, Segment
from voxflow.segmenter import split_sentences
from voxflow.text import normalize_text


def _speakable(text: str) -> bool:
    """A paragraph with no letter or digit ("* * *", "---") has nothing to say."""
    return any(char.isalnum() for char in text)


def build_document(raw: RawDocument, max_chars: int) -> Document:
    """Segment every paragraph; drop unspeakable paragraphs and chapters left empty.

    Chapters are numbered from 1 in the order kept; block and segment indices count from 0
    within their chapter, as voxflow.document describes.
    """
    document = Document(
        title=normalize_text(raw.title),
        source_format=raw.source_format,
        encoding=raw.encoding,
        skipped=list(raw.skipped),
        metadata=raw.metadata,
    )
    for raw_chapter in raw.chapters:
        chapter = Chapter(index=len(document.chapters) + 1, title=normalize_text(raw_chapter.title))
        segment_index = 0
        for paragraph in raw_chapter.paragraphs:
            texts = [text for text in split_sentences(paragraph, max_chars) if text]
            if not texts or not _speakable(" ".join(texts)):
                continue
            block = Block(index=len(chapter.blocks))
            for text in texts:
                block.segments.append(Segment(chapter.index, block.index, segment_index, text))
                segment_index += 1
            chapter.blocks.append(block)
        if chapter.blocks:
            if not chapter.title:
                chapter.title = f"Chapter {chapter.index}"
            document.chapters.append(chapter)
    return document
