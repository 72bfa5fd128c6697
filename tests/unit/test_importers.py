"""TXT, Markdown and DOCX importers, the builder, and the sample book in every format."""

from __future__ import annotations

import io
import re
from pathlib import Path

import docx
import pytest

from voxflow.builder import build_document
from voxflow.document import Document, RawChapter, RawDocument
from voxflow.importers import load_document, load_document_bytes
from voxflow.importers.markdown import parse_markdown
from voxflow.importers.txt import parse_txt
from voxflow.settings import Settings
from voxflow.text import normalize_text

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BOOK = "the-lighthouse-keeper"
PROSE = "It was a quiet evening and the lamp burned steadily over the dark water."


def _settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path)


def _texts(document: Document) -> list[list[str]]:
    return [[s.text for s in chapter.segments] for chapter in document.chapters]


def _paragraphs(raw: RawDocument) -> list[list[str]]:
    return [[normalize_text(p) for p in chapter.paragraphs] for chapter in raw.chapters]


# --- builder --------------------------------------------------------------------------------


def test_build_document_numbers_and_drops_empty_parts() -> None:
    raw = RawDocument(
        title=" Book ",
        chapters=[
            RawChapter("Empty", ["", "* * *", "---"]),
            RawChapter("One", ["First. Second.", "* * *", "Third."]),
            RawChapter("", ["Untitled text."]),
        ],
        source_format="txt",
    )
    document = build_document(raw, 400)
    assert document.title == "Book"
    assert [(c.index, c.title) for c in document.chapters] == [(1, "One"), (2, "Chapter 2")]
    one = document.chapters[0]
    assert [b.index for b in one.blocks] == [0, 1]
    assert [(s.block_index, s.index, s.text) for s in one.segments] == [
        (0, 0, "First."),
        (0, 1, "Second."),
        (1, 2, "Third."),
    ]
    assert all(s.chapter_index == 1 for s in one.segments)


# --- TXT -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "heading",
    ["CHAPTER I", "Chapter 12", "Chapter One", "CHAPTER XIV. THE END", "chapter twenty-one"],
)
def test_txt_chapter_heading_forms(heading: str) -> None:
    text = f"{heading}\n\n{PROSE}\n\nCHAPTER II\n\nMore text follows here.\n"
    raw = parse_txt(text, "fallback")
    assert [c.title for c in raw.chapters] == [heading, "CHAPTER II"]
    assert raw.chapters[0].paragraphs == [PROSE]


def test_txt_all_caps_line_standing_alone_is_a_heading() -> None:
    text = "Intro line one.\n\nTHE ARRIVAL\n\nThey came at dawn.\n\nTHE DEPARTURE\n\nThey left.\n"
    raw = parse_txt(text, "fallback")
    assert [c.title for c in raw.chapters] == ["THE ARRIVAL", "THE DEPARTURE"]


def test_txt_all_caps_inside_a_paragraph_is_not_a_heading() -> None:
    text = "CHAPTER 1\n\nShe read the sign:\nKEEP OUT\nand went in anyway.\n"
    raw = parse_txt(text, "fallback")
    assert _paragraphs(raw) == [["She read the sign: KEEP OUT and went in anyway."]]


def test_txt_heading_with_title_on_next_line_or_paragraph() -> None:
    text = "CHAPTER I.\nTHE KEEPER\n\nBody one.\n\nChapter 2\n\nThe Storm\n\nBody two.\n"
    raw = parse_txt(text, "fallback")
    assert [c.title for c in raw.chapters] == ["CHAPTER I. THE KEEPER", "Chapter 2. The Storm"]
    assert _paragraphs(raw) == [["Body one."], ["Body two."]]


def test_txt_joins_hard_wrapped_lines_and_splits_on_blank_lines() -> None:
    text = "CHAPTER I\n\nThe first line\nwraps here\nand ends.\n\n\n\nSecond _emphasised_ para.\n"
    raw = parse_txt(text, "book")
    assert _paragraphs(raw) == [["The first line wraps here and ends.", "Second emphasised para."]]


def test_txt_bullets_are_separate_blocks() -> None:
    text = "CHAPTER I\n\nShe packed:\n- a lamp,\n- some oil,\n* and matches.\n"
    assert _paragraphs(parse_txt(text, "b")) == [
        ["She packed:", "a lamp,", "some oil,", "and matches."]
    ]


def test_txt_front_matter_without_prose_is_dropped() -> None:
    text = "THE LIGHTHOUSE\n\nby A. Writer\n\nWith illustrations\n\nCHAPTER I\n\nBody.\n"
    raw = parse_txt(text, "fallback")
    assert raw.title == "THE LIGHTHOUSE"
    assert [c.title for c in raw.chapters] == ["CHAPTER I"]


