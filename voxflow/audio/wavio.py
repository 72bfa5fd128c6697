"""Streaming 16-bit PCM WAV reading/writing with the `wave` module: nothing whole in RAM."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from voxflow.audio.errors import AudioError

CHUNK_FRAMES = 1 << 16
FULL_SCALE = 32768.0


@dataclass(frozen=True, slots=True)
class WavFormat:
    sample_rate: int
    frames: int


def read_format(reader: wave.Wave_read, label: str) -> WavFormat:
    """Validate that a WAV is 16-bit PCM mono; the message names the offending segment."""
    if reader.getcomptype() != "NONE":
        raise AudioError(f"{label}: compressed WAV ({reader.getcompname()}) is not supported")
    if reader.getsampwidth() != 2:
        bits = reader.getsampwidth() * 8
        raise AudioError(f"{label}: expected 16-bit PCM WAV, got {bits}-bit")
    if reader.getnchannels() != 1:
        raise AudioError(f"{label}: expected mono WAV, got {reader.getnchannels()} channels")
    return WavFormat(sample_rate=reader.getframerate(), frames=reader.getnframes())


def open_wav(fileobj: BinaryIO, label: str) -> wave.Wave_read:
    """`wave.open` that turns a malformed file into an AudioError naming it."""
    try:
        return wave.open(fileobj, "rb")
    except (wave.Error, EOFError) as exc:
        raise AudioError(f"{label}: not a readable WAV file ({exc})") from exc


def iter_int16(reader: wave.Wave_read, chunk_frames: int = CHUNK_FRAMES) -> Iterator[np.ndarray]:
    """Yield the remaining frames as int16 arrays of at most `chunk_frames` samples."""
    while True:
        data = reader.readframes(chunk_frames)
        if not data:
            return
        yield np.frombuffer(data, dtype="<i2")


def read_float(reader: wave.Wave_read, start: int, count: int) -> np.ndarray:
    """Frames [start, start+count) as float64 in [-1, 1); random access for pass 2."""
    reader.setpos(start)
    data = reader.readframes(count)
    return np.frombuffer(data, dtype="<i2").astype(np.float64) / FULL_SCALE


class WavSink:
    """A 16-bit mono WAV being written, that counts frames so callers can place timings."""

    def __init__(self, path, sample_rate: int) -> None:
        self._writer = wave.open(str(path), "wb")  # noqa: SIM115 - closed by close()
        self._writer.setnchannels(1)
        self._writer.setsampwidth(2)
        self._writer.setframerate(sample_rate)
        self.sample_rate = sample_rate
        self.frames = 0
        self._zeros = np.zeros(CHUNK_FRAMES, dtype="<i2").tobytes()

    def write(self, samples: np.ndarray) -> None:
        self._writer.writeframesraw(samples.astype("<i2", copy=False).tobytes())
        self.frames += len(samples)

    def write_silence(self, frames: int) -> None:
        """Digital silence; the room tone is added after gain so its level is exact."""
        remaining = frames
        while remaining > 0:
            n = min(remaining, CHUNK_FRAMES)
            self._writer.writeframesraw(self._zeros[: 2 * n])
            remaining -= n
        self.frames += frames

    def close(self) -> None:
        self._writer.close()
