"""Chaos run: a book in queue mode with every part its own process, under seeded faults.

    python bench/chaos.py [--faults 100] [--seed 7] [--every 2 4] [--document PATH ...]

The default book is real text no one here wrote: nine of Debian's licence texts
(/usr/share/common-licenses), read as one plain-text document: 1,136 segments, 1,045 distinct.

Parts, as in production: a Temporal dev server on its own SQLite file, TorchServe, one Temporal
worker, two inference workers, the result relay, a private PostgreSQL, and the machine's
RabbitMQ (its own vhost). A supervisor restarts whatever dies, as Kubernetes would. Faults, in
a seeded order at seeded moments: SIGKILL of each worker kind, of a TorchServe Python worker,
of TorchServe itself and of the Temporal server; the broker's app stopped and started; and
PostgreSQL stopped for 10 s. Prints completion, segments lost and duplicated in the output,
wasted syntheses and the time from each fault to progress resuming, per kind.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import psutil
import sqlalchemy as sa

from tests.plugins.services import free_port, private_addresses, rabbitmqctl
from voxflow.db import make_engine, migrate
from voxflow.db.models import Project, Segment, SegmentStatus
from voxflow.processes import ManagedProcess
from voxflow.settings import Settings
from voxflow.stack import TemporalDevServer, TemporalWorkerProcess, inference_process, relay_process

log = logging.getLogger("voxflow.chaos")
KINDS = (
    "temporal-worker",
    "inference-worker",
    "relay",
    "torchserve-worker",
    "torchserve",
    "temporal-server",
    "broker",
    "postgres",
)
WORKER_KINDS = ("temporal-worker", "inference-worker", "relay")
INFERENCE_WORKERS = 2
# Requests in flight at TorchServe across the whole inference pool: what one pod of 2 Python
# workers keeps busy (the embedded stack's single inference worker keeps 4 too). More only
# queues inside TorchServe, and a killed worker's queued requests are synthesised for no one.
POOL_IN_FLIGHT = 4
SETTLE_LIMIT_S = 60.0  # a fault that has not recovered by then no longer holds the next one
POSTGRES_BIN = Path("/usr/lib/postgresql")
LICENSES = Path("/usr/share/common-licenses")
BOOK = ["GPL-3", "LGPL-2.1", "GFDL-1.3", "GPL-2", "MPL-2.0", "Apache-2.0", "MPL-1.1", "CC0-1.0"]
DEFAULT_BOOK = [LICENSES / name for name in [*BOOK, "Artistic"]]


# ------------------------------------------------------------------------------ services


class PrivatePostgres:
    """A PostgreSQL cluster of its own (initdb as `postgres`), so stopping it hurts nobody else."""

    def __init__(self, port: int) -> None:
        # Its own folder, readable by `postgres` (pytest's and mkdtemp's folders are 0700).
        self.root = Path(tempfile.mkdtemp(prefix="voxflow-pg-", dir="/var/tmp"))
        self.port = port
        self.data = self.root / "pgdata"
        versions = sorted(POSTGRES_BIN.glob("*/bin/pg_ctl"))
        if not versions:
            raise RuntimeError("PostgreSQL server binaries are not installed (apt postgresql)")
        self.bin = versions[-1].parent

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *argv: str) -> None:
        command = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{shlex.join(argv)} failed: {done.stderr or done.stdout}")

    def init(self) -> PrivatePostgres:
        self.root.chmod(0o755)
        shutil.chown(self.root, "postgres", "postgres")
        self._as_postgres(
            str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"
        )
        return self.start()

    def start(self) -> PrivatePostgres:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._as_postgres(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "pg.log"),
            "-o", options, "-w", "start",
        )  # fmt: skip
        return self

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._as_postgres(
                str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"
            )


# ------------------------------------------------------------------------------ supervisor


@dataclass
class Part:
    """One supervised process: how to make a fresh one, and the current one."""

    name: str
    make: Callable[[], ManagedProcess]
    process: ManagedProcess | None = None
    restarts: int = 0
    held: bool = False  # True while a fault keeps it down on purpose


class Supervisor:
    """Restart whatever died after `delay_s`, as a Deployment's pod would be replaced."""

    def __init__(self, delay_s: float = 1.0) -> None:
        self.parts: dict[str, Part] = {}
        self.delay_s = delay_s
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def add(self, name: str, make: Callable[[], ManagedProcess]) -> Part:
        part = self.parts[name] = Part(name, make)
        part.process = make().start()
        return part

    def run(self) -> None:
        for part in self.parts.values():
            thread = threading.Thread(target=self._keep, args=(part,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _keep(self, part: Part) -> None:
        while not self._stop.is_set():
            if part.held or (part.process is not None and part.process.alive):
                self._stop.wait(0.2)
                continue
            self._stop.wait(self.delay_s)
            if self._stop.is_set():
                return
            with contextlib.suppress(Exception):
                if part.process is not None:
                    part.process.stop(timeout_s=5)
            try:
                part.process = part.make().start()
                part.restarts += 1
                log.info("restarted %s (pid %d)", part.name, part.process.pid)
            except Exception as error:  # e.g. Temporal still down: try again
                log.warning("restarting %s failed: %s", part.name, str(error).splitlines()[0])
                part.process = None

    def shutdown(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        for part in reversed(list(self.parts.values())):
            if part.process is not None:
                with contextlib.suppress(Exception):
                    part.process.stop(timeout_s=15)


# ------------------------------------------------------------------------------ faults


@dataclass
class Fault:
    kind: str
    started: float
    ended: float = 0.0
    recovered: float | None = None
    detail: str = ""

    @property
    def recovery_s(self) -> float | None:
        return None if self.recovered is None else self.recovered - self.ended


def sigkill_group(process: ManagedProcess) -> None:
    """The whole pod dies: the process and everything in its group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@dataclass
class ChaosRun:
    """Start the parts, convert one book, inject faults until it ends, and measure."""

    root: Path
    document: bytes
    faults: int = 16
    every_s: tuple[float, float] = (3.0, 6.0)
    seed: int = 7
    timeout_s: float = 1800.0
    kinds: tuple[str, ...] = KINDS
    document_name: str = "chaos.txt"
    in_flight: int = POOL_IN_FLIGHT
    injected: list[Fault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.supervisor = Supervisor()
        self.predictions: dict[int, float] = {}  # TorchServe pid → its request counter
        self.vhost = f"chaos-{uuid.uuid4().hex[:8]}"

    # --- setup ----------------------------------------------------------------------------
    def settings(self, postgres: PrivatePostgres) -> Settings:
        return Settings(
            data_dir=self.root / "data",
            database_url=postgres.url,
            temporal_task_queue="chaos",
            **private_addresses(),
            amqp_url=f"amqp://guest:guest@127.0.0.1:5672/{self.vhost}",
            dispatch="queue",
            queue_prefix="chaos",
            job_max_segments=4,
            job_window=4,
            torchserve_concurrency=max(1, self.in_flight // INFERENCE_WORKERS),
        )

    def start_parts(self, settings: Settings) -> None:
        from voxflow.serving.archives import build_model_store
        from voxflow.serving.process import TorchServeProcess

        build_model_store(settings, ["joe"])
        grpc = {"grpc_inference_port": free_port(), "grpc_management_port": free_port()}
        add = self.supervisor.add
        add("temporal-server", lambda: TemporalDevServer(settings))
        add("torchserve", lambda: TorchServeProcess.from_settings(settings, models=["joe"], **grpc))
        add("temporal-worker", lambda: TemporalWorkerProcess(settings))
        add("relay", lambda: relay_process(settings))
        for n in range(1, INFERENCE_WORKERS + 1):
            add(
                f"inference-worker-{n}",
                lambda n=n: inference_process(settings, name=f"inference {n}"),
            )
        self.supervisor.run()

    # --- faults ---------------------------------------------------------------------------
    def inject(self, kind: str, postgres: PrivatePostgres) -> Fault:
        fault = Fault(kind, time.monotonic())
        parts = self.supervisor.parts
        if kind == "torchserve":
            self.count_predictions()  # its counter dies with it
        if kind in ("temporal-worker", "relay", "temporal-server", "torchserve"):
            process = parts[kind].process
            if process is not None and process.alive:
                fault.detail = f"pid {process.pid}"
                sigkill_group(process)
        elif kind == "inference-worker":
            part = parts[f"inference-worker-{self.rng.randint(1, INFERENCE_WORKERS)}"]
            if part.process is not None and part.process.alive:
                fault.detail = f"{part.name} pid {part.process.pid}"
                sigkill_group(part.process)
        elif kind == "torchserve-worker":
            self.count_predictions()
            fault.detail = self._kill_model_worker(parts["torchserve"].process)
        elif kind == "broker":
            rabbitmqctl("stop_app")
            time.sleep(self.rng.uniform(3, 8))
            rabbitmqctl("start_app")
            rabbitmqctl("await_startup")
        elif kind == "postgres":
            postgres.stop()
            time.sleep(10)
            postgres.start()
        fault.ended = time.monotonic()
        self.injected.append(fault)
        log.info("fault %d: %s %s", len(self.injected), kind, fault.detail)
        return fault

    def _kill_model_worker(self, torchserve: ManagedProcess | None) -> str:
        """SIGKILL one of TorchServe's Python model workers; the frontend restarts it."""
        if torchserve is None or not torchserve.alive:
            return "torchserve down"
        with contextlib.suppress(psutil.Error):
            workers = [
                p
                for p in psutil.Process(torchserve.pid).children(recursive=True)
                if "model_service_worker" in " ".join(p.cmdline())
            ]
            if workers:
                victim = self.rng.choice(workers)
                victim.kill()
                return f"model worker pid {victim.pid}"
        return "no model worker"

    # --- measuring ------------------------------------------------------------------------
    def count_predictions(self) -> None:
        """Keep each TorchServe process's `ts_inference_requests_total` as last scraped."""
        process = self.supervisor.parts["torchserve"].process
        if process is None or not process.alive:
            return
        try:
            text = httpx.get(process.metrics_url + "/metrics", timeout=2).text
        except httpx.HTTPError:
            return
        self.predictions[process.pid] = sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("ts_inference_requests_total{")
        )

    def done_segments(self, engine: sa.Engine) -> int | None:
        try:
            with engine.connect() as connection:
                statement = sa.select(sa.func.count()).where(Segment.status == SegmentStatus.done)
                return connection.execute(statement).scalar_one()
        except sa.exc.SQLAlchemyError:
            return None  # PostgreSQL is down: no reading, not "no progress"

    def project_state(self, engine: sa.Engine, project_id: int) -> str | None:
        try:
            with engine.connect() as connection:
                statement = sa.select(Project.state).where(Project.id == project_id)
                return str(connection.execute(statement).scalar_one())
        except sa.exc.SQLAlchemyError:
            return None

    def watch(self, engine: sa.Engine, stop: threading.Event) -> None:
        """Sample the done count twice a second; a fault recovers at the first rise after it."""
        last = -1
        while not stop.is_set():
            done = self.done_segments(engine)
            now = time.monotonic()
            if done is not None:
                if done > last:
                    for fault in self.injected:
                        if fault.recovered is None and fault.ended and now > fault.ended:
                            fault.recovered = now
                last = max(last, done)
            self.count_predictions()
            stop.wait(0.5)

    # --- the run --------------------------------------------------------------------------
    def run(self) -> dict:
        rabbitmqctl("add_vhost", self.vhost)
        rabbitmqctl("set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*")
        postgres = PrivatePostgres(free_port()).init()
        stop_watch = threading.Event()
        try:
            settings = self.settings(postgres)
            migrate(settings.database_url)
            engine = make_engine(settings.database_url)
            self.start_parts(settings)
            started_at = time.monotonic()
            project_id, workflow_id = asyncio.run(
                start(settings, self.document, self.document_name)
            )
            watcher = threading.Thread(target=self.watch, args=(engine, stop_watch), daemon=True)
            watcher.start()
            order = self._order()
            state = None
            next_fault = time.monotonic() + self.rng.uniform(*self.every_s)
            while time.monotonic() - started_at < self.timeout_s:
                state = self.project_state(engine, project_id) or state
                if state in ("done", "failed", "attention", "cancelled"):
                    break
                if order and time.monotonic() >= next_fault and self._settled():
                    self.inject(order.pop(0), postgres)
                    next_fault = time.monotonic() + self.rng.uniform(*self.every_s)
                time.sleep(0.25)
            wall_s = time.monotonic() - started_at
            stop_watch.set()
            report = self.report(settings, engine, project_id, state, wall_s)
            report["workflow_id"] = workflow_id
            engine.dispose()
            return report
        finally:
            stop_watch.set()
            self.supervisor.shutdown()
            postgres.remove()
            with contextlib.suppress(RuntimeError):
                rabbitmqctl("delete_vhost", self.vhost)

    def _settled(self) -> bool:
        """The last fault's effect is over (progress resumed), so the next one is measured alone."""
        if not self.injected:
            return True
        last = self.injected[-1]
        return last.recovered is not None or time.monotonic() - last.ended > SETTLE_LIMIT_S

    def _order(self) -> list[str]:
        """Every kind in turn (seeded shuffle per round), `faults` in all."""
        order: list[str] = []
        while len(order) < self.faults:
            round_ = list(self.kinds)
            self.rng.shuffle(round_)
            order += round_
        return order[: self.faults]

    def report(
        self,
        settings: Settings,
        engine: sa.Engine,
        project_id: int,
        state: str | None,
        wall_s: float,
    ) -> dict:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(Segment.status, Segment.audio_key, Segment.attempts)
            ).all()
        store = Path(settings.artifacts_dir)
        lost = sum(
            1
            for status, key, _ in rows
            if status != SegmentStatus.done or not key or not (store / key).exists()
        )
        manifest = store / f"projects/{project_id}/manifest.json"
        duplicated, in_manifest = None, None
        if manifest.exists():
            chapters = json.loads(manifest.read_text())["chapters"]
            indices = [(c["index"], s["index"]) for c in chapters for s in c["segments"]]
            in_manifest = len(indices)
            duplicated = len(indices) - len(set(indices))
        self.count_predictions()
        requests = round(sum(self.predictions.values()))
        syntheses = count_syntheses(self.root / "data" / "torchserve" / "logs")
        distinct = len({key for _, key, _ in rows if key})  # a repeated sentence is made once
        recoveries: dict[str, list[float]] = {}
        for fault in self.injected:
            if fault.recovery_s is not None:
                recoveries.setdefault(fault.kind, []).append(round(fault.recovery_s, 1))
        worker_recoveries = [r for kind in WORKER_KINDS for r in recoveries.get(kind, [])]
        return {
            "state": state,
            "segments": len(rows),
            "in_manifest": in_manifest,
            "lost": lost,
            "duplicated_in_output": duplicated,
            "syntheses": syntheses,
            "torchserve_requests": requests,
            "attempts": sum(a for *_, a in rows),
            "distinct_sentences": distinct,
            "wasted_syntheses_pct": round(100 * (syntheses - distinct) / max(distinct, 1), 1),
            "in_flight": f"{self.in_flight} across {INFERENCE_WORKERS} inference workers",
            "faults": len(self.injected),
            "faults_by_kind": {k: sum(f.kind == k for f in self.injected) for k in KINDS},
            "unrecovered": [f.kind for f in self.injected if f.recovered is None],
            "recovery_s": recoveries,
            "median_worker_recovery_s": statistics.median(worker_recoveries)
            if worker_recoveries
            else None,
            "restarts": {name: p.restarts for name, p in self.supervisor.parts.items()},
            "wall_s": round(wall_s, 1),
            "audio_s": audio_seconds(engine),
        }


def count_syntheses(log_dir: Path) -> int:
    """Predictions TorchServe answered 200 in its access log, which its restarts append to."""
    answered = re.compile(r'"POST /predictions/[^"]*" 200 ')
    return sum(
        1
        for path in log_dir.glob("access_log*.log")
        for line in path.read_text(errors="replace").splitlines()
        if answered.search(line)
    )


def audio_seconds(engine: sa.Engine) -> float:
    with engine.connect() as connection:
        total = connection.execute(sa.select(sa.func.sum(Segment.duration_s))).scalar_one()
    return round(total or 0.0, 1)


async def start(settings: Settings, document: bytes, name: str) -> tuple[int, str]:
    from voxflow.conversion import start_conversion_bytes

    started = await start_conversion_bytes(settings, document, name)
    return started.project_id, started.workflow_id


def print_report(report: dict, command: str) -> None:
    print(f"command: {command}")
    for key, value in report.items():
        print(f"{key:>26}: {value}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", type=int, default=100)
    parser.add_argument("--document", type=Path, nargs="+", default=DEFAULT_BOOK, help="text files")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--every", type=float, nargs=2, default=(2.0, 4.0), metavar=("MIN", "MAX"))
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=KINDS, help="fault kinds")
    parser.add_argument(
        "--in-flight",
        type=int,
        default=POOL_IN_FLIGHT,
        help=f"TorchServe requests in flight across the {INFERENCE_WORKERS} inference workers",
    )
    parser.add_argument("--keep", action="store_true", help="keep the run folder (logs)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    root = Path(tempfile.mkdtemp(prefix="voxflow-chaos-", dir="/var/tmp"))
    document = b"\n\n".join(path.read_bytes() for path in args.document)
    run = ChaosRun(
        root,
        document,
        faults=args.faults,
        every_s=tuple(args.every),
        seed=args.seed,
        kinds=tuple(args.kinds),
        in_flight=args.in_flight,
    )
    try:
        report = run.run()
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print_report(report, "python " + shlex.join(sys.argv))
    return 0 if report["state"] == "done" and report["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
