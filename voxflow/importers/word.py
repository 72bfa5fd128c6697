"""DOCX import with python-docx: heading styles make chapters, paragraphs make blocks.

- Style "Heading N" is a level-N heading; "Title" is level 1, except that the first Title
  paragraph before any other text is the document title. Chapters follow the level rule
  in `_outline` (Heading 1 chapters, or Heading 2 when there is at most one level-1 heading).
- Body paragraphs and list paragraphs are blocks, in document order; each table row is one
  block with its cells joined by ", ".
- The title: the leading Title paragraph, else the core property "title", else the file name.
- Before python-docx sees the file, `unpack_archive` inflates it under the size caps and
  refuses XML nested deeper than `MAX_NESTING`.
"""

from __future__ import annotations

import io
import re

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph as DocxParagraph

from voxflow.document import BookMetadata, RawDocument
from voxflow.errors import InputError
from voxflow.importers._input import (
    is_nesting_error,
    nesting_error,
    refuse_runaway_nesting,
    unpack_archive,
)
from voxflow.importers._outline import Heading, Item, Paragraph, assemble
from voxflow.text import normalize_text

_HEADING_STYLE = re.compile(r"^heading\s+(\d)$", re.IGNORECASE)


def _level(paragraph: DocxParagraph) -> int | None:
    name = (paragraph.style.name if paragraph.style is not None else "") or ""
    if name.lower() == "title":
        return 0
    match = _HEADING_STYLE.match(name)
    return int(match.group(1)) if match else None


def _open(data: bytes, filename: str) -> docx.document.Document:
    try:
        return docx.Document(io.BytesIO(data))
    except Exception as error:  # python-docx raises zip, XML, KeyError and its own errors
        if is_nesting_error(error):
            raise nesting_error(filename) from error
        reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        raise InputError(
            f"{filename} is not a valid DOCX file ({reason}); save it again from your word "
            "processor."
        ) from error


def parse_docx(
    data: bytes, filename: str, fallback_title: str, max_inflated: int | None = None
) -> RawDocument:
    """DOCX bytes → RawDocument (see the module docstring)."""
    data = unpack_archive(filename, data, max_inflated)
    with refuse_runaway_nesting(filename):
        return _parse_document(_open(data, filename), fallback_title)


def _parse_document(document: docx.document.Document, fallback_title: str) -> RawDocument:
    items: list[Item] = []
    title: str | None = None
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                cells = [normalize_text(cell.text) for cell in row.cells]
                # Merged cells repeat the same cell object; read each text once per row.
                unique = [c for i, c in enumerate(cells) if c and c not in cells[:i]]
                if unique:
                    items.append(Paragraph(", ".join(unique)))
            continue
        text = block.text
        if not normalize_text(text):
            continue
        level = _level(block)
        if level == 0 and title is None and not items:
            title = normalize_text(text)
        elif level is None:
            items.append(Paragraph(text))
        else:
            items.append(Heading(max(level, 1), text))
    if title is None:
        title = normalize_text(document.core_properties.title or "") or None
    raw = assemble(items, title=title, fallback_title=fallback_title, source_format="docx")
    author = normalize_text(document.core_properties.author or "") or None
    raw.metadata = BookMetadata(author=author)
    return raw
