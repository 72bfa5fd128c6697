"""Audio kernel: chapter assembly (pauses, loudness, encode, subtitles) and book outputs."""

from voxflow.audio.acx import AcxReport, check_acx
from voxflow.audio.assemble import (
    AudioSettings,
    ChapterAudio,
    SegmentAudio,
    SegmentTime,
    assemble_chapter,
    measure_file,
)
from voxflow.audio.book import BookAudio, build_m4b, encode_aac
from voxflow.audio.errors import AudioError
from voxflow.audio.loudness import LevelMeter, Levels
from voxflow.audio.manifest import (
    ManifestChapter,
    book_manifest,
    build_manifest,
    chapter_basename,
    chapter_entry,
    slugify,
    write_manifest,
)
from voxflow.audio.probe import probe_audio_stream, probe_chapters, probe_duration
from voxflow.audio.subtitles import write_vtt

__all__ = [
    "AcxReport",
    "AudioError",
    "AudioSettings",
    "BookAudio",
    "ChapterAudio",
    "LevelMeter",
    "Levels",
    "ManifestChapter",
    "SegmentAudio",
    "SegmentTime",
    "assemble_chapter",
    "book_manifest",
    "build_m4b",
    "build_manifest",
    "chapter_basename",
    "chapter_entry",
    "check_acx",
    "encode_aac",
    "measure_file",
    "probe_audio_stream",
    "probe_chapters",
    "probe_duration",
    "slugify",
    "write_manifest",
    "write_vtt",
]
