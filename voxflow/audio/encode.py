"""ffmpeg as a streaming encoder (float32 in on stdin) and decoder (float32 out on stdout).

One encoder may write several files from the same stream (a chapter's MP3 and its AAC part for
the book), so the signal is made once; each file has an ffmpeg process of its own.
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from voxflow.audio.errors import AudioError
from voxflow.audio.tools import binary

FORMATS = ("mp3", "wav", "ogg")
_DECODE_BYTES = 4 * (1 << 17)
BOOK_BITRATE = "64k"
FEED_CHUNKS = 4  # chunks queued per encoder: enough to overlap, little memory
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
    """One file the encoder writes, with the ffmpeg codec arguments that make it; `inputs` are
    inputs read beside the stream (input 0), such as a cover image to attach."""

    path: Path
    args: list[str]
    inputs: list[str] = field(default_factory=list)


class _Feed:
    """One ffmpeg process and the thread that feeds it, so several encoders run side by side.

    ffmpeg 5 runs every encoder of one process on one thread: a chapter's MP3 and AAC part, each
    in its own process, take the two cores at once in the serial tail after the last segment.
    """

    def __init__(self, input_rate: int, output: Output, title: str | None) -> None:
        self.output = output
        self.part = output.path.with_name(output.path.name + ".part")
        args = [binary("ffmpeg"), "-hide_banner", "-nostats", "-loglevel", "error", "-y"]
        args += ["-f", "f32le", "-ar", str(input_rate), "-ac", "1", "-i", "pipe:0", *output.inputs]
        args += [*(["-metadata", f"title={title}"] if title else []), *output.args, str(self.part)]
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self.stderr
        )
        self.chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=FEED_CHUNKS)
        self.broken = False
        self.thread = threading.Thread(target=self._pump, name="ffmpeg-feed", daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        while (data := self.chunks.get()) is not None:
            if self.broken:
                continue  # drain, so put() never blocks on a process that is gone
            try:
                self.proc.stdin.write(data)
            except BrokenPipeError:
                self.broken = True
        with contextlib.suppress(BrokenPipeError):
            self.proc.stdin.close()

    def put(self, data: bytes) -> None:
        self.chunks.put(data)

    def finish(self) -> int:
        self.chunks.put(None)
        self.thread.join()
        return self.proc.wait()

    def failure(self, what: str) -> AudioError:
        self.stderr.seek(0)
        tail = self.stderr.read().decode("utf-8", "replace").strip().splitlines()[-3:]
        name = self.output.path.name
        return AudioError(f"ffmpeg {what} {name}: {' | '.join(tail) or 'no output'}")

    def kill(self) -> None:
        self.proc.kill()
        self.broken = True
        self.finish()

    def close(self) -> None:
        self.part.unlink(missing_ok=True)
        self.stderr.close()


class Encoder:
    """Pipe float32 mono chunks into ffmpeg, one process per output; the files appear
    atomically, all of them, on `close()`."""

    def __init__(self, input_rate: int, outputs: list[Output], title: str | None = None) -> None:
        self.feeds = [_Feed(input_rate, output, title) for output in outputs]

    def write(self, samples: np.ndarray) -> None:
        data = samples.astype("<f4", copy=False).tobytes()
        for feed in self.feeds:
            if feed.broken:
                feed.finish()
                raise feed.failure("stopped while encoding")
            feed.put(data)

    def close(self) -> None:
        codes = [feed.finish() for feed in self.feeds]
        failed = [(feed, code) for feed, code in zip(self.feeds, codes, strict=True) if code]
        if failed:
            feed, code = failed[0]
            error = feed.failure(f"exited {code} encoding")
            self._close_all()
            raise error
        for feed in self.feeds:
            os.replace(feed.part, feed.output.path)
        self._close_all()

    def abort(self) -> None:
        for feed in self.feeds:
            feed.kill()
        self._close_all()

    def _close_all(self) -> None:
        for feed in self.feeds:
            feed.close()


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
