"""bench/gpu_e2e.py on cpu with the tiny VITS: the whole queue-mode pipeline, end to end.

The same command on a GPU machine is the benchmark (`--device cuda`, 10 hours of audio); here
it runs small, so a broken part of that run shows up in CI before it costs GPU time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.plugins.services import missing, require_service
from tests.plugins.torchserve import require_torchserve
from voxflow.errors import ServiceUnavailable

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BUDGET_S = 150  # the bench scales its book to fit; this keeps the test near two minutes


@pytest.fixture
def pipeline_services() -> None:
    """What the bench starts or uses: fail under CI=true when missing, skip elsewhere."""
    from voxflow.stack import temporal_binary

    require_service("RabbitMQ", "127.0.0.1", 5672)
    require_torchserve()
    try:
        temporal_binary()
    except ServiceUnavailable as error:
        missing(str(error))


def run_bench(tmp_path: Path) -> tuple[dict, str]:
    """The bench as a user runs it; its JSON report and what it printed."""
    report = tmp_path / "report.json"
    command = [
        sys.executable, "bench/gpu_e2e.py", "--device", "cpu", "--hours", "0.03",
        "--budget-s", str(BUDGET_S), "--json", str(report),
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=BUDGET_S + 90, check=False
    )
    print(done.stdout)
    assert done.returncode == 0, f"bench failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return json.loads(report.read_text()), done.stdout


def test_the_bench_converts_a_book_and_reports_its_figures(pipeline_services, tmp_path):
    report, printed = run_bench(tmp_path)
    conversion = report["conversion"]

    assert conversion["state"] == "done"
    assert conversion["done_segments"] == conversion["segments"] > 10
    assert report["audio_s"] > 60, "about 1.8 minutes of spoken audio asked for"
    assert conversion["finished_audio_s"] > report["audio_s"], "pauses and room tone added"
    assert report["e2e_rate"] > 0
    assert report["ceiling"]["rate"] > 0
    assert report["ratio"] == pytest.approx(report["e2e_rate"] / report["ceiling"]["rate"])

    sizes = {int(size): n for size, n in report["batch_sizes"].items()}
    assert max(sizes) > 1, f"TorchServe batched nothing: {sizes}"
    assert max(sizes) <= report["plan"]["batch_size"]
    # Every segment was one request, and the log's batches account for each one of them.
    assert report["requests_in_log"] == report["requests_counted"] == conversion["segments"]

    phases = report["phases"]
    assert all(seconds >= 0 for seconds in phases.values()), phases
    top_level = sum(s for name, s in phases.items() if not name.startswith(" "))
    assert top_level == pytest.approx(conversion["wall_s"], abs=0.01)
    assert report["total_s"] < BUDGET_S

    for line in (
        "command: python bench/gpu_e2e.py --device cpu",
        "end to end, audio-s per wall-s",
        "end to end / ceiling",
        "TorchServe batches",
        "no GPU: not sampled",
        "where the wall time went",
        "stack start",
        "assembly tail",
    ):
        assert line in printed, f"the report does not say {line!r}"
