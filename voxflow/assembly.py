"""Chapter and book assembly into the artifact store: what the assembly activities adapt.

A chapter leaves its audio, subtitles, an AAC part for the book and a JSON manifest entry beside
its audio, so the book step only joins parts and composes entries, measuring nothing again.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from voxflow import audio, naming
from voxflow.artifacts import ArtifactStore
from voxflow.registry import Voice


@dataclass
class StoredChapter:
    """Where a chapter's files went and what it measured."""

    audio_key: str
    subtitle_key: str
    duration_s: float
    lufs: float
    segment_times: list[audio.SegmentTime]


@dataclass
class StoredBook:
    book_key: str
    manifest_key: str
    duration_s: float


def store_chapter(
    store: ArtifactStore,
    segments: Iterable[audio.SegmentAudio],
    *,
    project_id: int,
    index: int,
    title: str,
    voice: Voice,
    output_format: str,
) -> StoredChapter:
    """Assemble the chapter, then store its audio, subtitles, AAC book part and manifest entry."""
    settings = audio.AudioSettings(format=output_format)
    with tempfile.TemporaryDirectory(prefix="voxflow-chapter-") as tmp:
        result = audio.assemble_chapter(
            segments, Path(tmp), naming.chapter_basename(index, title), settings, title=title
        )
        audio_key = naming.chapter_key(project_id, result.audio_path.name)
        subtitle_key = naming.chapter_key(project_id, result.subtitle_path.name)
        part_key = naming.chapter_part_key(audio_key)
        store.put_file(audio_key, result.audio_path)
        store.put_file(subtitle_key, result.subtitle_path)
        # The book's AAC is encoded here, chapter by chapter, while others still synthesise.
        part = audio.encode_aac(
            result.audio_path, Path(tmp) / Path(part_key).name, sample_rate=voice.sample_rate
        )
        store.put_file(part_key, part)
        entry = audio.chapter_entry(audio.ManifestChapter(index, title, result))
        store.put(naming.chapter_entry_key(audio_key), json.dumps(entry).encode())
    return StoredChapter(
        audio_key, subtitle_key, result.duration_s, result.lufs, list(result.segment_times)
    )


def store_book(
    store: ArtifactStore,
    chapters: list[tuple[str, str]],
    *,
    project_id: int,
    title: str,
    voice: Voice,
    output_format: str,
) -> StoredBook:
    """Join the stored chapters' AAC parts, `(title, audio_key)` each, into the M4B and manifest."""
    entries = [json.loads(store.get(naming.chapter_entry_key(key))) for _, key in chapters]
    with tempfile.TemporaryDirectory(prefix="voxflow-book-") as tmp:
        parts = []
        for chapter_title, key in chapters:
            part_key = naming.chapter_part_key(key)
            path = Path(tmp) / Path(part_key).name
            with store.open(part_key) as source, path.open("wb") as target:
                shutil.copyfileobj(source, target)
            parts.append((chapter_title, path))
        book_key = naming.book_key(project_id, title)
        book = audio.build_m4b(parts, Path(tmp) / Path(book_key).name, title=title, copy=True)
        store.put_file(book_key, book.path)
    manifest = audio.book_manifest(
        project_id=project_id,
        title=title,
        voice_model=voice.name,
        voice_version=voice.version,
        sample_rate=audio.AudioSettings(format=output_format).encoded_rate(voice.sample_rate),
        entries=entries,
        book=book,
        audio_format=output_format,
    )
    manifest_key = naming.manifest_key(project_id)
    store.put(manifest_key, json.dumps(manifest, indent=2, ensure_ascii=False).encode())
    return StoredBook(book_key, manifest_key, book.duration_s)
