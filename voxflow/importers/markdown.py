"""Markdown import with markdown-it-py: only what a reader would say aloud is kept.

- Chapters follow the heading rule in `_outline` (`#` chapters when there are two or more
  `#` headings, else `##` chapters under a single `#` book title).
- Paragraphs, list items (each item's paragraphs), block quotes and sub-headings become blocks.
- Emphasis and strikethrough markup are stripped; links keep their text; autolinks (bare
  URLs), images, raw HTML tags, inline code and code blocks are dropped.
- Tables are read row by row: each row (header row included) is one block with its cells
  joined by ", ", so tabular content is not silently lost.
- The document title comes from YAML front matter (`title:`), else the single `#` heading,
  else the file name.
- Block quotes and lists nested more than `MAX_NESTING` levels are refused: past its own
  nesting limit markdown-it silently drops the rest of the document.
"""

from __future__ import annotations

import re

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from voxflow.document import RawDocument
from voxflow.importers._input import nesting_error, refuse_runaway_nesting
from voxflow.importers._outline import Heading, Item, Paragraph, assemble

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)
# Token levels deeper than this are refused. markdown-it stops reading (and drops the rest of
# the document) at its `maxNesting`; set two above, any drop shows as a token past the limit.
MAX_NESTING = 50


def _parser() -> MarkdownIt:
    options = {"html": True, "maxNesting": MAX_NESTING + 2}
    return MarkdownIt("commonmark", options).enable(["table", "strikethrough"])


def _split_front_matter(text: str) -> tuple[str | None, str]:
    """YAML front matter's title (if any) and the Markdown after it."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return None, text
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return None, text  # not front matter after all: let Markdown read it
    title = meta.get("title") if isinstance(meta, dict) else None
    return (str(title).strip() or None) if title else None, text[match.end() :]


def _inline_text(token: Token) -> str:
    """Spoken text of an inline token: text, breaks and link text; no code, images or HTML."""
    parts: list[str] = []
    in_autolink = False
    for child in token.children or []:
        if child.type == "link_open":
            in_autolink = child.info == "auto"
        elif child.type == "link_close":
            in_autolink = False
        elif child.type == "text" and not in_autolink:
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts)


def _items(tokens: list[Token]) -> list[Item]:
    items: list[Item] = []
    row: list[str] | None = None
    heading_level: int | None = None
    for token in tokens:
        if token.type == "heading_open":
            heading_level = int(token.tag[1:])
        elif token.type == "heading_close":
            heading_level = None
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close":
            if row is not None and any(cell.strip() for cell in row):
                items.append(Paragraph(", ".join(cell for cell in row if cell.strip())))
            row = None
        elif token.type == "inline":
            text = _inline_text(token)
            if row is not None:
                row.append(text)
            elif heading_level is not None:
                items.append(Heading(heading_level, text))
            else:
                items.append(Paragraph(text))
    return items


def parse_markdown(text: str, fallback_title: str, filename: str | None = None) -> RawDocument:
    """Markdown source → RawDocument (see the module docstring for what is kept)."""
    name = filename or "The Markdown document"
    title, body = _split_front_matter(text)
    with refuse_runaway_nesting(name):
        tokens = _parser().parse(body)
        if max((token.level for token in tokens), default=0) > MAX_NESTING:
            raise nesting_error(name, limit=MAX_NESTING)
        items = _items(tokens)
        return assemble(items, title=title, fallback_title=fallback_title, source_format="markdown")
