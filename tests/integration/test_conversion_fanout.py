"""Bounded fan-out: a 5,000-segment chapter on a tiny VITS keeps every run's history small.

The session's dev server suggests continue-as-new at a low event count, so the chapter runs
as many short runs; pending activities never exceed the window K, and jobs are planned a page
of 100 at a time, so no payload grows with the chapter.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest

from tests.integration.test_serving_hf import make_tiny_vits
from tests.plugins.temporal import SUGGEST_CONTINUE_AS_NEW_AT, make_settings, running_worker
from voxflow.contracts import ProjectResult
from voxflow.conversion import connect, start_conversion_bytes
from voxflow.inference import TorchServeClient
from voxflow.naming import chapter_workflow_id
from voxflow.registry import Voice
from voxflow.serving.archives import build_archive

pytestmark = pytest.mark.integration

SEGMENTS = 5000
WINDOW = 4
# A run stops starting jobs once continue-as-new is suggested, then drains at most WINDOW jobs.
HISTORY_BOUND = SUGGEST_CONTINUE_AS_NEW_AT + 12 * WINDOW
WORDS = [
    "amber",
    "birch",
    "cedar",
    "dune",
    "ember",
    "fern",
    "grove",
    "heath",
    "iris",
    "juniper",
    "kelp",
    "larch",
    "moss",
]


def distinct_sentences(count: int) -> list[str]:
    """Lower-case sentences the tiny tokenizer knows, each different so each is synthesised."""
    combos = itertools.product(WORDS, repeat=4)
    return [f"{' '.join(words)}." for words in itertools.islice(combos, count)]


@pytest.fixture
async def tiny_voice(torchserve, tmp_path):
    folder = make_tiny_vits(tmp_path / "tiny-vits")
    voice = Voice("fanout", "1.0", "hf", "cpu", 16000, 200)
    build_archive(voice, torchserve.model_store, model_dir=folder, device="cpu", force=True)
    async with TorchServeClient(torchserve.settings) as client:
        await client.register(
            voice.archive_name, initial_workers=1, batch_size=8, max_batch_delay=5
        )
        try:
            yield voice
        finally:
            await client.unregister(voice.name, voice.version)


async def test_a_5000_segment_chapter_stays_within_history_bounds(
    tmp_path, temporal_address, torchserve, tiny_voice
):
    registry = tmp_path / "models.yaml"
    registry.write_text(
        "voices:\n  - {name: fanout, version: '1.0', handler: hf, pool: cpu,\n"
        "     sample_rate: 16000, max_chars: 200, params: {noise_scale_duration: 0.0}}\n"
    )
    settings = make_settings(
        tmp_path / "data", temporal_address, torchserve,
        model_registry=registry, default_voice="fanout", output_format="wav",
        job_max_segments=16, job_window=WINDOW, job_plan_page=100,
    )  # fmt: skip
    sentences = distinct_sentences(SEGMENTS)
    paragraphs = [" ".join(sentences[i : i + 50]) for i in range(0, SEGMENTS, 50)]
    text = "# Fan-out\n\n## Long chapter\n\n" + "\n\n".join(paragraphs)
    max_pending = 0
    async with running_worker(settings):
        client = await connect(settings)
        started = await start_conversion_bytes(settings, text.encode(), "fanout.md", client=client)
        assert started.segments == SEGMENTS
        result_task = asyncio.ensure_future(
            client.get_workflow_handle(started.workflow_id, result_type=ProjectResult).result()
        )
        chapter = client.get_workflow_handle(chapter_workflow_id(started.project_id, 1))
        while not result_task.done():
            try:
                description = await chapter.describe()
            except Exception:  # not started yet
                await asyncio.sleep(0.2)
                continue
            max_pending = max(max_pending, len(description.raw_description.pending_activities))
            await asyncio.sleep(0.2)
        result = await result_task

        runs = [
            execution.run_id
            async for execution in client.list_workflows(
                f'WorkflowId = "{chapter_workflow_id(started.project_id, 1)}"'
            )
        ]
        lengths = []
        for run_id in runs:
            history = await client.get_workflow_handle(chapter.id, run_id=run_id).fetch_history()
            lengths.append(len(history.events))
        project_history = await client.get_workflow_handle(started.workflow_id).fetch_history()

    assert result.state == "done"
    assert 0 < max_pending <= WINDOW
    assert len(runs) > 1, "the chapter continued as new"
    assert max(lengths) <= HISTORY_BOUND, lengths
    assert len(project_history.events) < 250, "about 50 progress signals per chapter at most"
    print(
        f"\n{SEGMENTS} segments: {len(runs)} chapter runs, longest history {max(lengths)} events, "
        f"project history {len(project_history.events)} events, max pending activities "
        f"{max_pending}"
    )
