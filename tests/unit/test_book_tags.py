"""Tags and covers: the M4B and the chapter files say what book, author, voice and year they
are, with the cover attached; checked with ffprobe on real files."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from tests.unit.test_assembly import ROWS, VOICE, inputs
from tests.unit.test_audio_synth import segment, speechlike
from voxflow import assembly
from voxflow.audio import AudioSettings, assemble_chapter, build_m4b, probe_chapters
from voxflow.audio.probe import probe_audio_stream
from voxflow.audio.tools import ffprobe_json
from voxflow.cover import Cover, as_cover, image_type, read_cover
from voxflow.errors import InputError

NARRATOR = "Voxflow voice joe 1.0"
TITLES = ["A Scandal in Bohemia", "The Red-Headed League"]


def tiny_png() -> bytes:
    """A valid 2x2 RGB PNG, built by hand so the tests need no image library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\xc0\x20\x20" * 2 for _ in range(2))
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


PNG = tiny_png()


def probe(path: Path) -> dict:
    return ffprobe_json(path, "format", "streams", "chapters")


def pictures(info: dict) -> list[dict]:
    return [s for s in info["streams"] if s.get("disposition", {}).get("attached_pic") == 1]


@pytest.fixture(scope="module")
def cover_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cover") / "cover.png"
    path.write_bytes(PNG)
    return path


@pytest.fixture(scope="module")
def tagged(tmp_path_factory: pytest.TempPathFactory, cover_file: Path) -> list:
    """Two MP3 chapters with tags and cover, and their AAC parts for the book."""
    out = tmp_path_factory.mktemp("tagged")
    chapters = []
    for n, title in enumerate(TITLES, start=1):
        tags = assembly.chapter_tags(
            "The Adventures", title, n, len(TITLES), voice=VOICE, author="A. C. Doyle", year="1892"
        )
        segments = [segment(i, 0, speechlike(1.0, -22, seed=n * 10 + i)) for i in range(2)]
        chapters.append(
            assemble_chapter(
                segments,
                out,
                f"{n:02d}-c",
                AudioSettings(),
                title=title,
                book_part=out / f"{n:02d}-c.m4a",
                tags=tags,
                cover=cover_file,
            )
        )
    return chapters


def test_mp3_chapter_has_id3v23_tags_with_track_and_apic(tagged: list) -> None:
    path = tagged[1].audio_path
    info = probe(path)
    tags = info["format"]["tags"]
    assert tags["title"] == TITLES[1]
    assert tags["album"] == "The Adventures"
    assert tags["artist"] == tags["album_artist"] == "A. C. Doyle"
    assert tags["track"] == "2/2"
    assert tags["genre"] == "Audiobook"
    assert tags["date"] == "1892"
    assert tags["composer"] == NARRATOR
    assert tags["comment"] == f"Narrated by {NARRATOR}"
    [picture] = pictures(info)
    assert picture["codec_name"] == "png"
    data = path.read_bytes()
    assert data[:4] == b"ID3\x03"  # ID3v2.3
    assert b"APIC" in data[:4096]
    assert probe_audio_stream(path)["codec_name"] == "mp3"  # the audio is still what ACX reads
    assert tagged[1].duration_s == pytest.approx(tagged[1].segment_times[-1].end_s + 2.0)


def test_first_chapter_is_track_one_of_two(tagged: list) -> None:
    assert probe(tagged[0].audio_path)["format"]["tags"]["track"] == "1/2"


def test_ogg_chapter_takes_the_tags_but_no_cover(tmp_path: Path, cover_file: Path) -> None:
    tags = assembly.chapter_tags("Book", "One", 1, 3, voice=VOICE)
    chapter = assemble_chapter(
        [segment(0, 0, speechlike(0.6, -22))],
        tmp_path,
        "01-x",
        AudioSettings(format="ogg"),
        tags=tags,
        cover=cover_file,
    )
    info = probe(chapter.audio_path)
    stream_tags = {k.lower(): v for k, v in info["streams"][0].get("tags", {}).items()}
    assert stream_tags["track"] == "1/3" and stream_tags["album"] == "Book"
    assert not pictures(info)


def test_m4b_carries_book_tags_chapter_titles_and_cover(
    tagged: list, tmp_path: Path, cover_file: Path
) -> None:
    parts = [(t, c.book_part_path) for t, c in zip(TITLES, tagged, strict=True)]
    book = build_m4b(
        parts,
        tmp_path / "book.m4b",
        title="The Adventures",
        author="A. C. Doyle",
        narrator=NARRATOR,
        year="1892",
        cover=cover_file,
        copy=True,
    )
    info = probe(book.path)
    tags = info["format"]["tags"]
    assert tags["title"] == tags["album"] == "The Adventures"
    assert tags["artist"] == tags["album_artist"] == "A. C. Doyle"
    assert tags["composer"] == NARRATOR and NARRATOR in tags["comment"]
    assert tags["date"] == "1892" and tags["genre"] == "Audiobook"
    assert [c["tags"]["title"] for c in info["chapters"]] == TITLES
    [picture] = pictures(info)
    assert picture["codec_name"] == "png"
    audio = [s for s in info["streams"] if s["codec_type"] == "audio"]
    assert [s["codec_name"] for s in audio] == ["aac"]
    assert [m["title"] for m in probe_chapters(book.path)] == TITLES
    total = sum(c.duration_s for c in tagged)
    assert book.duration_s == pytest.approx(total, abs=0.15)


def test_m4b_without_cover_has_no_picture(tagged: list, tmp_path: Path) -> None:
    parts = [(t, c.book_part_path) for t, c in zip(TITLES, tagged, strict=True)]
    book = build_m4b(parts, tmp_path / "plain.m4b", title="Plain", copy=True)
    info = probe(book.path)
    assert not pictures(info)
    assert "artist" not in info["format"]["tags"]


def test_chapter_digest_follows_tags_and_cover() -> None:
    tags = assembly.chapter_tags("Book", "Intro", 1, 3, voice=VOICE)
    tagged = _digest(tags, None)
    recounted = _digest(assembly.chapter_tags("Book", "Intro", 1, 4, voice=VOICE), None)
    assert len({inputs(), tagged, recounted}) == 3
    with_cover = _digest(tags, Cover(PNG, "image/png"))
    other_cover = _digest(tags, Cover(PNG + b"\x00", "image/png"))
    assert len({tagged, with_cover, other_cover}) == 3


def _digest(tags: dict[str, str], cover: Cover | None) -> str:
    return assembly.chapter_inputs(
        ROWS, title="Intro", output_format="mp3", voice=VOICE, tags=tags, cover=cover
    )


def test_cover_checks_by_magic_bytes(tmp_path: Path) -> None:
    assert image_type(PNG) == "image/png"
    assert image_type(b"\xff\xd8\xff\xe0rest") == "image/jpeg"
    assert image_type(b"<svg/>") is None
    assert as_cover(b"<svg/>") is None
    assert as_cover(PNG) == Cover(PNG, "image/png") and Cover(PNG, "image/png").ext == "png"
    named_png = tmp_path / "cover.png"
    named_png.write_bytes(b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    with pytest.raises(InputError, match="neither a JPEG nor a PNG"):
        read_cover(named_png)
    with pytest.raises(InputError, match="does not exist"):
        read_cover(tmp_path / "missing.jpg")


def test_cover_over_the_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("voxflow.cover.MAX_COVER_BYTES", 16)
    path = tmp_path / "big.png"
    path.write_bytes(PNG)
    with pytest.raises(InputError, match="over the"):
        read_cover(path)
    assert as_cover(PNG) is None
