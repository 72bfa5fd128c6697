"""Chapter and book assembly into the artifact store: what the assembly activities adapt.

A chapter leaves its audio, subtitles, an AAC part for the book and a JSON manifest entry beside
its audio, so the book step only joins parts and composes entries, measuring nothing again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from voxflow import audio, naming
from voxflow.artifacts import ArtifactNotFound, ArtifactStore
from voxflow.artifacts.transfer import download
from voxflow.audio.tags import BookTags
from voxflow.cover import Cover, as_cover
from voxflow.publishing import build_read_along_epub
from voxflow.publishing.acx import acx_report_html
from voxflow.registry import Voice

log = logging.getLogger("voxflow.assembly")
# Raise when the audio pipeline changes what it makes: stored chapters are then made again.
ASSEMBLY_VERSION = 4  # 3: chapter files carry tags and the cover; 4: word times


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
    read_along_key: str | None = None


def narrator(voice: Voice) -> str:
    """How the files name the voice that reads them: "Voxflow voice joe 1.0"."""
    return f"Voxflow voice {voice.name} {voice.version}"


def chapter_tags(
    book_title: str,
    chapter_title: str,
    index: int,
    count: int,
    *,
    voice: Voice,
    author: str | None = None,
    year: str | None = None,
) -> dict[str, str]:
    """The tags of chapter `index` of `count` (see `BookTags.chapter`)."""
    book = BookTags(book_title, author, narrator(voice), year)
    return book.chapter(chapter_title, index, count)


def load_cover(store: ArtifactStore, key: str | None) -> Cover | None:
    """The project's stored cover, or None when it has none (or it is no longer usable)."""
    return as_cover(store.get(key)) if key else None


def chapter_inputs(
    segments: Iterable[tuple[int, int, str, str]],
    *,
    title: str,
    output_format: str,
    voice: Voice,
    tags: dict[str, str] | None = None,
    cover: Cover | None = None,
) -> str:
    """A digest of all that shapes a chapter's files: `(index, block, text, audio key)` rows,
    the title, format, voice, audio settings, tags and cover. Stored files with the same digest
    are reused."""
    digest = hashlib.sha256()
    settings = dataclasses.asdict(audio.AudioSettings(format=output_format))
    picture = hashlib.sha256(cover.data).hexdigest() if cover else None
    head = [ASSEMBLY_VERSION, title, voice.name, voice.version, voice.sample_rate, settings]
    head += [tags or {}, picture]
    digest.update(json.dumps(head, sort_keys=True).encode())
    for row in segments:
        digest.update(json.dumps(list(row), ensure_ascii=False).encode())
    return digest.hexdigest()


def store_chapter(
    store: ArtifactStore,
    segments: Iterable[audio.SegmentAudio],
    *,
    project_id: int,
    index: int,
    title: str,
    voice: Voice,
    output_format: str,
    inputs: str,
    tags: dict[str, str] | None = None,
    cover: Cover | None = None,
) -> StoredChapter:
    """Assemble the chapter, then store its audio, subtitles, manifest entry and AAC book part.

    `tags` and `cover` go into the chapter file; both must be in the digest `inputs`.

    Resumable: once audio, subtitles, AAC part and entry are stored, a marker records their
    `inputs`; a retry after a crash (before the database heard of it) reuses them, and makes the
    part again only if it is missing.
    """
    audio_key = naming.chapter_file_key(project_id, index, title, output_format)
    subtitle_key = naming.chapter_file_key(project_id, index, title, "vtt")
    part_key = naming.chapter_part_key(audio_key)
    marker_key = naming.chapter_marker_key(audio_key)
    entry = _stored_entry(store, audio_key, marker_key, inputs)
    with tempfile.TemporaryDirectory(prefix="voxflow-chapter-") as tmp:
        if entry is None:
            # The files below are about to stop matching the old marker: void it first (an
            # overwrite, not a delete: the worker's IAM policy grants no OBJECT_DELETE).
            store.put(marker_key, json.dumps({"inputs": None}).encode())
            settings = audio.AudioSettings(format=output_format)
            # The book's AAC part comes from the same pass, chapter by chapter, while other
            # chapters still synthesise.
            result = audio.assemble_chapter(
                segments,
                Path(tmp),
                naming.chapter_basename(index, title),
                settings,
                title=title,
                book_part=Path(tmp) / Path(part_key).name,
                tags=tags,
                cover=cover.write(Path(tmp)) if cover else None,
            )
            store.put_file(audio_key, result.audio_path)
            store.put_file(subtitle_key, result.subtitle_path)
            store.put_file(part_key, result.book_part_path)
            entry = audio.chapter_entry(audio.ManifestChapter(index, title, result))
            store.put(naming.chapter_entry_key(audio_key), json.dumps(entry).encode())
            store.put(marker_key, json.dumps({"inputs": inputs}).encode())
        else:
            log.info("chapter %d: audio for these inputs is stored already; reusing it", index)
            if not store.exists(part_key):
                local_audio = download(store, audio_key, Path(tmp) / Path(audio_key).name)
                part = audio.encode_aac(
                    local_audio, Path(tmp) / Path(part_key).name, sample_rate=voice.sample_rate
                )
                store.put_file(part_key, part)
    times = [
        audio.SegmentTime(t["index"], t["start_s"], t["end_s"], t["block_index"], t["text"])
        for t in entry["segments"]
    ]
    return StoredChapter(
        audio_key, subtitle_key, entry["duration_s"], entry["loudness"]["lufs"], times
    )


