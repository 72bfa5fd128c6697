"""The whole pipeline in one command: a book through queue mode to a transformers VITS voice.

    python bench/gpu_e2e.py [--device cuda|cpu] [--hours 10] [--inference-workers N]
                            [--batch-size B] [--max-batch-delay MS] [--fp16] [--json PATH]

Parts, each its own process: a Temporal dev server, TorchServe serving the `hf` handler, one
Temporal worker, the result relay and N inference workers, on the machine's RabbitMQ
(127.0.0.1:5672, guest/guest) under a queue prefix of their own. On cuda the voice is an
MMS-TTS-sized VitsModel at random weights (bench/hf_gpu.py), on cpu the tiny test VITS
(bench/tiny_vits.py); nothing is downloaded. It is archived into a .mar whose model-config sets
TorchServe's batching (batchSize, maxBatchDelay) and named in a registry file given through
VOXFLOW_MODEL_REGISTRY. speaking_rate is calibrated as bench/hf_gpu.py does (~65 ms of audio
per character).

In the same run, before the stack starts, the handler's batched path is timed in process on the
same device at the same batch size: the ceiling. The book is synthetic, distinct sentences,
`--hours` of audio, scaled down (and said so) when it would not fit `--budget-s`. Prints
end-to-end audio-s per wall-s, its ratio to the ceiling, TorchServe's batch sizes, GPU
utilisation from nvidia-smi, and where the wall time went.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import gzip
import json
import math
import os
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import psutil
import sqlalchemy as sa
import yaml

from bench.chaos import audio_seconds
from tests.plugins.services import free_port, private_addresses
from voxflow.db import make_engine
from voxflow.db.models import Project, Segment, SegmentStatus
from voxflow.processes import ManagedProcess
from voxflow.registry import Voice
from voxflow.settings import Settings

VOICE = "vits-bench"
BUDGET_S = 450.0  # the whole command, stack stop included, stays under 8 minutes
STOP_RESERVE_S = 25.0  # stopping the stack and printing
POLL_S = 0.25
CHAPTER_WEIGHTS = (1.0, 0.6, 1.4, 0.8, 1.2)  # unequal chapters finish (and assemble) apart
SENTENCES_PER_PARAGRAPH = 5
DEFAULTS = {  # per device: book size, chapter length, batching (hf.yaml's on cuda), ceiling runs
    "cuda": {"hours": 10.0, "chapter_minutes": 15.0, "batch": 32, "delay_ms": 20, "repeats": 5},
    "cpu": {"hours": 0.04, "chapter_minutes": 0.8, "batch": 4, "delay_ms": 50, "repeats": 7},
}


# ------------------------------------------------------------------------------ the plan


@dataclass
class Plan:
    """Every knob of one run, decided before anything starts (and printed with the results)."""

    device: str
    hours: float
    chapter_minutes: float
    batch_size: int
    max_batch_delay_ms: int
    torchserve_workers: int
    inference_workers: int
    per_worker_in_flight: int
    prefetch: int
    job_segments: int
    job_window: int
    parallel_chapters: int
    fp16: bool
    repeats: int
    budget_s: float
    expect_ratio: float
    seed: int

    @property
    def pool(self) -> str:
        return "gpu" if self.device == "cuda" else "cpu"


def make_plan(args: argparse.Namespace) -> Plan:
    """Fill what the command line left open, so that TorchServe's batcher never waits on us."""
    defaults = DEFAULTS[args.device]
    batch = args.batch_size or defaults["batch"]
    # Two batches in flight across the workers: one at the model, the next one filling.
    per_worker = args.in_flight_per_worker or min(batch, 16)
    workers = args.inference_workers or max(1, math.ceil(2 * batch / per_worker))
    # Each worker holds jobs with twice its in-flight segments, so a finishing job leaves no gap.
    job_segments = max(4, min(16, per_worker))
    prefetch = max(2, math.ceil(2 * per_worker / job_segments))
    # Chapters x window keeps twice what the workers hold queued at the broker.
    parallel = max(2, min(8, workers * 2))
    window = max(3, math.ceil(2 * workers * prefetch / parallel))
    return Plan(
        device=args.device,
        hours=args.hours if args.hours is not None else defaults["hours"],
        chapter_minutes=args.chapter_minutes or defaults["chapter_minutes"],
        batch_size=batch,
        max_batch_delay_ms=args.max_batch_delay
        if args.max_batch_delay is not None
        else defaults["delay_ms"],
        torchserve_workers=args.torchserve_workers,
        inference_workers=workers,
        per_worker_in_flight=per_worker,
        prefetch=prefetch,
        job_segments=job_segments,
        job_window=window,
        parallel_chapters=parallel,
        fp16=args.fp16 and args.device == "cuda",
        repeats=args.repeats or defaults["repeats"],
        budget_s=args.budget_s,
        expect_ratio=args.expect_ratio,
        seed=args.seed,
    )


