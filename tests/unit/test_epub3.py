"""The read-along EPUB's structure: spans, SMIL clips, OPF durations, escaping, zip layout.

EPUBCheck's verdict on the same books is in tests/integration/test_epub3.py.
"""

from __future__ import annotations

import copy
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from tests.unit.test_audio_synth import segment, speechlike
from voxflow.audio import (
    AudioSettings,
    ManifestChapter,
    assemble_chapter,
    build_manifest,
    chapter_basename,
    probe_duration,
)
from voxflow.publishing import build_read_along_epub
from voxflow.publishing.layout import ACTIVE_CLASS, xhtml_href
from voxflow.publishing.smil import clock_value, parse_clock_value

NS = {
    "opf": "http://www.idpf.org/2007/opf",
    "dc": "http://purl.org/dc/elements/1.1/",
    "smil": "http://www.w3.org/ns/SMIL",
    "x": "http://www.w3.org/1999/xhtml",
}
# Text that must survive escaping: markup characters, quotes, typography, astral plane, and a
# control character XML cannot hold at all (dropped).
AWKWARD = ['Tom & Jerry <b>"bold"</b>.', "It's «quoted» — naïve café 😀.", "Bell\x07 rings."]


def synthetic_book(out: Path) -> tuple[dict, dict[int, Path]]:
    """A two-chapter manifest over real assembled MP3s, as `voxflow.audio` writes it."""
    chapters = []
    for index, title in [(1, "One & <Two>"), (2, 'The "Second"')]:
        texts = AWKWARD if index == 1 else ["A short one.", "Another.", "Last."]
        segments = [
            segment(i, i // 2, speechlike(0.6, -25, seed=10 * index + i), text=text)
            for i, text in enumerate(texts)
        ]
        audio = assemble_chapter(segments, out, chapter_basename(index, title), AudioSettings())
        chapters.append(ManifestChapter(index, title, audio))
    manifest = build_manifest(
        project_id=7,
        title="Café & Co.",
        voice_model="en_US-lessac-medium",
        voice_version="1.0",
        sample_rate=chapters[0].audio.sample_rate,
        chapters=chapters,
        base_dir=out,
    )
    return manifest, {c.index: c.audio.audio_path for c in chapters}


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> tuple[dict, dict[int, Path], Path]:
    out = tmp_path_factory.mktemp("epub3")
    manifest, audio = synthetic_book(out)
    return manifest, audio, build_read_along_epub(manifest, audio, out / "book.epub")


def xml(epub: Path, name: str) -> etree._Element:
    with zipfile.ZipFile(epub) as z:
        return etree.fromstring(z.read(f"EPUB/{name}"))


def opf(epub: Path) -> etree._Element:
    return xml(epub, "package.opf")


def overlay_of(package: etree._Element, xhtml_href: str) -> str:
    """The href of the SMIL the package pairs with a chapter's XHTML."""
    (item,) = package.xpath(f"//opf:item[@href='{xhtml_href}']", namespaces=NS)
    (smil,) = package.xpath(f"//opf:item[@id='{item.get('media-overlay')}']", namespaces=NS)
    assert smil.get("media-type") == "application/smil+xml"
    return smil.get("href")


def test_zip_layout(book):
    _, _, epub = book
    with zipfile.ZipFile(epub) as z:
        first = z.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
        assert not first.extra and z.read("mimetype") == b"application/epub+zip"
        assert "META-INF/container.xml" in z.namelist()


def test_every_span_has_one_clip_inside_the_audio(book):
    manifest, audio, epub = book
    package = opf(epub)
    for entry in manifest["chapters"]:
        href = xhtml_href(entry["index"])
        spans = xml(epub, href).xpath("//x:span/@id", namespaces=NS)
        assert spans == [f"s{s['index']}" for s in entry["segments"]]
        pars = xml(epub, overlay_of(package, href)).xpath("//smil:par", namespaces=NS)
        targets = [p.find("smil:text", NS).get("src") for p in pars]
        assert sorted(targets) == sorted(f"{href}#{span}" for span in spans)  # once each
        duration = probe_duration(audio[entry["index"]])
        previous_end = 0.0
        for par, seg in zip(pars, entry["segments"], strict=True):
            clip = par.find("smil:audio", NS)
            begin = parse_clock_value(clip.get("clipBegin"))
            end = parse_clock_value(clip.get("clipEnd"))
            assert previous_end - 1e-9 <= begin < end <= duration + 1e-3
            assert begin == pytest.approx(seg["start_s"]) and end >= seg["end_s"] - 1e-9
            previous_end = end


def test_package_durations_and_overlay_metadata(book):
    manifest, _, epub = book
    package = opf(epub)
    refined = {}
    for meta in package.xpath("//opf:meta[@property='media:duration'][@refines]", namespaces=NS):
        smil_id = meta.get("refines").removeprefix("#")
        (item,) = package.xpath(f"//opf:item[@id='{smil_id}']", namespaces=NS)
        pars = xml(epub, item.get("href")).xpath("//smil:audio", namespaces=NS)
        clips = sum(
            parse_clock_value(a.get("clipEnd")) - parse_clock_value(a.get("clipBegin"))
            for a in pars
        )
        refined[smil_id] = parse_clock_value(meta.text)
        assert refined[smil_id] == pytest.approx(clips, abs=1e-6)
    assert len(refined) == len(manifest["chapters"])
    (total,) = package.xpath(
        "//opf:meta[@property='media:duration'][not(@refines)]/text()", namespaces=NS
    )
    assert parse_clock_value(total) == pytest.approx(sum(refined.values()), abs=1e-6)

    def prop(name: str) -> str:
        (value,) = package.xpath(f"//opf:meta[@property='{name}']/text()", namespaces=NS)
        return value

    assert prop("media:active-class") == ACTIVE_CLASS
    assert prop("media:narrator") == "en_US-lessac-medium"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", prop("dcterms:modified"))
    with zipfile.ZipFile(epub) as z:
        assert f".{ACTIVE_CLASS} {{" in z.read("EPUB/style.css").decode()
    assert package.xpath("//dc:title/text()", namespaces=NS) == ["Café & Co."]
    assert package.xpath("//dc:language/text()", namespaces=NS) == ["en"]


def test_identifier_is_stable_and_unique_per_project(book, tmp_path):
    manifest, audio, epub = book
    again = build_read_along_epub(manifest, audio, tmp_path / "again.epub")
    other = build_read_along_epub(
        {**manifest, "project": {"id": 8, "title": "Café & Co."}}, audio, tmp_path / "other.epub"
    )

    def identifier(path: Path) -> str:
        (value,) = opf(path).xpath("//dc:identifier/text()", namespaces=NS)
        return value

    assert re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", identifier(epub))
    assert identifier(again) == identifier(epub) != identifier(other)


def test_awkward_text_is_escaped_and_kept(book):
    _, _, epub = book
    chapter = xml(epub, "chapter-001.xhtml")  # parsing at all proves the escaping is sound
    spans = chapter.xpath("//x:span", namespaces=NS)
    assert [s.text for s in spans] == [AWKWARD[0], AWKWARD[1], "Bell rings."]
    assert chapter.xpath("//x:h1/text()", namespaces=NS) == ["One & <Two>"]
    assert len(chapter.xpath("//x:p", namespaces=NS)) == 2  # blocks 0 and 1
    nav = xml(epub, "nav.xhtml")
    assert nav.xpath("//x:a/text()", namespaces=NS) == ["One & <Two>", 'The "Second"']


def test_clock_values():
    assert clock_value(0) == "0:00:00.000"
    assert clock_value(3725.4567) == "1:02:05.457"
    assert parse_clock_value("1:02:05.457") == pytest.approx(3725.457)
    assert parse_clock_value("2.5s") == 2.5


def test_modified_time_is_the_callers(book, tmp_path):
    manifest, audio, _ = book
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    epub = build_read_along_epub(manifest, audio, tmp_path / "b.epub", modified=when)
    modified = opf(epub).xpath("//opf:meta[@property='dcterms:modified']/text()", namespaces=NS)
    assert modified == ["2024-05-06T07:08:09Z"]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda m, a: a.pop(2), "no audio file given for chapter"),
        (lambda m, a: a.update({1: a[1].with_suffix(".vtt")}), "not an EPUB 3 core audio type"),
        (lambda m, a: m["chapters"][0]["segments"][1].update(start_s=0.0), "overlaps"),
        (lambda m, a: m["chapters"][0]["segments"][0].update(end_s=1e4), "runs past"),
    ],
)
def test_refuses_what_a_reader_would_misplay(book, tmp_path, change, error):
    manifest, audio, _ = book
    manifest, audio = copy.deepcopy(manifest), dict(audio)
    change(manifest, audio)
    with pytest.raises(ValueError, match=error):
        build_read_along_epub(manifest, audio, tmp_path / "bad.epub")
    assert not list(tmp_path.glob("*.epub*"))
