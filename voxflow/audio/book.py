"""The book-level M4B: chapter files concatenated by ffmpeg with FFMETADATA chapter markers."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from voxflow.audio.encode import BOOK_BITRATE, aac_args
from voxflow.audio.errors import AudioError
from voxflow.audio.probe import probe_duration
from voxflow.audio.tags import BookTags, cover_input, cover_output_args
from voxflow.audio.tools import binary, run


@dataclass
class BookAudio:
    path: Path
    duration_s: float
    chapter_starts_s: list[float]


def _meta_escape(value: str) -> str:
    """FFMETADATA1 needs '=', ';', '#', '\\' and newlines backslash-escaped."""
    out = value.replace("\\", "\\\\")
    for char in "=;#":
        out = out.replace(char, "\\" + char)
    return out.replace("\n", "\\\n")


def _concat_line(path: Path) -> str:
    quoted = str(Path(path).resolve()).replace("'", "'\\''")
    return f"file '{quoted}'\n"


def ffmetadata(tags: dict[str, str], chapters: list[tuple[str, float, float]]) -> str:
    """An FFMETADATA1 document: book tags then one [CHAPTER] per (title, start_s, end_s)."""
    lines = [";FFMETADATA1"]
    lines += [f"{name}={_meta_escape(value)}" for name, value in tags.items()]
    for name, start, end in chapters:
        lines += [
            "",
            "[CHAPTER]",
            "TIMEBASE=1/1000",
            f"START={round(start * 1000)}",
            f"END={round(end * 1000)}",
            f"title={_meta_escape(name)}",
        ]
    return "\n".join(lines) + "\n"


def build_m4b(
    chapters: list[tuple[str, Path]],
    out_path: Path,
    *,
    title: str,
    author: str | None = None,
    narrator: str | None = None,
    year: str | None = None,
    cover: Path | None = None,
    bitrate: str = BOOK_BITRATE,
    sample_rate: int | None = None,
    copy: bool = False,
) -> BookAudio:
    """Concatenate `(chapter title, audio file)` pairs into an AAC M4B; ffmpeg streams, no RAM.

    Tags are `BookTags(title, author, narrator, year).book()` (MP4 has no narrator atom: the
    voice goes in composer and comment); a JPEG/PNG `cover` becomes an attached picture.

    `sample_rate` (say the voice's own 22.05 kHz) makes the single-threaded AAC encode of the
    whole book about a quarter cheaper than at the chapters' 44.1 kHz, with nothing lost.
    `copy=True` takes chapters already in AAC (`encode_aac`) and only joins them: the slow
    encode then happens per chapter, while other chapters are still being synthesised.
    """
    if not chapters:
        raise AudioError("cannot build an M4B without chapters")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    starts: list[float] = []
    marks: list[tuple[str, float, float]] = []
    position = 0.0
    for name, path in chapters:
        duration = probe_duration(path)
        starts.append(position)
        marks.append((name, position, position + duration))
        position += duration
    part = out_path.with_name(out_path.name + ".part")
    with tempfile.TemporaryDirectory(prefix="voxflow-m4b-") as tmp:
        listing = Path(tmp) / "concat.txt"
        listing.write_text("".join(_concat_line(p) for _, p in chapters), encoding="utf-8")
        meta = Path(tmp) / "chapters.txt"
        tags = BookTags(title, author, narrator, year).book()
        meta.write_text(ffmetadata(tags, marks), encoding="utf-8")
        args = [binary("ffmpeg"), "-hide_banner", "-nostats", "-loglevel", "error", "-y"]
        args += ["-f", "concat", "-safe", "0", "-i", str(listing), "-i", str(meta)]
        args += [*cover_input(cover), *cover_output_args(2, "m4b")] if cover else ["-map", "0:a"]
        args += ["-map_metadata", "1", "-map_chapters", "1"]
        if copy:
            args += ["-c:a", "copy"]
        else:
            args += aac_args(sample_rate, bitrate)
        args += ["-movflags", "+faststart", "-f", "ipod"]
        try:
            run([*args, str(part)], f"building {out_path.name}")
        except AudioError:
            part.unlink(missing_ok=True)
            raise
    os.replace(part, out_path)
    return BookAudio(path=out_path, duration_s=probe_duration(out_path), chapter_starts_s=starts)


def encode_aac(
    source: Path, target: Path, *, sample_rate: int | None = None, bitrate: str = BOOK_BITRATE
) -> Path:
    """One encoded chapter as mono AAC (`.m4a`), ready for `build_m4b(..., copy=True)`.

    Chapter assembly writes this part in the same pass as the chapter; this is for a chapter
    whose audio was stored before its part was."""
    target = Path(target)
    part = target.with_name(target.name + ".part")
    args = [binary("ffmpeg"), "-hide_banner", "-nostats", "-loglevel", "error", "-y"]
    args += ["-i", str(source), "-map", "0:a", *aac_args(sample_rate, bitrate), "-f", "ipod"]
    try:
        run([*args, str(part)], f"encoding {target.name}")
    except AudioError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, target)
    return target
