"""The read-along EPUB of an EPUB input: the source's own XHTML, with a span around each sentence.

How a chapter's sentences are found in the source (`locate_book`):

- The source package is read with zipfile + lxml (container.xml → OPF → manifest and spine).
  The candidates are the linear spine documents that are not the navigation document.
- A spine document's body text is walked in document order as the importer walks it: the text
  of `voxflow.importers.epub._DROPPED` elements (script, style, svg, ...) and of footnote
  reference links (`epub:type="noteref"`) is left out, block elements and `br` break words.
- Text is compared by its *skeleton*: the letters and digits left after NFD decomposition, in
  order. `voxflow.text.normalize_text` only changes quotes, dashes, spaces, invisible and
  control characters, so a segment's text and the source text it came from have the same
  skeleton, whatever markup (`em`, `a`, `time`, ...) lies in between. A segment is found at
  the first place from the previous segment's end where its skeleton starts and ends on a word
  boundary. The span then grows over the punctuation touching it in the same text node (the
  opening quote, the closing `.”`), never into its neighbour's.
- Chapters are located in manifest order, each in one or more consecutive documents after the
  previous chapter's: a chapter's first sentence, and a sentence that moves on to the next
  document, must lie within `DOCUMENT_SLACK` letters of that document's start (headings the
  import did not read, such as the title); any other sentence anywhere after the previous one
  in the same document. A chapter with a sentence that cannot be located (a credits chapter,
  text the source does not hold) is `None` in the result: the writer falls back to the
  generated XHTML for it, with a warning. Documents no chapter uses (front and back matter the
  import skipped) are not in the book.

How a located sentence is wrapped (`_wrap`), so that the XHTML stays valid and the SMIL points
at one element per sentence:

- Both ends of the sentence are DOM boundaries (a text node and an offset). An end at the very
  start (or end) of an inline element's content may move out of it, so "<em>Sir</em> Henry
  said." starts before the `em`. When both ends then lie in the same element and everything
  between them is phrasing content, the whole range (text and inline elements, e.g.
  "always <em>the</em> woman.") becomes the content of one `<span id="s{index}">`.
- Otherwise (a sentence that starts inside an `em` and ends outside it) only its first text
  node's part is wrapped: the span with the id holds the sentence's opening words, and a
  reading system highlights those; the markup is never restructured. `SourcePage.partial`
  counts these.
- Ids are `layout.span_id`; if the document already uses one of them, all of that document's
  spans get a `vf-` prefix.
"""

from __future__ import annotations

import io
import logging
import posixpath
import re
import unicodedata
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

from lxml import etree

from voxflow.importers.epub import _BLOCKS, _DROPPED  # the importer's reading, kept in step
from voxflow.publishing.layout import OVERLAY_CSS_FILE, SOURCE_DIR, span_id
from voxflow.publishing.model import Chapter, Sentence

log = logging.getLogger("voxflow.publishing.source")

