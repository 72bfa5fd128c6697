"""Chapter assembly: segment WAVs → one normalised, encoded chapter with timings and subtitles.

Pass 1 streams every segment into a temporary 16-bit WAV (the `wave` module), writing digital
silence for head room tone, pauses and tail room tone, while a streaming meter measures it.
Pass 2 applies one gain (plus a look-ahead limiter only when peaks would otherwise cap the gain),
adds room-tone noise at `room_tone_db`, and pipes float32 into ffmpeg, which writes the chapter
and, when asked, the book's AAC part from that one stream. For MP3 and WAV the ACX report
measures that stream as it is encoded, once; their decoded files measure no louder in peak
(tests check). An OGG chapter is decoded and measured again (`measure_file`), because Vorbis
raises peaks.

Timeline (all in seconds of the final file, which ffmpeg resampling does not change):
  [head room tone][seg 0][pause][seg 1][pause]...[seg n-1][tail room tone]
The pause after a segment is `sentence_pause_s` when the next segment has the same block_index,
else `paragraph_pause_s`. Each SegmentTime spans exactly its segment's own samples, so
start[0] = head, start[i+1] = end[i] + pause, duration = end[n-1] + tail. Pauses are added on top
of whatever silence the voice put inside a segment's WAV.
"""

from __future__ import annotations

import tempfile
import wave
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from voxflow.audio.acx import AcxReport, check_acx
from voxflow.audio.encode import (
    FORMATS,
    MEASURED_AS_ENCODED,
    Encoder,
    Output,
    aac_args,
    decode,
    encoder_args,
)
from voxflow.audio.errors import AudioError
from voxflow.audio.limiter import GainPlan, calibrate, plan_gain, process
from voxflow.audio.loudness import LevelMeter, Levels
from voxflow.audio.probe import probe_audio_stream
from voxflow.audio.subtitles import write_vtt
from voxflow.audio.tags import chapter_tag_args
from voxflow.audio.wavio import FULL_SCALE, WavSink, iter_int16, open_wav, read_format

WordTimes = list[tuple[str, float, float]]  # (word, start_s, end_s)


@dataclass
class AudioSettings:
    """How a chapter sounds; the defaults meet ACX (RMS −23…−18, peak ≤ −3, floor ≤ −60 dB)."""

    sentence_pause_s: float = 0.35
    paragraph_pause_s: float = 0.9
    head_room_tone_s: float = 0.75
    tail_room_tone_s: float = 2.0
    target_rms_db: float = -20.0
    peak_ceiling_db: float = -3.0
    # Low noise rather than digital silence: ACX rejects dead air, and -70 dBFS keeps a 10 dB
    # margin under the -60 dB noise-floor limit after MP3 encoding. None writes digital silence.
    room_tone_db: float | None = -70.0
    format: str = "mp3"
    mp3_bitrate: str = "192k"
    output_sample_rate: int = 44100  # MP3 only; WAV and OGG keep the voice's rate

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise AudioError(f"unknown audio format {self.format!r}: use {', '.join(FORMATS)}")
        for name in (
            "sentence_pause_s",
            "paragraph_pause_s",
            "head_room_tone_s",
            "tail_room_tone_s",
        ):
            if getattr(self, name) < 0:
                raise AudioError(f"{name} must not be negative")

    def encoded_rate(self, voice_rate: int) -> int:
        return self.output_sample_rate if self.format == "mp3" else voice_rate


@dataclass
class SegmentAudio:
    """One synthesised sentence; `open()` yields a 16-bit PCM mono WAV file object, `words()`
    its words' times within it (None when the voice gave none)."""

    index: int
    block_index: int
    text: str
    open: Callable[[], AbstractContextManager[BinaryIO]]
    words: Callable[[], WordTimes | None] | None = None


