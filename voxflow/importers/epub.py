"""EPUB import with ebooklib and BeautifulSoup: spine order, titles from the navigation.

- Each linear spine document is a candidate chapter. The navigation document, documents
  marked linear="no" and documents without text (a cover that is only an image) are skipped.
- Front and back matter that is the edition's apparatus, not the work, is skipped by its
  structure, never by its title: the EPUB 3 structural semantics (`epub:type`) on the body
  or on every top-level part of the document, the EPUB 3 landmarks navigation, or the
  EPUB 2 OPF guide. `NOT_NARRATED` lists those types (cover, title pages, imprint,
  copyright page, colophon, tables of contents, lists, index, ...) and why; `NARRATED` lists
  the front and back matter that is read (preface, foreword, dedication, epilogue, notes, ...).
  A landmarks or guide entry with a fragment marks only the part of the document it points
  into; a document the navigation also names as body matter is never skipped by it.
  `include_front_matter=True` imports that front and back matter as chapters instead.
- Every skipped spine document is listed in `RawDocument.skipped` with its reason.
- Book metadata (`RawDocument.metadata`): authors from `dc:creator`, the year from the first
  four digits of `dc:date`, `dc:language`, and the cover image (the EPUB 3 `cover-image`
  item, else the EPUB 2 `<meta name="cover">`) when it is a JPEG or PNG within the size
  limit; another cover (an SVG) is skipped with a logged warning, never an error.
- A document's title is its first entry in the table of contents (EPUB 3 nav or NCX, as
  ebooklib reads it), else its first heading. A document with neither a TOC entry nor a
  heading continues the previous chapter (books split into several files per chapter),
  unless its structure names another front/back matter type (an untitled epigraph after a
  dedication): then it is a chapter titled by that type ("Epigraph").
- Body text: block elements (p, li, blockquote, div with text, dt/dd, figcaption, ...) become
  paragraphs; a table row is one paragraph with its cells joined by ", ". Headings before the
  first paragraph that repeat (part of) the chapter title are not read again; other headings
  are spoken as paragraphs.
- Documents before the first chapter are kept only with a TOC entry, real body text (see
  `_outline`) or a front matter type, so an unmarked title page is not but a short
  dedication marked as one is.
- Before ebooklib sees the book, `unpack_archive` inflates it under the size caps and refuses
  markup nested deeper than `MAX_NESTING` (lxml would silently drop what lies past 256 levels).
"""

from __future__ import annotations

import io
import logging
import re
import warnings
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from posixpath import dirname, join, normpath
from urllib.parse import unquote

import ebooklib
from bs4 import BeautifulSoup, Comment, NavigableString, Tag, XMLParsedAsHTMLWarning
from ebooklib import epub

from voxflow.cover import cover_problem, image_type
from voxflow.document import BookMetadata, RawChapter, RawDocument, SkippedSection
from voxflow.errors import InputError
from voxflow.importers._input import (
    is_nesting_error,
    nesting_error,
    refuse_runaway_nesting,
    unpack_archive,
)
from voxflow.importers._outline import has_real_body
from voxflow.text import normalize_text

log = logging.getLogger("voxflow.importers.epub")
_YEAR = re.compile(r"\d{4}")
_BLOCKS = {
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details",
    "div", "dl", "dt", "figcaption", "figure", "footer", "header", "hgroup", "li", "main",
    "ol", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead",
    "tr", "ul", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
}  # fmt: skip
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_DROPPED = {"script", "style", "nav", "head", "svg", "math", "img", "audio", "video", "object"}