# ------------------------------------------------------------------------------ the book

SUBJECTS = [
    "the old keeper", "a tired sailor", "the young doctor", "my grandmother", "the quiet baker",
    "a stranger from the north", "the harbour master", "our neighbour", "the schoolteacher",
    "a small red fox", "the lighthouse cat", "the ferryman", "her younger brother", "the mayor",
    "a travelling singer", "the gardener",
]  # fmt: skip
VERBS = [
    "carried", "painted", "found", "mended", "watched", "remembered", "described", "hid",
    "sold", "followed", "borrowed", "cleaned", "measured", "forgot", "wrapped", "opened",
]  # fmt: skip
OBJECTS = [
    "a brass lantern", "the broken gate", "an old map of the coast", "a basket of apples",
    "the wooden boat", "a letter from the city", "the heavy iron key", "a bundle of candles",
    "the torn blue sail", "a jar of honey", "the silver compass", "a pair of muddy boots",
    "the last loaf of bread", "a book of songs", "the rusty bicycle", "a crate of oranges",
]  # fmt: skip
PLACES = [
    "by the river", "near the harbour", "on the hill above the town", "behind the chapel",
    "in the empty market", "under the old bridge", "at the end of the pier", "beside the mill",
    "in the narrow lane", "along the cliff path", "outside the station", "inside the barn",
    "across the frozen pond", "at the edge of the forest", "on the crowded ferry",
    "in the back garden",
]  # fmt: skip
TIMES = [
    "before dawn", "after the storm", "every winter", "late in the evening",
    "on a cold morning", "just before supper", "during the long summer", "while it rained",
    "at the first light", "when the bells rang", "on market day", "after the fair",
    "in the spring", "as the tide went out", "before the snow came", "at midnight",
]  # fmt: skip
PARTS = (SUBJECTS, VERBS, OBJECTS, PLACES, TIMES)


def distinct_sentences(seed: int) -> Iterator[str]:
    """Sentences that never repeat (an affine permutation of the combinations); letters only."""
    total = math.prod(len(part) for part in PARTS)
    rng = random.Random(seed)
    step = rng.randrange(1, total)
    while math.gcd(step, total) != 1:
        step = rng.randrange(1, total)
    offset = rng.randrange(total)
    for position in range(total):
        number, words = (offset + step * position) % total, []
        for part in PARTS:
            number, digit = divmod(number, len(part))
            words.append(part[digit])
        sentence = " ".join(words) + "."
        yield sentence[0].upper() + sentence[1:]


@dataclass
class Book:
    markdown: str
    chapters: int
    sentences: int
    estimated_audio_s: float


def take_chars(source: Iterator[str], chars: float) -> list[str]:
    """Sentences from `source` until they hold at least `chars` characters (one at least)."""
    taken, held = [], 0
    while not taken or held < chars:
        taken.append(next(source))
        held += len(taken[-1])
    return taken


def make_book(audio_s: float, chapter_s: float, s_per_char: float, seed: int) -> Book:
    """A Markdown book of about `audio_s` seconds, chapters of about `chapter_s` (unequal)."""
    count = max(2, round(audio_s / chapter_s))
    weights = [CHAPTER_WEIGHTS[i % len(CHAPTER_WEIGHTS)] for i in range(count)]
    source, lines, chars, sentences = distinct_sentences(seed), ["# A synthetic book", ""], 0, 0
    for number, weight in enumerate(weights, start=1):
        chapter = take_chars(source, audio_s * weight / sum(weights) / s_per_char)
        lines += [f"## Chapter {number}", ""]
        for start in range(0, len(chapter), SENTENCES_PER_PARAGRAPH):
            lines += [" ".join(chapter[start : start + SENTENCES_PER_PARAGRAPH]), ""]
        chars += sum(len(s) for s in chapter)
        sentences += len(chapter)
    return Book("\n".join(lines), count, sentences, chars * s_per_char)


