"""Shared rules that turn a flat run of headings and paragraphs into chapters.

Every importer reduces its format to a list of `Heading(level, text)` and `Paragraph(text)`
items and lets `assemble` apply the same rules:

- Chapter level: level 1 when the document has two or more level-1 headings; otherwise
  level 2 when there is any level-2 heading (a lone level-1 heading is then the book title);
  otherwise a lone level-1 heading is the single chapter's title. Callers may force a level.
- Headings deeper than the chapter level are spoken: they become blocks of their own.
- Text before the first chapter heading (front matter) becomes a chapter, titled with the
  document title, only when it has real body text: a paragraph of at least
  `MIN_PROSE_WORDS` words with sentence punctuation. A title page, an author line or a
  dedication alone does not count.
- A chapter titled "Contents" or "Table of Contents" is a table of contents and is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from voxflow.document import RawChapter, RawDocument
from voxflow.text import normalize_text

MIN_PROSE_WORDS = 10
_SENTENCE_END = re.compile(r"[.!?](?:[\"')\]]*)(?:\s|$)")
_CONTENTS = re.compile(r"^\W*(table of )?contents\W*$", re.IGNORECASE)


@dataclass(slots=True)
class Heading:
    level: int
    text: str


@dataclass(slots=True)
class Paragraph:
    text: str


Item = Heading | Paragraph


def is_prose(text: str) -> bool:
    """A paragraph that reads as narrative: enough words and at least one full sentence."""
    text = normalize_text(text)
    return len(text.split()) >= MIN_PROSE_WORDS and bool(_SENTENCE_END.search(text))


def has_real_body(paragraphs: list[str]) -> bool:
    return any(is_prose(paragraph) for paragraph in paragraphs)


def chapter_level(items: list[Item]) -> int | None:
    """The heading level that starts chapters (see the module docstring)."""
    levels = [item.level for item in items if isinstance(item, Heading)]
    if levels.count(1) >= 2:
        return 1
    if 2 in levels:
        return 2
    if 1 in levels:
        return 1
    return None


def assemble(
    items: list[Item],
    *,
    title: str | None,
    fallback_title: str,
    source_format: str,
    level: int | None = None,
) -> RawDocument:
    """Group items into chapters; `title` (from metadata) wins over a lone top heading."""
    items = [item for item in items if normalize_text(item.text)]
    level = level if level is not None else chapter_level(items)
    top_headings = [i for i in items if isinstance(i, Heading) and level and i.level < level]
    chapter_headings = [i for i in items if isinstance(i, Heading) and i.level == level]
    if title is None and len(top_headings) == 1:
        title = normalize_text(top_headings[0].text)
    elif title is None and level == 1 and len(chapter_headings) == 1:
        title = normalize_text(chapter_headings[0].text)
    title = title or fallback_title

    front: list[str] = []
    chapters: list[RawChapter] = []
    current: list[str] = front
    for item in items:
        if isinstance(item, Heading) and level is not None and item.level <= level:
            if item.level < level:
                continue  # the book title (or a part heading above chapters): not spoken
            chapter = RawChapter(title=normalize_text(item.text))
            chapters.append(chapter)
            current = chapter.paragraphs
        else:
            current.append(item.text)
    if not chapters:
        chapters = [RawChapter(title=title, paragraphs=front)]
    elif has_real_body(front):
        chapters.insert(0, RawChapter(title=title, paragraphs=front))
    chapters = [c for c in chapters if not _CONTENTS.match(c.title)]
    return RawDocument(title=title, chapters=chapters, source_format=source_format)