# Front and back matter not narrated by default, as EPUB 3 structural semantics terms (EPUB 2
# guide types are mapped onto them by `_GUIDE_TYPES`). Each is the edition's apparatus or a way
# to move around the book, not the work a listener wants read.
NOT_NARRATED = frozenset({
    # Packaging: the cover and title pages repeat the title and author, which the audiobook's
    # own metadata already carries.
    "cover", "titlepage", "halftitlepage",
    # The edition's publishing record, not the author's text: imprint, copyright page
    # (Standard Ebooks' "Uncopyright"), colophon, series list, credits, errata, revisions.
    "imprint", "copyright-page", "colophon", "seriespage", "credits", "other-credits",
    "errata", "revision-history",
    # Navigation: lists of titles, page numbers or terms that point at places in the book;
    # spoken, they are names with nowhere to go.
    "toc", "toc-brief", "landmarks", "loa", "loi", "lot", "lov", "index",
})  # fmt: skip
# Front and back matter that is read: what the author or an editor wrote for the reader.
NARRATED = frozenset({
    # Prose that opens or closes the work; audiobooks read it.
    "foreword", "preface", "introduction", "preamble", "prologue", "epilogue", "afterword",
    "conclusion", "abstract",
    # Short, but the author's own words and part of the book as published.
    "dedication", "epigraph", "acknowledgments", "acknowledgements",
    # Reference text written as sentences that a listener may want; for notes, their text
    # (the note reference markers are already dropped from the chapters).
    "appendix", "glossary", "bibliography", "contributors", "endnotes", "footnotes",
    "rearnotes", "notes",
})  # fmt: skip
_GUIDE_TYPES = {"title-page": "titlepage"}  # EPUB 2 guide types spelled unlike the EPUB 3 term
_BODY_MATTER = {"bodymatter", "text"}  # landmarks / guide types that name the work itself
_WRAPPERS = {"div", "section", "article", "main"}  # looked through when they have no epub:type
_PARTITIONS = {"frontmatter": "front matter", "backmatter": "back matter"}


@dataclass(frozen=True, slots=True)
class _Mark:
    """One structural type said of a document or a part of it, and who says it."""

    type: str
    source: str  # "epub:type", "landmarks" or "guide"
    fragment: str | None = None  # the id a landmarks or guide entry points at

    def reason(self, partition: str | None) -> str:
        if self.source != "epub:type":
            return f"{self.source}: {self.type}"
        return f'epub:type "{self.type}"' + (f" ({partition})" if partition else "")


@dataclass(slots=True)
class _Structure:
    """What a document's structure says: marks on it as a whole, then on each top-level part."""

    whole: list[_Mark]
    parts: list[list[_Mark]]

    def marks(self) -> Iterator[_Mark]:
        yield from self.whole
        for part in self.parts:
            yield from part

    def not_narrated(self) -> _Mark | None:
        """The mark that makes the document skipped front/back matter: on it, or on every part."""
        whole = next((m for m in self.whole if m.type in NOT_NARRATED), None)
        parts = [next((m for m in part if m.type in NOT_NARRATED), None) for part in self.parts]
        if whole is None and parts and all(parts):
            return parts[0]
        return whole

    def role(self) -> str | None:
        """The first front/back matter type (read or not) the structure names."""
        roles = NARRATED | NOT_NARRATED
        return next((m.type for m in self.marks() if m.type in roles), None)

    def partition(self) -> str | None:
        """The partition ("front matter", "back matter") the document's own epub:type names."""
        kinds = (m.type for m in self.marks() if m.source == "epub:type")
        return next((_PARTITIONS[kind] for kind in kinds if kind in _PARTITIONS), None)


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


def _types(tag: Tag) -> list[str]:
    """A tag's epub:type values, in order."""
    values = [v for k, v in tag.attrs.items() if k.endswith(":type") and isinstance(v, str)]
    return [kind for value in values for kind in value.split()]


def _landmarks(book: epub.EpubBook) -> list[tuple[str, str]]:
    """(href from the package folder, type) of each entry of the EPUB 3 landmarks nav."""
    entries: list[tuple[str, str]] = []
    for item in book.get_items():
        if not isinstance(item, epub.EpubNav):
            continue
        base = dirname(item.get_name())
        for nav in _soup(item.content).find_all("nav"):
            if "landmarks" in _types(nav):
                for link in nav.find_all("a", href=True):
                    entries += [(join(base, link["href"]), kind) for kind in _types(link)]
    return entries


def _navigation_marks(book: epub.EpubBook) -> dict[str, list[_Mark]]:
    """Document name → what landmarks and guide entries call it (or a part of it).

    A document they also name as body matter gets none: one file holding the whole book
    must not be skipped because an entry calls it, say, the copyright page.
    """
    entries = [(href, kind, "landmarks") for href, kind in _landmarks(book)]
    for reference in book.guide:
        kind = (reference.get("type") or "").lower()
        entries.append((reference.get("href") or "", _GUIDE_TYPES.get(kind, kind), "guide"))
    marks: dict[str, list[_Mark]] = defaultdict(list)
    body_matter: set[str] = set()
    for href, kind, source in entries:
        path, _, fragment = unquote(href).partition("#")
        name = normpath(path)
        if kind in _BODY_MATTER:
            body_matter.add(name)
        marks[name].append(_Mark(kind, source, fragment or None))
    return {name: found for name, found in marks.items() if name not in body_matter}


