"""manifest.json: schema, relative paths, and NN-slug file names."""

from __future__ import annotations

import json

import pytest

from tests.unit.test_audio_synth import segment, speechlike
from voxflow.audio import (
    AudioSettings,
    BookAudio,
    ManifestChapter,
    assemble_chapter,
    build_manifest,
    chapter_basename,
    slugify,
    write_manifest,
)


def test_names():
    assert chapter_basename(3, "Chapter One: The Café!") == "03-chapter-one-the-cafe"
    assert chapter_basename(120, "???") == "120-chapter"
    assert len(slugify("x" * 200)) == 60


def test_manifest_schema(tmp_path):
    segments = [segment(i, i // 2, speechlike(1.0, -25, seed=i), text=f"S{i}") for i in range(3)]
    name = chapter_basename(1, "Intro")
    chapter = assemble_chapter(segments, tmp_path / "out", name, AudioSettings())
    book = BookAudio(tmp_path / "out" / "book.m4b", 12.3456, [0.0])
    manifest = build_manifest(
        project_id=7,
        title="My Book",
        voice_model="joe",
        voice_version="1.0",
        sample_rate=chapter.sample_rate,
        chapters=[ManifestChapter(1, "Intro", chapter)],
        book=book,
        base_dir=tmp_path / "out",
    )
    path = write_manifest(tmp_path / "out" / "manifest.json", manifest)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["schema_version"] == 2
    assert data["project"] == {"id": 7, "title": "My Book"}
    assert data["voice"] == {"model": "joe", "version": "1.0"}
    assert data["sample_rate"] == 44100 and data["format"] == "mp3"
    (ch,) = data["chapters"]
    assert ch["index"] == 1 and ch["title"] == "Intro"
    assert ch["audio_file"] == "01-intro.mp3" and ch["subtitle_file"] == "01-intro.vtt"
    assert ch["duration_s"] == pytest.approx(chapter.duration_s, abs=1e-3)
    assert set(ch["loudness"]) >= {"lufs", "rms_db", "peak_db", "noise_floor_db", "acx_passed"}
    assert ch["loudness"]["acx_passed"] is True
    assert [s["index"] for s in ch["segments"]] == [0, 1, 2]
    assert [s["block_index"] for s in ch["segments"]] == [0, 0, 1]
    assert [s["text"] for s in ch["segments"]] == ["S0", "S1", "S2"]
    assert all(s["start_s"] < s["end_s"] for s in ch["segments"])
    assert data["book"] == {"file": "book.m4b", "duration_s": 12.346, "chapter_starts_s": [0.0]}
    assert not list((tmp_path / "out").glob("*.part"))


def test_word_times_move_into_the_chapters_time(tmp_path):
    """A segment's word times are placed at the segment's start and kept inside it."""
    from tests.unit.test_audio_synth import segment, speechlike
    from voxflow.audio import AudioSettings, assemble_chapter
    from voxflow.audio.manifest import ManifestChapter, chapter_entry

    first = segment(0, 0, speechlike(1.0, -20, seed=1), text="Hermione waved.")
    second = segment(1, 0, speechlike(1.0, -20, seed=2))
    # As the voice read it (a lexicon respelt the name); the last word runs past the end.
    first.words = lambda: [("Her-my-oh-nee", 0.1, 0.4), ("waved.", 0.5, 1.5)]
    chapter = assemble_chapter([first, second], tmp_path, "c", AudioSettings())
    entry = chapter_entry(ManifestChapter(1, "C", chapter))
    placed, plain = entry["segments"]
    start, end = placed["start_s"], placed["end_s"]
    assert placed["words"] == [
        ["Hermione", round(start + 0.1, 3), round(start + 0.4, 3)],
        ["waved.", round(start + 0.5, 3), end],
    ]
    assert "words" not in plain
