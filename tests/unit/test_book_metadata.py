"""Book metadata from the source: EPUB authors, year, language and cover; DOCX author; and the
`voxflow convert --cover` check, made before any stack starts."""

from __future__ import annotations

import io
import logging
import zipfile
from pathlib import Path

import docx
import pytest
from ebooklib import epub
from typer.testing import CliRunner

from tests.unit.test_book_tags import PNG
from voxflow.cli import app
from voxflow.importers import load_document_bytes, parse_raw
from voxflow.settings import get_settings

SHERLOCK = Path(__file__).resolve().parents[1] / "assets" / "standardebooks-sherlock-holmes.epub"
TEXT = "It was a dark and stormy night, and the rain fell in torrents on the town."


def tiny_epub(cover: bytes | None = PNG, cover_name: str = "images/cover.png") -> bytes:
    """A one-chapter EPUB 3 by Jane Roe (1923) whose cover is `cover` (ebooklib writes both
    the EPUB 3 `cover-image` property and the EPUB 2 `<meta name="cover">`)."""
    book = epub.EpubBook()
    book.set_identifier("tiny-1")
    book.set_title("Tiny Tales")
    book.set_language("en")
    book.add_author("Jane Roe")
    book.add_author("John Doe")
    book.add_metadata("DC", "date", "1923-04-01")
    if cover is not None:
        book.set_cover(cover_name, cover, create_page=False)
    chapter = epub.EpubHtml(title="One", file_name="one.xhtml", lang="en")
    chapter.content = f"<html><body><h1>One</h1><p>{TEXT}</p></body></html>"
    book.add_item(chapter)
    book.toc = [chapter]
    book.spine = [chapter]
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    out = io.BytesIO()
    epub.write_epub(out, book)
    return out.getvalue()


def epub2_cover_only(data: bytes) -> bytes:
    """The same EPUB with the EPUB 3 `cover-image` property removed from its manifest."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename.endswith(".opf"):
                content = content.replace(b' properties="cover-image"', b"")
            target.writestr(info, content)
    return out.getvalue()


def test_standard_ebooks_metadata_and_its_svg_cover_is_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="voxflow.importers.epub"):
        raw = parse_raw(SHERLOCK.read_bytes(), SHERLOCK.name)
    meta = raw.metadata
    assert (meta.author, meta.year, meta.language) == ("Arthur Conan Doyle", "2018", "en-GB")
    assert meta.cover is None and meta.cover_type is None
    assert "images/cover.svg (image/svg+xml) is not used" in caplog.text


def test_epub_png_cover_authors_year_and_language() -> None:
    document = load_document_bytes(tiny_epub(), "tiny.epub")
    meta = document.metadata
    assert meta.author == "Jane Roe, John Doe"
    assert (meta.year, meta.language) == ("1923", "en")
    assert meta.cover == PNG and meta.cover_type == "image/png"


def test_epub2_meta_cover_is_found() -> None:
    meta = parse_raw(epub2_cover_only(tiny_epub()), "tiny.epub").metadata
    assert meta.cover == PNG and meta.cover_type == "image/png"


def test_epub_cover_over_the_limit_is_skipped_not_fatal(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("voxflow.cover.MAX_COVER_BYTES", 16)
    with caplog.at_level(logging.WARNING, logger="voxflow.importers.epub"):
        raw = parse_raw(tiny_epub(), "tiny.epub")
    assert raw.metadata.cover is None and raw.metadata.author == "Jane Roe, John Doe"
    assert "over the" in caplog.text
    assert [c.title for c in raw.chapters] == ["One"]


def test_epub_without_cover_or_date() -> None:
    meta = parse_raw(tiny_epub(cover=None), "tiny.epub").metadata
    assert meta.cover is None and meta.year == "1923"


def test_docx_author_from_core_properties() -> None:
    document = docx.Document()
    document.core_properties.author = "Jane Roe"
    document.add_heading("One", level=1)
    document.add_paragraph(TEXT)
    out = io.BytesIO()
    document.save(out)
    meta = parse_raw(out.getvalue(), "tiny.docx").metadata
    assert meta.author == "Jane Roe" and meta.cover is None


def test_markdown_has_no_metadata() -> None:
    assert parse_raw(f"# One\n\n{TEXT}\n".encode(), "x.md").metadata.author is None


@pytest.fixture
def book(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VOXFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    path = tmp_path / "book.md"
    path.write_text(f"# One\n\n{TEXT}\n", encoding="utf-8")
    yield path
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("cover.png", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "neither a JPEG nor a PNG"),
        ("cover.jpg", b"", "neither a JPEG nor a PNG"),
        ("missing.png", None, "does not exist"),
    ],
)
def test_convert_refuses_a_bad_cover_before_starting_anything(
    book: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    content: bytes | None,
    message: str,
) -> None:
    def no_stack(*args: object) -> bool:
        raise AssertionError("the cover must be checked before any stack is looked for")

    monkeypatch.setattr("voxflow.stack.temporal_answers", no_stack)
    cover = book.parent / name
    if content is not None:
        cover.write_bytes(content)
    result = CliRunner().invoke(app, ["convert", str(book), "--cover", str(cover)])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