@dataclass(slots=True)
class SegmentTime:
    index: int
    start_s: float
    end_s: float
    block_index: int = 0
    text: str = ""
    words: WordTimes | None = None  # in the chapter's time, like start_s and end_s


@dataclass
class ChapterAudio:
    """Levels of what was encoded (see `AcxReport`); `gain_db` is what pass 2 applied, planned
    from `source_levels` (RMS and peaks only)."""

    audio_path: Path
    subtitle_path: Path
    duration_s: float
    sample_rate: int
    rms_db: float
    peak_db: float
    lufs: float
    gain_db: float
    noise_floor_db: float
    segment_times: list[SegmentTime]
    acx: AcxReport
    limited: bool = False
    timeline_sample_rate: int = 0
    source_levels: Levels | None = field(default=None, repr=False)
    book_part_path: Path | None = None


@dataclass
class _Timeline:
    sample_rate: int
    frames: int
    times: list[SegmentTime]
    levels: Levels


def _placed(segment: SegmentAudio, start_s: float, end_s: float) -> WordTimes | None:
    """The segment's word times moved to where it sits in the chapter, kept inside it, and
    named by the segment's own words when they pair one to one (a lexicon respelling changes
    what the voice was given, not the text shown)."""
    words = segment.words() if segment.words is not None else None
    if not words:
        return None
    shown = segment.text.split()
    if len(shown) == len(words):
        words = [(w, a, b) for w, (_, a, b) in zip(shown, words, strict=True)]
    return [(w, min(end_s, start_s + a), min(end_s, start_s + b)) for w, a, b in words]


def _silence(sink: WavSink, meter: LevelMeter, seconds: float) -> None:
    frames = round(seconds * sink.sample_rate)
    sink.write_silence(frames)
    meter.feed(np.zeros(frames))


def _pass_one(segments: Iterable[SegmentAudio], raw: Path, settings: AudioSettings) -> _Timeline:
    """Concatenate segments with pauses into `raw`, recording times and measuring levels."""
    sink: WavSink | None = None
    meter: LevelMeter | None = None
    first: SegmentAudio | None = None
    previous: SegmentAudio | None = None
    times: list[SegmentTime] = []
    try:
        for segment in segments:
            label = f"segment {segment.index}"
            if previous is not None and segment.index <= previous.index:
                raise AudioError(
                    f"{label} comes after segment {previous.index}: segments must be in order"
                )
            with segment.open() as fileobj:
                reader = open_wav(fileobj, label)
                fmt = read_format(reader, label)
                if sink is None or meter is None or first is None:
                    first = segment
                    sink = WavSink(raw, fmt.sample_rate)
                    meter = LevelMeter(fmt.sample_rate, full=False)
                    _silence(sink, meter, settings.head_room_tone_s)
                else:
                    if fmt.sample_rate != sink.sample_rate:
                        raise AudioError(
                            f"{label} is {fmt.sample_rate} Hz but segment {first.index} is "
                            f"{sink.sample_rate} Hz: a chapter's segments must share one voice's "
                            "sample rate"
                        )
                    same_block = segment.block_index == previous.block_index
                    pause = settings.sentence_pause_s if same_block else settings.paragraph_pause_s
                    _silence(sink, meter, pause)
                start = sink.frames
                for chunk in iter_int16(reader):
                    sink.write(chunk)
                    meter.feed(chunk / FULL_SCALE)
                rate = sink.sample_rate
                start_s, end_s = start / rate, sink.frames / rate
                times.append(
                    SegmentTime(
                        segment.index,
                        start_s,
                        end_s,
                        segment.block_index,
                        segment.text,
                        _placed(segment, start_s, end_s),
                    )
                )
            previous = segment
        if sink is None or meter is None:
            raise AudioError("cannot assemble a chapter from an empty list of segments")
        _silence(sink, meter, settings.tail_room_tone_s)
    finally:
        if sink is not None:
            sink.close()
    return _Timeline(sink.sample_rate, sink.frames, times, meter.result())


