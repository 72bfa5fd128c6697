"""EPUBCheck on the read-along EPUB built from a real EPUB's own XHTML (Standard Ebooks).

The first two stories of "The Adventures of Sherlock Holmes", imported as a conversion would,
with fabricated timings and silent MP3s (tests/integration/test_epub3.py's helpers). EPUBCheck
must be installed (scripts/install.sh); without it these fail under CI=true and skip elsewhere.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from lxml import etree

from tests.integration.test_epub3 import assert_passes, fabricated_book
from tests.plugins.services import missing
from voxflow.importers import load_document_bytes
from voxflow.publishing import EpubCheckMissing, build_read_along_epub
from voxflow.publishing.epubcheck import epubcheck_command

SHERLOCK = Path(__file__).resolve().parents[1] / "assets" / "standardebooks-sherlock-holmes.epub"
NS = {
    "opf": "http://www.idpf.org/2007/opf",
    "smil": "http://www.w3.org/ns/SMIL",
    "x": "http://www.w3.org/1999/xhtml",
}
SCANDAL = "source/epub/text/a-scandal-in-bohemia.xhtml"


@pytest.fixture(scope="module")
def epubcheck_installed() -> None:
    try:
        epubcheck_command()
    except EpubCheckMissing as error:
        missing(str(error))


@pytest.fixture(scope="module")
def sherlock(tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("sherlock-source")
    data = SHERLOCK.read_bytes()
    document = load_document_bytes(data, "sherlock.epub")
    manifest, audio = fabricated_book(document, out, chapters=2)
    epub = build_read_along_epub(
        manifest, audio, out / "book.epub", author="Arthur Conan Doyle", source_epub=data
    )
    return manifest, epub


def read(epub: Path, name: str) -> etree._Element:
    with zipfile.ZipFile(epub) as z:
        return etree.fromstring(z.read(f"EPUB/{name}"))


def test_the_source_book_passes_epubcheck(epubcheck_installed, sherlock):
    _, epub = sherlock
    assert_passes(epub)


def test_every_segment_is_one_par_on_an_element_of_the_stories_own_xhtml(sherlock):
    manifest, epub = sherlock
    package = read(epub, "package.opf")
    for entry in manifest["chapters"]:
        index = entry["index"]
        (item,) = package.xpath(f"//opf:item[@id='smil-{index:03d}']", namespaces=NS)
        pars = read(epub, item.get("href")).xpath("//smil:par", namespaces=NS)
        assert [p.get("id") for p in pars] == [f"par-s{s['index']}" for s in entry["segments"]]
        pages: dict[str, etree._Element] = {}
        for par in pars:
            href, _, fragment = par.find("smil:text", NS).get("src").partition("#")
            assert href.startswith("source/epub/text/"), href  # the story's own file
            page = pages.setdefault(href, read(epub, href))
            assert len(page.xpath(f"//*[@id='{fragment}']")) == 1


def test_the_original_markup_is_kept(sherlock):
    _, epub = sherlock
    page = read(epub, SCANDAL)
    first = page.xpath("//x:span[@id='s0']", namespaces=NS)[0]
    assert "".join(first.itertext()) == "To Sherlock Holmes she is always the woman."
    assert first.find("x:em", NS).text == "the"  # the em, inside the span
    # The story's structure and styles: the article, its sections, its stylesheets.
    assert page.xpath("//x:article[@id='a-scandal-in-bohemia']", namespaces=NS)
    links = page.xpath("//x:head/x:link/@href", namespaces=NS)
    assert links[:2] == ["../css/core.css", "../css/local.css"]
    with zipfile.ZipFile(epub) as z:
        names = set(z.namelist())
    assert {"EPUB/source/epub/css/core.css", "EPUB/source/epub/css/local.css"} <= names
    assert not any("imprint" in name or "colophon" in name for name in names)


def test_a_sentence_crossing_inline_markup_is_one_span(sherlock):
    """ "One night—it was on the <time>twentieth of March, 1888</time>—I was returning ...":
    the sentence holds a whole time element, so one span wraps the text and the time."""
    manifest, epub = sherlock
    page = read(epub, SCANDAL)
    (time,) = page.xpath("//x:time[@datetime='1888-03-20']", namespaces=NS)
    span = time.getparent()
    assert span.tag == f"{{{NS['x']}}}span" and span.get("id", "").startswith("s")
    segment = next(
        s for s in manifest["chapters"][0]["segments"] if s["index"] == int(span.get("id")[1:])
    )
    assert "twentieth of March, 1888" in segment["text"]
    assert "".join(span.itertext()).startswith("One night")
