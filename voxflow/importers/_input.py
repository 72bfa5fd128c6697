"""Checks on the raw bytes of an upload: size, type by content, binary data, text encoding.

ZIP-based formats (EPUB, DOCX) are also checked for decompression bombs and for markup
nested too deep, before any library inflates or parses them:

- `check_container` reads only the archive's directory: the sizes its members declare must
  add up to at most the inflated-size limit (`VOXFLOW_MAX_INFLATED_BYTES`), a large member
  may not claim a compression ratio no document reaches, and every member must be stored or
  deflated (the only methods EPUB and DOCX use; bzip2 and LZMA cannot be inflated in capped
  steps by `zipfile`).
- `unpack_archive` then inflates each member in capped chunks (never more than it declares,
  never more than the limit in all), checks the nesting depth of its markup with a streaming
  parse, and repacks the members uncompressed. The importers hand that repacked archive to
  ebooklib or python-docx, so a member whose header lies cannot make them inflate more.
"""

from __future__ import annotations

import io
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from lxml import etree

from voxflow.errors import InputError
from voxflow.settings import get_settings

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

# A member this large that claims more than this ratio is a bomb: text and markup deflate
# about 3 to 10 times, images and fonts barely at all; a run of one byte deflates 1000 times.
MAX_COMPRESSION_RATIO = 100
RATIO_MIN_BYTES = 32 * 1024 * 1024
# Members are inflated this much at a time, so each step's work is bounded.
READ_CHUNK = 1024 * 1024
# Markup nested deeper than this is refused. lxml (under ebooklib and python-docx) silently
# drops what lies past 256 levels; real books stay within a few dozen.
MAX_NESTING = 200
HTML_SUFFIXES = (".xhtml", ".html", ".htm")
XML_SUFFIXES = (".xml", ".opf", ".ncx", ".rels")
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


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
    """A size people read at a glance: bytes, KiB, MiB or GiB."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    if size < 1024 * 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MiB"
    return f"{size / (1024 * 1024 * 1024):.1f} GiB"


def check_not_empty(filename: str, data: bytes) -> None:
    if not data.strip():
        raise InputError(f"{filename} is empty; choose a file that contains text.")


def zip_infos(data: bytes) -> list[zipfile.ZipInfo] | None:
    """The archive's directory (nothing is inflated) when data is a readable ZIP, else None."""
    if not data.startswith(ZIP_MAGIC):
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
        return None


def zip_members(filename: str, data: bytes) -> set[str] | None:
    """Member names when data is a readable ZIP archive, else None."""
    infos = zip_infos(data)
    return None if infos is None else {info.filename for info in infos}


def max_inflated_bytes() -> int:
    """The inflated-size limit from the settings (`VOXFLOW_MAX_INFLATED_BYTES`)."""
    return get_settings().max_inflated_bytes


def _bomb(filename: str, what: str) -> InputError:
    return InputError(
        f"{filename} {what}; it looks like a decompression bomb, so it was not unpacked. "
        "Export or download it again, or raise VOXFLOW_MAX_INFLATED_BYTES if it is genuine."
    )


def _damaged(filename: str, member: str, why: str) -> InputError:
    return InputError(
        f"{filename}: {member} is damaged ({why}); the archive is corrupt or its recorded "
        "sizes are forged. Export or download it again."
    )


def check_inflated_size(filename: str, infos: list[zipfile.ZipInfo], limit: int) -> None:
    """Refuse a bomb from the sizes the archive declares, before any member is inflated."""
    for info in infos:
        if info.flag_bits & 0x1:
            raise InputError(
                f"{filename}: {info.filename} is encrypted; save an unencrypted copy and try again."
            )
        if info.compress_type not in _METHODS:
            raise InputError(
                f"{filename}: {info.filename} uses an unsupported compression method "
                f"({info.compress_type}); EPUB and DOCX members are stored or deflated. "
                "Export or download it again."
            )
    total = sum(info.file_size for info in infos)
    if total > limit:
        largest = max(infos, key=lambda info: info.file_size)
        raise _bomb(
            filename,
            f"would inflate to {_mib(total)} when unpacked ({largest.filename} alone is "
            f"{_mib(largest.file_size)}), over the {_mib(limit)} limit",
        )
    for info in infos:
        packed = max(info.compress_size, 1)
        if info.file_size >= RATIO_MIN_BYTES and info.file_size > MAX_COMPRESSION_RATIO * packed:
            raise _bomb(
                filename,
                f"has a member, {info.filename}, that would inflate from {_mib(packed)} to "
                f"{_mib(info.file_size)} ({info.file_size // packed} to 1; real documents "
                f"stay under {MAX_COMPRESSION_RATIO} to 1)",
            )
        # Deflate never grows data by more than a few bytes per 16 KiB; stored data not at all.
        slack = 0 if info.compress_type == zipfile.ZIP_STORED else info.file_size // 100 + 1024
        if info.compress_size > info.file_size + slack:
            raise _damaged(
                filename,
                info.filename,
                f"it records {_mib(info.file_size)} inflated from {_mib(info.compress_size)} "
                "compressed",
            )


def sniff_zip_format(members: set[str]) -> str | None:
    """Which of our ZIP-based formats an archive's members say it is."""
    if "word/document.xml" in members:
        return "docx"
    if "META-INF/container.xml" in members or "mimetype" in members:
        return "epub"
    return None


