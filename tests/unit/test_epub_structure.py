"""EPUB front and back matter: skipped by structure (epub:type, landmarks, guide), not titles.

The real book is Standard Ebooks' "The Adventures of Sherlock Holmes", built from its source
repository by tests/assets/build_standard_ebooks_epub.py; the small books are written here.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from voxflow.cli.app import app
from voxflow.document import Document, SkippedSection
from voxflow.importers import load_document, load_document_bytes
from voxflow.settings import Settings, get_settings

SHERLOCK = Path(__file__).resolve().parents[1] / "assets" / "standardebooks-sherlock-holmes.epub"
STORIES = [
    "A Scandal in Bohemia",
    "The Redheaded League",
    "A Case of Identity",
    "The Boscombe Valley Mystery",
    "The Five Orange Pips",
    "The Man with the Twisted Lip",
    "The Adventure of the Blue Carbuncle",
    "The Adventure of the Speckled Band",
    "The Adventure of the Engineer's Thumb",  # the TOC's ’, normalised to '
    "The Adventure of the Noble Bachelor",
    "The Adventure of the Beryl Coronet",
    "The Adventure of the Copper Beeches",
]
SHERLOCK_SKIPPED = [
    SkippedSection("text/titlepage.xhtml", "Titlepage", 'epub:type "titlepage" (front matter)'),
    SkippedSection("text/imprint.xhtml", "Imprint", 'epub:type "imprint" (front matter)'),
    SkippedSection("text/colophon.xhtml", "Colophon", 'epub:type "colophon" (back matter)'),
    SkippedSection(
        "text/uncopyright.xhtml", "Uncopyright", 'epub:type "copyright-page" (back matter)'
    ),
]
PROSE = "The rain had not stopped for three days, and the river rose over the lower fields."


@pytest.fixture(autouse=True)
def _settings_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("VOXFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)  # no stray .env from the checkout
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def sherlock(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Document]:
    """The book imported once per module: {include_front_matter: Document}."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"))
    return {
        include: load_document(SHERLOCK, settings, include_front_matter=include)
        for include in (False, True)
    }


def _all_text(document: Document) -> str:
    return " ".join(s.text for chapter in document.chapters for s in chapter.segments)


# --- the Standard Ebooks book ----------------------------------------------------------------


def test_standard_ebooks_chapters_are_the_twelve_stories(sherlock: dict[bool, Document]) -> None:
    document = sherlock[False]
    assert document.title == "The Adventures of Sherlock Holmes"
    assert [chapter.title for chapter in document.chapters] == STORIES
    assert document.chapters[0].segments[0].text.startswith("To Sherlock Holmes she is always")
    # Nor was the imprint, colophon or uncopyright folded into a story.
    text = _all_text(document)
    assert "Standard Ebooks" not in text and "Uncopyright" not in text


def test_standard_ebooks_skipped_front_and_back_matter_with_structural_reasons(
    sherlock: dict[bool, Document],
) -> None:
    assert sherlock[False].skipped == SHERLOCK_SKIPPED
    assert sherlock[False].to_dict()["skipped"][1] == {
        "file": "text/imprint.xhtml",
        "title": "Imprint",
        "reason": 'epub:type "imprint" (front matter)',
    }


def test_standard_ebooks_include_front_matter_brings_them_back_as_chapters(
    sherlock: dict[bool, Document],
) -> None:
    document = sherlock[True]
    titles = [chapter.title for chapter in document.chapters]
    assert titles == ["Titlepage", "Imprint", *STORIES, "Colophon", "Uncopyright"]
    assert [chapter.index for chapter in document.chapters] == list(range(1, 17))
    assert document.skipped == []
    assert "Standard Ebooks" in _all_text(document)


