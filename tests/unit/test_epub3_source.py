"""The read-along EPUB of an EPUB input: the source's own XHTML with a span per sentence.

A small EPUB written here holds the awkward cases (inline markup inside and across sentences,
a footnote reference, a chapter in two files, skipped front and back matter, CSS with fonts
and images); the import of it gives the segments, so the test sees what a real conversion
would. EPUBCheck's verdict on the real Standard Ebooks book is in
tests/integration/test_epub3_source.py.
"""

from __future__ import annotations

import io
import logging
import posixpath
import zipfile
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
from lxml import etree

from voxflow.document import Document
from voxflow.importers import load_document_bytes
from voxflow.publishing import build_read_along_epub
from voxflow.publishing.source import skeleton

NS = {
    "opf": "http://www.idpf.org/2007/opf",
    "smil": "http://www.w3.org/ns/SMIL",
    "x": "http://www.w3.org/1999/xhtml",
}
XHTML_HEAD = """<?xml version="1.0" encoding="utf-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops"
      xml:lang="en"><head><title>{title}</title>
<link href="../css/book.css" rel="stylesheet" type="text/css"/></head>
<body{body_type}>{body}</body></html>"""
DOCUMENTS = {
    "text/title.xhtml": ("Title", ' epub:type="frontmatter titlepage"', "<h1>The Book</h1>"),
    "text/one.xhtml": (
        "One",
        ' epub:type="bodymatter"',
        """<section epub:type="chapter"><h1>One</h1>
<p>To Sherlock Holmes she is always <em>the</em> woman. I have seldom heard him—never—mention
her.<a href="colophon.xhtml#n1" id="r1" epub:type="noteref">1</a> “Quite so,” he said.</p>
<p><i>Sir</i> Henry spoke. He said <em>stop. Now go</em> away.</p>
<p>See the <a href="colophon.xhtml">colophon</a> for <time datetime="1888">the year</time>.
<img src="../images/pic.png" alt="A picture"/></p></section>""",
    ),
    "text/two.xhtml": ("Two", "", "<h1>Two</h1><p>First part of two. It goes on.</p>"),
    "text/two b.xhtml": ("Two, again", "", "<p>The second file of two continues it.</p>"),
    "text/colophon.xhtml": (
        "Colophon",
        ' epub:type="backmatter colophon"',
        '<h2>Colophon</h2><p id="n1">Set in a fine font by someone.</p>',
    ),
}
TOC = [("text/one.xhtml", "One"), ("text/two.xhtml", "Two"), ("text/colophon.xhtml", "Colophon")]
CSS = """@font-face { font-family: "Fine"; src: url("../fonts/fine.woff"); }
body { font-family: "Fine", serif; background: url(../images/bg.png); }
"""
RESOURCES = {
    "css/book.css": ("text/css", CSS.encode()),
    "fonts/fine.woff": ("font/woff", b"wOFF not really"),
    "images/pic.png": ("image/png", b"\x89PNG not really"),
    "images/bg.png": ("image/png", b"\x89PNG not really either"),
    "images/unused.png": ("image/png", b"\x89PNG nobody uses this"),
}


def source_epub() -> bytes:
    manifest = [
        f'<item id="d{n}" href="{quote(href)}" media-type="application/xhtml+xml"/>'
        for n, href in enumerate(DOCUMENTS)
    ]
    manifest += [
        f'<item id="r{n}" href="{href}" media-type="{kind}"/>'
        for n, (href, (kind, _)) in enumerate(RESOURCES.items())
    ]
    manifest.append('<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" '
                    'properties="nav"/>')  # fmt: skip
    spine = "".join(f'<itemref idref="d{n}"/>' for n in range(len(DOCUMENTS)))
    opf = f"""<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="uid">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier id="uid">urn:x</dc:identifier>
<dc:title>The Book</dc:title><dc:language>en</dc:language>
<meta property="dcterms:modified">2020-01-01T00:00:00Z</meta></metadata>
<manifest>{"".join(manifest)}</manifest><spine>{spine}</spine></package>"""
    links = "".join(f'<li><a href="{href}">{title}</a></li>' for href, title in TOC)
    nav = XHTML_HEAD.format(
        title="Contents",
        body_type="",
        body=f'<nav epub:type="toc"><ol>{links}</ol></nav>',
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        z.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container version="1.0" '
            'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
            '<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>",
        )
        z.writestr("OEBPS/content.opf", opf)
        z.writestr("OEBPS/nav.xhtml", nav)
        for href, (title, body_type, body) in DOCUMENTS.items():
            page = XHTML_HEAD.format(title=title, body_type=body_type, body=body)
            z.writestr(f"OEBPS/{href}", page)
        for href, (_, data) in RESOURCES.items():
            z.writestr(f"OEBPS/{href}", data)
    return out.getvalue()


