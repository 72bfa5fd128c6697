"""Chapter assembly throughput: the streaming path vs a naive pydub `+=` chapter.

Usage: python bench/assembly.py [--sizes 400 4000] [--format mp3] [--naive-max 400]

Prints, per size, wall seconds and audio-seconds assembled per wall-second for
  * concat:  pass 1 only (segments + pauses streamed into a temp WAV, with level metering),
  * full:    assemble_chapter end to end (concat, gain/limiter, encode, re-measure, VTT),
  * naive:   pydub `chapter += pause; chapter += segment` (concat only, in RAM; quadratic),
and the naive/concat ratio. Segments are synthetic speech-like 16-bit 22.05 kHz WAVs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import resource
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

from voxflow.audio import AudioSettings, SegmentAudio, assemble_chapter
from voxflow.audio.assemble import _pass_one

RATE = 22050
POOL = 16


def _speechlike(seconds: float, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * RATE)) / RATE
    phase = 2 * np.pi * np.cumsum(110 + 20 * np.sin(2 * np.pi * 0.7 * t)) / RATE
    x = sum(np.sin(k * phase) / k for k in range(1, 8)) * (
        np.clip(np.sin(2 * np.pi * 4 * t + rng.uniform(0, 6)), 0, None) ** 2
    )
    x = x / np.max(np.abs(x)) * 0.99  # peak-normalised per sentence, like Piper
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes((x * 32767).astype("<i2").tobytes())
    return buf.getvalue()


POOL_BYTES = [_speechlike(1.2 + 0.1 * (i % 7), seed=i) for i in range(POOL)]


def segments(n: int) -> list[SegmentAudio]:
    """n sentences, 5 per paragraph, drawn round-robin from a small pool of WAVs."""
    return [
        SegmentAudio(
            index=i,
            block_index=i // 5,
            text=f"Sentence {i}.",
            open=lambda d=POOL_BYTES[i % POOL]: contextlib.closing(io.BytesIO(d)),
        )
        for i in range(n)
    ]


def naive_pydub(n: int, settings: AudioSettings) -> float:
    """The quadratic baseline: grow one AudioSegment with +=; returns its duration (s)."""
    from pydub import AudioSegment

    chapter = AudioSegment.silent(duration=settings.head_room_tone_s * 1000, frame_rate=RATE)
    previous = None
    for seg in segments(n):
        if previous is not None:
            pause = (
                settings.sentence_pause_s
                if seg.block_index == previous.block_index
                else settings.paragraph_pause_s
            )
            chapter += AudioSegment.silent(duration=pause * 1000, frame_rate=RATE)
        with seg.open() as f:
            chapter += AudioSegment.from_wav(f)
        previous = seg
    chapter += AudioSegment.silent(duration=settings.tail_room_tone_s * 1000, frame_rate=RATE)
    return len(chapter) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[400, 4000])
    parser.add_argument("--format", default="mp3", choices=["mp3", "wav", "ogg"])
    parser.add_argument("--naive-max", type=int, default=400)
    args = parser.parse_args()
    settings = AudioSettings(format=args.format)
    print(f"format={args.format}  segments: 22.05 kHz 16-bit, 1.2-1.8 s, 5 per paragraph")
    print(f"{'n':>6} {'path':<8} {'audio_s':>9} {'wall_s':>8} {'audio_s/wall_s':>15}")
    with tempfile.TemporaryDirectory(prefix="bench-assembly-") as tmp:
        assemble_chapter(segments(10), Path(tmp), "warmup", settings)  # imports, filter design
        for n in args.sizes:
            t0 = time.perf_counter()
            timeline = _pass_one(segments(n), Path(tmp) / f"raw{n}.wav", settings)
            concat_s = time.perf_counter() - t0
            audio_s = timeline.frames / timeline.sample_rate
            print(
                f"{n:>6} {'concat':<8} {audio_s:>9.1f} {concat_s:>8.3f} {audio_s / concat_s:>15.0f}"
            )

            t0 = time.perf_counter()
            chapter = assemble_chapter(segments(n), Path(tmp), f"c{n}", settings)
            full_s = time.perf_counter() - t0
            print(
                f"{n:>6} {'full':<8} {chapter.duration_s:>9.1f} {full_s:>8.3f} "
                f"{chapter.duration_s / full_s:>15.0f}   "
                f"gain={chapter.gain_db:+.1f} dB limited={chapter.limited} "
                f"rms={chapter.rms_db:.1f} peak={chapter.peak_db:.1f} "
                f"acx={'pass' if chapter.acx.passed else chapter.acx.problems}"
            )
            if n <= args.naive_max:
                t0 = time.perf_counter()
                naive_audio = naive_pydub(n, settings)
                naive_s = time.perf_counter() - t0
                print(
                    f"{n:>6} {'naive':<8} {naive_audio:>9.1f} {naive_s:>8.3f} "
                    f"{naive_audio / naive_s:>15.0f}   naive/concat = {naive_s / concat_s:.1f}x"
                )

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
