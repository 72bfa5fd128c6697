"""Document import: bytes or a path in, a segmented `Document` out, or one clear InputError.

`load_document(path)` and `load_document_bytes(data, filename)` check size, type (by
content, not only by name), emptiness and encoding, pick the importer by extension, and
segment the result with `build_document`. `include_front_matter=True` imports the EPUB
front and back matter that is skipped by default (see `voxflow.importers.epub`).
"""

from __future__ import annotations

import re
from pathlib import Path

from voxflow.builder import build_document
from voxflow.document import Document, RawDocument
from voxflow.errors import InputError
from voxflow.importers._input import (
    FORMATS,
    SUPPORTED,
    _mib,
    check_container,
    check_not_empty,
    check_size,
    decode_text,
    format_for,
)
from voxflow.publishing.credits import with_credits
from voxflow.settings import Settings, get_settings
from voxflow.text import normalize_text

__all__ = [
    "FORMATS",
    "SUPPORTED",
    "build_document",
    "check_size",
    "load_document",
    "load_document_bytes",
    "over_limit_message",
    "parse_raw",
]


def over_limit_message(limit: int) -> str:
    """check_size's refusal for a body cut off before its size is known (the web's 413)."""
    return (
        f"the upload is over the {_mib(limit)} upload limit; split the document or raise "
        "VOXFLOW_MAX_UPLOAD_BYTES."
    )


def _fallback_title(filename: str) -> str:
    """A readable title from a file name: "the-lighthouse_keeper.md" → "the lighthouse keeper"."""
    stem = Path(filename).stem
    return re.sub(r"[-_]+", " ", stem).strip() or "Untitled"


def parse_raw(
    data: bytes,
    filename: str,
    max_inflated: int | None = None,
    *,
    include_front_matter: bool = False,
) -> RawDocument:
    """Bytes → RawDocument with the importer the extension names, after the content checks."""
    fmt = format_for(filename)
    check_not_empty(filename, data)
    check_container(filename, data, fmt, max_inflated)
    title = _fallback_title(filename)
    if fmt == "epub":
        from voxflow.importers.epub import parse_epub

        return parse_epub(
            data, filename, title, max_inflated, include_front_matter=include_front_matter
        )
    if fmt == "docx":
        from voxflow.importers.word import parse_docx

        return parse_docx(data, filename, title, max_inflated)
    text, encoding = decode_text(filename, data)
    if not normalize_text(text):
        raise InputError(f"{filename} is empty; choose a file that contains text.")
    if fmt == "markdown":
        from voxflow.importers.markdown import parse_markdown

        raw = parse_markdown(text, title, filename)
    else:
        from voxflow.importers.txt import parse_txt

        raw = parse_txt(text, title)
    raw.encoding = encoding
    return raw


def load_document_bytes(
    data: bytes,
    filename: str,
    settings: Settings | None = None,
    max_chars: int | None = None,
    *,
    include_front_matter: bool = False,
    credits_voice: str | None = None,
) -> Document:
    """Import an upload held in memory (the web app's path); see the module docstring.

    `credits_voice` adds ACX opening and closing credits naming that voice as the narrator."""
    settings = settings or get_settings()
    filename = Path(filename).name or "upload"
    check_size(filename, len(data), settings.max_upload_bytes)
    raw = parse_raw(
        data, filename, settings.max_inflated_bytes, include_front_matter=include_front_matter
    )
    if credits_voice and raw.chapters:
        raw = with_credits(raw, credits_voice)
    document = build_document(raw, max_chars or settings.max_chars)
    if not document.chapters:
        raise InputError(
            f"{filename} has no readable text after import (only headings, images, code or "
            "markup); check that the file holds the book's text."
        )
    return document


def load_document(
    path: Path,
    settings: Settings | None = None,
    max_chars: int | None = None,
    *,
    include_front_matter: bool = False,
) -> Document:
    """Import a file on disk: existence, type and size are checked before it is read."""
    settings = settings or get_settings()
    path = Path(path)
    if not path.exists():
        raise InputError(f"File not found: {path}; check the path and try again.")
    if not path.is_file():
        raise InputError(f"{path} is not a file; give the path of a document.")
    format_for(path.name)
    check_size(path.name, path.stat().st_size, settings.max_upload_bytes)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputError(
            f"{path} cannot be read ({error.strerror}); check its permissions."
        ) from error
    return load_document_bytes(
        data, path.name, settings, max_chars, include_front_matter=include_front_matter
    )
