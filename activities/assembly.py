"""Assemble a chapter's segments into its audio file, and the chapters into the book.

Both run in the worker's thread pool (CPU and ffmpeg work) and heartbeat while they work.
Each chapter leaves a JSON entry (levels and segment times) beside its audio, so the book
step composes `manifest.json` without measuring anything again.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO

from temporalio import activity

from activities.resources import Resources
from voxflow import audio
from voxflow.artifacts import ArtifactStore, keys
from voxflow.contracts import AssembleInput, BookInput, BookResult, ChapterResult, JobTotals
from voxflow.db import repository, session_scope
from voxflow.db.models import Chapter, ChapterState, ProjectState

PAGE = 2000


class AssemblyActivities:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources

    @activity.defn
    def assemble_chapter(self, input: AssembleInput) -> ChapterResult:
        engine, store = self.resources.engine, self.resources.store
        with session_scope(engine) as session:
            chapter = session.get(Chapter, input.chapter_id)
            project = repository.get_project(session, input.project_id)
            index, title, voice_name = chapter.index, chapter.title, project.voice
        voice = self.resources.registry.get(voice_name)
        settings = audio.AudioSettings(format=input.output_format)
        with tempfile.TemporaryDirectory(prefix="voxflow-chapter-") as tmp:
            result = audio.assemble_chapter(
                self._segments(input.chapter_id),
                Path(tmp),
                audio.chapter_basename(index, title),
                settings,
                title=title,
            )
            entry = audio.build_manifest(
                project_id=input.project_id,
                title=project.title,
                voice_model=voice.name,
                voice_version=voice.version,
                sample_rate=result.sample_rate,
                chapters=[audio.ManifestChapter(index, title, result)],
                audio_format=input.output_format,
            )["chapters"][0]
            audio_key = keys.chapter_key(input.project_id, result.audio_path.name)
            subtitle_key = keys.chapter_key(input.project_id, result.subtitle_path.name)
            store.put_file(audio_key, result.audio_path)
            store.put_file(subtitle_key, result.subtitle_path)
            # The book's AAC is encoded here, chapter by chapter, while others still synthesise;
            # the book step then only joins the parts.
            book_part = audio.encode_aac(
                result.audio_path,
                Path(tmp) / Path(keys.chapter_part_key(audio_key)).name,
                sample_rate=voice.sample_rate,
            )
            store.put_file(keys.chapter_part_key(audio_key), book_part)
            store.put(keys.chapter_entry_key(audio_key), json.dumps(entry).encode())
        with session_scope(engine) as session:
            repository.set_segment_times(
                session,
                input.chapter_id,
                [(t.index, t.start_s, t.end_s) for t in result.segment_times],
            )
            repository.set_chapter_state(
                session,
                input.project_id,
                index,
                ChapterState.done,
                audio_key=audio_key,
                subtitle_key=subtitle_key,
                duration_s=result.duration_s,
                lufs=result.lufs,
            )
        return ChapterResult(index, JobTotals(), result.duration_s, audio_key)

    def _segments(self, chapter_id: int) -> Iterator[audio.SegmentAudio]:
        """Page through the chapter so a 60,000-segment book never sits in memory at once."""
        store, offset = self.resources.store, 0
        while True:
            with session_scope(self.resources.engine) as session:
                rows = repository.list_segments(session, chapter_id, offset=offset, limit=PAGE)
                page = [(r.index, r.block_index, r.text, r.audio_key) for r in rows]
            if not page:
                return
            for index, block_index, text, key in page:
                yield audio.SegmentAudio(index, block_index, text, _opener(store, key))
            offset += len(page)
            activity.heartbeat(offset)

    @activity.defn
    def build_book(self, input: BookInput) -> BookResult:
        """The M4B of every finished chapter, and manifest.json describing all files."""
        engine, store = self.resources.engine, self.resources.store
        with session_scope(engine) as session:
            project = repository.get_project(session, input.project_id)
            chapters = [
                (c.title, c.audio_key)
                for c in repository.list_chapters(session, input.project_id)
                if c.state == ChapterState.done and c.audio_key
            ]
            title, voice_name, fmt = project.title, project.voice, project.output_format
        voice = self.resources.registry.get(voice_name)
        entries = [json.loads(store.get(keys.chapter_entry_key(key))) for _, key in chapters]
        with tempfile.TemporaryDirectory(prefix="voxflow-book-") as tmp:
            local = []
            for chapter_title, key in chapters:
                source_key = keys.chapter_part_key(key)  # the AAC part made in assemble_chapter
                path = Path(tmp) / Path(source_key).name
                with store.open(source_key) as source, path.open("wb") as target:
                    shutil.copyfileobj(source, target)
                local.append((chapter_title, path))
                activity.heartbeat(len(local))
            book_key = keys.book_key(input.project_id, title)
            book = audio.build_m4b(
                local,
                Path(tmp) / Path(book_key).name,
                title=title,
                copy=True,
            )
            store.put_file(book_key, book.path)
            manifest = audio.build_manifest(
                project_id=input.project_id,
                title=title,
                voice_model=voice.name,
                voice_version=voice.version,
                sample_rate=sample_rate_of(fmt, voice.sample_rate),
                chapters=[],
                book=book,
                audio_format=fmt,
            )
            manifest["chapters"] = entries
            manifest_key = keys.manifest_key(input.project_id)
            store.put(manifest_key, json.dumps(manifest, indent=2, ensure_ascii=False).encode())
        with session_scope(engine) as session:
            repository.set_project_state(
                session,
                input.project_id,
                ProjectState.building,
                duration_s=book.duration_s,
                book_key=book_key,
                manifest_key=manifest_key,
            )
        return BookResult(book_key, manifest_key, book.duration_s)


def sample_rate_of(output_format: str, voice_rate: int) -> int:
    return audio.AudioSettings(format=output_format).encoded_rate(voice_rate)


def _opener(store: ArtifactStore, key: str) -> Callable[[], AbstractContextManager[BinaryIO]]:
    return lambda: store.open(key)
