"""ffmpeg as a streaming encoder (float32 in on stdin) and decoder (float32 out on stdout).

One encoder may write several files from the same stream (a chapter's MP3 and its AAC part for
the book), so the signal is made, and the process started, once.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voxflow.audio.errors import AudioError
from voxflow.audio.tools import binary

FORMATS = ("mp3", "wav", "ogg")
_DECODE_BYTES = 4 * (1 << 17)
BOOK_BITRATE = "64k"
# Formats whose decoded file measures no louder, in peak, than the stream that went in (LAME and
# PCM; tests/unit/test_audio_assemble.py checks). Vorbis overshoots by ~1.5 dB true peak, so an
# OGG chapter is decoded and measured again.
MEASURED_AS_ENCODED = ("mp3", "wav")


def encoder_args(fmt: str, sample_rate: int, bitrate: str) -> list[str]:
    """Codec arguments: MP3 is LAME CBR (ACX), WAV 16-bit PCM, OGG Vorbis quality 6."""
    if fmt == "mp3":
        # LAME's -q 7: 1.6x cheaper than its default on speech at 192k CBR, the same SNR.
        lame = ["-c:a", "libmp3lame", "-compression_level", "7", "-b:a", bitrate]
        return ["-ar", str(sample_rate), *lame, "-f", "mp3"]
    if fmt == "wav":
        return ["-ar", str(sample_rate), "-c:a", "pcm_s16le", "-f", "wav"]
    if fmt == "ogg":
        return ["-ar", str(sample_rate), "-c:a", "libvorbis", "-q:a", "6", "-f", "ogg"]
    raise AudioError(f"unknown audio format {fmt!r}: choose one of {', '.join(FORMATS)}")


def aac_args(sample_rate: int | None, bitrate: str = BOOK_BITRATE) -> list[str]:
    """Mono AAC, the book's codec; its parts go in MP4 (`-f ipod`) to be joined as they are."""
    rate = ["-ar", str(sample_rate)] if sample_rate else []
    # The fast coder: 3.3x cheaper than ffmpeg's default two-loop search on speech, and no
    # worse by waveform SNR (docs/benchmarks.md).
    return ["-ac", "1", *rate, "-c:a", "aac", "-aac_coder", "fast", "-b:a", bitrate]


@dataclass(frozen=True)
class Output:
    """One file the encoder writes, with the ffmpeg codec arguments that make it."""

    path: Path
    args: list[str]


class Encoder:
    """Pipe float32 mono chunks into ffmpeg; the files appear atomically on `close()`."""

    def __init__(self, input_rate: int, outputs: list[Output], title: str | None = None) -> None:
        self.outputs = outputs
        self._parts = [o.path.with_name(o.path.name + ".part") for o in outputs]
        args = [binary("ffmpeg"), "-hide_banner", "-nostats", "-loglevel", "error", "-y"]
        args += ["-f", "f32le", "-ar", str(input_rate), "-ac", "1", "-i", "pipe:0"]
        for output, part in zip(outputs, self._parts, strict=True):
            args += ["-map", "0:a", *(["-metadata", f"title={title}"] if title else [])]
            args += [*output.args, str(part)]
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process
        self._proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._stderr
        )

    def _failure(self, what: str) -> AudioError:
        self._stderr.seek(0)
        tail = self._stderr.read().decode("utf-8", "replace").strip().splitlines()[-3:]
        names = ", ".join(o.path.name for o in self.outputs)
        return AudioError(f"ffmpeg {what} {names}: {' | '.join(tail) or 'no output'}")

    def write(self, samples: np.ndarray) -> None:
        try:
            self._proc.stdin.write(samples.astype("<f4", copy=False).tobytes())
        except BrokenPipeError:
            self._proc.wait()
            raise self._failure("stopped while encoding") from None

    def close(self) -> None:
        with contextlib.suppress(BrokenPipeError):
            self._proc.stdin.close()
        code = self._proc.wait()
        if code != 0:
            self._remove_parts()
            raise self._failure(f"exited {code} encoding")
        for output, part in zip(self.outputs, self._parts, strict=True):
            os.replace(part, output.path)
        self._stderr.close()

    def abort(self) -> None:
        self._proc.kill()
        self._proc.wait()
        self._remove_parts()
        self._stderr.close()

    def _remove_parts(self) -> None:
        for part in self._parts:
            part.unlink(missing_ok=True)


def decode(path: Path) -> Iterator[np.ndarray]:
    """Decode any file ffmpeg reads to mono float64 chunks at the file's own sample rate."""
    args = [binary("ffmpeg"), "-hide_banner", "-nostats", "-loglevel", "error", "-i", str(path)]
    args += ["-f", "f32le", "-ac", "1", "pipe:1"]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
        try:
            while data := proc.stdout.read(_DECODE_BYTES):
                usable = len(data) // 4 * 4
                yield np.frombuffer(data[:usable], dtype="<f4").astype(np.float64)
        finally:
            proc.stdout.close()
            code = proc.wait()
        if code != 0:
            err.seek(0)
            raise AudioError(f"ffmpeg could not decode {path}: {err.read().decode()[-300:]}")
