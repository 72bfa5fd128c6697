"""Decompression bombs and pathological nesting are refused fast, with the reason, losing nothing.

The bombs are real: their deflate streams inflate to the sizes they declare, with true CRCs.
They are built without compressing gigabytes: after a full flush deflate starts afresh, so
every 1 MiB block of spaces compresses to the same bytes, and the stream is that chunk
repeated (`_deflate_run`). Only the CRC is computed over the whole size (about a second for
2 GiB). "Before decompression" is asserted by making member reads fail or by counting what
zipfile inflates (`inflated`), not by timing; the time a refusal takes is only printed.
"""

from __future__ import annotations

import io
import re
import struct
import sys
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docx
import pytest
from ebooklib import epub

from voxflow.cli import main
from voxflow.errors import InputError
from voxflow.importers import epub as epub_importer
from voxflow.importers import load_document, load_document_bytes, parse_raw
from voxflow.importers import word as word_importer
from voxflow.importers._input import (
    MAX_NESTING,
    READ_CHUNK,
    check_container,
    too_deep,
    unpack_archive,
)
from voxflow.importers.markdown import MAX_NESTING as MARKDOWN_MAX_NESTING
from voxflow.importers.markdown import parse_markdown
from voxflow.settings import Settings, get_settings

EXAMPLE_EPUB = Path(__file__).resolve().parents[2] / "examples" / "the-lighthouse-keeper.epub"
PROSE = "It was a quiet evening and the lamp burned steadily over the dark water."
MIB = 1024 * 1024
DEFAULT_LIMIT = Settings.model_fields["max_inflated_bytes"].default
BLOCK = b" " * MIB
CHAPTER = "EPUB/c1.xhtml"


# --- building archives by hand ----------------------------------------------------------------


@dataclass
class Entry:
    """One ZIP member as written: its compressed bytes and the sizes and CRC its headers claim."""

    name: str
    payload: bytes
    crc: int
    size: int
    method: int = zipfile.ZIP_DEFLATED


def _deflated(name: str, data: bytes) -> Entry:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return Entry(name, packer.compress(data) + packer.flush(), zlib.crc32(data), len(data))