def check_container(filename: str, data: bytes, fmt: str, max_inflated: int | None = None) -> None:
    """EPUB and DOCX are ZIP archives with known members; text formats must not be archives.

    An archive is also refused when its declared sizes say it is a decompression bomb
    (`check_inflated_size`; the limit defaults to the settings' `max_inflated_bytes`).
    """
    infos = zip_infos(data)
    label = {"epub": "EPUB", "docx": "DOCX"}.get(fmt)
    if label is None:
        if data.startswith(ZIP_MAGIC):
            raise InputError(
                f"{filename} is a binary (ZIP) file, not text; save the document as "
                f"plain text or upload it with its real extension ({SUPPORTED})."
            )
        return
    if infos is None:
        raise InputError(
            f"{filename} is not a valid {label} file (it is not a readable ZIP archive); "
            f"export or download it again."
        )
    limit = max_inflated_bytes() if max_inflated is None else max_inflated
    check_inflated_size(filename, infos, limit)
    members = {info.filename for info in infos}
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


def _read_capped(
    filename: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int
) -> bytes:
    """A member's bytes, inflated a chunk at a time and never past its size or the budget."""
    cap = min(info.file_size, budget)
    parts: list[bytes] = []
    size = 0
    try:
        with archive.open(info) as member:
            while chunk := member.read(min(READ_CHUNK, cap - size + 1)):
                size += len(chunk)
                if size > cap:
                    raise _bomb(filename, f"inflates past its recorded sizes at {info.filename}")
                parts.append(chunk)
    except InputError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as error:
        raise _damaged(filename, info.filename, _reason(error)) from error
    except (RuntimeError, NotImplementedError) as error:  # encrypted, unknown method
        raise InputError(
            f"{filename}: {info.filename} cannot be unpacked ({_reason(error)}); export or "
            "download it again."
        ) from error
    if size != info.file_size:
        raise _damaged(filename, info.filename, f"{size} of {info.file_size} bytes present")
    return b"".join(parts)


def _reason(error: BaseException) -> str:
    return str(error).splitlines()[0][:120] if str(error) else type(error).__name__


def unpack_archive(filename: str, data: bytes, max_inflated: int | None = None) -> bytes:
    """Inflate every member under the caps, check its markup's nesting, repack it stored.

    The returned archive holds the same members (the last of any duplicate name, as
    `zipfile` reads it) with sizes that are true, so the library that reads it next
    inflates nothing more. Raises InputError for a bomb, a damaged member or deep nesting.
    """
    limit = max_inflated_bytes() if max_inflated is None else max_inflated
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as error:
        raise InputError(
            f"{filename} is not a readable ZIP archive ({_reason(error)}); export or download "
            "it again."
        ) from error
    out = io.BytesIO()
    with archive, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as repacked:
        check_inflated_size(filename, archive.infolist(), limit)
        budget = limit
        for info in {info.filename: info for info in archive.infolist()}.values():
            content = _read_capped(filename, archive, info, budget)
            budget -= len(content)
            check_markup_nesting(filename, info.filename, content)
            copy = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            copy.external_attr = info.external_attr
            repacked.writestr(copy, content)
    return out.getvalue()


# --- nesting ---------------------------------------------------------------------------------


class _TooDeep(Exception):
    pass


class _DepthCounter:
    """An lxml parser target that only counts open elements; it stops past the limit."""

    def __init__(self, limit: int) -> None:
        self.depth = 0
        self.limit = limit

    def start(self, tag: str, attrib: object, nsmap: object = None) -> None:
        self.depth += 1
        if self.depth > self.limit:
            raise _TooDeep

    def end(self, tag: str) -> None:
        self.depth -= 1

    def close(self) -> None:
        return None


def too_deep(data: bytes, *, xml: bool = False, limit: int = MAX_NESTING) -> bool:
    """Whether markup nests more than `limit` elements deep: one streaming pass, no tree.

    HTML is read as lxml's lenient HTML parser reads it (implied end tags close elements).
    XML that is not well-formed is measured the lenient way too; its own parser reports the
    syntax error later.
    """
    counter = _DepthCounter(limit)
    if xml:
        parser = etree.XMLParser(
            target=counter, resolve_entities=False, load_dtd=False, no_network=True
        )
    else:
        parser = etree.HTMLParser(target=counter, no_network=True)
    try:
        parser.feed(data)
        parser.close()
    except _TooDeep:
        return True
    except etree.LxmlError as error:
        if "excessive depth" in str(error).lower():
            return True
        return too_deep(data, limit=limit) if xml else False
    return False


def nesting_error(filename: str, part: str | None = None, limit: int | None = None) -> InputError:
    """The one message for markup nested too deep, measured or found by a RecursionError."""
    levels = f"more than {limit} levels" if limit else "past the reader's recursion limit"
    where = f" in {part}" if part else ""
    return InputError(
        f"{filename}: nesting too deep ({levels}){where}; the file is malformed or hostile, "
        "so it was not read. Export or save it again from the program that made it."
    )


def is_nesting_error(error: BaseException) -> bool:
    """A RecursionError, or lxml refusing a document past its own depth limit."""
    return isinstance(error, RecursionError) or "excessive depth" in str(error).lower()


def check_markup_nesting(filename: str, part: str, data: bytes, limit: int = MAX_NESTING) -> None:
    """Refuse an HTML or XML member (known by its suffix) nested more than `limit` deep."""
    suffix = part.lower()
    if suffix.endswith(HTML_SUFFIXES):
        deep = too_deep(data, limit=limit)
    elif suffix.endswith(XML_SUFFIXES):
        deep = too_deep(data, xml=True, limit=limit)
    else:
        return
    if deep:
        raise nesting_error(filename, part, limit)


@contextmanager
def refuse_runaway_nesting(filename: str, part: str | None = None) -> Iterator[None]:
    """Turn a RecursionError (or lxml's depth error) in an importer into the nesting message."""
    try:
        yield
    except InputError:
        raise
    except Exception as error:
        if is_nesting_error(error):
            raise nesting_error(filename, part) from error
        raise


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
