"""A read-along EPUB 3 from a finished conversion: the text, the chapter audio, and a SMIL media
overlay per chapter that highlights each sentence while it is heard.

A pure function over the manifest dict (`voxflow.audio.book_manifest`) and the chapter audio
files: no database, no Temporal. The zip is written by hand (zipfile + lxml) rather than with
ebooklib, whose writer re-parses chapter XHTML through its own template and has no way to add
the refined `media:duration` metadata overlays need.
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from voxflow.publishing.layout import (
    CSS_FILE,
    NAV_FILE,
    OVERLAY_CSS_FILE,
    PACKAGE_FILE,
    audio_href,
    audio_id,
    page_smil_href,
    page_smil_id,
    page_xhtml_id,
    smil_href,
    smil_id,
    xhtml_href,
    xhtml_id,
    zip_path,
)
from voxflow.publishing.model import (
    Chapter,
    Sentence,
    book_identifier,
    read_chapters,
    xml_text,
)
from voxflow.publishing.package import (
    BookMetadata,
    ManifestItem,
    container_xml,
    package_document,
    package_opf,
)
from voxflow.publishing.smil import chapter_smil, overlay_smil
from voxflow.publishing.source import LocatedBook, finish_pages, locate_book, package_name
from voxflow.publishing.xhtml import ACTIVE_RULE, STYLESHEET, chapter_xhtml, nav_xhtml

MIMETYPE = b"application/epub+zip"
log = logging.getLogger("voxflow.publishing.epub3")


def build_read_along_epub(
    manifest: Mapping,
    chapter_audio: Mapping[int, Path],
    out_path: Path,
    *,
    title: str | None = None,
    language: str = "en",
    author: str | None = None,
    narrator: str | None = None,
    identifier: str | None = None,
    modified: datetime | None = None,
    source_epub: bytes | None = None,
) -> Path:
    """Write the EPUB to `out_path` (atomically) and return it.

    `chapter_audio` maps each manifest chapter index to its audio file (MP3, or the `.m4a` AAC
    part), the file the chapter's segment times refer to. The title defaults to the project's,
    the narrator to the voice model, the identifier to a urn:uuid of the project id and title.

    `source_epub`, the bytes of the EPUB the project was imported from: each chapter is then
    the source's own XHTML with a span around each sentence, with the CSS, images and fonts
    it uses (`voxflow.publishing.source`); a chapter whose sentences are not all found there
    gets the generated XHTML instead (logged), so the book is always built.
    """
    chapters = read_chapters(manifest, chapter_audio)
    meta = BookMetadata(
        identifier=identifier or book_identifier(manifest),
        title=xml_text(title or manifest["project"]["title"]).strip() or "Untitled",
        language=language,
        modified=(modified or datetime.now(UTC)).astimezone(UTC),
        author=xml_text(author) if author else None,
        narrator=xml_text(narrator or manifest["voice"]["model"]) or None,
    )
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    part = out_path.with_name(out_path.name + ".part")
    located = _locate(source_epub, chapters) if source_epub is not None else None
    try:
        if located is not None:
            _write_source_zip(part, chapters, meta, located)
        else:
            _write_zip(part, chapters, meta)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, out_path)
    return out_path


def _write_zip(path: Path, chapters: list[Chapter], meta: BookMetadata) -> None:
    """The OCF container: `mimetype` first and stored, then the package's files."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as epub:
        epub.writestr(zipfile.ZipInfo("mimetype"), MIMETYPE, compress_type=zipfile.ZIP_STORED)
        epub.writestr("META-INF/container.xml", container_xml())
        epub.writestr(zip_path(PACKAGE_FILE), package_opf(chapters, meta))
        epub.writestr(zip_path(NAV_FILE), nav_xhtml(chapters, meta.title, meta.language))
        epub.writestr(zip_path(CSS_FILE), STYLESHEET.encode())
        for chapter in chapters:
            epub.writestr(
                zip_path(xhtml_href(chapter.index)), chapter_xhtml(chapter, meta.language)
            )
            epub.writestr(zip_path(smil_href(chapter.index)), chapter_smil(chapter))
            # Audio is compressed already: store it, so a reader can seek without inflating.
            epub.write(
                chapter.audio_path,
                zip_path(audio_href(chapter.index, chapter.audio_path.suffix)),
                compress_type=zipfile.ZIP_STORED,
            )