def _deflate_run(name: str, head: bytes, count: int, block: bytes = BLOCK) -> Entry:
    """`head` then `block` `count` times, deflated without compressing `count` blocks."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = packer.compress(head) + packer.flush(zlib.Z_FULL_FLUSH)
    chunk = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    assert packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH) == chunk
    crc = zlib.crc32(head)
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    return Entry(name, start + chunk * count + packer.flush(), crc, len(head) + len(block) * count)


def _write_zip(entries: list[Entry]) -> bytes:
    """A plain (not ZIP64) archive; the headers say exactly what each Entry claims."""
    out = io.BytesIO()
    central = []
    for entry in entries:
        offset = out.tell()
        name = entry.name.encode()
        fields = (entry.method, 0, 33, entry.crc, len(entry.payload), entry.size, len(name))
        out.write(struct.pack("<4s2B4HL2L2H", b"PK\x03\x04", 20, 0, 0, *fields, 0))
        out.write(name + entry.payload)
        central.append(
            struct.pack(
                "<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 0, 20, 0, 0, *fields, 0, 0, 0, 0, 0, offset
            )
            + name
        )
    start = out.tell()
    out.write(b"".join(central))
    size = out.tell() - start
    out.write(
        struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), size, start, 0)
    )
    return out.getvalue()


def _good_epub(body: str = f"<h1>One</h1><p>{PROSE}</p>") -> bytes:
    book = epub.EpubBook()
    book.set_identifier("limits")
    book.set_title("Limits")
    book.set_language("en")
    chapter = epub.EpubHtml(title="One", file_name="c1.xhtml", lang="en")
    chapter.content = f"<html><body>{body}</body></html>"
    book.add_item(chapter)
    book.toc = [epub.Link("c1.xhtml", "One", "c1")]
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", chapter]
    out = io.BytesIO()
    epub.write_epub(out, book)
    return out.getvalue()


def _good_docx() -> bytes:
    document = docx.Document()
    document.add_heading("One", level=1)
    document.add_paragraph(PROSE)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _rewrite(
    archive: bytes, replace: dict[str, Entry] | None = None, add: tuple[Entry, ...] = ()
) -> bytes:
    """The same members, written by `_write_zip`, some replaced by hand-built entries."""
    replace = replace or {}
    with zipfile.ZipFile(io.BytesIO(archive)) as source:
        entries = [
            replace.get(info.filename) or _deflated(info.filename, source.read(info))
            for info in source.infolist()
        ]
    return _write_zip(entries + list(add))


def _settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def _bomb_epub(run: Entry, declared: int | None = None) -> bytes:
    """A good EPUB whose chapter is `run`, its headers claiming `declared` bytes if given."""
    size = run.size if declared is None else declared
    return _rewrite(_good_epub(), {CHAPTER: Entry(CHAPTER, run.payload, run.crc, size)})


@pytest.fixture(scope="module")
def gib_run() -> Entry:
    """2 GiB of spaces: 4 times the default limit, about 2 MB compressed."""
    return _deflate_run("filler", b"", 2048)


@pytest.fixture
def no_member_reads(monkeypatch: pytest.MonkeyPatch):
    """Call it once the archive is built: from then on, opening a member to read it fails."""
    real = zipfile.ZipFile.open

    def refuse(self: zipfile.ZipFile, name: object, mode: str = "r", *args: object, **kw: object):
        if mode == "r":
            raise AssertionError("a member was opened before the declared sizes were checked")
        return real(self, name, mode, *args, **kw)

    return lambda: monkeypatch.setattr(zipfile.ZipFile, "open", refuse)


class _Counting:
    """A zlib decompressor that adds up what it inflates (zipfile's only way to inflate)."""

    def __init__(self, real: object, counter: list[int]) -> None:
        self._real = real
        self._counter = counter

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        out = self._real.decompress(data, max_length)
        self._counter[0] += len(out)
        return out

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)