def _parts(element: Tag) -> Iterator[Tag | NavigableString]:
    """The top-level parts of a body that hold text, looking through untyped wrappers."""
    for child in element.children:
        if isinstance(child, Comment):
            continue
        if isinstance(child, Tag) and child.name in _WRAPPERS and not _types(child):
            yield from _parts(child)
        elif normalize_text(_text(child)):
            yield child


def _ids_around(part: Tag | NavigableString) -> set[str]:
    """Ids of a part, its ancestors and its descendants: a fragment there points at the part."""
    ids = {str(tag["id"]) for tag in part.parents if tag.get("id")}
    if isinstance(part, Tag):
        ids |= {str(tag["id"]) for tag in [part, *part.find_all(id=True)] if tag.get("id")}
    return ids


def _structure(body: Tag, marks: list[_Mark]) -> _Structure:
    """The document's epub:type marks and navigation marks, as a whole and per part."""
    whole = [_Mark(kind, "epub:type") for kind in _types(body)]
    whole += [mark for mark in marks if mark.fragment is None]
    pointed = [mark for mark in marks if mark.fragment is not None]
    parts: list[list[_Mark]] = []
    for part in _parts(body):
        own = [_Mark(kind, "epub:type") for kind in _types(part)] if isinstance(part, Tag) else []
        ids = _ids_around(part) if pointed else set()
        parts.append(own + [mark for mark in pointed if mark.fragment in ids])
    return _Structure(whole, parts)


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


def _soup(html: bytes) -> BeautifulSoup:
    # lxml's HTML parser is lenient with the broken XHTML found in real books.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        return BeautifulSoup(html, "lxml")


def _page(html: bytes, marks: list[_Mark]) -> tuple[_Page, _Structure]:
    """A document's text and what its structure says about it."""
    soup = _soup(html)
    for tag in soup.find_all(_DROPPED):
        tag.decompose()
    for tag in soup.find_all("a"):
        if any("noteref" in str(value) for name, value in tag.attrs.items() if "type" in name):
            tag.decompose()  # footnote reference markers ("1", "*") are not read aloud
    body = soup.body or soup
    page = _Page()
    _walk(body, page)
    return page, _structure(body, marks)


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
    data: bytes,
    filename: str,
    fallback_title: str,
    max_inflated: int | None = None,
    *,
    include_front_matter: bool = False,
) -> RawDocument:
    """EPUB bytes → RawDocument (see the module docstring)."""
    data = unpack_archive(filename, data, max_inflated)
    with refuse_runaway_nesting(filename):
        book = _read_book(data, filename)
        return _parse_book(
            book, filename, fallback_title, include_front_matter=include_front_matter
        )


def _read_page(item: epub.EpubItem, filename: str, marks: list[_Mark]) -> tuple[_Page, _Structure]:
    """`_page` of one spine document, its failures turned into InputError."""
    try:
        # item.content, not get_content(): ebooklib rebuilds the latter without body attributes.
        return _page(item.content, marks)
    except RecursionError as error:
        raise nesting_error(filename, item.get_name()) from error
    except Exception as error:
        raise InputError(
            f"{filename}: chapter file {item.get_name()} cannot be read ({error}); "
            "export or download the EPUB again."
        ) from error


def _unread_reason(item: epub.EpubItem, linear: str) -> str | None:
    """Why a spine document is skipped without being read, or None."""
    if isinstance(item, epub.EpubNav) or "nav" in getattr(item, "properties", []):
        return "navigation document"
    return 'linear="no"' if linear == "no" else None


def _skip_reason(
    page: _Page, structure: _Structure, *, include: bool, first: bool, listed: bool
) -> str | None:
    """Why a document that was read is not a chapter, or None when it is one (or continues one).

    `first`: no chapter yet; `listed`: the TOC names the document.
    """
    mark = None if include else structure.not_narrated()
    if mark is not None:
        return mark.reason(structure.partition())
    if not page.paragraphs:
        return "no text"
    if first and not listed and structure.role() is None and not has_real_body(page.paragraphs):
        return "before the first chapter, with no TOC entry and no prose"
    return None


