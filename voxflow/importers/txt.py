"""Plain-text import: paragraphs, chapter headings and Project Gutenberg conventions.

- Paragraphs are separated by blank lines; hard-wrapped lines inside one are joined, and
  Gutenberg's _underscore_ emphasis marks are removed.
  A line starting with a bullet ("- ", "* ", "• ") starts a new block (list item), bullet dropped.
- A chapter heading is a paragraph of at most three short lines whose first line is
  "Chapter <number>" (arabic, roman or English words, any case, optional "." or ":" and a
  title after it), or a single line standing alone that is all capitals ("THE END",
  "PART ONE") or a bare roman/arabic number ("IV.", "12"). A short title line without end
  punctuation right after a bare "CHAPTER I" paragraph is taken as that chapter's title.
- Gutenberg: only the text between the `*** START OF` and `*** END OF` markers is read; the
  header's "Title:" line is the document title, and "Produced by"/transcriber lines go.
- Without a Gutenberg title, a short first line (no end punctuation) is the title; else the
  file name. Front matter follows the rule in `_outline`.
"""

from __future__ import annotations

import re

from voxflow.document import RawDocument
from voxflow.importers._outline import Heading, Item, Paragraph, assemble

_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    "fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
    "eighty|ninety|hundred|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|"
    "last|final"
)
_CHAPTER = re.compile(
    rf"^chapter\s+(?:\d+|[ivxlcdm]+|(?:{_NUMBER_WORDS})(?:[\s-](?:{_NUMBER_WORDS}))*)\b"
    r"[.:]?(?:\s+(?P<title>\S.*))?$",
    re.IGNORECASE,
)
_BARE_NUMBER = re.compile(r"^(?:\d{1,3}|[IVXLCDM]+)\.?$")
_START = re.compile(r"^\*{3}\s*START OF (?:THE|THIS) PROJECT GUTENBERG", re.IGNORECASE)
_END = re.compile(r"^\*{3}\s*END OF (?:THE|THIS) PROJECT GUTENBERG", re.IGNORECASE)
_GUTENBERG_TITLE = re.compile(r"^Title:\s*(.+)$", re.IGNORECASE)
_BOILERPLATE = re.compile(
    r"^(produced by|e-?text prepared by|transcriber'?s? note|\[illustration)", re.IGNORECASE
)
_UNDERSCORE_EMPHASIS = re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])")
_BULLET = re.compile(r"^\s*[-*•]\s+")
_END_PUNCT = re.compile(r"[.!?,;:\"')\]]$")
MAX_HEADING_CHARS = 80


def _gutenberg_body(lines: list[str]) -> tuple[list[str], str | None]:
    """The lines between Gutenberg markers (all lines when there are none), and its title."""
    start = next((i for i, line in enumerate(lines) if _START.match(line.strip())), None)
    if start is None:
        return lines, None
    end = next(
        (i for i, line in enumerate(lines) if i > start and _END.match(line.strip())), len(lines)
    )
    title = next(
        (m.group(1).strip() for line in lines[:start] if (m := _GUTENBERG_TITLE.match(line))),
        None,
    )
    return lines[start + 1 : end], title


def _paragraphs(lines: list[str]) -> list[list[str]]:
    """Groups of non-blank lines, each group one paragraph; bullets split list items."""
    groups: list[list[str]] = []
    current: list[str] = []
    for line in lines:
        stripped = line.strip()
        if not stripped:
            if current:
                groups.append(current)
            current = []
        elif _BULLET.match(line):
            if current:
                groups.append(current)
            current = [_BULLET.sub("", line).strip()]
        else:
            current.append(stripped)
    if current:
        groups.append(current)
    return groups


def _is_heading(group: list[str]) -> bool:
    if len(group) > 3 or any(len(line) > MAX_HEADING_CHARS for line in group):
        return False
    if _CHAPTER.match(group[0]):
        # Several "Chapter" lines in one paragraph are a table of contents, not a heading.
        return not any(_CHAPTER.match(line) for line in group[1:])
    if len(group) != 1:
        return False
    line = group[0]
    if _BARE_NUMBER.match(line):
        return True
    letters = [char for char in line if char.isalpha()]
    return len(letters) >= 2 and line == line.upper() and not line.endswith((",", ";"))


def _is_title_line(group: list[str]) -> bool:
    return (
        len(group) == 1 and len(group[0]) <= MAX_HEADING_CHARS and not _END_PUNCT.search(group[0])
    )


def _heading_text(lines: list[str]) -> str:
    """Heading lines joined into one title; a line without end punctuation gets a period."""
    text = lines[0]
    for line in lines[1:]:
        text = f"{text} {line}" if _END_PUNCT.search(text) else f"{text}. {line}"
    return text


def parse_txt(text: str, fallback_title: str) -> RawDocument:
    """Plain text → RawDocument (see the module docstring for the heading rules)."""
    lines, title = _gutenberg_body(text.splitlines())
    groups = [g for g in _paragraphs(lines) if not _BOILERPLATE.match(g[0])]
    if title is None and groups and not _is_heading(groups[0]) and _is_title_line(groups[0]):
        title = groups.pop(0)[0]
    if title is None and groups and _is_heading(groups[0]) and not _CHAPTER.match(groups[0][0]):
        title = groups.pop(0)[0]  # an all-caps first line is the book's title, not a chapter
    if title is not None and groups and " ".join(groups[0]).casefold() == title.casefold():
        groups.pop(0)  # the title repeated at the top of the text (Gutenberg does this)

    items: list[Item] = []
    index = 0
    while index < len(groups):
        group = groups[index]
        index += 1
        if not _is_heading(group):
            items.append(Paragraph(_UNDERSCORE_EMPHASIS.sub(r"\1", " ".join(group))))
            continue
        heading = _heading_text(group)
        match = _CHAPTER.match(group[0])
        bare = len(group) == 1 and match is not None and not match.group("title")
        following = groups[index] if index < len(groups) else None
        if bare and following and _is_title_line(following) and not _CHAPTER.match(following[0]):
            heading = _heading_text([group[0], following[0]])
            index += 1
        items.append(Heading(1, heading))
    return assemble(items, title=title, fallback_title=fallback_title, source_format="txt", level=1)