def fabricated_manifest(document: Document, out: Path) -> tuple[dict, dict[int, Path]]:
    """A manifest over the imported segments, 1 s a sentence; the audio need not play here."""
    entries, audio = [], {}
    for chapter in document.chapters:
        segments = [
            {
                "index": seg.index,
                "block_index": seg.block_index,
                "text": seg.text,
                "start_s": float(n),
                "end_s": n + 0.9,
            }
            for n, seg in enumerate(chapter.segments)
        ]
        path = out / f"{chapter.index:02d}.mp3"
        path.write_bytes(b"ID3 not really audio")
        audio[chapter.index] = path
        entries.append(
            {
                "index": chapter.index,
                "title": chapter.title,
                "audio_file": path.name,
                "duration_s": len(segments) + 1.0,
                "segments": segments,
            }
        )
    manifest = {
        "schema_version": 1,
        "project": {"id": 3, "title": document.title},
        "voice": {"model": "en_US-lessac-medium", "version": "1.0"},
        "chapters": entries,
        "book": None,
    }
    return manifest, audio


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("epub3-source")
    data = source_epub()
    document = load_document_bytes(data, "book.epub")
    manifest, audio = fabricated_manifest(document, out)
    epub = build_read_along_epub(manifest, audio, out / "book.epub", source_epub=data)
    return manifest, epub


def read(epub: Path, name: str) -> etree._Element:
    with zipfile.ZipFile(epub) as z:
        return etree.fromstring(z.read(f"EPUB/{name}"))


def package(epub: Path) -> etree._Element:
    return read(epub, "package.opf")


def pars_by_segment(epub: Path) -> dict[str, list[tuple[str, str]]]:
    """Each par's targets as (xhtml href, id), keyed by par id (one per chapter using it)."""
    targets: dict[str, list[tuple[str, str]]] = {}
    for item in package(epub).xpath(
        "//opf:item[@media-type='application/smil+xml']", namespaces=NS
    ):
        for par in read(epub, item.get("href")).xpath("//smil:par", namespaces=NS):
            href, _, fragment = par.find("smil:text", NS).get("src").partition("#")
            targets.setdefault(par.get("id"), []).append((href, fragment))
    return targets


def span(epub: Path, href: str, id_: str) -> etree._Element:
    (found,) = read(epub, href).xpath(f"//*[@id='{id_}']")
    return found


def test_the_import_gives_the_chapters_the_source_documents_hold(built):
    manifest, _ = built
    assert [c["title"] for c in manifest["chapters"]] == ["One", "Two"]
    assert [s["text"] for s in manifest["chapters"][1]["segments"]] == [
        "First part of two.",
        "It goes on.",
        "The second file of two continues it.",
    ]