# ------------------------------------------------------------------------------ model + ceiling


@dataclass
class Ceiling:
    """The handler's batched path in this process: what the pipeline is compared with."""

    rate: float  # audio-s per wall-s
    batch: int
    ms_per_batch: float
    speaking_rate: float
    s_per_char: float
    sample_rate: int
    device_name: str


def build_model(folder: Path, device: str) -> str:
    """The voice's save_pretrained folder; returns what it is, for the report."""
    if device == "cuda":
        from bench.hf_gpu import build_model as build_mms_sized

        folder.mkdir(parents=True, exist_ok=True)
        build_mms_sized(folder)
        return "MMS-TTS-sized VitsModel (default VitsConfig), random weights"
    from bench.tiny_vits import make_tiny_vits

    make_tiny_vits(folder)
    return "tiny test VITS (bench/tiny_vits.py), random weights"


def measure_ceiling(folder: Path, plan: Plan) -> Ceiling:
    """Calibrate speaking_rate, then time `repeats` batches of book-like sentences in process."""
    import torch

    from bench.hf_gpu import calibrate, load_handler, run_batch

    handler = load_handler(folder, plan.device, plan.fp16)
    rate = calibrate(handler)
    source = distinct_sentences(plan.seed + 1)
    batches = [[next(source) for _ in range(plan.batch_size)] for _ in range(plan.repeats)]
    run_batch(handler, batches[0], rate)  # warm-up (allocator, cuDNN algorithm choice)
    runs = [run_batch(handler, texts, rate) for texts in batches]
    chars = sum(len(text) for texts in batches for text in texts)
    name = torch.cuda.get_device_name(0) if plan.device == "cuda" else "CPU"
    # The fastest batch: sharing the machine only ever slows a batch down.
    audio, wall = max(runs, key=lambda run: run[0] / run[1])
    ceiling = Ceiling(
        audio / wall, plan.batch_size, 1000 * wall, rate,
        sum(audio for audio, _ in runs) / chars, handler.tts.sample_rate, name,
    )  # fmt: skip
    del handler
    gc.collect()
    if plan.device == "cuda":
        torch.cuda.empty_cache()  # TorchServe's worker gets the memory back
    return ceiling


# ------------------------------------------------------------------------------ voice + settings


def register_voice(root: Path, folder: Path, plan: Plan, ceiling: Ceiling) -> Voice:
    """A registry file naming the voice, and its .mar with this run's batching in model-config."""
    from voxflow.serving.archives import archive, hf_files, model_config

    voice = Voice(
        VOICE, "1.0", "hf", plan.pool, ceiling.sample_rate, 400,
        params={"speaking_rate": round(ceiling.speaking_rate, 4)},
        description="bench/gpu_e2e.py: a VitsModel at random weights",
    )  # fmt: skip
    entry = {k: v for k, v in asdict(voice).items() if k != "package"}
    (root / "registry.yaml").write_text(yaml.safe_dump({"voices": [entry]}), encoding="utf-8")
    config = model_config(voice, device="gpu" if plan.device == "cuda" else "cpu")
    config.update(
        batchSize=plan.batch_size,
        maxBatchDelay=plan.max_batch_delay_ms,
        minWorkers=plan.torchserve_workers,
        maxWorkers=plan.torchserve_workers,
    )
    config["handler"]["fp16"] = plan.fp16
    archive(voice.name, voice.version, voice.handler, hf_files(folder), config, root / "store")
    return voice


def make_settings(root: Path, plan: Plan, amqp_url: str) -> Settings:
    """One run's settings, handed to every child as VOXFLOW_* (voxflow.stack.settings_env)."""
    return Settings(
        data_dir=root / "data",
        temporal_task_queue="gpu-e2e",
        **private_addresses(),
        model_store_dir=root / "store",
        model_registry=root / "registry.yaml",
        default_voice=VOICE,
        amqp_url=amqp_url,
        dispatch="queue",
        queue_prefix=f"gpu-e2e-{uuid.uuid4().hex[:8]}",
        job_max_segments=plan.job_segments,
        job_window=plan.job_window,
        max_parallel_chapters=plan.parallel_chapters,
        inference_prefetch=plan.prefetch,
        torchserve_concurrency=plan.per_worker_in_flight,
    )