def test_parse_cli_lists_skipped_and_include_front_matter_adds_chapters() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["parse", str(SHERLOCK)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    skipped = [line for line in lines if line.startswith("Skipped: ")]
    assert skipped == [
        'Skipped: text/titlepage.xhtml "Titlepage": epub:type "titlepage" (front matter)',
        'Skipped: text/imprint.xhtml "Imprint": epub:type "imprint" (front matter)',
        'Skipped: text/colophon.xhtml "Colophon": epub:type "colophon" (back matter)',
        'Skipped: text/uncopyright.xhtml "Uncopyright": epub:type "copyright-page" (back matter)',
    ]
    total = next(i for i, line in enumerate(lines) if "Total" in line)
    assert lines.index(skipped[0]) > total
    assert sum(1 for line in lines[:total] if line.lstrip("│ ").split(" ")[0].isdigit()) == 12

    included = runner.invoke(app, ["parse", str(SHERLOCK), "--json", "--include-front-matter"])
    assert included.exit_code == 0, included.output
    data = json.loads(included.output)
    assert len(data["chapters"]) == 16 and data["skipped"] == []


# --- small books written here ----------------------------------------------------------------


@dataclass(frozen=True)
class Doc:
    """One spine document of a test book."""

    name: str
    body: str  # the inner HTML of <body>
    toc: str | None = None  # its table-of-contents entry
    body_type: str = ""  # epub:type on <body>
    linear: bool = True


def _xhtml(body: str, body_type: str = "") -> str:
    attribute = f' epub:type="{body_type}"' if body_type else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml" '
        'xmlns:epub="http://www.idpf.org/2007/ops"><head><title>t</title></head>'
        f"<body{attribute}>{body}</body></html>"
    )


def _nav(docs: list[Doc], landmarks: list[tuple[str, str]], base: str) -> str:
    toc = "".join(f'<li><a href="{base}{d.name}">{d.toc}</a></li>' for d in docs if d.toc)
    marks = "".join(
        f'<li><a epub:type="{kind}" href="{base}{href}">{kind}</a></li>' for href, kind in landmarks
    )
    return _xhtml(
        f'<nav epub:type="toc"><ol>{toc}</ol></nav>'
        f'<nav epub:type="landmarks"><ol>{marks}</ol></nav>'
    )


def _ncx(docs: list[Doc]) -> str:
    points = "".join(
        f'<navPoint id="p{i}"><navLabel><text>{d.toc}</text></navLabel>'
        f'<content src="{d.name}"/></navPoint>'
        for i, d in enumerate(docs)
        if d.toc
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1"><head/>'
        f"<docTitle><text>Test Book</text></docTitle><navMap>{points}</navMap></ncx>"
    )


def _opf(docs: list[Doc], *, epub2: bool, guide: list[tuple[str, str]]) -> str:
    items = "".join(
        f'<item id="d{i}" href="{d.name}" media-type="application/xhtml+xml"/>'
        for i, d in enumerate(docs)
    )
    if epub2:
        items += '<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>'
    else:
        items += (
            '<item id="nav" href="nav/nav.xhtml" media-type="application/xhtml+xml" '
            'properties="nav"/>'
        )
    linear = {True: "", False: ' linear="no"'}
    spine = "".join(f'<itemref idref="d{i}"{linear[d.linear]}/>' for i, d in enumerate(docs))
    spine_toc = ' toc="ncx"' if epub2 else ""
    references = "".join(f'<reference type="{kind}" href="{href}"/>' for href, kind in guide)
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<package xmlns="http://www.idpf.org/2007/opf" version="{"2.0" if epub2 else "3.0"}" '
        'unique-identifier="id"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
        '<dc:identifier id="id">test-book</dc:identifier><dc:title>Test Book</dc:title>'
        f"<dc:language>en</dc:language></metadata><manifest>{items}</manifest>"
        f"<spine{spine_toc}>{spine}</spine>"
        + (f"<guide>{references}</guide>" if references else "")
        + "</package>"
    )


