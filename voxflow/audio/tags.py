"""What the audiobook's files say about the book: one tag list for the M4B and the chapters.

The M4B takes `BookTags.book()` through FFMETADATA; a chapter file takes `BookTags.chapter()`
as `-metadata` arguments (ID3v2.3 for MP3). MP4 and ID3 have no narrator field, so the voice
goes in `composer` (MP4 ©wrt, ID3 TCOM) and, spelled out, in `comment` (©cmt, COMM), the two
places audiobook players show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

GENRE = "Audiobook"
ID3_ARGS = ["-id3v2_version", "3"]  # ID3v2.3: what most players and car stereos read
# The APIC picture type comes from the image stream's comment; this one is type 3, front cover.
_APIC_TAGS = ["-metadata:s:v", "title=Cover", "-metadata:s:v", "comment=Cover (front)"]
COVER_FORMATS = ("mp3",)  # chapter formats that carry a cover; ffmpeg 5.1 muxes none in OGG/WAV


@dataclass(frozen=True)
class BookTags:
    """The book's tags; `narrator` names the voice, e.g. "Voxflow voice joe 1.0"."""

    title: str
    author: str | None = None
    narrator: str | None = None
    year: str | None = None

    def book(self) -> dict[str, str]:
        """Tags of the whole book, in the order they are written."""
        tags = {"title": self.title, "album": self.title}
        if self.author:
            tags |= {"artist": self.author, "album_artist": self.author}
        if self.narrator:
            tags |= {"composer": self.narrator, "comment": f"Narrated by {self.narrator}"}
        if self.year:
            tags["date"] = self.year
        tags["genre"] = GENRE
        return tags

    def chapter(self, title: str, index: int, count: int) -> dict[str, str]:
        """Tags of chapter `index` of `count`: the book's, with its own title and track n/N."""
        return self.book() | {"title": title, "track": f"{index}/{count}"}


def metadata_args(tags: dict[str, str]) -> list[str]:
    """ffmpeg output arguments that write `tags` as the file's global metadata."""
    return [arg for name, value in tags.items() for arg in ("-metadata", f"{name}={value}")]


def cover_input(cover: Path) -> list[str]:
    """ffmpeg input arguments that read the cover image."""
    return ["-i", str(cover)]


def cover_output_args(input_index: int, fmt: str) -> list[str]:
    """ffmpeg output arguments that map input 0's audio and the cover at `input_index` as an
    attached picture, copied as it is (JPEG or PNG)."""
    args = ["-map", "0:a", "-map", f"{input_index}:v", "-c:v", "copy"]
    args += ["-disposition:v", "attached_pic"]
    return args + (_APIC_TAGS if fmt == "mp3" else [])


def chapter_tag_args(
    fmt: str, tags: dict[str, str] | None, cover: Path | None
) -> tuple[list[str], list[str]]:
    """(extra inputs, output arguments) that tag a chapter file fed on input 0; the cover only
    where the format carries one (`COVER_FORMATS`)."""
    args = metadata_args(tags or {}) + (ID3_ARGS if fmt == "mp3" else [])
    if cover is None or fmt not in COVER_FORMATS:
        return [], args
    return cover_input(cover), args + cover_output_args(1, fmt)