# ------------------------------------------------------------------------------ the stack


def start_together(parts: list[ManagedProcess], stack: ExitStack) -> None:
    """Start parts at once (each waits for its own readiness); the started ones stop together."""
    with ThreadPoolExecutor(len(parts)) as pool:
        futures = [pool.submit(part.start) for part in parts]
    started = [part for part, future in zip(parts, futures, strict=True) if not future.exception()]
    stack.callback(stop_together, started)
    errors = [future.exception() for future in futures if future.exception()]
    if errors:
        raise errors[0]


def stop_together(parts: list[ManagedProcess]) -> None:
    """Stop at once: each may take its own SIGTERM grace, but not one after another."""
    if parts:
        with ThreadPoolExecutor(len(parts)) as pool:
            list(pool.map(lambda part: part.stop(), parts))


def start_stack(settings: Settings, plan: Plan, stack: ExitStack) -> ManagedProcess:
    """Temporal and TorchServe first, then the Temporal worker, relay and inference workers."""
    from voxflow.serving.process import TorchServeProcess
    from voxflow.stack import (
        TemporalDevServer,
        TemporalWorkerProcess,
        inference_process,
        relay_process,
        require_broker,
    )

    require_broker(settings)
    grpc = {"grpc_inference_port": free_port(), "grpc_management_port": free_port()}
    # Room in TorchServe's queue for every request the inference workers keep in flight.
    queue_size = max(100, 2 * plan.inference_workers * plan.per_worker_in_flight)
    torchserve = TorchServeProcess.from_settings(
        settings,
        models=[VOICE],
        startup_timeout_s=300,
        extra_properties={"job_queue_size": str(queue_size)},
        **grpc,
    )
    start_together([TemporalDevServer(settings), torchserve], stack)
    workers: list[ManagedProcess] = [TemporalWorkerProcess(settings), relay_process(settings)]
    workers += [
        inference_process(settings, plan.pool, name=f"inference {n}")
        for n in range(1, plan.inference_workers + 1)
    ]
    start_together(workers, stack)
    return torchserve


async def remove_queues(settings: Settings) -> None:
    """This run's exchanges and queues go; the broker is shared with others."""
    from tests.plugins.queue import delete_topology

    with contextlib.suppress(Exception):
        await delete_topology(settings)


# ------------------------------------------------------------------------------ watching


class Timeline(threading.Thread):
    """Polls the project's state and done count, keeping when each phase was first seen."""

    def __init__(self, settings: Settings, project_id: int, segments: int) -> None:
        super().__init__(daemon=True)
        self.engine = make_engine(settings.database_url)
        self.project_id, self.segments = project_id, segments
        self.marks: dict[str, float] = {}
        self.state, self.done = "pending", 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                self.observe(*self.read(), time.monotonic())
            self.stop.wait(POLL_S)
        with contextlib.suppress(sa.exc.SQLAlchemyError):
            self.done = self.read()[1]  # the final count; no marks after the end
        self.engine.dispose()

    def read(self) -> tuple[str, int]:
        """The project's state and its done segments."""
        with self.engine.connect() as connection:
            state = connection.execute(
                sa.select(Project.state).where(Project.id == self.project_id)
            ).scalar_one()
            done = connection.execute(
                sa.select(sa.func.count()).where(
                    Segment.project_id == self.project_id, Segment.status == SegmentStatus.done
                )
            ).scalar_one()
        return str(state), done

    def observe(self, state: str, done: int, now: float) -> None:
        self.state, self.done = state, done
        if state in ("running", "building", "done"):
            self.marks.setdefault("running", now)
        if done:
            self.marks.setdefault("first_segment", now)
        if done >= self.segments:
            self.marks.setdefault("all_segments", now)
        if state in ("building", "done"):
            self.marks.setdefault("building", now)


@dataclass
class Sample:
    at: float
    cpu: float
    gpu: float | None = None
    gpu_mem_mib: float | None = None


