"""Speech QA on every core: pocketsphinx holds the GIL while it decodes (two threads ran no
faster than one), so each decoder lives in a process of its own."""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import wait

from voxflow.qa.recognizer import PocketsphinxRecognizer

# One recogniser per pool process, loaded by its first transcription.
_in_process = PocketsphinxRecognizer()


def _exit_with_parent() -> None:
    """Pool initializer: a decoder process ends when the worker that started it dies, even by
    SIGKILL (the pool's own shutdown needs a live parent, so orphans would wait forever)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _transcribe(wav_bytes: bytes) -> str:
    """Runs in a pool process: WAV decoding, resampling and recognition, all off the caller."""
    return _in_process.transcribe(wav_bytes)


class RecognizerPool:
    """PocketsphinxRecognizer in `processes` spawned processes; a process that dies is replaced
    by a fresh pool on the next call, and the call that saw it fails with the reason."""

    name = PocketsphinxRecognizer.name

    def __init__(self, processes: int = 0) -> None:
        self.concurrency = processes or os.cpu_count() or 1
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def transcribe(self, wav_bytes: bytes) -> str:
        """The words heard in a WAV file, from whichever decoder process is free."""
        executor = self._pool()
        try:
            return executor.submit(_transcribe, wav_bytes).result()
        except BrokenProcessPool as error:
            self._discard(executor)
            raise RuntimeError(
                "a speech-QA decoder process died (out of memory or killed); the check is "
                "retried with fresh processes"
            ) from error

    def close(self) -> None:
        """Stop the decoder processes (a later call starts new ones)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                # spawn, not fork: the worker process runs threads (Temporal, HTTP clients).
                self._executor = ProcessPoolExecutor(
                    self.concurrency,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_exit_with_parent,
                )
            return self._executor

    def _discard(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is broken:
                self._executor = None
        broken.shutdown(wait=False, cancel_futures=True)
