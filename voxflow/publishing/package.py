"""The OPF 3.0 package document and META-INF/container.xml."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from voxflow.publishing.layout import (
    ACTIVE_CLASS,
    CSS_FILE,
    NAV_FILE,
    PACKAGE_FILE,
    audio_href,
    audio_id,
    smil_href,
    smil_id,
    xhtml_href,
    xhtml_id,
    zip_path,
)
from voxflow.publishing.model import Chapter
from voxflow.publishing.smil import clock_value

OPF_NS = "http://www.idpf.org/2007/opf"
DC_NS = "http://purl.org/dc/elements/1.1/"
CONTAINER_NS = "urn:oasis:names:tc:opendocument:xmlns:container"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
BOOK_ID = "book-id"


@dataclass(frozen=True)
class BookMetadata:
    """What the package says about the book (all text, already XML-safe)."""

    identifier: str
    title: str
    language: str
    modified: datetime
    author: str | None = None
    narrator: str | None = None


def overlay_millis(chapter: Chapter) -> int:
    """The chapter overlay's duration in whole milliseconds, as its clip values add up."""
    return sum(round(s.clip_end_s * 1000) - round(s.clip_begin_s * 1000) for s in chapter.sentences)


def container_xml() -> bytes:
    """META-INF/container.xml: where the package document is."""
    root = etree.Element(f"{{{CONTAINER_NS}}}container", nsmap={None: CONTAINER_NS})
    root.set("version", "1.0")
    rootfiles = etree.SubElement(root, f"{{{CONTAINER_NS}}}rootfiles")
    etree.SubElement(
        rootfiles,
        f"{{{CONTAINER_NS}}}rootfile",
        {"full-path": zip_path(PACKAGE_FILE), "media-type": "application/oebps-package+xml"},
    )
    return etree.tostring(root, encoding="utf-8", xml_declaration=True, pretty_print=True)


def package_opf(chapters: Sequence[Chapter], meta: BookMetadata) -> bytes:
    """The package: metadata with overlay durations, every file in the manifest, the spine."""
    package = etree.Element(f"{{{OPF_NS}}}package", nsmap={None: OPF_NS})
    package.set("version", "3.0")
    package.set("unique-identifier", BOOK_ID)
    package.set(XML_LANG, meta.language)
    _metadata(package, chapters, meta)
    _manifest(package, chapters)
    spine = etree.SubElement(package, f"{{{OPF_NS}}}spine")
    for chapter in chapters:
        etree.SubElement(spine, f"{{{OPF_NS}}}itemref", idref=xhtml_id(chapter.index))
    return etree.tostring(package, encoding="utf-8", xml_declaration=True, pretty_print=True)


def _metadata(package: etree._Element, chapters: Sequence[Chapter], meta: BookMetadata) -> None:
    metadata = etree.SubElement(package, f"{{{OPF_NS}}}metadata", nsmap={"dc": DC_NS})

    def dc(name: str, text: str, **attrs: str) -> None:
        etree.SubElement(metadata, f"{{{DC_NS}}}{name}", attrs).text = text

    def prop(name: str, text: str, **attrs: str) -> None:
        etree.SubElement(metadata, f"{{{OPF_NS}}}meta", property=name, **attrs).text = text

    dc("identifier", meta.identifier, id=BOOK_ID)
    dc("title", meta.title)
    dc("language", meta.language)
    if meta.author:
        dc("creator", meta.author)
    prop("dcterms:modified", meta.modified.strftime("%Y-%m-%dT%H:%M:%SZ"))
    if meta.narrator:
        prop("media:narrator", meta.narrator)
    prop("media:active-class", ACTIVE_CLASS)
    millis = [overlay_millis(chapter) for chapter in chapters]
    for chapter, duration in zip(chapters, millis, strict=True):
        prop("media:duration", clock_value(duration / 1000), refines=f"#{smil_id(chapter.index)}")
    prop("media:duration", clock_value(sum(millis) / 1000))


def _manifest(package: etree._Element, chapters: Sequence[Chapter]) -> None:
    manifest = etree.SubElement(package, f"{{{OPF_NS}}}manifest")

    def item(id_: str, href: str, media_type: str, **attrs: str) -> None:
        etree.SubElement(
            manifest, f"{{{OPF_NS}}}item", {"id": id_, "href": href, "media-type": media_type}
        ).attrib.update(attrs)

    item("nav", NAV_FILE, "application/xhtml+xml", properties="nav")
    item("css", CSS_FILE, "text/css")
    for chapter in chapters:
        index = chapter.index
        xhtml_attrs = {"media-overlay": smil_id(index)}
        item(xhtml_id(index), xhtml_href(index), "application/xhtml+xml", **xhtml_attrs)
        item(smil_id(index), smil_href(index), "application/smil+xml")
        suffix = chapter.audio_path.suffix
        item(audio_id(index), audio_href(index, suffix), chapter.audio_media_type)