class Sampler(threading.Thread):
    """CPU (psutil) and, when there is one, GPU utilisation (nvidia-smi) every half second."""

    def __init__(self, device: str) -> None:
        super().__init__(daemon=True)
        self.gpu = device == "cuda" and shutil.which("nvidia-smi") is not None
        self.why_not = "no GPU: not sampled" if device == "cpu" else "no nvidia-smi: not sampled"
        self.samples: list[Sample] = []
        self.stop = threading.Event()

    def run(self) -> None:
        psutil.cpu_percent()
        while not self.stop.wait(0.5):
            sample = Sample(time.monotonic(), psutil.cpu_percent())
            if self.gpu:
                sample.gpu, sample.gpu_mem_mib = nvidia_smi()
            self.samples.append(sample)

    def summary(self, start: float, end: float) -> dict:
        """Mean, median, p90 and max over [start, end]."""
        window = [s for s in self.samples if start <= s.at <= end]
        result = {"samples": len(window), "cpu_mean_pct": mean([s.cpu for s in window])}
        gpu = [s.gpu for s in window if s.gpu is not None]
        if self.gpu:
            result.update(
                gpu_mean_pct=mean(gpu),
                gpu_p50_pct=percentile(gpu, 50),
                gpu_p90_pct=percentile(gpu, 90),
                gpu_max_pct=max(gpu, default=None),
                gpu_mem_max_mib=max((s.gpu_mem_mib or 0 for s in window), default=None),
            )
        return result


def nvidia_smi() -> tuple[float | None, float | None]:
    """GPU 0's utilisation (%) and memory used (MiB), or (None, None) if the call fails."""
    command = [
        "nvidia-smi", "-i", "0", "--query-gpu=utilization.gpu,memory.used",
        "--format=csv,noheader,nounits",
    ]  # fmt: skip
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=5).stdout
        util, memory = (float(x) for x in out.strip().splitlines()[0].split(","))
    except (OSError, ValueError, IndexError, subprocess.SubprocessError):
        return None, None
    return util, memory


def mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 1) if values else None


def percentile(values: list[float], pct: int) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


# ------------------------------------------------------------------------------ TorchServe's view

# Per batch a TorchServe worker thread logs "Looping backend response", then one "Sending
# response for jobId" per request of the batch (ts_log.log; each line may appear twice).
BATCH_LINE = re.compile(
    r"\] (W-\d+-\S+) org\.pytorch\.serve\.wlm\.(?:WorkerThread - Looping backend response"
    r"|BatchAggregator - Sending response for jobId (\S+))"
)


def frontend_log(log_dir: Path) -> Iterator[str]:
    """ts_log.log's lines, after those of any rolled ts_log.DATE.log.gz (log4j2 rolls daily)."""
    for path in sorted(log_dir.glob("ts_log*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", errors="replace") as lines:
            yield from lines


def batch_sizes(log_dir: Path) -> Counter[int]:
    """Batch size → batches, from TorchServe's frontend log: its metrics have no batch size."""
    sizes: Counter[int] = Counter()
    open_batches: dict[str, set[str]] = {}
    for line in frontend_log(log_dir):
        match = BATCH_LINE.search(line)
        if match is None:
            continue
        thread, job = match.groups()
        if job is not None:
            open_batches.setdefault(thread, set()).add(job)
        elif open_batches.get(thread):
            sizes[len(open_batches.pop(thread))] += 1
    sizes.update(len(jobs) for jobs in open_batches.values() if jobs)
    return sizes


def requests_counted(metrics_url: str) -> float | None:
    """ts_inference_requests_total for the voice, from TorchServe's metrics endpoint."""
    try:
        text = httpx.get(metrics_url + "/metrics", timeout=5).text
    except httpx.HTTPError:
        return None
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("ts_inference_requests_total{") and f'model_name="{VOICE}"' in line
    )


# ------------------------------------------------------------------------------ the conversion


@dataclass
class Conversion:
    state: str
    wall_s: float
    submit_s: float
    segments: int
    chapters: int
    marks: dict[str, float]
    started: float
    finished: float
    done_segments: int
    finished_audio_s: float | None = None


