"""The read-along book as the EPUB writers see it, read and checked from a manifest.json dict."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

from voxflow.publishing.layout import AUDIO_MEDIA_TYPES

# Characters XML 1.0 forbids (C0 controls but tab/LF/CR, surrogates, U+FFFE/U+FFFF): lxml would
# refuse them, and a reading system would refuse the file.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# The manifest rounds times to milliseconds; allow that much disagreement between them.
TOLERANCE_S = 0.0015


def xml_text(text: str) -> str:
    """`text` without the characters XML cannot hold (escaping is lxml's job)."""
    return _NOT_XML.sub("", text)


@dataclass(frozen=True)
class Sentence:
    index: int
    block_index: int
    text: str
    clip_begin_s: float
    clip_end_s: float


@dataclass(frozen=True)
class Chapter:
    index: int
    title: str
    duration_s: float
    audio_path: Path
    sentences: tuple[Sentence, ...]

    @property
    def audio_media_type(self) -> str:
        return AUDIO_MEDIA_TYPES[self.audio_path.suffix.lower()]

    def paragraphs(self) -> list[list[Sentence]]:
        """The sentences grouped by block (paragraph), in reading order."""
        return [list(group) for _, group in groupby(self.sentences, key=lambda s: s.block_index)]


def book_identifier(manifest: Mapping) -> str:
    """A urn:uuid that stays the same for the same project and title across rebuilds."""
    project = manifest["project"]
    name = f"voxflow:project:{project['id']}:{project['title']}"
    return uuid.uuid5(uuid.NAMESPACE_URL, name).urn


def read_chapters(manifest: Mapping, chapter_audio: Mapping[int, Path]) -> list[Chapter]:
    """Every manifest chapter with its audio file, or ValueError naming what does not fit."""
    entries = manifest["chapters"]
    if not entries:
        raise ValueError("the manifest has no chapters: there is nothing to read along")
    missing = [entry["index"] for entry in entries if entry["index"] not in chapter_audio]
    if missing:
        raise ValueError(f"no audio file given for chapter(s) {missing}")
    return [_read_chapter(entry, Path(chapter_audio[entry["index"]])) for entry in entries]


def _read_chapter(entry: Mapping, audio_path: Path) -> Chapter:
    index = entry["index"]
    if audio_path.suffix.lower() not in AUDIO_MEDIA_TYPES:
        raise ValueError(
            f"chapter {index}: {audio_path.name} is not an EPUB 3 core audio type; pass the MP3 "
            f"or the AAC part (.m4a) ({', '.join(sorted(AUDIO_MEDIA_TYPES))})"
        )
    if not audio_path.is_file():
        raise ValueError(f"chapter {index}: audio file {audio_path} does not exist")
    segments = sorted(entry["segments"], key=lambda s: s["index"])
    if not segments:
        raise ValueError(f"chapter {index} has no segments: there is nothing to read along")
    duration = float(entry["duration_s"])
    title = xml_text(entry["title"]).strip() or f"Chapter {index}"
    return Chapter(index, title, duration, audio_path, _sentences(index, segments, duration))


def _sentences(chapter: int, segments: list[Mapping], duration_s: float) -> tuple[Sentence, ...]:
    """Clips that tile the speech: each runs from its sentence's start to the next one's, so a
    player going par by par keeps the pauses; the last ends where its sentence ends."""
    _check_times(chapter, segments, duration_s)
    sentences = []
    for position, segment in enumerate(segments):
        following = segments[position + 1 : position + 2]
        end = following[0]["start_s"] if following else segment["end_s"]
        sentences.append(
            Sentence(
                index=segment["index"],
                block_index=segment["block_index"],
                text=xml_text(segment["text"]),
                clip_begin_s=float(segment["start_s"]),
                clip_end_s=min(float(end), duration_s),
            )
        )
    return tuple(sentences)


def _check_times(chapter: int, segments: list[Mapping], duration_s: float) -> None:
    """Times must be ordered, non-empty and inside the audio: a reader would misplay them."""
    previous_end = 0.0
    for segment in segments:
        start, end = segment["start_s"], segment["end_s"]
        if start is None or end is None or not start < end:
            raise ValueError(
                f"chapter {chapter} segment {segment['index']}: bad times {start}…{end}"
            )
        if start < previous_end - TOLERANCE_S or end > duration_s + TOLERANCE_S:
            raise ValueError(
                f"chapter {chapter} segment {segment['index']}: {start}…{end} overlaps the "
                f"previous sentence or runs past the chapter's {duration_s} s"
            )
        previous_end = end