def test_every_segment_has_one_par_pointing_at_an_element_of_its_document(built):
    manifest, epub = built
    # Par ids repeat across chapters (segment indices count within one), so per chapter.
    items = package(epub).xpath("//opf:item[@media-type='application/smil+xml']", namespaces=NS)
    overlays = [read(epub, item.get("href")) for item in items]
    by_chapter = [overlays[0], overlays[1:]]  # chapter 2 is two files, each with an overlay
    for entry, docs in zip(manifest["chapters"], by_chapter, strict=True):
        docs = docs if isinstance(docs, list) else [docs]
        pars = [par for doc in docs for par in doc.xpath("//smil:par", namespaces=NS)]
        assert [par.get("id") for par in pars] == [f"par-s{s['index']}" for s in entry["segments"]]
        for par in pars:
            href, _, fragment = par.find("smil:text", NS).get("src").partition("#")
            assert href.startswith("source/OEBPS/text/")
            assert span(epub, unquote(href), fragment).tag == f"{{{NS['x']}}}span"
    texts = [
        par.find("smil:text", NS).get("src")
        for par in overlays[2].xpath("//smil:par", namespaces=NS)
    ]
    assert texts == ["source/OEBPS/text/two%20b.xhtml#s2"]
    nav = read(epub, "nav.xhtml").xpath("//x:a/@href", namespaces=NS)
    assert nav == ["source/OEBPS/text/one.xhtml", "source/OEBPS/text/two.xhtml"]


def test_a_sentence_with_inline_markup_is_one_span_and_the_markup_is_kept(built):
    _, epub = built
    first = span(epub, "source/OEBPS/text/one.xhtml", "s0")
    assert "".join(first.itertext()) == "To Sherlock Holmes she is always the woman."
    (em,) = first.findall("x:em", NS)
    assert em.text == "the"
    sir = span(epub, "source/OEBPS/text/one.xhtml", "s3")
    assert sir.find("x:i", NS).text == "Sir" and "".join(sir.itertext()) == "Sir Henry spoke."
    # The noteref marker is not read, so it ends up outside every span; it keeps its id.
    page = read(epub, "source/OEBPS/text/one.xhtml")
    (noteref,) = page.xpath("//x:a[@id='r1']", namespaces=NS)
    assert noteref.getparent().tag == f"{{{NS['x']}}}p"
    second = span(epub, "source/OEBPS/text/one.xhtml", "s1")
    assert skeleton("".join(second.itertext())) == skeleton(
        "I have seldom heard him, never, mention her."
    )
    quote = span(epub, "source/OEBPS/text/one.xhtml", "s2")
    assert "".join(quote.itertext()) == "“Quite so,” he said."
    year = span(epub, "source/OEBPS/text/one.xhtml", "s6")
    assert year.find("x:time", NS) is not None and year.find("x:a", NS) is not None


def test_a_sentence_crossing_an_element_boundary_keeps_the_markup_whole(built):
    """ "He said <em>stop. Now go</em> away.": no one span can hold either sentence without
    splitting the em, so each span holds the sentence's start, and the em stays whole."""
    _, epub = built
    page = read(epub, "source/OEBPS/text/one.xhtml")
    start = span(epub, "source/OEBPS/text/one.xhtml", "s4")
    assert start.text == "He said"
    (em,) = page.xpath("//x:em[contains(., 'stop.')]", namespaces=NS)
    assert "".join(em.itertext()) == "stop. Now go"
    inside = em.find("x:span", NS)
    assert inside.get("id") == "s5" and inside.text == "Now go"


def test_only_the_files_the_chapters_use_are_copied_and_all_are_listed(built):
    _, epub = built
    items = package(epub).xpath("//opf:item", namespaces=NS)
    listed = {unquote(item.get("href")): item.get("media-type") for item in items}
    with zipfile.ZipFile(epub) as z:
        files = {n.removeprefix("EPUB/") for n in z.namelist() if n.startswith("EPUB/")}
    assert files - {"package.opf"} == set(listed)
    assert listed["source/OEBPS/css/book.css"] == "text/css"
    assert listed["source/OEBPS/fonts/fine.woff"] == "font/woff"  # from the CSS
    assert listed["source/OEBPS/images/bg.png"] == "image/png"  # from the CSS
    assert listed["source/OEBPS/images/pic.png"] == "image/png"  # from an img
    assert "source/OEBPS/images/unused.png" not in listed
    assert not any(href.endswith(("title.xhtml", "colophon.xhtml")) for href in listed)
    # A link into skipped back matter loses its target, keeping its text.
    page = read(epub, "source/OEBPS/text/one.xhtml")
    (link,) = page.xpath("//x:a[. = 'colophon']", namespaces=NS)
    assert link.get("href") is None


