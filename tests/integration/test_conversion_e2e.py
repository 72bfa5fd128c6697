"""End to end on the real stack: Temporal dev server, in-process worker, TorchServe, joe voice.

One conversion of the bundled sample book feeds several checks: the outputs, the manifest,
deterministic replay of both workflows' histories, and a cheap re-render after an edit.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import zipfile
from pathlib import Path

import pytest
from temporalio.worker import Replayer

from tests.helpers.conversions import convert
from tests.plugins.temporal import make_settings, running_worker
from voxflow import audio
from voxflow.artifacts import open_store
from voxflow.conversion import connect
from voxflow.db import make_engine, repository, session_scope
from voxflow.naming import chapter_workflow_id
from voxflow.publishing import run_epubcheck
from voxflow.settings import Settings
from workflows.chapter import ChapterWorkflow
from workflows.project import ProjectWorkflow

SAMPLE = Path(__file__).parents[2] / "examples" / "the-lighthouse-keeper.md"
pytestmark = pytest.mark.integration


def segments_of(settings: Settings, project_id: int) -> dict[int, list]:
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        chapters = repository.list_chapters(session, project_id)
        rows = {
            c.index: list(repository.list_segments(session, c.id, limit=10**6)) for c in chapters
        }
        session.expunge_all()
    engine.dispose()
    return rows


@pytest.fixture(scope="module")
async def sample_project(tmp_path_factory, temporal_address, torchserve):
    """The sample converted once; the worker keeps running for the tests that convert more."""
    settings = make_settings(tmp_path_factory.mktemp("e2e"), temporal_address, torchserve)
    async with running_worker(settings):
        client = await connect(settings)
        project_id = await convert(settings, SAMPLE.read_bytes(), SAMPLE.name, client)
        yield settings, client, project_id


async def test_sample_book_converts_end_to_end(sample_project, tmp_path):
    settings, _, project_id = sample_project
    store = open_store(settings)
    manifest = json.loads(store.get(f"projects/{project_id}/manifest.json"))
    assert [c["index"] for c in manifest["chapters"]] == [1, 2, 3]

    for chapter in manifest["chapters"]:
        key = f"projects/{project_id}/chapters/{chapter['audio_file']}"
        local = tmp_path / chapter["audio_file"]
        local.write_bytes(store.get(key))
        assert audio.probe_duration(local) == pytest.approx(chapter["duration_s"], abs=0.05)
        assert store.exists(f"projects/{project_id}/chapters/{chapter['subtitle_file']}")
        times = [(s["start_s"], s["end_s"]) for s in chapter["segments"]]
        assert times[0][0] > 0, "room tone comes before the first sentence"
        for (start, end), (next_start, _) in itertools.pairwise(times):
            assert start < end <= next_start, "segment times are ordered and do not overlap"
        assert times[-1][1] < chapter["duration_s"]

    rows = segments_of(settings, project_id)
    assert all(s.status == "done" and s.start_s is not None for seg in rows.values() for s in seg)

    book = tmp_path / "book.m4b"
    book.write_bytes(store.get(f"projects/{project_id}/{manifest['book']['file']}"))
    markers = audio.probe_chapters(book)
    assert [m["title"] for m in markers] == [c["title"] for c in manifest["chapters"]]
    assert [m["start_s"] for m in markers] == pytest.approx(
        manifest["book"]["chapter_starts_s"], abs=0.05
    )
    tags = _format_tags(book)
    assert tags["genre"] == "Audiobook" and "joe" in tags["composer"]
    assert tags["title"] == manifest["project"]["title"]
    first = tmp_path / manifest["chapters"][0]["audio_file"]
    assert _format_tags(first)["track"] == "1/3"


async def test_every_word_is_timed_inside_its_sentence(sample_project):
    """joe times each word (Piper's durations); the manifest places them in the chapter."""
    settings, _, project_id = sample_project
    manifest = json.loads(open_store(settings).get(f"projects/{project_id}/manifest.json"))
    assert manifest["schema_version"] == 2
    for segment in (s for c in manifest["chapters"] for s in c["segments"]):
        words = segment["words"]
        assert [w for w, _, _ in words] == segment["text"].split()
        assert segment["start_s"] <= words[0][1] and words[-1][2] <= segment["end_s"]
        assert all(a < b for _, a, b in words)


async def test_the_read_along_epub_passes_epubcheck(sample_project, tmp_path):
    """The book's EPUB 3 with media overlays, as built from the real conversion."""
    settings, _, project_id = sample_project
    store = open_store(settings)
    manifest = json.loads(store.get(f"projects/{project_id}/manifest.json"))
    epub = tmp_path / manifest["read_along"]["file"]
    epub.write_bytes(store.get(f"projects/{project_id}/{epub.name}"))
    report = run_epubcheck(epub)
    assert report.ok, report.messages
    with zipfile.ZipFile(epub) as archive:
        smil = [n for n in archive.namelist() if n.endswith(".smil")]
    assert len(smil) == len(manifest["chapters"])


def _format_tags(path: Path) -> dict[str, str]:
    """The container's tags as ffprobe reads them, lower-case names."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    return {k.lower(): v for k, v in json.loads(out)["format"].get("tags", {}).items()}


async def test_recorded_histories_replay_deterministically(sample_project):
    _, client, project_id = sample_project
    replayer = Replayer(workflows=[ProjectWorkflow, ChapterWorkflow])
    histories = [await client.get_workflow_handle(f"project-{project_id}").fetch_history()]
    for index in (1, 2, 3):
        handle = client.get_workflow_handle(chapter_workflow_id(project_id, index))
        histories.append(await handle.fetch_history())
    for history in histories:
        await replayer.replay_workflow(history)


async def test_an_edited_book_resynthesises_only_the_changed_sentence(sample_project):
    settings, client, first_id = sample_project
    original = SAMPLE.read_text()
    sentence = "Maren ordered the oil anyway."
    assert original.count(sentence) == 1
    edited = original.replace(sentence, "Maren ordered twice as much oil anyway.")
    second_id = await convert(settings, edited.encode(), SAMPLE.name, client)

    rows = segments_of(settings, second_id)
    synthesised = [s.text for seg in rows.values() for s in seg if s.attempts > 0]
    assert synthesised == ["Maren ordered twice as much oil anyway."]
    first_total = sum(len(seg) for seg in segments_of(settings, first_id).values())
    assert sum(len(seg) for seg in rows.values()) == first_total
