"""WebVTT output: one cue per segment, ordered timestamps, escaped text, parseable."""

from __future__ import annotations

import re

from tests.unit.test_audio_synth import segment, tone
from voxflow.audio import AudioSettings, assemble_chapter, write_vtt
from voxflow.audio.subtitles import vtt_timestamp

CUE = re.compile(
    r"(?P<id>\d+)\n(?P<start>\d{2}:\d{2}:\d{2}\.\d{3}) --> (?P<end>\d{2}:\d{2}:\d{2}\.\d{3})\n"
    r"(?P<text>[^\n]+)\n"
)


def _seconds(stamp: str) -> float:
    h, m, s = stamp.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def parse_vtt(text: str) -> list[dict]:
    """A strict little parser: header, then blank-line-separated cues, nothing else."""
    assert text.startswith("WEBVTT\n")
    blocks = text[len("WEBVTT\n") :].strip("\n").split("\n\n")
    cues = []
    for block in blocks:
        match = CUE.fullmatch(block + "\n")
        assert match, f"malformed cue: {block!r}"
        cues.append(match.groupdict())
    return cues


def test_chapter_vtt_has_one_ordered_cue_per_segment(tmp_path):
    texts = ["Fish & chips.", "a < b > c", "Line one\nline two.\n\nAfter a blank line --> here."]
    segments = [segment(i, i, tone(0.4), text=t) for i, t in enumerate(texts)]
    chapter = assemble_chapter(segments, tmp_path, "01-c", AudioSettings(format="wav"))
    assert chapter.subtitle_path == tmp_path / "01-c.vtt"
    cues = parse_vtt(chapter.subtitle_path.read_text(encoding="utf-8"))
    assert len(cues) == 3
    assert [c["id"] for c in cues] == ["1", "2", "3"]
    ends = 0.0
    for cue, time in zip(cues, chapter.segment_times, strict=True):
        start, end = _seconds(cue["start"]), _seconds(cue["end"])
        assert ends <= start < end
        assert abs(start - time.start_s) <= 0.0005 and abs(end - time.end_s) <= 0.0005
        ends = end
    assert cues[0]["text"] == "Fish &amp; chips."
    assert cues[1]["text"] == "a &lt; b &gt; c"
    assert cues[2]["text"] == "Line one line two. After a blank line --&gt; here."


def test_timestamps_cover_hours():
    assert vtt_timestamp(0) == "00:00:00.000"
    assert vtt_timestamp(3723.4567) == "01:02:03.457"


def test_write_vtt_standalone(tmp_path):
    path = write_vtt(tmp_path / "x.vtt", [(0.0, 1.0, "Hi"), (1.5, 2.0, "")])
    cues = parse_vtt(path.read_text(encoding="utf-8"))
    assert [c["text"] for c in cues] == ["Hi", "&nbsp;"]