def _parse_book(
    book: epub.EpubBook, filename: str, fallback_title: str, *, include_front_matter: bool = False
) -> RawDocument:
    metadata = book.get_metadata("DC", "title")
    title = normalize_text(metadata[0][0]) if metadata and metadata[0][0] else None
    toc = _toc_titles(book.toc)
    marks = _navigation_marks(book)
    raw = RawDocument(
        title=title or fallback_title, source_format="epub", metadata=_metadata(book, filename)
    )
    last_role: str | None = None  # the front/back matter type of the last chapter's documents
    for idref, linear in book.spine:
        item = book.get_item_with_id(idref)
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT:
            continue
        name = normpath(item.get_name())
        unread = _unread_reason(item, linear)
        if unread is not None:
            title = normalize_text(toc.get(name, ""))
            raw.skipped.append(SkippedSection(item.get_name(), title, unread))
            continue
        page, structure = _read_page(item, filename, marks.get(name, []))
        heading = page.headings[0] if page.headings else None
        shown_title = normalize_text(toc.get(name) or heading or "")
        first, listed = not raw.chapters, name in toc
        reason = _skip_reason(
            page, structure, include=include_front_matter, first=first, listed=listed
        )
        role = structure.role()
        if reason is not None:
            raw.skipped.append(SkippedSection(item.get_name(), shown_title, reason))
        elif not shown_title and raw.chapters and role in (None, last_role):
            raw.chapters[-1].paragraphs.extend(page.headings + page.paragraphs)
        else:
            raw.chapters.append(_chapter(shown_title or _role_title(role), page))
            last_role = role
    return raw


def _chapter(title: str, page: _Page) -> RawChapter:
    """A chapter of one document; leading headings that repeat the title are not read twice."""
    extra = [h for h in page.headings if h.casefold() not in title.casefold()]
    return RawChapter(title=title, paragraphs=extra + page.paragraphs)


def _role_title(role: str | None) -> str:
    """A title from a structural type ("copyright-page" → "Copyright page"), else ""."""
    return role.replace("-", " ").capitalize() if role else ""


def _dc(book: epub.EpubBook, name: str) -> list[str]:
    """The non-empty values of one Dublin Core element, in OPF order."""
    values = (normalize_text(value or "") for value, _ in book.get_metadata("DC", name))
    return [value for value in values if value]


def _metadata(book: epub.EpubBook, filename: str) -> BookMetadata:
    """Authors, year, language and cover from the package document (see the module doc)."""
    dates = _dc(book, "date")
    year = dates[0][:4] if dates and _YEAR.match(dates[0]) else None
    languages = _dc(book, "language")
    cover = _cover_item(book)
    data = _cover_bytes(cover, filename) if cover is not None else None
    return BookMetadata(
        author=", ".join(_dc(book, "creator")) or None,
        year=year,
        language=languages[0] if languages else None,
        cover=data,
        cover_type=image_type(data) if data else None,
    )


def _cover_item(book: epub.EpubBook) -> epub.EpubItem | None:
    """The EPUB 3 `cover-image` manifest item, else the one EPUB 2 `<meta name="cover">` names."""
    covers = list(book.get_items_of_type(ebooklib.ITEM_COVER))
    if covers:
        return covers[0]
    # ebooklib files `<meta name="cover" content="id">` under "meta" with its attributes.
    for _, attributes in book.get_metadata("OPF", "meta"):
        if attributes.get("name") == "cover":
            item = book.get_item_with_id(attributes.get("content", ""))
            if item is not None:
                return item
    return None


def _cover_bytes(item: epub.EpubItem, filename: str) -> bytes | None:
    """The cover's bytes when MP4 and ID3 can carry them; otherwise None and a warning."""
    data = item.get_content()
    problem = cover_problem(data)
    if problem is None:
        return data
    log.warning(
        "%s: cover %s (%s) is not used: %s",
        filename,
        item.get_name(),
        getattr(item, "media_type", "unknown type"),
        problem,
    )
    return None
