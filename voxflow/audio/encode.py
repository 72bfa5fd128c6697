"""ffmpeg as a streaming encoder (float32 in on stdin) and decoder (float32 out on stdout)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from voxflow.audio.errors import AudioError
from voxflow.audio.tools import binary

FORMATS = ("mp3", "wav", "ogg")
_DECODE_BYTES = 4 * (1 << 17)


def encoder_args(fmt: str, sample_rate: int, bitrate: str) -> list[str]:
    """Codec arguments: MP3 is LAME CBR (ACX), WAV 16-bit PCM, OGG Vorbis quality 6."""
    if fmt == "mp3":
        return ["-ar", str(sample_rate), "-c:a", "libmp3lame", "-b:a", bitrate, "-f", "mp3"]
    if fmt == "wav":
        return ["-ar", str(sample_rate), "-c:a", "pcm_s16le", "-f", "wav"]
    if fmt == "ogg":
        return ["-ar", str(sample_rate), "-c:a", "libvorbis", "-q:a", "6", "-f", "ogg"]
    raise AudioError(f"unknown audio format {fmt!r}: choose one of {', '.join(FORMATS)}")


class Encoder:
    """Pipe float32 mono chunks into ffmpeg; the file appears atomically on `close()`."""

    def __init__(
        self,
        out_path: Path,
        input_rate: int,
        fmt: str,
        output_rate: int,
        bitrate: str,
        title: str | None = None,
    ) -> None:
        self.out_path = Path(out_path)
        self._part = self.out_path.with_name(self.out_path.name + ".part")
        args = [binary("ffmpeg"), "-hide_banner", "-nostats", "-loglevel", "error", "-y"]
        args += ["-f", "f32le", "-ar", str(input_rate), "-ac", "1", "-i", "pipe:0"]
        if title:
            args += ["-metadata", f"title={title}"]
        args += [*encoder_args(fmt, output_rate, bitrate), str(self._part)]
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process
        self._proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._stderr
        )

    def _failure(self, what: str) -> AudioError:
        self._stderr.seek(0)
        tail = self._stderr.read().decode("utf-8", "replace").strip().splitlines()[-3:]
        return AudioError(f"ffmpeg {what} {self.out_path.name}: {' | '.join(tail) or 'no output'}")

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
            self._part.unlink(missing_ok=True)
            raise self._failure(f"exited {code} encoding")
        os.replace(self._part, self.out_path)
        self._stderr.close()

    def abort(self) -> None:
        self._proc.kill()
        self._proc.wait()
        self._part.unlink(missing_ok=True)
        self._stderr.close()


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