def test_txt_front_matter_with_prose_becomes_a_chapter() -> None:
    text = f"A Book\n\n{PROSE}\n\nCHAPTER I\n\nBody.\n"
    raw = parse_txt(text, "fallback")
    assert raw.title == "A Book"
    assert [c.title for c in raw.chapters] == ["A Book", "CHAPTER I"]
    assert raw.chapters[0].paragraphs == [PROSE]


def test_txt_without_headings_is_one_chapter_titled_by_file() -> None:
    raw = parse_txt(f"{PROSE}\n\nAnother paragraph here.\n", "my notes")
    assert raw.title == "my notes"
    assert [c.title for c in raw.chapters] == ["my notes"]
    assert len(raw.chapters[0].paragraphs) == 2


GUTENBERG = f"""\ufeffThe Project Gutenberg eBook of Tiny Tales

This eBook is for the use of anyone anywhere.

Title: Tiny Tales

Author: Somebody

*** START OF THE PROJECT GUTENBERG EBOOK TINY TALES ***

Produced by Volunteer Proofreaders at www.pgdp.net

TINY TALES

by Somebody

CONTENTS

CHAPTER I. THE FIRST
CHAPTER II. THE SECOND

CHAPTER I. THE FIRST

{PROSE}

CHAPTER II. THE SECOND

The end came quickly.

*** END OF THE PROJECT GUTENBERG EBOOK TINY TALES ***

Updated editions will replace the previous one. License text follows at length.
"""


def test_txt_gutenberg_markers_title_contents_and_boilerplate() -> None:
    raw = parse_txt(GUTENBERG, "fallback")
    assert raw.title == "Tiny Tales"
    assert [c.title for c in raw.chapters] == ["CHAPTER I. THE FIRST", "CHAPTER II. THE SECOND"]
    assert _paragraphs(raw) == [[PROSE], ["The end came quickly."]]
    everything = " ".join(p for c in raw.chapters for p in c.paragraphs)
    assert "License" not in everything and "Produced" not in everything


# --- Markdown --------------------------------------------------------------------------------

MARKDOWN = """# The Book

*by Someone*

## First Chapter

Some *emphasis*, **strong** and a [link](http://example.com) with ![an image](a.png) here.
A soft break, <span>raw html</span> and `inline code` and <https://bare.example.com>.

- item one
- item *two*
  1. nested item

> A quoted line.

### A sub-heading

```python
print("never spoken")
```

<div>html block</div>

| Name | Age |
| ---- | --- |
| Ann  | 34  |

## Second Chapter

Last words.
"""


def test_markdown_structure_and_markup_stripping() -> None:
    raw = parse_markdown(MARKDOWN, "fallback")
    assert raw.title == "The Book"
    assert [c.title for c in raw.chapters] == ["First Chapter", "Second Chapter"]
    assert _paragraphs(raw)[0] == [
        "Some emphasis, strong and a link with here. A soft break, raw html and and .",
        "item one",
        "item two",
        "nested item",
        "A quoted line.",
        "A sub-heading",
        "Name, Age",
        "Ann, 34",
    ]
    assert _paragraphs(raw)[1] == ["Last words."]


def test_markdown_many_top_headings_are_chapters() -> None:
    text = "# One\n\nAlpha.\n\n## Part\n\nBeta.\n\n# Two\n\nGamma.\n"
    raw = parse_markdown(text, "file title")
    assert raw.title == "file title"
    assert [c.title for c in raw.chapters] == ["One", "Two"]
    assert _paragraphs(raw) == [["Alpha.", "Part", "Beta."], ["Gamma."]]


def test_markdown_front_matter_title_and_no_headings() -> None:
    text = '---\ntitle: "From Front Matter"\nauthor: x\n---\n\nJust a paragraph.\n'
    raw = parse_markdown(text, "fallback")
    assert raw.title == "From Front Matter"
    assert [c.title for c in raw.chapters] == ["From Front Matter"]
    assert _paragraphs(raw) == [["Just a paragraph."]]


def test_markdown_single_h1_without_h2_is_the_one_chapter() -> None:
    raw = parse_markdown("# Only\n\nText here.\n", "fallback")
    assert raw.title == "Only"
    assert [c.title for c in raw.chapters] == ["Only"]


def test_markdown_intro_with_prose_becomes_a_chapter() -> None:
    raw = parse_markdown(f"# Book\n\n{PROSE}\n\n## One\n\nText.\n", "fallback")
    assert [c.title for c in raw.chapters] == ["Book", "One"]


def test_markdown_table_of_contents_chapter_is_dropped() -> None:
    text = "# A\n\n## Contents\n\n- One\n- Two\n\n## One\n\nText.\n\n## Two\n\nMore.\n"
    assert [c.title for c in parse_markdown(text, "x").chapters] == ["One", "Two"]


# --- DOCX ------------------------------------------------------------------------------------


