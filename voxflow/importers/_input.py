"""Checks on the raw bytes of an upload: size, type by content, binary data, text encoding."""

from __future__ import annotations

import io
import unicodedata
import zipfile

from voxflow.errors import InputError

FORMATS: dict[str, str] = {
    ".txt": "txt",
    ".text": "txt",
    ".md": "markdown",
    ".markdown": "markdown",
    ".epub": "epub",
    ".docx": "docx",
}
SUPPORTED = ", ".join(FORMATS)
ZIP_MAGIC = b"PK\x03\x04"
# A text file may hold a few stray control characters; more than this share is binary data.
MAX_CONTROL_RATIO = 0.01
_TEXT_CONTROLS = {"\t", "\n", "\r", "\f", "\v"}


def format_for(filename: str) -> str:
    """The importer for a file name's extension; unknown extensions are refused."""
    suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix not in FORMATS:
        shown = f"'{suffix}'" if suffix else "no extension"
        raise InputError(
            f"{filename}: unsupported file type ({shown}); supported types are {SUPPORTED}."
        )
    return FORMATS[suffix]


def check_size(filename: str, size: int, limit: int) -> None:
    """Refuse an upload over the limit before it is read into memory."""
    if size > limit:
        raise InputError(
            f"{filename} is {_mib(size)}, over the {_mib(limit)} upload limit; split the "
            "document or raise VOXFLOW_MAX_UPLOAD_BYTES."
        )


def _mib(size: int) -> str:
    """A size people read at a glance: bytes, KiB or MiB."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"


def check_not_empty(filename: str, data: bytes) -> None:
    if not data.strip():
        raise InputError(f"{filename} is empty; choose a file that contains text.")


def zip_members(filename: str, data: bytes) -> set[str] | None:
    """Member names when data is a readable ZIP archive, else None."""
    if not data.startswith(ZIP_MAGIC):
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return set(archive.namelist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
        return None


def sniff_zip_format(members: set[str]) -> str | None:
    """Which of our ZIP-based formats an archive's members say it is."""
    if "word/document.xml" in members:
        return "docx"
    if "META-INF/container.xml" in members or "mimetype" in members:
        return "epub"
    return None


def check_container(filename: str, data: bytes, fmt: str) -> None:
    """EPUB and DOCX are ZIP archives with known members; text formats must not be archives."""
    members = zip_members(filename, data)
    label = {"epub": "EPUB", "docx": "DOCX"}.get(fmt)
    if label is None:
        if data.startswith(ZIP_MAGIC):
            raise InputError(
                f"{filename} is a binary (ZIP) file, not text; save the document as "
                f"plain text or upload it with its real extension ({SUPPORTED})."
            )
        return
    if members is None:
        raise InputError(
            f"{filename} is not a valid {label} file (it is not a readable ZIP archive); "
            f"export or download it again."
        )
    actual = sniff_zip_format(members)
    if actual is None:
        raise InputError(
            f"{filename} is a ZIP archive but not a valid {label} file (required parts are "
            f"missing); export or download it again."
        )
    if actual != fmt:
        raise InputError(
            f"{filename} is named .{fmt} but its content is {actual.upper()}; rename it to "
            f".{actual} and try again."
        )


def decode_text(filename: str, data: bytes) -> tuple[str, str]:
    """Decode text as UTF-8 (with or without BOM), UTF-16 with BOM, or cp1252; refuse binary."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = ["utf-16"]
    elif b"\x00" in data:
        raise _binary(filename, "it contains NUL bytes")
    elif data.startswith(b"\xef\xbb\xbf"):
        candidates = ["utf-8-sig"]
    else:
        candidates = ["utf-8", "cp1252"]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        _check_controls(filename, text)
        return text, encoding
    raise InputError(
        f"{filename} is not UTF-8 or Windows-1252 text; save it as UTF-8 and try again."
    )


def _check_controls(filename: str, text: str) -> None:
    controls = sum(
        1 for char in text if char not in _TEXT_CONTROLS and unicodedata.category(char) == "Cc"
    )
    if "\x00" in text or controls > max(1, len(text) * MAX_CONTROL_RATIO):
        raise _binary(filename, "it is full of control characters")


def _binary(filename: str, why: str) -> InputError:
    return InputError(
        f"{filename} looks like a binary file, not text ({why}); upload a {SUPPORTED} document."
    )
