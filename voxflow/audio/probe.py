"""ffprobe-backed facts about encoded files: duration, stream format, chapter markers."""

from __future__ import annotations

from pathlib import Path

from voxflow.audio.errors import AudioError
from voxflow.audio.tools import binary, ffprobe_json, run


def probe_duration(path: Path) -> float:
    """Playable duration in seconds. For MP3 the header figure counts the encoder delay and
    padding (~50 ms), so it is computed from the packets minus the gapless skip/padding."""
    info = ffprobe_json(path, "format", "streams")
    audio = [s for s in info.get("streams", []) if s.get("codec_type") == "audio"]
    if audio and audio[0].get("codec_name") == "mp3":
        return _gapless_duration(path, audio[0])
    return float(info["format"]["duration"])


def _gapless_duration(path: Path, stream: dict) -> float:
    """Sum of packet durations less the samples the decoder skips at the start and end."""
    args = [binary("ffprobe"), "-v", "error", "-select_streams", "a:0", "-of", "compact=p=0"]
    args += ["-show_entries", "packet=duration:packet_side_data=skip_samples,discard_padding"]
    out = run([*args, str(path)], f"ffprobe {path}").stdout.decode()
    ticks = 0
    trimmed = 0
    for line in out.splitlines():
        fields = dict(kv.split("=", 1) for kv in line.split("|") if "=" in kv)
        if fields.get("duration", "N/A") != "N/A":
            ticks += int(fields["duration"])
        trimmed += int(fields.get("skip_samples", 0) or 0)
        trimmed += int(fields.get("discard_padding", 0) or 0)
    num, den = (int(v) for v in stream["time_base"].split("/"))
    return ticks * num / den - trimmed / int(stream["sample_rate"])


def probe_audio_stream(path: Path) -> dict:
    """The first audio stream: codec_name, sample_rate (int), channels, bit_rate (int | None)."""
    info = ffprobe_json(path, "streams", "format")
    for stream in info.get("streams", []):
        if stream.get("codec_type") == "audio":
            bit_rate = stream.get("bit_rate") or info.get("format", {}).get("bit_rate")
            return {
                "codec_name": stream.get("codec_name"),
                "sample_rate": int(stream["sample_rate"]),
                "channels": int(stream.get("channels", 0)),
                "bit_rate": int(bit_rate) if bit_rate else None,
            }
    raise AudioError(f"{path} has no audio stream")


def probe_chapters(path: Path) -> list[dict]:
    """Chapter markers as [{'title', 'start_s', 'end_s'}] in file order (ffprobe)."""
    info = ffprobe_json(path, "chapters")
    return [
        {
            "title": chapter.get("tags", {}).get("title", ""),
            "start_s": float(chapter["start_time"]),
            "end_s": float(chapter["end_time"]),
        }
        for chapter in info.get("chapters", [])
    ]
