"""The chaos suite, CI-sized: one fault of every kind on a book in queue mode, every part a process.

`python bench/chaos.py` is the same run at benchmark size (100 faults and more).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.books import sample_book
from bench.chaos import KINDS, POSTGRES_BIN, ChaosRun, print_report
from tests.plugins.services import missing, require_service

pytestmark = pytest.mark.integration

# What each worker's log must show after the run: its start, its work, and its stop.
WORKER_LOGS = {
    "temporal-worker.log": ("polling task queue", "done in", "temporal worker stopping"),
    "inference-1.log": ("consuming chaos.jobs.cpu", "synthesised", "stopping: asked to stop"),
    "inference-2.log": ("consuming chaos.jobs.cpu", "synthesised", "stopping: asked to stop"),
    "result-relay.log": ("relay consuming", "activity completed", "relay stopping"),
}


@pytest.fixture
def chaos_tools() -> None:
    require_service("RabbitMQ", "127.0.0.1", 5672)
    if not sorted(POSTGRES_BIN.glob("*/bin/pg_ctl")) or not shutil.which("runuser"):
        missing("the chaos run needs PostgreSQL's server binaries and runuser (scripts/install.sh)")
    if not shutil.which("rabbitmqctl"):
        missing("the chaos run restarts the broker with rabbitmqctl (run as root, like CI)")


def test_a_book_survives_one_fault_of_every_kind(chaos_tools, tmp_path: Path):
    document = sample_book(2).encode()
    run = ChaosRun(
        tmp_path, document, faults=len(KINDS), every_s=(1, 2), seed=11, document_name="chaos.md"
    )
    report = run.run()
    print_report(report, "pytest tests/integration/test_chaos.py")

    assert report["faults_by_kind"] == dict.fromkeys(KINDS, 1), "every kind of fault, once"
    assert report["state"] == "done", report
    assert report["lost"] == 0, "every segment done, its audio stored"
    assert report["in_manifest"] == report["segments"] > 100
    assert report["duplicated_in_output"] == 0, "no segment twice in the book"
    assert report["unrecovered"] == [], "progress resumed after every fault"
    assert report["attempts"] >= report["syntheses"] >= report["distinct_sentences"], (
        "every synthesis TorchServe made is counted as an attempt"
    )
    logs = tmp_path / "data" / "logs"
    for name, lines in WORKER_LOGS.items():
        text = (logs / name).read_text()
        for line in lines:
            assert line in text, f"{name} does not say {line!r}"
