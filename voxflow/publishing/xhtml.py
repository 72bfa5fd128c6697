"""The XHTML content documents: one per chapter with a span per sentence, the nav and the CSS."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lxml import etree

from voxflow.publishing.layout import ACTIVE_CLASS, CSS_FILE, span_id, xhtml_href
from voxflow.publishing.model import Chapter, xml_text

XHTML_NS = "http://www.w3.org/1999/xhtml"
EPUB_NS = "http://www.idpf.org/2007/ops"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_NSMAP = {None: XHTML_NS, "epub": EPUB_NS}

# The one rule the source's own documents get (their styles stay theirs).
ACTIVE_RULE = f".{ACTIVE_CLASS} {{ background-color: #ffe680; color: #000; }}\n"
STYLESHEET = f"""\
body {{ font-family: serif; line-height: 1.5; margin: 0 5%; }}
h1 {{ text-align: center; margin: 2em 0 1em; }}
p {{ text-indent: 1.5em; margin: 0; }}
{ACTIVE_RULE}"""


def _x(tag: str) -> str:
    return f"{{{XHTML_NS}}}{tag}"


def _document(title: str, language: str) -> tuple[etree._Element, etree._Element]:
    """An XHTML5 document with the shared stylesheet: its root and its empty body."""
    html = etree.Element(_x("html"), nsmap=_NSMAP)
    html.set(XML_LANG, language)
    html.set("lang", language)
    head = etree.SubElement(html, _x("head"))
    etree.SubElement(head, _x("meta"), charset="utf-8")
    etree.SubElement(head, _x("title")).text = xml_text(title)
    etree.SubElement(head, _x("link"), rel="stylesheet", type="text/css", href=CSS_FILE)
    return html, etree.SubElement(html, _x("body"))


def _serialise(html: etree._Element) -> bytes:
    body = etree.tostring(html, encoding="utf-8", pretty_print=True)
    return b'<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html>\n' + body


def chapter_xhtml(chapter: Chapter, language: str) -> bytes:
    """The chapter: its title as h1, a p per block, a span per sentence for the overlay."""
    html, body = _document(chapter.title, language)
    section = etree.SubElement(body, _x("section"))
    section.set(f"{{{EPUB_NS}}}type", "chapter")
    etree.SubElement(section, _x("h1")).text = chapter.title
    for paragraph in chapter.paragraphs():
        p = etree.SubElement(section, _x("p"))
        span = None
        for sentence in paragraph:
            if span is not None:
                span.tail = " "
            span = etree.SubElement(p, _x("span"), id=span_id(sentence.index))
            span.text = sentence.text
    return _serialise(html)


def nav_xhtml(
    chapters: Sequence[Chapter],
    title: str,
    language: str,
    hrefs: Mapping[int, str] | None = None,
) -> bytes:
    """The EPUB 3 navigation document: a toc nav listing every chapter.

    `hrefs` maps a chapter index to its first content document when that is not the generated
    `xhtml_href` (the source's own document, in the read-along book of an EPUB input)."""
    hrefs = hrefs or {}
    html, body = _document(title, language)
    nav = etree.SubElement(body, _x("nav"), id="toc")
    nav.set(f"{{{EPUB_NS}}}type", "toc")
    etree.SubElement(nav, _x("h1")).text = "Contents"
    ol = etree.SubElement(nav, _x("ol"))
    for chapter in chapters:
        li = etree.SubElement(ol, _x("li"))
        href = hrefs.get(chapter.index) or xhtml_href(chapter.index)
        etree.SubElement(li, _x("a"), href=href).text = chapter.title
    return _serialise(html)