async def convert(settings: Settings, book: Book, deadline: float) -> tuple[Conversion, int]:
    """Submit the book and wait for its workflow, or until the deadline (then terminate it)."""
    from temporalio.client import WorkflowFailureError

    from voxflow.contracts import ProjectResult
    from voxflow.conversion import connect, start_conversion_bytes

    client = await connect(settings)
    started = time.monotonic()
    run = await start_conversion_bytes(
        settings, book.markdown.encode(), "gpu-e2e.md", client=client
    )
    submitted = time.monotonic()
    timeline = Timeline(settings, run.project_id, run.segments)
    timeline.start()
    handle = client.get_workflow_handle(run.workflow_id, result_type=ProjectResult)
    state = "done"
    try:
        await asyncio.wait_for(handle.result(), timeout=max(1.0, deadline - time.monotonic()))
    except WorkflowFailureError as error:
        state = f"failed: {error.cause or error}"
    except TimeoutError:
        state = f"not finished within the budget (project {timeline.state})"
        with contextlib.suppress(Exception):
            await handle.terminate("bench/gpu_e2e.py: out of time")
    finished = time.monotonic()
    timeline.stop.set()
    timeline.join()
    conversion = Conversion(
        state, finished - started, submitted - started, run.segments, run.chapters,
        dict(timeline.marks), started, finished, timeline.done,
    )  # fmt: skip
    return conversion, run.project_id


def finished_audio(settings: Settings, project_id: int) -> tuple[float, float | None]:
    """(spoken segment audio, finished chapter audio with pauses) in seconds."""
    engine = make_engine(settings.database_url)
    try:
        spoken = audio_seconds(engine)
        with engine.connect() as connection:
            chapters = connection.execute(
                sa.select(Project.duration_s).where(Project.id == project_id)
            ).scalar_one()
        return spoken, chapters
    finally:
        engine.dispose()


def phases(conversion: Conversion) -> dict[str, float]:
    """Seconds per phase of the conversion; a phase too short to be polled counts as 0."""
    order = ["running", "first_segment", "all_segments", "building"]
    marks = dict(conversion.marks)
    later = conversion.finished
    for name in reversed(order):
        later = marks.setdefault(name, later)
    start = conversion.started
    return {
        "submit (parse, rows, start workflow)": conversion.submit_s,
        "import (import_document)": marks["running"] - start - conversion.submit_s,
        "synthesis phase (to the last segment)": marks["all_segments"] - marks["running"],
        "  of which to the first segment": marks["first_segment"] - marks["running"],
        "assembly tail (last chapters)": marks["building"] - marks["all_segments"],
        "book (M4B, manifest)": conversion.finished - marks["building"],
    }


# ------------------------------------------------------------------------------ the run


