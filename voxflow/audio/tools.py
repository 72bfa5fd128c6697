"""Locating and running ffmpeg/ffprobe: every subprocess call of the package goes through here."""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from voxflow.audio.errors import AudioError


@lru_cache(maxsize=4)
def binary(name: str) -> str:
    """Full path of `ffmpeg` or `ffprobe`; a clear error when the system lacks it."""
    path = shutil.which(name)
    if path is None:
        raise AudioError(f"{name} not found on PATH: install ffmpeg (apt-get install ffmpeg)")
    return path


def run(args: list[str], what: str) -> subprocess.CompletedProcess[bytes]:
    """Run a short ffmpeg/ffprobe command, raising AudioError with its stderr on failure."""
    proc = subprocess.run(args, capture_output=True, check=False)
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise AudioError(f"{what} failed (exit {proc.returncode}): {' | '.join(tail)}")
    return proc


def ffprobe_json(path: Path, *entries: str) -> dict:
    """ffprobe's JSON for `path`, with the given -show_* sections (e.g. 'format', 'streams')."""
    if not Path(path).is_file():
        raise AudioError(f"cannot probe {path}: no such file")
    args = [binary("ffprobe"), "-v", "error", "-of", "json"]
    args += [f"-show_{entry}" for entry in entries]
    proc = run([*args, str(path)], f"ffprobe {path}")
    return json.loads(proc.stdout or b"{}")