def _book(
    docs: list[Doc],
    *,
    landmarks: list[tuple[str, str]] = (),
    guide: list[tuple[str, str]] = (),
    epub2: bool = False,
) -> bytes:
    """A minimal EPUB: EPUB 3 with nav/nav.xhtml (TOC and landmarks), or EPUB 2 with NCX."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        archive.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container version="1.0" '
            'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
            '<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>",
        )
        archive.writestr("OEBPS/content.opf", _opf(docs, epub2=epub2, guide=list(guide)))
        if epub2:
            archive.writestr("OEBPS/toc.ncx", _ncx(docs))
        else:
            archive.writestr("OEBPS/nav/nav.xhtml", _nav(docs, list(landmarks), "../"))
        for doc in docs:
            archive.writestr(f"OEBPS/{doc.name}", _xhtml(doc.body, doc.body_type))
    return out.getvalue()


def _load(data: bytes, **options: bool) -> Document:
    return load_document_bytes(data, "book.epub", Settings(data_dir=Path("data")), **options)


def _titles(document: Document) -> list[str]:
    return [chapter.title for chapter in document.chapters]


def _reasons(document: Document) -> dict[str, str]:
    return {section.file: section.reason for section in document.skipped}


def test_landmarks_alone_mark_documents_and_the_parts_they_point_into() -> None:
    docs = [
        Doc("text/copyright.xhtml", f"<p>{PROSE}</p>", "Legal"),
        Doc("text/one.xhtml", f"<h1>One</h1><p>{PROSE}</p>", "One"),
        # The landmark names the only top-level part: the whole document is the colophon.
        Doc("text/about.xhtml", f'<section id="made"><p>{PROSE}</p></section>', "About"),
        # The landmark names one part of two: the document is read.
        Doc(
            "text/end.xhtml",
            f'<section id="credits"><p>Photo credits.</p></section><section><p>{PROSE}</p>'
            "</section>",
            "The End",
        ),
    ]
    landmarks = [
        ("text/copyright.xhtml", "copyright-page"),
        ("text/about.xhtml#made", "colophon"),
        ("text/end.xhtml#credits", "credits"),
        ("text/one.xhtml", "bodymatter"),
    ]
    document = _load(_book(docs, landmarks=landmarks))
    assert _titles(document) == ["One", "The End"]
    assert document.skipped == [
        SkippedSection("text/copyright.xhtml", "Legal", "landmarks: copyright-page"),
        SkippedSection("text/about.xhtml", "About", "landmarks: colophon"),
    ]
    assert _titles(_load(_book(docs, landmarks=landmarks), include_front_matter=True)) == [
        "Legal",
        "One",
        "About",
        "The End",
    ]


def test_a_document_landmarks_call_body_matter_is_never_skipped_by_them() -> None:
    """One file holding the whole book, which an entry also calls the copyright page."""
    docs = [Doc("text/book.xhtml", f"<h1>Whole</h1><p>{PROSE}</p>", "Whole")]
    landmarks = [("text/book.xhtml", "copyright-page"), ("text/book.xhtml#start", "bodymatter")]
    document = _load(_book(docs, landmarks=landmarks))
    assert _titles(document) == ["Whole"] and document.skipped == []


def test_epub2_guide_references_mark_documents() -> None:
    docs = [
        Doc("title.html", "<h1>Test Book</h1><p>A Novel</p>", "Title Page"),
        Doc("legal.html", f'<div id="top"><p>{PROSE}</p></div>', "Legal"),
        Doc("ch1.html", f"<h1>Chapter One</h1><p>{PROSE}</p>", "Chapter One"),
        Doc("made.html", f"<p>{PROSE}</p>", "Production notes"),
        Doc("toc.html", "<p>Chapter One</p>", "Contents"),
    ]
    guide = [
        ("title.html", "title-page"),
        ("legal.html#top", "copyright-page"),
        ("ch1.html", "text"),
        ("made.html", "colophon"),
        ("toc.html", "toc"),
    ]
    document = _load(_book(docs, guide=guide, epub2=True))
    assert _titles(document) == ["Chapter One"]
    assert _reasons(document) == {
        "title.html": "guide: titlepage",
        "legal.html": "guide: copyright-page",
        "made.html": "guide: colophon",
        "toc.html": "guide: toc",
    }


def test_narrated_front_matter_stays_even_when_short_or_untitled() -> None:
    docs = [
        # Before the first chapter, not in the TOC, no prose: kept because it is a dedication.
        Doc("text/dedication.xhtml", '<section epub:type="dedication"><p>For Ann.</p></section>'),
        Doc("text/epigraph.xhtml", "<blockquote><p>All things pass.</p></blockquote>", None,
            body_type="frontmatter epigraph"),
        Doc("text/preface.xhtml", f'<section epub:type="preface"><h2>Preface</h2><p>{PROSE}</p>'
            "</section>", "Preface", body_type="frontmatter"),
        Doc("text/one.xhtml", f"<h1>One</h1><p>{PROSE}</p>", "One", body_type="bodymatter"),
        Doc("text/afterword.xhtml", f'<section epub:type="afterword"><p>{PROSE}</p></section>',
            "Afterword", body_type="backmatter"),
        Doc("text/notes.xhtml", '<section epub:type="endnotes"><ol><li>A note.</li></ol>'
            "</section>", "Endnotes", body_type="backmatter"),
    ]  # fmt: skip
    document = _load(_book(docs))
    assert _titles(document) == [
        "Dedication",
        "Epigraph",
        "Preface",
        "One",
        "Afterword",
        "Endnotes",
    ]
    assert document.chapters[0].segments[0].text == "For Ann."
    assert document.skipped == []


def test_a_title_alone_is_never_the_reason() -> None:
    """A document titled "Copyright" with no structural mark is read like any other."""
    docs = [
        Doc("text/copyright.xhtml", f"<h1>Copyright</h1><p>{PROSE}</p>", "Copyright"),
        Doc("text/colophon.xhtml", f"<h1>Colophon</h1><p>{PROSE}</p>", "Colophon"),
        Doc("text/one.xhtml", f"<h1>One</h1><p>{PROSE}</p>", "One"),
    ]
    document = _load(_book(docs))
    assert _titles(document) == ["Copyright", "Colophon", "One"]
    assert document.skipped == []


def test_every_kind_of_skip_is_listed_and_only_structure_comes_back() -> None:
    docs = [
        Doc("text/cover.xhtml", '<img src="c.png" alt="cover"/>', "Cover"),
        Doc("text/half.xhtml", "<p>Test Book</p>"),
        Doc("text/imprint.xhtml", f'<section epub:type="imprint"><p>{PROSE}</p></section>',
            "Imprint", body_type="frontmatter"),
        Doc("text/one.xhtml", f"<h1>One</h1><p>{PROSE}</p>", "One"),
        Doc("text/popup.xhtml", f"<p>{PROSE}</p>", "Popup", linear=False),
        Doc("text/index.xhtml", "<p>Ann, 3</p>", "Index", body_type="backmatter index"),
    ]  # fmt: skip
    document = _load(_book(docs))
    assert _titles(document) == ["One"]
    assert document.skipped == [
        SkippedSection("text/cover.xhtml", "Cover", "no text"),
        SkippedSection(
            "text/half.xhtml", "", "before the first chapter, with no TOC entry and no prose"
        ),
        SkippedSection("text/imprint.xhtml", "Imprint", 'epub:type "imprint" (front matter)'),
        SkippedSection("text/popup.xhtml", "Popup", 'linear="no"'),
        SkippedSection("text/index.xhtml", "Index", 'epub:type "index" (back matter)'),
    ]
    included = _load(_book(docs), include_front_matter=True)
    assert _titles(included) == ["Imprint", "One", "Index"]
    assert [section.file for section in included.skipped] == [
        "text/cover.xhtml",
        "text/half.xhtml",
        "text/popup.xhtml",
    ]
