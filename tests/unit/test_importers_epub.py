"""EPUB import: spine order, nav/NCX titles, block extraction, skipped documents."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from ebooklib import epub

from voxflow.errors import InputError
from voxflow.importers import load_document_bytes
from voxflow.settings import Settings

PROSE = "It was a quiet evening and the lamp burned steadily over the dark water."
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00"
    b"\x00\x00\x00IEND\xaeB`\x82"
)


def _epub(pages: list[tuple[str, str, bool]], *, nav: bool = True, ncx: bool = True) -> bytes:
    """pages: (file name, body html, listed in the TOC); spine order is list order."""
    book = epub.EpubBook()
    book.set_identifier("test-book")
    book.set_title("Test Book")
    book.set_language("en")
    book.add_item(
        epub.EpubItem(uid="img", file_name="cover.png", media_type="image/png", content=PNG)
    )
    items = []
    for name, body, _ in pages:
        item = epub.EpubHtml(title=name, file_name=name, lang="en")
        item.content = f"<html><body>{body}</body></html>"
        book.add_item(item)
        items.append(item)
    book.toc = [
        epub.Link(name, f"TOC {name.split('.')[0]}", name) for name, _, listed in pages if listed
    ]
    if ncx:
        book.add_item(epub.EpubNcx())
    if nav:
        book.add_item(epub.EpubNav())
    book.spine = (["nav"] if nav else []) + items
    out = io.BytesIO()
    epub.write_epub(out, book)
    return out.getvalue()


def _load(data: bytes, tmp_path: Path):
    return load_document_bytes(data, "book.epub", Settings(data_dir=tmp_path))


def _texts(document) -> list[list[str]]:
    return [[s.text for s in c.segments] for c in document.chapters]


def test_spine_order_titles_from_nav_and_heading_not_read_twice(tmp_path: Path) -> None:
    data = _epub(
        [
            ("cover.xhtml", '<div><img src="cover.png" alt="Cover"/></div>', False),
            ("title.xhtml", "<h1>Test Book</h1><p>by Someone</p>", False),
            ("c2.xhtml", f"<h1>The Start</h1><p>{PROSE}</p>", True),
            ("c1.xhtml", "<h2>Chapter 2</h2><h1>Later</h1><p>Second one.</p>", True),
        ]
    )
    document = _load(data, tmp_path)
    assert document.title == "Test Book"
    assert document.source_format == "epub"
    assert [c.title for c in document.chapters] == ["TOC c2", "TOC c1"]
    assert _texts(document) == [["The Start", PROSE], ["Chapter 2", "Later", "Second one."]]


def test_titles_from_ncx_only(tmp_path: Path) -> None:
    data = _epub(
        [("a.xhtml", "<p>Alpha text.</p>", True), ("b.xhtml", "<p>Beta.</p>", True)], nav=False
    )
    assert [c.title for c in _load(data, tmp_path).chapters] == ["TOC a", "TOC b"]


def test_first_heading_is_the_title_without_toc(tmp_path: Path) -> None:
    data = _epub(
        [
            ("a.xhtml", f"<h1>Opening</h1><p>{PROSE}</p>", False),
            ("a-split.xhtml", "<p>Continued in a second file.</p>", False),
            ("b.xhtml", "<h2>Next</h2><p>More.</p>", False),
        ],
        ncx=False,
    )
    document = _load(data, tmp_path)
    assert [c.title for c in document.chapters] == ["Opening", "Next"]
    assert _texts(document) == [[PROSE, "Continued in a second file."], ["More."]]


def test_block_elements_become_paragraphs(tmp_path: Path) -> None:
    body = (
        "<h1>TOC a</h1>"
        "<div>Loose div text.<p>Para <em>one</em> with <a href='#n1' epub:type='noteref'>1</a>"
        " a <span>span</span>.</p>Tail text.</div>"
        "<ul><li>First item</li><li>Second <b>item</b></li></ul>"
        "<blockquote><p>Quoted.</p></blockquote>"
        "<p>Line one<br/>line two.</p>"
        "<h3>Sub heading</h3>"
        "<table><tr><th>Name</th><th>Age</th></tr><tr><td>Ann</td><td>34</td></tr></table>"
        "<script>var x = 1;</script><style>p {}</style>"
        "<pre>Kept verse.</pre>"
    )
    document = _load(_epub([("a.xhtml", body, True)]), tmp_path)
    blocks = [[s.text for s in b.segments] for b in document.chapters[0].blocks]
    assert blocks == [
        ["Loose div text."],
        ["Para one with a span."],
        ["Tail text."],
        ["First item"],
        ["Second item"],
        ["Quoted."],
        ["Line one line two."],
        ["Sub heading"],
        ["Name, Age"],
        ["Ann, 34"],
        ["Kept verse."],
    ]


def test_cover_only_and_typed_pages_are_skipped(tmp_path: Path) -> None:
    data = _epub(
        [
            ("cover.xhtml", '<img src="cover.png" alt="Cover"/>', True),
            ("copy.xhtml", f'<section epub:type="copyright-page"><p>{PROSE}</p></section>', True),
            ("c1.xhtml", "<p>Real text.</p>", True),
        ]
    )
    document = _load(data, tmp_path)
    assert [c.title for c in document.chapters] == ["TOC c1"]


def test_epub_without_text_is_refused(tmp_path: Path) -> None:
    data = _epub([("cover.xhtml", '<img src="cover.png" alt=""/>', True)])
    with pytest.raises(InputError, match="no readable text"):
        _load(data, tmp_path)


def test_corrupt_epub_member_is_refused(tmp_path: Path) -> None:
    good = _epub([("c1.xhtml", "<p>Real text.</p>", True)])
    broken = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(broken, "w") as dst:
        for name in src.namelist():
            if not name.endswith(".opf"):
                dst.writestr(name, src.read(name))
    with pytest.raises(InputError, match=r"^book\.epub is not a valid EPUB file \(.+\); export"):
        _load(broken.getvalue(), tmp_path)