def _stored_entry(
    store: ArtifactStore, audio_key: str, marker_key: str, inputs: str
) -> dict | None:
    """The stored chapter's manifest entry if its files were made from these inputs."""
    try:
        marker = json.loads(store.get(marker_key))
        if marker.get("inputs") != inputs or not store.exists(audio_key):
            return None
        return json.loads(store.get(naming.chapter_entry_key(audio_key)))
    except (ArtifactNotFound, ValueError):
        return None


def store_book(
    store: ArtifactStore,
    chapters: list[tuple[str, str]],
    *,
    project_id: int,
    title: str,
    voice: Voice,
    output_format: str,
    author: str | None = None,
    year: str | None = None,
    cover: Cover | None = None,
    language: str | None = None,
    source_epub: bytes | None = None,
) -> StoredBook:
    """Join the stored chapters' AAC parts, `(title, audio_key)` each, into the M4B and manifest;
    the M4B is tagged with the book's metadata and the voice, and carries the cover. The same
    parts make the read-along EPUB 3 (`read_along`; from `source_epub`'s own pages when the
    book came as an EPUB), which a failure leaves out, with a log."""
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
        book = audio.build_m4b(
            parts,
            Path(tmp) / Path(book_key).name,
            title=title,
            author=author,
            narrator=narrator(voice),
            year=year,
            cover=cover.write(Path(tmp)) if cover else None,
            copy=True,
        )
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
        chapter_audio = {e["index"]: path for e, (_, path) in zip(entries, parts, strict=True)}
        read_along_key = _store_read_along(
            store,
            manifest,
            chapter_audio,
            Path(tmp),
            language=language,
            author=author,
            source_epub=source_epub,
        )
    manifest["read_along"] = {"file": Path(read_along_key).name} if read_along_key else None
    store.put(naming.acx_report_key(project_id), acx_report_html(manifest).encode())
    manifest_key = naming.manifest_key(project_id)
    store.put(manifest_key, json.dumps(manifest, indent=2, ensure_ascii=False).encode())
    return StoredBook(book_key, manifest_key, book.duration_s, read_along_key)


def _store_read_along(
    store: ArtifactStore,
    manifest: dict,
    chapter_audio: dict[int, Path],
    tmp: Path,
    *,
    language: str | None,
    author: str | None,
    source_epub: bytes | None,
) -> str | None:
    """The read-along EPUB 3 (text, media overlays, the chapters' AAC parts), stored; its key."""
    title = manifest["project"]["title"]
    key = naming.book_key(manifest["project"]["id"], title, "epub")
    try:
        epub = build_read_along_epub(
            manifest,
            chapter_audio,
            tmp / Path(key).name,
            title=title,
            language=language or "en",
            author=author,
            source_epub=source_epub,
        )
    except ValueError as error:
        log.error("no read-along EPUB for %r: %s", title, error)
        return None
    store.put_file(key, epub)
    return key
