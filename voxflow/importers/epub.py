"""EPUB import with ebooklib and BeautifulSoup: spine order, titles from the navigation.

- Each linear spine document is a candidate chapter; the navigation document itself and
  documents marked cover/title page/TOC/copyright (epub:type) are skipped.
- A document's title is its first entry in the table of contents (EPUB 3 nav or NCX, as
  ebooklib reads it), else its first heading. A document with neither a TOC entry nor a
  heading continues the previous chapter (books split into several files per chapter).
- Body text: block elements (p, li, blockquote, div with text, dt/dd, figcaption, ...) become
  paragraphs; a table row is one paragraph with its cells joined by ", ". Headings before the
  first paragraph that repeat (part of) the chapter title are not read again; other headings
  are spoken as paragraphs.
- A document without text (a cover that is only an image) is skipped; documents before the
  first chapter are kept only with real body text (see `_outline`), so a title page is not.
- Before ebooklib sees the book, `unpack_archive` inflates it under the size caps and refuses
  markup nested deeper than `MAX_NESTING` (lxml would silently drop what lies past 256 levels).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from posixpath import normpath

import ebooklib
from bs4 import BeautifulSoup, Comment, NavigableString, Tag, XMLParsedAsHTMLWarning
from ebooklib import epub

from voxflow.document import RawChapter, RawDocument
from voxflow.errors import InputError
from voxflow.importers._input import (
    is_nesting_error,
    nesting_error,
    refuse_runaway_nesting,
    unpack_archive,
)
from voxflow.importers._outline import has_real_body
from voxflow.text import normalize_text

_BLOCKS = {
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details",
    "div", "dl", "dt", "figcaption", "figure", "footer", "header", "hgroup", "li", "main",
    "ol", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead",
    "tr", "ul", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
}  # fmt: skip
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_DROPPED = {"script", "style", "nav", "head", "svg", "math", "img", "audio", "video", "object"}
_SKIPPED_TYPES = {"cover", "titlepage", "halftitlepage", "toc", "landmarks", "copyright-page"}


@dataclass(slots=True)
class _Page:
    """The text of one spine document: leading headings apart from the paragraphs."""

    headings: list[str] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)


def _toc_titles(toc: object, base: str = "") -> dict[str, str]:
    """File name → first TOC title pointing at it (fragments ignored), in TOC order."""
    titles: dict[str, str] = {}

    def visit(entries: object) -> None:
        for entry in entries if isinstance(entries, list | tuple) else [entries]:
            if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], list):
                visit(entry[0])
                visit(entry[1])
            elif isinstance(entry, epub.Link | epub.Section):
                href = getattr(entry, "href", "") or ""
                name = normpath(href.split("#", 1)[0]) if href else ""
                if name and entry.title:
                    titles.setdefault(name, entry.title)
            elif isinstance(entry, list | tuple):
                visit(entry)

    visit(toc)
    return titles


def _epub_types(soup: BeautifulSoup) -> set[str]:
    types: set[str] = set()
    for tag in soup.find_all(["body", "section", "div"], limit=4):
        for name, value in tag.attrs.items():
            if name.endswith("type") and isinstance(value, str):
                types.update(value.split())
    return types


def _text(node: Tag | NavigableString) -> str:
    return node.get_text() if isinstance(node, Tag) else str(node)


def _walk(element: Tag, page: _Page) -> None:
    """Collect paragraphs in document order; inline runs between blocks are paragraphs too."""
    buffer: list[str] = []

    def flush() -> None:
        text = normalize_text("".join(buffer))
        buffer.clear()
        if text:
            page.paragraphs.append(text)

    for child in element.children:
        if isinstance(child, Comment) or (isinstance(child, Tag) and child.name in _DROPPED):
            continue
        if isinstance(child, NavigableString):
            buffer.append(str(child))
        elif child.name in _HEADINGS:
            flush()
            text = normalize_text(child.get_text(" "))
            if text and not page.paragraphs:
                page.headings.append(text)
            elif text:
                page.paragraphs.append(text)
        elif child.name == "tr":
            flush()
            cells = [normalize_text(c.get_text(" ")) for c in child.find_all(["td", "th"])]
            if any(cells):
                page.paragraphs.append(", ".join(cell for cell in cells if cell))
        elif child.name in _BLOCKS or child.find(_BLOCKS):
            flush()
            _walk(child, page)
        elif child.name == "br":
            buffer.append(" ")
        else:
            buffer.append(_text(child))
    flush()


def _page(html: bytes) -> tuple[_Page, set[str]]:
    # lxml's HTML parser is lenient with the broken XHTML found in real books.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(html, "lxml")
    for tag in soup.find_all(_DROPPED):
        tag.decompose()
    for tag in soup.find_all("a"):
        if any("noteref" in str(value) for name, value in tag.attrs.items() if "type" in name):
            tag.decompose()  # footnote reference markers ("1", "*") are not read aloud
    page = _Page()
    _walk(soup.body or soup, page)
    return page, _epub_types(soup)


def _read_book(data: bytes, filename: str) -> epub.EpubBook:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # ignore_ncx: read the EPUB 3 nav when there is one, the NCX otherwise.
            return epub.read_epub(io.BytesIO(data), {"ignore_ncx": True})
    except Exception as error:  # ebooklib raises zip, XML, KeyError and its own errors
        if is_nesting_error(error):
            raise nesting_error(filename, "its package files") from error
        reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        raise InputError(
            f"{filename} is not a valid EPUB file ({reason}); export or download it again."
        ) from error


def parse_epub(
    data: bytes, filename: str, fallback_title: str, max_inflated: int | None = None
) -> RawDocument:
    """EPUB bytes → RawDocument (see the module docstring)."""
    data = unpack_archive(filename, data, max_inflated)
    with refuse_runaway_nesting(filename):
        return _parse_book(_read_book(data, filename), filename, fallback_title)


def _parse_book(book: epub.EpubBook, filename: str, fallback_title: str) -> RawDocument:
    metadata = book.get_metadata("DC", "title")
    title = normalize_text(metadata[0][0]) if metadata and metadata[0][0] else None
    toc = _toc_titles(book.toc)

    chapters: list[RawChapter] = []
    for idref, linear in book.spine:
        item = book.get_item_with_id(idref)
        if item is None or linear == "no" or item.get_type() != ebooklib.ITEM_DOCUMENT:
            continue
        if isinstance(item, epub.EpubNav) or "nav" in getattr(item, "properties", []):
            continue
        try:
            page, types = _page(item.get_content())
        except RecursionError as error:
            raise nesting_error(filename, item.get_name()) from error
        except Exception as error:
            raise InputError(
                f"{filename}: chapter file {item.get_name()} cannot be read ({error}); "
                "export or download the EPUB again."
            ) from error
        if types & _SKIPPED_TYPES or not page.paragraphs:
            continue
        name_title = toc.get(normpath(item.get_name()))
        heading = page.headings[0] if page.headings else None
        if name_title is None and heading is None and chapters:
            chapters[-1].paragraphs.extend(page.headings + page.paragraphs)
            continue
        if not chapters and name_title is None and not has_real_body(page.paragraphs):
            continue  # a title page or similar before the book starts
        chapter_title = normalize_text(name_title or heading or "")
        # Leading headings that repeat the title are not read twice; others are spoken.
        extra = [h for h in page.headings if h.casefold() not in chapter_title.casefold()]
        chapters.append(RawChapter(title=chapter_title, paragraphs=extra + page.paragraphs))
    return RawDocument(title=title or fallback_title, chapters=chapters, source_format="epub")
