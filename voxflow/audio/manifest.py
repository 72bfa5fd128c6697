"""`manifest.json`: the book's table of contents with every file, level and segment time.

Schema (version 2: segments may carry "words", which version 1 readers ignore); paths are
relative to the manifest's folder so an output folder can move:
{"schema_version": 2, "project": {"id", "title"}, "voice": {"model", "version"},
 "sample_rate", "format",
 "chapters": [{"index", "title", "audio_file", "subtitle_file", "duration_s",
               "loudness": {"lufs", "rms_db", "peak_db", "true_peak_db", "noise_floor_db",
                            "gain_db", "limited", "acx_passed", "acx_problems"},
               "segments": [{"index", "block_index", "text", "start_s", "end_s",
                             "words": [[word, start_s, end_s], ...] (voices that time words)}]}],
 "book": {"file", "duration_s", "chapter_starts_s"} | null}
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from voxflow import naming
from voxflow.audio.assemble import ChapterAudio, SegmentTime
from voxflow.audio.book import BookAudio

SCHEMA_VERSION = 2


def slugify(title: str, max_len: int = 60) -> str:
    """The artifact keys' slug; 'chapter' when nothing usable is left."""
    return naming.slugify(title, max_len, fallback="chapter")


chapter_basename = naming.chapter_basename  # one naming fact, in voxflow/naming.py


@dataclass
class ManifestChapter:
    index: int
    title: str
    audio: ChapterAudio


def _rel(path: Path, base: Path | None) -> str:
    path = Path(path)
    if base is None:
        return path.name
    try:
        return path.resolve().relative_to(Path(base).resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def _round(value: float, digits: int = 3) -> float | None:
    """JSON has no infinities: silence measures -inf LUFS, which becomes null."""
    return round(value, digits) if value == value and abs(value) != float("inf") else None


def _segment_entry(time: SegmentTime) -> dict:
    entry = {
        "index": time.index,
        "block_index": time.block_index,
        "text": time.text,
        "start_s": _round(time.start_s),
        "end_s": _round(time.end_s),
    }
    if time.words:
        entry["words"] = [[w, _round(a), _round(b)] for w, a, b in time.words]
    return entry


def chapter_entry(chapter: ManifestChapter, base_dir: Path | None = None) -> dict:
    """One chapter's manifest entry: its files, levels, ACX verdict and segment times."""
    audio = chapter.audio
    return {
        "index": chapter.index,
        "title": chapter.title,
        "audio_file": _rel(audio.audio_path, base_dir),
        "subtitle_file": _rel(audio.subtitle_path, base_dir),
        "duration_s": _round(audio.duration_s),
        "loudness": {
            "lufs": _round(audio.lufs, 2),
            "rms_db": _round(audio.rms_db, 2),
            "peak_db": _round(audio.peak_db, 2),
            "true_peak_db": _round(audio.acx.true_peak_db, 2),
            "noise_floor_db": _round(audio.noise_floor_db, 2),
            "gain_db": _round(audio.gain_db, 2),
            "limited": audio.limited,
            "acx_passed": audio.acx.passed,
            "acx_problems": list(audio.acx.problems),
        },
        "segments": [_segment_entry(t) for t in audio.segment_times],
    }


def book_manifest(
    *,
    project_id: str | int,
    title: str,
    voice_model: str,
    voice_version: str,
    sample_rate: int,
    entries: Sequence[dict],
    book: BookAudio | None = None,
    audio_format: str = "mp3",
    base_dir: Path | None = None,
) -> dict:
    """The manifest dict over chapter entries made earlier (each chapter keeps its own)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "project": {"id": project_id, "title": title},
        "voice": {"model": voice_model, "version": voice_version},
        "sample_rate": sample_rate,
        "format": audio_format,
        "chapters": list(entries),
        "book": None
        if book is None
        else {
            "file": _rel(book.path, base_dir),
            "duration_s": _round(book.duration_s),
            "chapter_starts_s": [_round(s) for s in book.chapter_starts_s],
        },
    }


def build_manifest(
    *,
    project_id: str | int,
    title: str,
    voice_model: str,
    voice_version: str,
    sample_rate: int,
    chapters: Sequence[ManifestChapter],
    book: BookAudio | None = None,
    audio_format: str = "mp3",
    base_dir: Path | None = None,
) -> dict:
    """The manifest of chapters measured in this process; paths relative to `base_dir`."""
    return book_manifest(
        project_id=project_id,
        title=title,
        voice_model=voice_model,
        voice_version=voice_version,
        sample_rate=sample_rate,
        entries=[chapter_entry(chapter, base_dir) for chapter in chapters],
        book=book,
        audio_format=audio_format,
        base_dir=base_dir,
    )


def write_manifest(path: Path, manifest: dict) -> Path:
    """Write the manifest as UTF-8 JSON atomically (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(part, path)
    return path
