"""EPUBCheck (the W3C validator, Debian's package) on read-along EPUBs: ours, and a broken one.

Books built from documents no one here wrote (a Standard Ebooks EPUB, the GPL as plain text)
with fabricated timings, and the synthetic two-chapter book of the unit tests. EPUBCheck must
be installed (scripts/install.sh); without it these fail under CI=true and skip elsewhere.
"""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.plugins.services import missing
from tests.unit.test_epub3 import synthetic_book
from voxflow.audio import encode_aac
from voxflow.document import Document
from voxflow.importers import load_document_bytes
from voxflow.publishing import EpubCheckMissing, build_read_along_epub, run_epubcheck
from voxflow.publishing.epubcheck import epubcheck_command

ASSETS = Path(__file__).resolve().parents[1] / "assets"
SECONDS_PER_CHAR = 0.06  # about 16 characters a second, a narrator's pace
SENTENCE_PAUSE_S, BLOCK_PAUSE_S, HEAD_S, TAIL_S = 0.35, 0.9, 0.75, 2.0


@pytest.fixture(scope="module")
def epubcheck() -> None:
    try:
        epubcheck_command()
    except EpubCheckMissing as error:
        missing(str(error))


def silent_mp3(path: Path, seconds: float) -> Path:
    """Low-bitrate silence of exactly this length: stands in for the narration."""
    if shutil.which("ffmpeg") is None:
        missing("ffmpeg is not installed (scripts/install.sh)")
    args = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"]
    args += ["-i", "anullsrc=r=22050:cl=mono", "-t", f"{seconds:.3f}", "-c:a", "libmp3lame"]
    subprocess.run([*args, "-b:a", "8k", str(path)], check=True)
    return path


def fabricated_entry(chapter, audio_file: str) -> dict:
    """A manifest entry as assembly would write it, with times paced by character count."""
    segments, clock, last_block = [], HEAD_S, None
    for seg in chapter.segments:
        if last_block is not None:
            clock += BLOCK_PAUSE_S if seg.block_index != last_block else SENTENCE_PAUSE_S
        start, clock = clock, clock + max(len(seg.text), 1) * SECONDS_PER_CHAR
        segments.append(
            {
                "index": seg.index,
                "block_index": seg.block_index,
                "text": seg.text,
                "start_s": round(start, 3),
                "end_s": round(clock, 3),
            }
        )
        last_block = seg.block_index
    return {
        "index": chapter.index,
        "title": chapter.title,
        "audio_file": audio_file,
        "duration_s": round(clock + TAIL_S, 3),
        "segments": segments,
    }


def fabricated_book(document: Document, out: Path, chapters: int = 2) -> tuple[dict, dict]:
    """The first chapters of a real document as a manifest plus a silent MP3 for each."""
    entries, audio = [], {}
    for chapter in document.chapters[:chapters]:
        entry = fabricated_entry(chapter, f"{chapter.index:02d}.mp3")
        audio[chapter.index] = silent_mp3(out / entry["audio_file"], entry["duration_s"])
        entries.append(entry)
    manifest = {
        "schema_version": 1,
        "project": {"id": 1, "title": document.title},
        "voice": {"model": "en_US-lessac-medium", "version": "1.0"},
        "chapters": entries,
        "book": None,
    }
    return manifest, audio


def assert_passes(epub: Path) -> None:
    report = run_epubcheck(epub)
    assert report.ok, "\n".join(report.messages)
    assert report.messages == []  # not even a warning or a usage hint


@pytest.mark.parametrize(
    ("source", "filename"),
    [
        (ASSETS / "standardebooks-sherlock-holmes.epub", "sherlock.epub"),
        (Path("/usr/share/common-licenses/GPL-3"), "GPL-3.txt"),
    ],
)
def test_real_documents_pass_epubcheck(epubcheck, tmp_path, source, filename):
    document = load_document_bytes(source.read_bytes(), filename)
    manifest, audio = fabricated_book(document, tmp_path)
    epub = build_read_along_epub(manifest, audio, tmp_path / "book.epub", author="Someone")
    assert_passes(epub)
    with zipfile.ZipFile(epub) as z:
        smil = z.read("EPUB/chapter-001.smil").decode()
    assert smil.count("<par ") == len(document.chapters[0].segments)


def test_synthetic_book_passes_epubcheck(epubcheck, tmp_path):
    manifest, audio = synthetic_book(tmp_path)
    assert_passes(build_read_along_epub(manifest, audio, tmp_path / "book.epub"))


def test_aac_parts_pass_epubcheck(epubcheck, tmp_path):
    """WAV and OGG chapters are no EPUB audio: their `.m4a` AAC parts (audio/mp4) stand in."""
    manifest, audio = synthetic_book(tmp_path)
    parts = {index: encode_aac(path, path.with_suffix(".m4a")) for index, path in audio.items()}
    assert_passes(build_read_along_epub(manifest, parts, tmp_path / "book.epub"))


def test_epubcheck_catches_a_dangling_overlay(epubcheck, tmp_path):
    """The check can fail: a par pointing at a span that does not exist is an error."""
    manifest, audio = synthetic_book(tmp_path)
    good = build_read_along_epub(manifest, audio, tmp_path / "good.epub")
    bad = tmp_path / "bad.epub"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(bad, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "EPUB/chapter-001.smil":
                data = data.replace(b"#s0", b"#s99")
            target.writestr(info, data)
    report = run_epubcheck(bad)
    assert not report.ok
    assert any("RSC-012" in message for message in report.messages), report.messages
