"""Book outputs: an M4B whose chapter markers match the chapter files."""

from __future__ import annotations

import pytest

from tests.unit.test_audio_synth import segment, speechlike
from voxflow.audio import (
    AudioError,
    AudioSettings,
    assemble_chapter,
    build_m4b,
    encode_aac,
    probe_chapters,
    probe_duration,
)
from voxflow.audio.book import ffmetadata
from voxflow.audio.probe import probe_audio_stream

TITLES = ["Opening; the start", "Middle = #2", "The End"]


@pytest.fixture(scope="module")
def chapters(tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    files = []
    for n, (title, seconds) in enumerate(zip(TITLES, [2.0, 3.5, 1.5], strict=True), start=1):
        segments = [segment(i, 0, speechlike(seconds, -22, seed=i + n)) for i in range(2)]
        files.append((title, assemble_chapter(segments, out, f"{n:02d}-c", AudioSettings())))
    return out, files


def test_m4b_has_three_titled_chapter_markers_at_the_right_times(chapters):
    out, files = chapters
    book = build_m4b(
        [(t, c.audio_path) for t, c in files], out / "book.m4b", title="A Book", author="Me"
    )
    assert book.path.is_file() and probe_audio_stream(book.path)["codec_name"] == "aac"
    marks = probe_chapters(book.path)
    assert [m["title"] for m in marks] == TITLES
    expected = 0.0
    for mark, start, (_, chapter) in zip(marks, book.chapter_starts_s, files, strict=True):
        assert start == pytest.approx(expected, abs=1e-6)
        assert mark["start_s"] == pytest.approx(expected, abs=0.002)
        assert mark["end_s"] == pytest.approx(expected + chapter.duration_s, abs=0.03)
        expected += probe_duration(chapter.audio_path)
    assert book.duration_s == pytest.approx(expected, abs=0.1)
    assert not list(out.glob("*.part"))


def test_empty_book_is_refused(tmp_path):
    with pytest.raises(AudioError, match="without chapters"):
        build_m4b([], tmp_path / "b.m4b", title="x")


def test_ffmetadata_escapes_special_characters():
    text = ffmetadata({"title": "T=1; #x\\y"}, [("a=b", 0.0, 1.5)])
    assert text.startswith(";FFMETADATA1\n")
    assert "title=T\\=1\\; \\#x\\\\y" in text
    assert "[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1500\ntitle=a\\=b\n" in text


def test_m4b_at_the_voice_rate_keeps_its_chapters(chapters):
    out, files = chapters
    book = build_m4b(
        [(t, c.audio_path) for t, c in files], out / "voice.m4b", title="A Book", sample_rate=22050
    )
    assert int(probe_audio_stream(book.path)["sample_rate"]) == 22050
    assert [m["title"] for m in probe_chapters(book.path)] == TITLES
    total = sum(probe_duration(c.audio_path) for _, c in files)
    assert book.duration_s == pytest.approx(total, abs=0.1)


def test_m4b_joined_from_aac_parts_keeps_its_chapters(chapters):
    out, files = chapters
    parts = [
        (t, encode_aac(c.audio_path, out / f"{n}.m4a", sample_rate=22050))
        for n, (t, c) in enumerate(files)
    ]
    book = build_m4b(parts, out / "joined.m4b", title="A Book", copy=True)
    assert probe_audio_stream(book.path)["codec_name"] == "aac"
    marks = probe_chapters(book.path)
    assert [m["title"] for m in marks] == TITLES
    assert [m["start_s"] for m in marks] == pytest.approx(book.chapter_starts_s, abs=0.002)
    total = sum(probe_duration(path) for _, path in parts)
    assert book.duration_s == pytest.approx(total, abs=0.1)
