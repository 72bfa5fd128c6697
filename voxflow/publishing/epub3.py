"""A read-along EPUB 3 from a finished conversion: the text, the chapter audio, and a SMIL media
overlay per chapter that highlights each sentence while it is heard.

A pure function over the manifest dict (`voxflow.audio.book_manifest`) and the chapter audio
files: no database, no Temporal. The zip is written by hand (zipfile + lxml) rather than with
ebooklib, whose writer re-parses chapter XHTML through its own template and has no way to add
the refined `media:duration` metadata overlays need.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from voxflow.publishing.layout import (
    CSS_FILE,
    NAV_FILE,
    PACKAGE_FILE,
    audio_href,
    smil_href,
    xhtml_href,
    zip_path,
)
from voxflow.publishing.model import Chapter, book_identifier, read_chapters, xml_text
from voxflow.publishing.package import BookMetadata, container_xml, package_opf
from voxflow.publishing.smil import chapter_smil
from voxflow.publishing.xhtml import STYLESHEET, chapter_xhtml, nav_xhtml

MIMETYPE = b"application/epub+zip"


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
) -> Path:
    """Write the EPUB to `out_path` (atomically) and return it.

    `chapter_audio` maps each manifest chapter index to its audio file (MP3, or the `.m4a` AAC
    part), the file the chapter's segment times refer to. The title defaults to the project's,
    the narrator to the voice model, the identifier to a urn:uuid of the project id and title.
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
    try:
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