@pytest.fixture
def inflated(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """[bytes inflated so far by every zipfile read in the test]."""
    counter = [0]
    real = zipfile._get_decompressor  # test-only probe of zipfile's internals

    def counting(compress_type: int) -> object:
        decompressor = real(compress_type)
        return _Counting(decompressor, counter) if decompressor is not None else None

    monkeypatch.setattr(zipfile, "_get_decompressor", counting)
    return counter


def _refusal(data: bytes, name: str, tmp_path: Path) -> tuple[str, float]:
    start = time.perf_counter()
    with pytest.raises(InputError) as error:
        load_document_bytes(data, name, _settings(tmp_path))
    elapsed = time.perf_counter() - start
    message = str(error.value)
    assert "\n" not in message
    return message, elapsed


# --- the builder itself ---------------------------------------------------------------------


def test_hand_built_streams_inflate_to_what_they_claim() -> None:
    entry = _deflate_run("x", b"<p>", 3, block=b"ab" * 40_000)
    data = zlib.decompress(entry.payload, -15)
    assert data == b"<p>" + b"ab" * 120_000
    assert (entry.size, entry.crc) == (len(data), zlib.crc32(data))
    archive = _write_zip([entry, _deflated("y.txt", b"hello")])
    with zipfile.ZipFile(io.BytesIO(archive)) as check:
        assert check.testzip() is None
        assert check.read("y.txt") == b"hello"


def test_rewritten_epub_and_docx_import_like_the_originals(tmp_path: Path) -> None:
    for name, data in (("book.epub", _good_epub()), ("report.docx", _good_docx())):
        original = load_document_bytes(data, name, _settings(tmp_path))
        again = load_document_bytes(_rewrite(data), name, _settings(tmp_path))
        assert again == original
        assert [c.title for c in again.chapters] == ["One"]


# --- decompression bombs ---------------------------------------------------------------------


def test_epub_bomb_is_refused_from_its_directory_before_inflating(
    gib_run: Entry, tmp_path: Path, no_member_reads: Callable[[], None]
) -> None:
    bomb = _bomb_epub(gib_run)
    assert len(bomb) < 3 * MIB and gib_run.size == 4 * DEFAULT_LIMIT == 2 * 1024 * MIB
    no_member_reads()
    message, elapsed = _refusal(bomb, "book.epub", tmp_path)
    assert message == (
        "book.epub would inflate to 2.0 GiB when unpacked (EPUB/c1.xhtml alone is 2.0 GiB), "
        "over the 512.0 MiB limit; it looks like a decompression bomb, so it was not unpacked. "
        "Export or download it again, or raise VOXFLOW_MAX_INFLATED_BYTES if it is genuine."
    )
    print(f"2 GiB EPUB bomb refused in {elapsed * 1000:.1f} ms (was about 14-22 s)")


def test_docx_bomb_is_refused_from_its_directory_before_inflating(
    gib_run: Entry, tmp_path: Path, no_member_reads: Callable[[], None]
) -> None:
    filler = Entry("word/media/filler.bin", gib_run.payload, gib_run.crc, gib_run.size)
    bomb = _rewrite(_good_docx(), add=(filler,))
    no_member_reads()
    message, _ = _refusal(bomb, "report.docx", tmp_path)
    assert message.startswith(
        "report.docx would inflate to 2.0 GiB when unpacked (word/media/filler.bin alone is "
        "2.0 GiB), over the 512.0 MiB limit; it looks like a decompression bomb"
    )


def test_bomb_through_parse_cli_is_one_line_and_exit_2(
    gib_run: Entry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "book.epub"
    path.write_bytes(_bomb_epub(gib_run))
    monkeypatch.setenv("VOXFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(sys, "argv", ["voxflow", "parse", str(path)])
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as exit_:
            main()
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert re.search(r"^error: book\.epub would inflate to 2\.0 GiB when unpacked", err)


def test_a_bomb_under_the_limit_is_refused_by_its_ratio(
    tmp_path: Path, no_member_reads: Callable[[], None]
) -> None:
    run = _deflate_run(CHAPTER, b"<html><body><p>", 64)  # 64 MiB from about 66 KiB
    bomb = _rewrite(_good_epub(), {CHAPTER: run})
    no_member_reads()
    message, _ = _refusal(bomb, "book.epub", tmp_path)
    assert re.fullmatch(
        r"book\.epub has a member, EPUB/c1\.xhtml, that would inflate from 6\d\.\d KiB to "
        r"64\.0 MiB \(\d{3,4} to 1; real documents stay under 100 to 1\); it looks like a "
        r"decompression bomb, so it was not unpacked\. .+",
        message,
    ), message


def test_a_member_claiming_less_than_its_compressed_size_is_refused_unread(
    gib_run: Entry, tmp_path: Path, no_member_reads: Callable[[], None]
) -> None:
    forged = _bomb_epub(gib_run, declared=2048)
    no_member_reads()
    message, _ = _refusal(forged, "book.epub", tmp_path)
    assert re.fullmatch(
        r"book\.epub: EPUB/c1\.xhtml is damaged \(it records 2\.0 KiB inflated from 2\.0 MiB "
        r"compressed\); the archive is corrupt or its recorded sizes are forged\. Export or "
        r"download it again\.",
        message,
    ), message


def test_a_member_whose_size_lies_is_read_capped_and_refused(
    gib_run: Entry, tmp_path: Path, inflated: list[int]
) -> None:
    """Declared as big as its compressed data (no ratio to see), it really holds 2 GiB."""
    lying = Entry(CHAPTER, gib_run.payload, gib_run.crc, len(gib_run.payload))
    data = _rewrite(_good_epub(), {CHAPTER: lying})
    declared = sum(info.file_size for info in zipfile.ZipFile(io.BytesIO(data)).infolist())
    message, elapsed = _refusal(data, "book.epub", tmp_path)
    assert message == (
        "book.epub: EPUB/c1.xhtml is damaged (Bad CRC-32 for file 'EPUB/c1.xhtml'); the "
        "archive is corrupt or its recorded sizes are forged. Export or download it again."
    )
    # zipfile's own read() would inflate all 2 GiB before cutting it to the declared size.
    assert inflated[0] <= declared + 2 * READ_CHUNK
    print(f"lying header refused in {elapsed * 1000:.1f} ms after inflating {inflated[0]} bytes")


def test_a_size_lie_with_a_matching_crc_gives_the_library_only_the_declared_bytes(
    tmp_path: Path, inflated: list[int]
) -> None:
    """The CRC fits the declared part, so nothing is wrong to see; 2 GiB still never inflate."""
    head = f"<html><body><h1>One</h1><p>{PROSE}</p>".encode()
    run = _deflate_run(CHAPTER, head, 2048)
    size = len(run.payload)
    prefix = head + b" " * (size - len(head))
    forged = Entry(CHAPTER, run.payload, zlib.crc32(prefix), size)
    data = _rewrite(_good_epub(), {CHAPTER: forged})
    document = load_document_bytes(data, "book.epub", _settings(tmp_path))
    assert [[s.text for s in c.segments] for c in document.chapters] == [[PROSE]]
    # Our capped read, then ebooklib's unbounded one on the repacked (stored) copy.
    assert inflated[0] <= 3 * size


def test_the_limit_comes_from_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = EXAMPLE_EPUB.read_bytes()
    monkeypatch.setenv("VOXFLOW_MAX_INFLATED_BYTES", "4096")
    get_settings.cache_clear()
    try:
        message, _ = _refusal(data, "keeper.epub", tmp_path)
    finally:
        get_settings.cache_clear()
    assert re.match(
        r"keeper\.epub would inflate to 9\.3 KiB when unpacked \(.+\), over the "
        r"4\.0 KiB limit;",
        message,
    ), message
    with pytest.raises(InputError, match=r"over the 1\.0 KiB limit"):
        check_container("keeper.epub", data, "epub", max_inflated=1024)
    check_container("keeper.epub", data, "epub", max_inflated=9492)


# --- pathological nesting --------------------------------------------------------------------


def _nested_epub(levels: int) -> bytes:
    """The chapter's <p> inside `levels` divs, written as is (ebooklib would flatten it)."""
    good = _good_epub()
    with zipfile.ZipFile(io.BytesIO(good)) as source:
        chapter = source.read(CHAPTER)
    paragraph = f"<p>{PROSE}</p>".encode()
    assert paragraph in chapter
    nested = chapter.replace(paragraph, b"<div>" * levels + paragraph + b"</div>" * levels)
    return _rewrite(good, {CHAPTER: _deflated(CHAPTER, nested)})


def test_epub_chapter_nested_50000_deep_is_refused_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def not_reached(*args: object) -> None:
        raise AssertionError("the book was parsed before its nesting was checked")

    monkeypatch.setattr(epub_importer.epub, "read_epub", not_reached)
    monkeypatch.setattr(epub_importer, "_page", not_reached)
    message, elapsed = _refusal(_nested_epub(50_000), "book.epub", tmp_path)
    assert message == (
        "book.epub: nesting too deep (more than 200 levels) in EPUB/c1.xhtml; the file is "
        "malformed or hostile, so it was not read. Export or save it again from the program "
        "that made it."
    )
    print(f"50,000-deep chapter refused in {elapsed * 1000:.1f} ms")


def test_nesting_up_to_the_limit_imports_and_loses_nothing(tmp_path: Path) -> None:
    # html and body count: the <p> inside MAX_NESTING - 3 divs is at depth MAX_NESTING.
    document = load_document_bytes(_nested_epub(MAX_NESTING - 3), "book.epub", _settings(tmp_path))
    assert [[s.text for s in c.segments] for c in document.chapters] == [[PROSE]]
    with pytest.raises(InputError, match=r"nesting too deep \(more than 200 levels\)"):
        load_document_bytes(_nested_epub(MAX_NESTING - 2), "book.epub", _settings(tmp_path))


def test_depth_follows_the_lenient_html_parser() -> None:
    sloppy = b"<html><body>" + b"<p>unclosed paragraph " * 10_000 + b"<li>item " * 1_000
    assert not too_deep(sloppy)
    assert too_deep(b"<html><body>" + b"<b>bold " * 300)  # unclosed inline tags do nest
    assert too_deep(b"<?xml version='1.0'?><a>" + b"<b>" * 50_000, xml=True)
    assert too_deep(b"<a>" + b"<b>" * 300 + b"</a>oops", xml=True)  # malformed: measured leniently
    assert not too_deep(b"<a>" + b"<b>x</b>" * 50_000 + b"</a>", xml=True)


def test_docx_nested_50000_deep_is_refused(tmp_path: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(_good_docx())) as source:
        xml = source.read("word/document.xml")
    deep = xml.replace(
        b"<w:body>",
        b"<w:body>"
        + b"<w:tbl><w:tr><w:tc>" * 50_000
        + b"<w:p/>"
        + b"</w:tc></w:tr></w:tbl>" * 50_000,
    )
    data = _rewrite(_good_docx(), {"word/document.xml": _deflated("word/document.xml", deep)})
    message, _ = _refusal(data, "report.docx", tmp_path)
    assert message.startswith(
        "report.docx: nesting too deep (more than 200 levels) in word/document.xml; the file "
        "is malformed or hostile"
    )


def test_markdown_nested_too_deep_is_refused_and_moderate_nesting_kept(tmp_path: Path) -> None:
    quotes = ">" * 50_000 + " Deep text.\n\nAfter.\n"
    with pytest.raises(InputError) as error:
        load_document_bytes(quotes.encode(), "notes.md", _settings(tmp_path))
    assert str(error.value).startswith(
        "notes.md: nesting too deep (more than 50 levels); the file is malformed"
    )
    with pytest.raises(InputError, match=r"^notes\.md: nesting too deep \(more than 50 levels\)"):
        parse_markdown("".join("  " * i + f"- item {i}\n" for i in range(40)), "t", "notes.md")
    # 20 quote levels and a 12-deep list used to vanish silently (markdown-it's limit was 20).
    kept = ">" * 20 + " Deep text.\n\n" + "".join("  " * i + f"- item {i}\n" for i in range(12))
    raw = parse_markdown(kept + "\nAfter.\n", "t")
    texts = [p for c in raw.chapters for p in c.paragraphs]
    assert texts[0] == "Deep text." and texts[-2:] == ["item 11", "After."]
    assert MARKDOWN_MAX_NESTING == 50


@pytest.mark.parametrize(
    ("target", "name", "data", "where"),
    [
        (epub_importer, "_walk", _good_epub(), " in c1.xhtml"),
        (word_importer, "_parse_document", _good_docx(), ""),
    ],
    ids=["epub", "docx"],
)
def test_recursion_error_becomes_the_nesting_message(
    target: object, name: str, data: bytes, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def recurse(*args: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(target, name, recurse)
    filename = "book.epub" if where else "report.docx"
    with pytest.raises(InputError) as error:
        parse_raw(data, filename)
    assert str(error.value) == (
        f"{filename}: nesting too deep (past the reader's recursion limit){where}; the file is "
        "malformed or hostile, so it was not read. Export or save it again from the program "
        "that made it."
    )


# --- real documents are untouched ------------------------------------------------------------


def test_the_real_example_epub_still_imports_and_repacking_changes_nothing(tmp_path: Path) -> None:
    document = load_document(EXAMPLE_EPUB, _settings(tmp_path))
    assert document.title and len(document.chapters) >= 2
    data = EXAMPLE_EPUB.read_bytes()
    direct = epub_importer._parse_book(epub_importer._read_book(data, "x.epub"), "x.epub", "x")
    repacked = epub_importer._parse_book(
        epub_importer._read_book(unpack_archive("x.epub", data), "x.epub"), "x.epub", "x"
    )
    assert repacked == direct
    with (
        zipfile.ZipFile(io.BytesIO(unpack_archive("x.epub", data))) as copy,
        zipfile.ZipFile(io.BytesIO(data)) as original,
    ):
        assert copy.namelist() == original.namelist()
        assert all(copy.read(name) == original.read(name) for name in original.namelist())