@dataclass
class Stopwatch:
    """Named setup phases and their seconds, in order."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        yield
        self.seconds[name] = time.monotonic() - started


def size_book(plan: Plan, ceiling: Ceiling, left_s: float) -> tuple[float, str | None]:
    """Audio seconds that fit the time left at the expected ratio; why it was scaled, if so."""
    target = plan.hours * 3600
    rate = ceiling.rate * plan.expect_ratio
    fits = max(30.0, (left_s - 20.0) * rate)  # 20 s: import, the last assembly, the book
    if target <= fits:
        return target, None
    why = (
        f"SCALED DOWN: {plan.hours:g} h of audio would take about {target / rate:.0f} s at "
        f"{plan.expect_ratio:g} x the ceiling ({rate:.1f} audio-s/s), and {left_s:.0f} s of the "
        f"{plan.budget_s:.0f} s budget are left; running {fits / 3600:.2f} h instead"
    )
    return fits, why


def prepare_voice(root: Path, plan: Plan, clock: Stopwatch) -> tuple[str, Ceiling]:
    """The model, its in-process ceiling (before the stack takes the device), its archive."""
    with clock.phase("model build (random weights, save_pretrained)"):
        model = build_model(root / "model", plan.device)
    with clock.phase("in-process calibration + ceiling"):
        ceiling = measure_ceiling(root / "model", plan)
    say(
        f"ceiling: {ceiling.rate:.1f} audio-s/s at batch {plan.batch_size} on {ceiling.device_name}"
    )
    with clock.phase("archive (.mar) + registry"):
        register_voice(root, root / "model", plan, ceiling)
    return model, ceiling


def run(plan: Plan, root: Path, amqp_url: str) -> dict:
    """Model, ceiling, voice, stack, book, conversion and figures; returns the report."""
    began = time.monotonic()
    clock = Stopwatch()
    model, ceiling = prepare_voice(root, plan, clock)
    settings = make_settings(root, plan, amqp_url)
    sampler = Sampler(plan.device)
    with ExitStack() as stack:
        stack.callback(lambda: asyncio.run(remove_queues(settings)))
        with clock.phase("stack start"):
            torchserve = start_stack(settings, plan, stack)
        deadline = began + plan.budget_s - STOP_RESERVE_S
        audio_s, scaled = size_book(plan, ceiling, deadline - time.monotonic())
        book = make_book(audio_s, plan.chapter_minutes * 60, ceiling.s_per_char, plan.seed)
        say(
            f"stack up in {clock.seconds['stack start']:.1f} s; converting {book.sentences} "
            f"sentences in {book.chapters} chapters (~{book.estimated_audio_s / 60:.1f} min)"
        )
        sampler.start()
        conversion, project_id = asyncio.run(convert(settings, book, deadline))
        sampler.stop.set()
        counted = requests_counted(torchserve.metrics_url)
        stop_started = time.monotonic()
    stop_s = time.monotonic() - stop_started
    spoken, conversion.finished_audio_s = finished_audio(settings, project_id)
    sizes = batch_sizes(Path(settings.data_dir) / "torchserve" / "logs")
    return dict(
        command="python " + shlex.join(sys.argv),
        plan=asdict(plan),
        model=model,
        ceiling=asdict(ceiling),
        book={**asdict(book), "markdown": None, "scaled_down": scaled, "target_h": plan.hours},
        conversion=asdict(conversion),
        audio_s=spoken,
        e2e_rate=spoken / conversion.wall_s,
        ratio=spoken / conversion.wall_s / ceiling.rate,
        batch_sizes=dict(sorted(sizes.items())),
        requests_in_log=sum(size * n for size, n in sizes.items()),
        requests_counted=counted,
        utilisation=utilisation(sampler, conversion),
        phases=phases(conversion),
        setup=clock.seconds,
        stop_s=stop_s,
        total_s=time.monotonic() - began,
    )


def say(line: str) -> None:
    """Progress on stderr while the run goes on; the report goes to stdout at the end."""
    print(line, file=sys.stderr, flush=True)


def utilisation(sampler: Sampler, conversion: Conversion) -> dict:
    marks = conversion.marks
    end = marks.get("all_segments", conversion.finished)
    synthesis = (marks.get("running", conversion.started), end)
    return {
        "gpu_sampled": sampler.gpu,
        "gpu_note": None if sampler.gpu else sampler.why_not,
        "conversion": sampler.summary(conversion.started, conversion.finished),
        "synthesis_phase": sampler.summary(*synthesis),
    }


# ------------------------------------------------------------------------------ the report


def print_report(report: dict, out: Callable[[str], None] = print) -> None:
    plan, ceiling, book, conv = (report[k] for k in ("plan", "ceiling", "book", "conversion"))
    out(f"command: {report['command']}")
    out(f"device: {ceiling['device_name']} ({plan['device']}); voice: {report['model']}")
    out(
        f"stack: queue mode; TorchServe {plan['torchserve_workers']} worker(s), batchSize "
        f"{plan['batch_size']}, maxBatchDelay {plan['max_batch_delay_ms']} ms; "
        f"{plan['inference_workers']} inference workers x {plan['per_worker_in_flight']} in "
        f"flight (prefetch {plan['prefetch']} jobs of <= {plan['job_segments']}); "
        f"{plan['parallel_chapters']} chapters at once, window {plan['job_window']}"
    )
    out(
        f"book: {conv['chapters']} chapters, {conv['segments']} distinct sentences, "
        f"target {book['target_h']:g} h of audio, planned {book['estimated_audio_s'] / 3600:.2f} h"
    )
    if book["scaled_down"]:
        out(book["scaled_down"])
    out(f"state: {conv['state']} ({conv['done_segments']}/{conv['segments']} segments done)")
    out("")
    out("| measure | value |")
    out("|---|---|")
    finished = conv["finished_audio_s"]
    rows = [
        ("spoken audio (segments)", f"{report['audio_s']:.1f} s"),
        ("finished chapter audio", f"{finished:.1f} s" if finished else "–"),
        ("end-to-end wall (submit to book)", f"{conv['wall_s']:.1f} s"),
        ("end to end, audio-s per wall-s", f"{report['e2e_rate']:.2f}"),
        (
            f"in-process ceiling at batch {ceiling['batch']}, audio-s per wall-s",
            f"{ceiling['rate']:.2f} (fastest of {plan['repeats']} batches: "
            f"{ceiling['ms_per_batch']:.1f} ms)",
        ),
        ("end to end / ceiling", f"{report['ratio']:.3f}"),
    ]
    for label, value in rows:
        out(f"| {label} | {value} |")
    out("")
    print_batches(report, out)
    print_utilisation(report["utilisation"], out)
    out("")
    out("where the wall time went (s):")
    stop = [("stack stop", report["stop_s"])]
    for name, seconds in [*report["setup"].items(), *report["phases"].items(), *stop]:
        out(f"  {name:<48} {seconds:8.1f}")
    out(f"  {'whole command':<48} {report['total_s']:8.1f}")


def print_batches(report: dict, out: Callable[[str], None]) -> None:
    sizes = {int(k): v for k, v in report["batch_sizes"].items()}
    batches = sum(sizes.values())
    requests = report["requests_in_log"]
    counted = report["requests_counted"]
    out(
        f"TorchServe batches (ts_log.log): {batches} batches, {requests} requests, mean "
        f"{requests / batches if batches else 0:.2f}; ts_inference_requests_total "
        f"{counted if counted is not None else 'not read'}"
    )
    full = sizes.get(report["plan"]["batch_size"], 0)
    out(f"  full batches: {full} of {batches}; size: batches")
    out("  " + ", ".join(f"{size}: {n}" for size, n in sorted(sizes.items())))


def print_utilisation(utilisation: dict, out: Callable[[str], None]) -> None:
    for window in ("synthesis_phase", "conversion"):
        figures = utilisation[window]
        line = f"{window.replace('_', ' ')}: CPU mean {figures['cpu_mean_pct']}%"
        if utilisation["gpu_sampled"]:
            line += (
                f"; GPU (nvidia-smi, {figures['samples']} samples) mean {figures['gpu_mean_pct']}"
                f"%, p50 {figures['gpu_p50_pct']}%, p90 {figures['gpu_p90_pct']}%, max "
                f"{figures['gpu_max_pct']}%, memory max {figures['gpu_mem_max_mib']} MiB"
            )
        else:
            line += f"; {utilisation['gpu_note']}"
        out(line)


# ------------------------------------------------------------------------------ main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cuda", "cpu"], default=None)
    parser.add_argument("--hours", type=float, help="audio to make (default: 10 cuda, 0.04 cpu)")
    parser.add_argument("--chapter-minutes", type=float, help="about this much audio a chapter")
    parser.add_argument("--batch-size", type=int, help="TorchServe batchSize (32 cuda, 4 cpu)")
    parser.add_argument("--max-batch-delay", type=int, help="maxBatchDelay ms (20 cuda, 50 cpu)")
    parser.add_argument("--torchserve-workers", type=int, default=1, help="model workers")
    parser.add_argument("--inference-workers", type=int, help="default: 2 batches in flight")
    parser.add_argument("--in-flight-per-worker", type=int, help="default: min(batch, 16)")
    parser.add_argument("--fp16", action="store_true", help="half precision (cuda only)")
    parser.add_argument("--repeats", type=int, help="timed in-process batches for the ceiling")
    parser.add_argument("--budget-s", type=float, default=BUDGET_S, help="the whole command")
    parser.add_argument(
        "--expect-ratio", type=float, default=0.3, help="end to end / ceiling, to size the book"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument("--keep", action="store_true", help="keep the run folder (logs)")
    args = parser.parse_args(argv)
    if args.device is None:
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # every child inherits it: nothing downloaded
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise SystemExit("--device cuda asked for, but torch sees no CUDA device")
    plan = make_plan(args)
    root = Path(tempfile.mkdtemp(prefix="voxflow-gpu-e2e-", dir="/var/tmp"))
    try:
        report = run(plan, root, args.amqp_url)
    finally:
        if args.keep:
            print(f"run folder kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0 if report["conversion"]["state"] == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
