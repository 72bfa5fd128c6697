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


@dataclass(frozen=True)
class ManifestItem:
    """One file of the package, as its manifest lists it."""

    id: str
    href: str
    media_type: str
    properties: str = ""
    media_overlay: str = ""


def package_opf(chapters: Sequence[Chapter], meta: BookMetadata) -> bytes:
    """The package: metadata with overlay durations, every file in the manifest, the spine."""
    items = [
        ManifestItem("nav", NAV_FILE, "application/xhtml+xml", properties="nav"),
        ManifestItem("css", CSS_FILE, "text/css"),
    ]
    for chapter in chapters:
        index = chapter.index
        items += [
            ManifestItem(
                xhtml_id(index),
                xhtml_href(index),
                "application/xhtml+xml",
                media_overlay=smil_id(index),
            ),
            ManifestItem(smil_id(index), smil_href(index), "application/smil+xml"),
            ManifestItem(
                audio_id(index),
                audio_href(index, chapter.audio_path.suffix),
                chapter.audio_media_type,
            ),
        ]
    spine = [xhtml_id(chapter.index) for chapter in chapters]
    durations = [(smil_id(chapter.index), overlay_millis(chapter)) for chapter in chapters]
    return package_document(items, spine, durations, meta)


def package_document(
    items: Sequence[ManifestItem],
    spine: Sequence[str],
    durations: Sequence[tuple[str, int]],
    meta: BookMetadata,
) -> bytes:
    """A package of these files: `spine` lists content document ids in reading order,
    `durations` each overlay's id and length in milliseconds."""
    package = etree.Element(f"{{{OPF_NS}}}package", nsmap={None: OPF_NS})
    package.set("version", "3.0")
    package.set("unique-identifier", BOOK_ID)
    package.set(XML_LANG, meta.language)
    _metadata(package, durations, meta)
    manifest = etree.SubElement(package, f"{{{OPF_NS}}}manifest")
    for item in items:
        attrs = {"id": item.id, "href": item.href, "media-type": item.media_type}
        if item.properties:
            attrs["properties"] = item.properties
        if item.media_overlay:
            attrs["media-overlay"] = item.media_overlay
        etree.SubElement(manifest, f"{{{OPF_NS}}}item", attrs)
    spine_element = etree.SubElement(package, f"{{{OPF_NS}}}spine")
    for idref in spine:
        etree.SubElement(spine_element, f"{{{OPF_NS}}}itemref", idref=idref)
    return etree.tostring(package, encoding="utf-8", xml_declaration=True, pretty_print=True)


def _metadata(
    package: etree._Element, durations: Sequence[tuple[str, int]], meta: BookMetadata
) -> None:
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
    for overlay_id, millis in durations:
        prop("media:duration", clock_value(millis / 1000), refines=f"#{overlay_id}")
    prop("media:duration", clock_value(sum(millis for _, millis in durations) / 1000))
