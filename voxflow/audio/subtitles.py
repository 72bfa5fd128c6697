"""WebVTT subtitles: one cue per segment, timed on the chapter's final timeline."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


def vtt_timestamp(seconds: float) -> str:
    """HH:MM:SS.mmm, as WebVTT requires (hours always present, so any length is valid)."""
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{ms:03d}"


def escape_cue_text(text: str) -> str:
    """Escape &, <, > (so '-->' and tags cannot appear); fold newlines (a blank line ends a cue)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(text.split())


def write_vtt(path: Path, cues: Iterable[tuple[float, float, str]]) -> Path:
    """Write `(start_s, end_s, text)` cues to `path` atomically; cue ids count from 1."""
    path = Path(path)
    part = path.with_name(path.name + ".part")
    with part.open("w", encoding="utf-8", newline="\n") as out:
        out.write("WEBVTT\n")
        for number, (start, end, text) in enumerate(cues, start=1):
            out.write(f"\n{number}\n{vtt_timestamp(start)} --> {vtt_timestamp(end)}\n")
            out.write(f"{escape_cue_text(text) or '&nbsp;'}\n")
    os.replace(part, path)
    return path