def _docx(build) -> bytes:
    document = docx.Document()
    build(document)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_docx_heading1_chapters_title_lists_and_tables(tmp_path: Path) -> None:
    def build(d):
        d.add_paragraph("My Report", style="Title")
        d.add_paragraph("Intro words.")
        d.add_heading("Beginning", level=1)
        d.add_paragraph("First paragraph. It has two sentences.")
        d.add_paragraph("A bullet", style="List Bullet")
        d.add_heading("Detail", level=2)
        table = d.add_table(rows=2, cols=2)
        table.cell(0, 0).text, table.cell(0, 1).text = "Key", "Value"
        table.cell(1, 0).text, table.cell(1, 1).text = "Speed", "3.5 knots"
        d.add_heading("Ending", level=1)
        d.add_paragraph("")
        d.add_paragraph("Last paragraph.")

    document = load_document_bytes(_docx(build), "report.docx", _settings(tmp_path))
    assert document.title == "My Report"
    assert document.source_format == "docx"
    assert [c.title for c in document.chapters] == ["Beginning", "Ending"]
    assert _texts(document) == [
        [
            "First paragraph.",
            "It has two sentences.",
            "A bullet",
            "Detail",
            "Key, Value",
            "Speed, 3.5 knots",
        ],
        ["Last paragraph."],
    ]


def test_docx_heading2_chapters_when_no_heading1(tmp_path: Path) -> None:
    def build(d):
        d.core_properties.title = "Core Title"
        d.add_heading("Part A", level=2)
        d.add_paragraph("Alpha.")
        d.add_heading("Part B", level=2)
        d.add_paragraph("Beta.")

    document = load_document_bytes(_docx(build), "notes.docx", _settings(tmp_path))
    assert document.title == "Core Title"
    assert [c.title for c in document.chapters] == ["Part A", "Part B"]


def test_docx_without_headings_is_one_chapter(tmp_path: Path) -> None:
    document = load_document_bytes(
        _docx(lambda d: d.add_paragraph("Plain text only.")),
        "plain-notes.docx",
        _settings(tmp_path),
    )
    assert [c.title for c in document.chapters] == ["plain notes"]


# --- the sample book in every format ---------------------------------------------------------


def _body_words(path: Path) -> list[str]:
    """Every word of the Markdown book's chapter bodies, straight from the source text."""
    words: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip() or line.startswith("*A short"):
            continue
        line = re.sub(r"^- ", "", line).replace("*", "")
        words += normalize_text(line).split()
    return words


@pytest.mark.parametrize("suffix", ["md", "epub", "txt"])
def test_example_book_every_word_once_in_order(suffix: str, tmp_path: Path) -> None:
    document = load_document(EXAMPLES / f"{BOOK}.{suffix}", _settings(tmp_path))
    assert document.title == "The Lighthouse Keeper"
    titles = [c.title.casefold() for c in document.chapters]
    assert len(titles) == 3
    for title, expected in zip(
        titles, ["the keeper of gull point", "the storm", "morning"], strict=True
    ):
        assert title.endswith(expected)
    words = [w for c in document.chapters for s in c.segments for w in s.text.split()]
    assert words == _body_words(EXAMPLES / f"{BOOK}.md")
    assert all(len(s.text) <= 400 for c in document.chapters for s in c.segments)


def test_example_book_formats_agree_segment_for_segment(tmp_path: Path) -> None:
    documents = [
        load_document(EXAMPLES / f"{BOOK}.{s}", _settings(tmp_path)) for s in ("md", "epub", "txt")
    ]
    shapes = [[[len(b.segments) for b in c.blocks] for c in d.chapters] for d in documents]
    assert shapes[0] == shapes[1] == shapes[2]
    assert _texts(documents[0]) == _texts(documents[1]) == _texts(documents[2])


def test_example_book_content(tmp_path: Path) -> None:
    document = load_document(EXAMPLES / f"{BOOK}.md", _settings(tmp_path))
    words = sum(len(s.text.split()) for c in document.chapters for s in c.segments)
    assert 850 <= words <= 1200
    texts = [s.text for c in document.chapters for s in c.segments]
    assert any("Dr. " in t for t in texts) and any("Mr. " in t for t in texts)
    assert any("28.9" in t for t in texts)
    assert all(len(c.blocks) >= 4 for c in document.chapters)


def test_example_epub_is_up_to_date(tmp_path: Path) -> None:
    """The committed EPUB and TXT are exactly what examples/build_epub.py makes now."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_epub", EXAMPLES / "build_epub.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    title, subtitle, chapters = module.split_book((EXAMPLES / f"{BOOK}.md").read_text("utf-8"))
    assert module.build_epub(title, subtitle, chapters) == (EXAMPLES / f"{BOOK}.epub").read_bytes()
    assert module.build_txt(title, subtitle, chapters) == (EXAMPLES / f"{BOOK}.txt").read_text(
        "utf-8"
    )