def _locate(source_epub: bytes, chapters: list[Chapter]) -> LocatedBook | None:
    """The chapters found in the source, or None (the generated book) when none is."""
    try:
        located = locate_book(source_epub, chapters)
        if located.pages:
            finish_pages(located)
            return located
    except Exception:  # never fail the book over its source: it has the generated XHTML
        log.exception("read-along EPUB: the source EPUB cannot be used; using generated XHTML")
    return None


def _millis(sentences: Sequence[Sentence]) -> int:
    """An overlay's duration in whole milliseconds, as its clip values add up."""
    return sum(round(s.clip_end_s * 1000) - round(s.clip_begin_s * 1000) for s in sentences)


def _write_source_zip(
    path: Path, chapters: list[Chapter], meta: BookMetadata, located: LocatedBook
) -> None:
    """The package of an EPUB input: the located chapters' source documents (with their
    resources, at their own paths under `layout.SOURCE_DIR`), generated XHTML for the rest."""
    source = located.source
    assert source is not None
    items = [
        ManifestItem("nav", NAV_FILE, "application/xhtml+xml", properties="nav"),
        ManifestItem("css", CSS_FILE, "text/css"),
        ManifestItem("overlay-css", OVERLAY_CSS_FILE, "text/css"),
    ]
    spine: list[str] = []
    durations: list[tuple[str, int]] = []
    files: list[tuple[str, bytes]] = []
    first_hrefs: dict[int, str] = {}
    for chapter in chapters:
        index = chapter.index
        audio = audio_href(index, chapter.audio_path.suffix)
        pages = located.pages.get(index)
        if not pages:
            items.append(
                ManifestItem(
                    xhtml_id(index),
                    xhtml_href(index),
                    "application/xhtml+xml",
                    media_overlay=smil_id(index),
                )
            )
            items.append(ManifestItem(smil_id(index), smil_href(index), "application/smil+xml"))
            files.append((xhtml_href(index), chapter_xhtml(chapter, meta.language)))
            files.append((smil_href(index), chapter_smil(chapter)))
            spine.append(xhtml_id(index))
            durations.append((smil_id(index), _millis(chapter.sentences)))
        else:
            first_hrefs[index] = pages[0].href
            for number, page in enumerate(pages, start=1):
                doc_id, overlay_id = page_xhtml_id(index, number), page_smil_id(index, number)
                overlay_href = page_smil_href(index, number)
                items.append(
                    ManifestItem(
                        doc_id,
                        page.href,
                        "application/xhtml+xml",
                        properties=" ".join(sorted(page.properties)),
                        media_overlay=overlay_id,
                    )
                )
                items.append(ManifestItem(overlay_id, overlay_href, "application/smil+xml"))
                files.append((page.name, page.data))
                files.append(
                    (overlay_href, overlay_smil(page.href, audio, page.sentences, page.ids))
                )
                spine.append(doc_id)
                durations.append((overlay_id, _millis(page.sentences)))
        items.append(ManifestItem(audio_id(index), audio, chapter.audio_media_type))
    for number, (resource_path, item) in enumerate(sorted(located.resources.items()), start=1):
        name = package_name(resource_path)
        items.append(ManifestItem(f"source-{number:03d}", quote(name), item.media_type))
        files.append((name, source.read(resource_path)))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as epub:
        epub.writestr(zipfile.ZipInfo("mimetype"), MIMETYPE, compress_type=zipfile.ZIP_STORED)
        epub.writestr("META-INF/container.xml", container_xml())
        epub.writestr(zip_path(PACKAGE_FILE), package_document(items, spine, durations, meta))
        nav = nav_xhtml(chapters, meta.title, meta.language, first_hrefs)
        epub.writestr(zip_path(NAV_FILE), nav)
        epub.writestr(zip_path(CSS_FILE), STYLESHEET.encode())
        epub.writestr(zip_path(OVERLAY_CSS_FILE), ACTIVE_RULE.encode())
        for name, data in files:  # paths in the package folder, not URLs
            epub.writestr(zip_path(name), data)
        for chapter in chapters:
            epub.write(
                chapter.audio_path,
                zip_path(audio_href(chapter.index, chapter.audio_path.suffix)),
                compress_type=zipfile.ZIP_STORED,
            )
