"""The ACX deliverable: credits chapters, ACX file names, and the readable report."""

from __future__ import annotations

from lxml import html as lxml_html

from voxflow.document import BookMetadata, RawChapter, RawDocument
from voxflow.importers import load_document_bytes
from voxflow.publishing.acx import acx_file_name, acx_file_names, acx_report_html
from voxflow.publishing.credits import CLOSING_TITLE, OPENING_TITLE, with_credits


def _manifest(*chapters: tuple[str, bool]) -> dict:
    return {
        "project": {"id": 7, "title": "Tom & Jerry <Complete>"},
        "format": "mp3",
        "chapters": [
            {
                "index": i,
                "title": title,
                "duration_s": 90.0,
                "loudness": {
                    "rms_db": -20.1,
                    "peak_db": -4.0,
                    "noise_floor_db": -70.2,
                    "acx_passed": passed,
                    "acx_problems": [] if passed else ["RMS -25.0 dB outside -23…-18 dB"],
                },
            }
            for i, (title, passed) in enumerate(chapters, start=1)
        ],
    }


def test_credits_open_and_close_the_book_and_name_the_synthetic_narrator():
    raw = RawDocument("The Lighthouse", [RawChapter("One", ["Text."])])
    raw.metadata = BookMetadata(author="A. Keeper")
    chapters = with_credits(raw, "joe").chapters
    assert [c.title for c in chapters] == [OPENING_TITLE, "One", CLOSING_TITLE]
    opening, closing = chapters[0].paragraphs[0], chapters[-1].paragraphs[0]
    assert opening.startswith("The Lighthouse.") and "Written by A. Keeper." in opening
    assert "Narrated by joe, a synthetic voice." in opening
    assert closing.startswith("This has been The Lighthouse.") and closing.endswith("The end.")


def test_credits_come_through_the_importer_as_chapters():
    text = b"# Book\n\n## First\n\nOne sentence here.\n"
    plain = load_document_bytes(text, "book.md")
    credited = load_document_bytes(text, "book.md", credits_voice="joe")
    assert [c.title for c in plain.chapters] == ["First"]
    assert [c.title for c in credited.chapters] == [OPENING_TITLE, "First", CLOSING_TITLE]
    assert [c.index for c in credited.chapters] == [1, 2, 3]


def test_acx_names_number_files_in_reading_order():
    assert acx_file_name(1, "Opening Credits", "mp3") == "01_Opening_Credits.mp3"
    assert acx_file_name(12, "Chapter XII: The End?", "mp3") == "12_Chapter_XII_The_End.mp3"
    assert acx_file_name(3, "¿…?", "mp3") == "03_Chapter.mp3"
    names = acx_file_names(_manifest(("Opening Credits", True), ("One", True)))
    assert names == {1: "01_Opening_Credits.mp3", 2: "02_One.mp3"}


def test_the_report_shows_each_file_with_its_verdict_escaped():
    page = acx_report_html(_manifest(("Opening Credits", True), ("Quiet <one>", False)))
    tree = lxml_html.fromstring(page)
    assert "Tom & Jerry <Complete>" in tree.findtext(".//h1")
    assert "1 of 2 files fail" in tree.get_element_by_id("summary").text_content()
    rows = tree.findall(".//tbody/tr")
    assert [r.get("class") for r in rows] == ["pass", "fail"]
    cells = [c.text_content() for c in rows[1]]
    assert cells[0] == "02_Quiet_one.mp3" and cells[1] == "Quiet <one>"
    assert cells[3] == "-20.1 dB" and "outside" in cells[-1]