def _encode(
    raw: Path, outputs: list[Output], plan: GainPlan, settings: AudioSettings, title: str | None
) -> tuple[GainPlan, Levels]:
    """Pass 2: gain (calibrated when limiting), limiter, room tone, ffmpeg; the plan it used
    and the levels of what it encoded."""
    with wave.open(str(raw), "rb") as reader:
        rate = reader.getframerate()
        plan = calibrate(reader, plan, settings.target_rms_db)
        meter = LevelMeter(rate)
        encoder = Encoder(rate, outputs, title)
        try:
            for chunk in process(reader, plan, settings.room_tone_db):
                encoder.write(chunk)
                meter.feed(chunk)
        except BaseException:
            encoder.abort()
            raise
        encoder.close()
    return plan, meter.result()


def measure_file(path: Path, fmt: str) -> tuple[Levels, AcxReport]:
    """Decode an encoded chapter and measure it; the ACX report comes from these numbers."""
    stream = probe_audio_stream(path)
    meter = LevelMeter(stream["sample_rate"])
    for chunk in decode(path):
        meter.feed(chunk)
    levels = meter.result()
    return levels, check_acx(levels, fmt, stream["sample_rate"], stream["bit_rate"])


def assemble_chapter(
    segments: Iterable[SegmentAudio],
    out_dir: Path,
    basename: str,
    settings: AudioSettings,
    title: str | None = None,
    book_part: Path | None = None,
    *,
    tags: dict[str, str] | None = None,
    cover: Path | None = None,
) -> ChapterAudio:
    """Write `out_dir/basename.{fmt}` and `out_dir/basename.vtt`, and the book's AAC part at
    `book_part` when given, from the same pass; see the module doc for timing.

    `tags` (see `BookTags.chapter`) and the JPEG/PNG `cover` go into the chapter file only
    (ID3v2.3 and APIC for MP3); the book's part gets its tags when the M4B is built."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    audio_path = out_dir / f"{basename}.{settings.format}"
    # The raw WAV sits beside the outputs: /tmp may be a small tmpfs, a chapter WAV is ~160 MB/h.
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".assemble-") as tmp:
        raw = Path(tmp) / "raw.wav"
        timeline = _pass_one(segments, raw, settings)
        plan = plan_gain(timeline.levels, settings.target_rms_db, settings.peak_ceiling_db)
        codec = encoder_args(
            settings.format, settings.encoded_rate(timeline.sample_rate), settings.mp3_bitrate
        )
        extra_inputs, tag_args = chapter_tag_args(settings.format, tags, cover)
        outputs = [Output(audio_path, [*tag_args, *codec], extra_inputs)]
        if book_part is not None:
            outputs.append(Output(book_part, [*aac_args(timeline.sample_rate), "-f", "ipod"]))
        plan, levels = _encode(raw, outputs, plan, settings, title)
    subtitle_path = write_vtt(
        out_dir / f"{basename}.vtt", ((t.start_s, t.end_s, t.text) for t in timeline.times)
    )
    if settings.format in MEASURED_AS_ENCODED:
        stream = probe_audio_stream(audio_path)
        report = check_acx(levels, settings.format, stream["sample_rate"], stream["bit_rate"])
    else:
        levels, report = measure_file(audio_path, settings.format)
    return ChapterAudio(
        audio_path=audio_path,
        subtitle_path=subtitle_path,
        duration_s=timeline.frames / timeline.sample_rate,
        sample_rate=report.sample_rate,
        rms_db=levels.rms_db,
        peak_db=levels.peak_db,
        lufs=levels.lufs,
        gain_db=plan.gain_db,
        noise_floor_db=levels.noise_floor_db,
        segment_times=timeline.times,
        acx=report,
        limited=plan.limit,
        timeline_sample_rate=timeline.sample_rate,
        source_levels=timeline.levels,
        book_part_path=book_part,
    )