XHTML_NS = "http://www.w3.org/1999/xhtml"
OPF_NS = "http://www.idpf.org/2007/opf"
CONTAINER_NS = "urn:oasis:names:tc:opendocument:xmlns:container"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
XHTML_TYPE = "application/xhtml+xml"
# A chapter's first sentence must start within this many letters of its document's start.
DOCUMENT_SLACK = 500
# Inline elements a boundary may move out of, and that may be moved into a sentence's span.
_PHRASING = {
    "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "del", "dfn", "em", "i", "ins",
    "kbd", "mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var",
}  # fmt: skip
_MOVABLE = _PHRASING | {"br", "img", "wbr", "ruby", "svg", "math"}
# Manifest properties of a content document that still hold for the same document here.
_DOCUMENT_PROPERTIES = {"mathml", "remote-resources", "scripted", "svg", "switch"}
_REFERENCE_ATTRS = ("href", "src", "data", "poster", XLINK_HREF)
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)|@import\s+(['"])([^'"]+)\3""")


@dataclass(frozen=True)
class SourceItem:
    path: str  # inside the zip
    media_type: str
    properties: frozenset[str]


@dataclass(frozen=True)
class SourcePage:
    """One source document of a located chapter, its sentences wrapped in spans."""

    path: str  # the source document's path inside the source zip
    data: bytes  # the rewritten XHTML
    sentences: tuple[Sentence, ...]
    ids: dict[int, str]  # sentence index → the id of its span
    properties: frozenset[str]
    partial: int = 0  # sentences only partly wrapped (see the module doc)

    @property
    def name(self) -> str:
        """Its path in the package folder (in the zip, under `layout.CONTENT_DIR`)."""
        return package_name(self.path)

    @property
    def href(self) -> str:
        """The same as a URL (what the OPF, the SMIL and the nav say)."""
        return quote(self.name)


@dataclass
class SourceBook:
    """The source EPUB's package as the writer needs it."""

    archive: zipfile.ZipFile
    items: dict[str, SourceItem]  # zip path → manifest item
    spine: list[str]  # zip paths of the linear, non-nav spine documents
    encrypted: bool

    def read(self, path: str) -> bytes:
        return self.archive.read(path)

    def has(self, path: str) -> bool:
        return path in self.items and path in self.archive.NameToInfo


@dataclass
class LocatedBook:
    """The chapters found in the source (index → its pages) and what the pages need copied."""

    pages: dict[int, list[SourcePage]] = field(default_factory=dict)
    resources: dict[str, SourceItem] = field(default_factory=dict)  # zip path → item
    source: SourceBook | None = None


def package_name(path: str) -> str:
    """Where a source file lives in the new package: its zip path under SOURCE_DIR, so every
    relative reference between source files still works."""
    return posixpath.join(SOURCE_DIR, path)


def _local(node: etree._Element) -> str | None:
    return etree.QName(node).localname if isinstance(node.tag, str) else None


def read_source(data: bytes) -> SourceBook:
    """The package of an EPUB, or ValueError when it cannot be read as one."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        container = _xml(archive.read("META-INF/container.xml"))
        rootfile = container.find(f".//{{{CONTAINER_NS}}}rootfile")
        opf_path = unquote(rootfile.get("full-path", ""))
        opf = _xml(archive.read(opf_path))
    except (zipfile.BadZipFile, KeyError, AttributeError, etree.XMLSyntaxError) as error:
        raise ValueError(f"the source is not a readable EPUB ({error})") from error
    base = posixpath.dirname(opf_path)
    items: dict[str, SourceItem] = {}
    by_id: dict[str, SourceItem] = {}
    for item in opf.iterfind(f"{{{OPF_NS}}}manifest/{{{OPF_NS}}}item"):
        href = item.get("href")
        if not href or urlsplit(href).scheme:
            continue  # a remote resource: nothing to copy
        path = posixpath.normpath(posixpath.join(base, unquote(href)))
        entry = SourceItem(path, item.get("media-type", ""), frozenset(_words(item, "properties")))
        items[path] = entry
        by_id[item.get("id", "")] = entry
    spine = []
    for ref in opf.iterfind(f"{{{OPF_NS}}}spine/{{{OPF_NS}}}itemref"):
        entry = by_id.get(ref.get("idref", ""))
        if entry is None or entry.media_type != XHTML_TYPE or "nav" in entry.properties:
            continue
        if ref.get("linear", "yes") != "no":
            spine.append(entry.path)
    encrypted = "META-INF/encryption.xml" in archive.NameToInfo
    return SourceBook(archive, items, spine, encrypted)


def _words(element: etree._Element, name: str) -> list[str]:
    return (element.get(name) or "").split()


def _xml(data: bytes) -> etree._Element:
    return etree.fromstring(data, _parser())


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)


# --- the text stream -----------------------------------------------------------------------


def skeleton(text: str) -> str:
    """The letters and digits of `text` after NFD: what normalisation never changes."""
    return "".join(char for char in unicodedata.normalize("NFD", text) if char.isalnum())


def _is_noteref(element: etree._Element) -> bool:
    return _local(element) == "a" and any(
        "type" in str(name) and "noteref" in value for name, value in element.attrib.items()
    )


@dataclass
class _Stream:
    """A document's read text: its text nodes, and the skeleton with where each letter is."""

    pieces: list[tuple[etree._Element, str]] = field(default_factory=list)  # (node, text|tail)
    chars: list[str] = field(default_factory=list)
    where: list[tuple[int, int]] = field(default_factory=list)  # (piece, offset) per letter
    starts: list[bool] = field(default_factory=list)  # letter starts a word
    _alnum: bool = False

    def add(self, node: etree._Element, attr: str, text: str | None) -> None:
        if not text:
            return
        piece = len(self.pieces)
        self.pieces.append((node, attr))
        for offset, char in enumerate(text):
            letters = [c for c in unicodedata.normalize("NFD", char) if c.isalnum()]
            for n, letter in enumerate(letters):
                self.chars.append(letter)
                self.where.append((piece, offset))
                self.starts.append(n == 0 and not self._alnum)
            self._alnum = bool(letters)

    def brk(self) -> None:
        self._alnum = False

    def text(self, piece: int) -> str:
        node, attr = self.pieces[piece]
        return getattr(node, attr) or ""

    def find(self, key: str, skel: str, cursor: int, limit: int | None = None) -> int | None:
        """First start ≥ cursor (and ≤ limit) where `key` lies on word boundaries."""
        at = skel.find(key, cursor)
        while at >= 0 and (limit is None or at <= limit):
            end = at + len(key)
            if self.starts[at] and (end == len(skel) or self.starts[end]):
                return at
            at = skel.find(key, at + 1)
        return None


def _stream(body: etree._Element) -> _Stream:
    stream = _Stream()

    def visit(element: etree._Element) -> None:
        name = _local(element)
        if name is None or name in _DROPPED or _is_noteref(element):
            return
        block = name in _BLOCKS or name == "br"
        if block:
            stream.brk()
        stream.add(element, "text", element.text)
        for child in element:
            visit(child)
            stream.add(child, "tail", child.tail)
        if block:
            stream.brk()

    visit(body)
    return stream


# --- locating chapters ---------------------------------------------------------------------


@dataclass
class _Document:
    path: str
    tree: etree._ElementTree
    stream: _Stream
    skel: str


@dataclass(frozen=True)
class _Found:
    sentence: Sentence
    start: tuple[int, int]  # (piece, offset) of the first character
    end: tuple[int, int]  # (piece, offset) just after the last one


def _document(source: SourceBook, path: str) -> _Document | None:
    try:
        tree = etree.parse(io.BytesIO(source.read(path)), _parser())
    except (KeyError, etree.XMLSyntaxError) as error:
        log.warning("source document %s cannot be parsed as XHTML (%s)", path, error)
        return None
    body = tree.getroot().find(f"{{{XHTML_NS}}}body")
    if body is None:
        return None
    stream = _stream(body)
    return _Document(path, tree, stream, "".join(stream.chars))


def _locate_chapter(
    chapter: Chapter, docs: Sequence[_Document | None], first: int
) -> list[tuple[int, list[_Found]]] | None:
    """Where each of the chapter's sentences lies: (document, found sentences) in order."""
    placed: list[tuple[int, list[_Found]]] = []
    current, cursor = None, 0
    for sentence in chapter.sentences:
        key = skeleton(sentence.text)
        if not key:
            return None
        at = None
        if current is not None:
            doc = docs[current]
            at = doc.stream.find(key, doc.skel, cursor)
        if at is None:  # the chapter's start, or it goes on in a following document
            start = first if current is None else current + 1
            for number in range(start, len(docs)):
                doc = docs[number]
                if doc is None:
                    continue
                at = doc.stream.find(key, doc.skel, 0, DOCUMENT_SLACK)
                if at is not None:
                    current = number
                    placed.append((number, []))
                    break
                if current is not None and doc.skel:
                    break  # a continuation comes right after (documents without text aside)
        if at is None:
            return None
        doc = docs[current]
        piece, offset = doc.stream.where[at + len(key) - 1]
        found = _Found(sentence, doc.stream.where[at], (piece, offset + 1))
        placed[-1][1].append(found)
        cursor = at + len(key)
    return placed


def _grow(stream: _Stream, found: list[_Found]) -> list[_Found]:
    """Each range grows over the punctuation touching it in its text nodes, not past a
    neighbour's letters."""

    def punct(char: str) -> bool:
        return not char.isspace() and not char.isalnum()

    grown: list[_Found] = []
    for position, item in enumerate(found):
        (sp, so), (ep, eo) = item.start, item.end
        text = stream.text(ep)
        limit = found[position + 1].start if position + 1 < len(found) else (ep, len(text))
        while eo < len(text) and punct(text[eo]) and (ep, eo) < limit:
            eo += 1
        text = stream.text(sp)
        floor = grown[-1].end if grown else (sp, 0)
        while so > 0 and punct(text[so - 1]) and (sp, so - 1) >= floor:
            so -= 1
        grown.append(_Found(item.sentence, (sp, so), (ep, eo)))
    return grown


# --- wrapping ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Boundary:
    """A DOM boundary: in `container`'s text (after=None) or in the tail of its child `after`."""

    container: etree._Element
    after: etree._Element | None
    offset: int

    def text(self) -> str:
        node = self.container if self.after is None else self.after
        return (node.text if self.after is None else node.tail) or ""


def _boundary(stream: _Stream, piece: int, offset: int) -> _Boundary:
    node, attr = stream.pieces[piece]
    if attr == "text":
        return _Boundary(node, None, offset)
    return _Boundary(node.getparent(), node, offset)


def _outward(boundary: _Boundary, *, start: bool) -> list[_Boundary]:
    """The boundary and the same point seen from each inline ancestor it is at the edge of."""
    chain = [boundary]
    while True:
        b = chain[-1]
        element, parent = b.container, b.container.getparent()
        if parent is None or _local(element) not in _PHRASING:
            return chain
        if start:
            if b.after is not None or b.offset != 0:
                return chain
            previous = element.getprevious()
            if previous is None:
                chain.append(_Boundary(parent, None, len(parent.text or "")))
            else:
                chain.append(_Boundary(parent, previous, len(previous.tail or "")))
        else:
            last = element[-1] if len(element) else None
            if b.after is not last or b.offset != len(b.text()):
                return chain
            chain.append(_Boundary(parent, element, 0))


def _span(span_id_: str) -> etree._Element:
    return etree.Element(f"{{{XHTML_NS}}}span", id=span_id_)


def _wrap(stream: _Stream, found: _Found, id_: str) -> bool:
    """Put the found range in a span with `id_`; False when only its start could be wrapped."""
    first = _boundary(stream, *found.start)
    last = _boundary(stream, *found.end)
    pairs = [
        (i + j, s, e)
        for i, s in enumerate(_outward(first, start=True))
        for j, e in enumerate(_outward(last, start=False))
        if s.container is e.container
    ]
    if pairs:
        _, s, e = min(pairs, key=lambda pair: pair[0])
        children = list(s.container)
        k = -1 if s.after is None else children.index(s.after)
        m = -1 if e.after is None else children.index(e.after)
        moved = children[k + 1 : m + 1]
        if all(_local(child) in _MOVABLE or _local(child) is None for child in moved):
            _wrap_range(s, e, k, moved, id_)
            return True
    # No common parent: wrap the sentence's part in its first text node only.
    text = first.text()
    end = found.end[1] if found.end[0] == found.start[0] else len(text.rstrip())
    end = max(end, first.offset)
    children = list(first.container)
    k = -1 if first.after is None else children.index(first.after)
    _wrap_range(first, _Boundary(first.container, first.after, end), k, [], id_)
    return False


def _wrap_range(s: _Boundary, e: _Boundary, k: int, moved: list[etree._Element], id_: str) -> None:
    container = s.container
    text = s.text()
    head, lead = text[: s.offset], text[s.offset :]
    if s.after is None:
        container.text = head
    else:
        s.after.tail = head
    span = _span(id_)
    container.insert(k + 1, span)
    if not moved:  # start and end in the same text node
        cut = e.offset - s.offset
        span.text, span.tail = lead[:cut], lead[cut:]
        return
    span.text = lead
    last = moved[-1]
    tail = last.tail or ""
    last.tail, span.tail = tail[: e.offset], tail[e.offset :]
    for child in moved:
        span.append(child)


def _document_ids(tree: etree._ElementTree) -> set[str]:
    return {str(value) for value in tree.getroot().xpath("//@id")}


def _page(
    source: SourceBook, doc: _Document, found: list[_Found], link_css: bool = True
) -> SourcePage:
    taken = _document_ids(doc.tree)
    wanted = [span_id(item.sentence.index) for item in found]
    prefix = "vf-" if taken & set(wanted) else ""
    ids = {item.sentence.index: prefix + span_id(item.sentence.index) for item in found}
    partial = 0
    for item in reversed(_grow(doc.stream, found)):  # right to left: earlier offsets stay valid
        if not _wrap(doc.stream, item, ids[item.sentence.index]):
            partial += 1
    root = doc.tree.getroot()
    head = root.find(f"{{{XHTML_NS}}}head")
    if link_css and head is not None:
        href = posixpath.relpath(OVERLAY_CSS_FILE, posixpath.dirname(package_name(doc.path)))
        last = head[-1] if len(head) else None
        link = etree.SubElement(head, f"{{{XHTML_NS}}}link", rel="stylesheet", type="text/css")
        link.set("href", quote(href))
        if last is not None:  # the source's indentation
            link.tail, last.tail = last.tail, head.text
    properties = source.items[doc.path].properties & _DOCUMENT_PROPERTIES
    data = etree.tostring(doc.tree, encoding="utf-8", xml_declaration=True)
    sentences = tuple(item.sentence for item in found)
    return SourcePage(doc.path, data, sentences, ids, frozenset(properties), partial)


def locate_book(source_epub: bytes, chapters: Sequence[Chapter]) -> LocatedBook:
    """Each chapter found in the source's documents, wrapped; see the module doc."""
    located = LocatedBook()
    try:
        source = read_source(source_epub)
    except ValueError as error:
        log.warning("read-along EPUB: %s; every chapter uses generated XHTML", error)
        return located
    if source.encrypted:
        log.warning(
            "read-along EPUB: the source has encrypted (obfuscated) resources; every chapter "
            "uses generated XHTML"
        )
        return located
    located.source = source
    docs = [_document(source, path) for path in source.spine]
    first = 0
    found_by_chapter: dict[int, list[tuple[int, list[_Found]]]] = {}
    for chapter in chapters:
        placed = _locate_chapter(chapter, docs, first)
        if placed is None:
            missing = _count_missing(chapter, docs, first)
            log.warning(
                "read-along EPUB: chapter %s: %d of %d sentences not found in the source; it "
                "uses generated XHTML",
                chapter.index,
                missing,
                len(chapter.sentences),
            )
            continue
        found_by_chapter[chapter.index] = placed
        first = placed[-1][0] + 1
    for chapter_index, placed in found_by_chapter.items():
        try:
            pages = [_page(source, docs[number], found) for number, found in placed]
        except Exception:  # never fail the book: this chapter gets the generated XHTML
            log.exception(
                "read-along EPUB: chapter %s could not be wrapped; it uses generated XHTML",
                chapter_index,
            )
            continue
        for page in pages:
            if page.partial:
                log.info(
                    "read-along EPUB: %s: %d sentences cross inline markup and are only "
                    "partly highlighted",
                    page.path,
                    page.partial,
                )
        located.pages[chapter_index] = pages
    return located


def _count_missing(chapter: Chapter, docs: Sequence[_Document | None], first: int) -> int:
    """How many of the chapter's sentences occur nowhere after `first` (for the warning)."""
    texts = [doc for doc in docs[first:] if doc is not None]
    missing = 0
    for sentence in chapter.sentences:
        key = skeleton(sentence.text)
        if not key or not any(key in doc.skel for doc in texts):
            missing += 1
    return missing or len(chapter.sentences)


# --- references: what the kept documents need ----------------------------------------------


def resolve(base_path: str, reference: str) -> tuple[str, str] | None:
    """A relative reference from the file at `base_path` as (zip path, fragment), or None when
    it is remote, a fragment only, or a data: URL."""
    parts = urlsplit(reference)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    target = posixpath.normpath(posixpath.join(posixpath.dirname(base_path), unquote(parts.path)))
    return target, parts.fragment


def _references(tree: etree._Element) -> Iterator[tuple[etree._Element, str]]:
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        for attr in _REFERENCE_ATTRS:
            if element.get(attr):
                yield element, attr
        if element.get("srcset"):
            yield element, "srcset"


def finish_pages(located: LocatedBook) -> None:
    """Rewrite the kept pages' links and collect the resources they (and their CSS) use.

    A link into a source document that is not in the book (skipped front or back matter, a
    chapter that fell back to generated XHTML) loses its href; the `a` and its text stay.
    """
    source = located.source
    if source is None:
        return
    kept = {page.path for pages in located.pages.values() for page in pages}
    for chapter_index, pages in located.pages.items():
        located.pages[chapter_index] = [
            _rewrite(source, page, kept, located.resources) for page in pages
        ]
    queue = [path for path, item in located.resources.items() if item.media_type == "text/css"]
    while queue:
        css_path = queue.pop()
        css = source.read(css_path).decode("utf-8", "replace")
        for match in _CSS_URL.finditer(css):
            target = resolve(css_path, match.group(2) or match.group(4))
            if target and target[0] not in located.resources and source.has(target[0]):
                item = source.items[target[0]]
                located.resources[target[0]] = item
                if item.media_type == "text/css":
                    queue.append(target[0])


def _rewrite(
    source: SourceBook,
    page: SourcePage,
    kept: set[str],
    resources: dict[str, SourceItem],
) -> SourcePage:
    root = etree.fromstring(page.data, _parser())
    changed = False
    for element, attr in list(_references(root)):
        values = element.get(attr)
        targets = [values]
        if attr == "srcset":  # "a.png 1x, b.png 2x"
            targets = [words[0] for words in (v.split() for v in values.split(",")) if words]
        for value in targets:
            target = resolve(page.path, value)
            if target is None:
                continue
            path, _fragment = target
            if path in kept:
                continue
            item = source.items.get(path)
            if item is not None and item.media_type != XHTML_TYPE and source.has(path):
                resources[path] = item
                continue
            if _local(element) == "a" and attr == "href" and path in source.items:
                del element.attrib["href"]
                changed = True
    if not changed:
        return page
    data = etree.tostring(root.getroottree(), encoding="utf-8", xml_declaration=True)
    return SourcePage(page.path, data, page.sentences, page.ids, page.properties, page.partial)