def test_kept_documents_link_the_active_class_stylesheet(built):
    _, epub = built
    page = read(epub, "source/OEBPS/text/two b.xhtml")
    hrefs = page.xpath("//x:head/x:link/@href", namespaces=NS)
    assert hrefs[0] == "../css/book.css"
    base = posixpath.dirname("source/OEBPS/text/two b.xhtml")
    assert posixpath.normpath(posixpath.join(base, hrefs[-1])) == "overlay.css"
    with zipfile.ZipFile(epub) as z:
        assert b"-epub-media-overlay-active" in z.read("EPUB/overlay.css")
    (active,) = package(epub).xpath(
        "//opf:meta[@property='media:active-class']/text()", namespaces=NS
    )
    assert active == "-epub-media-overlay-active"


def test_a_chapter_the_source_does_not_hold_falls_back_to_generated_xhtml(tmp_path, caplog):
    data = source_epub()
    document = load_document_bytes(data, "book.epub")
    manifest, audio = fabricated_manifest(document, tmp_path)
    manifest["chapters"][0]["segments"][1]["text"] = "Words the source never had."
    with caplog.at_level(logging.WARNING, logger="voxflow.publishing.source"):
        epub = build_read_along_epub(manifest, audio, tmp_path / "book.epub", source_epub=data)
    assert "chapter 1: 1 of" in caplog.text
    targets = pars_by_segment(epub)
    assert targets["par-s1"][0][0] == "chapter-001.xhtml"  # the generated one
    assert span(epub, "chapter-001.xhtml", "s1").text == "Words the source never had."
    hrefs = {href for pairs in targets.values() for href, _ in pairs}
    assert "source/OEBPS/text/two.xhtml" in hrefs  # the next chapter still finds its own


def test_a_source_that_is_no_epub_gives_the_generated_book(tmp_path, caplog):
    data = source_epub()
    document = load_document_bytes(data, "book.epub")
    manifest, audio = fabricated_manifest(document, tmp_path)
    with caplog.at_level(logging.WARNING, logger="voxflow.publishing.source"):
        epub = build_read_along_epub(
            manifest, audio, tmp_path / "book.epub", source_epub=b"not a zip"
        )
    assert "not a readable EPUB" in caplog.text
    with zipfile.ZipFile(epub) as z:
        assert "EPUB/chapter-001.xhtml" in z.namelist()


def test_a_failure_while_wrapping_never_fails_the_book(tmp_path, caplog, monkeypatch):
    data = source_epub()
    document = load_document_bytes(data, "book.epub")
    manifest, audio = fabricated_manifest(document, tmp_path)

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("voxflow.publishing.source._wrap", broken)
    with caplog.at_level(logging.WARNING, logger="voxflow.publishing"):
        epub = build_read_along_epub(manifest, audio, tmp_path / "book.epub", source_epub=data)
    assert "could not be wrapped" in caplog.text
    with zipfile.ZipFile(epub) as z:
        names = z.namelist()
    assert "EPUB/chapter-001.xhtml" in names and "EPUB/chapter-002.xhtml" in names
    assert not any(name.startswith("EPUB/source/") for name in names)


def test_a_source_with_obfuscated_fonts_gives_the_generated_book(tmp_path, caplog):
    data = source_epub()
    document = load_document_bytes(data, "book.epub")
    manifest, audio = fabricated_manifest(document, tmp_path)
    encrypted = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(encrypted, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        target.writestr("META-INF/encryption.xml", "<encryption/>")
    with caplog.at_level(logging.WARNING, logger="voxflow.publishing.source"):
        epub = build_read_along_epub(
            manifest, audio, tmp_path / "book.epub", source_epub=encrypted.getvalue()
        )
    assert "encrypted" in caplog.text
    with zipfile.ZipFile(epub) as z:
        assert "EPUB/chapter-001.xhtml" in z.namelist()
