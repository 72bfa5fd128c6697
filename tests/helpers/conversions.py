"""Shared by the conversion tests: test books, database snapshots, polling, stored audio."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from temporalio.client import Client

from voxflow.contracts import ProjectResult
from voxflow.db import make_engine, repository, session_scope
from voxflow.settings import Settings

NOUNS = ["harbour", "lantern", "compass", "anchor", "gull", "rope", "tide", "chart", "bell"]


def book(chapters: dict[str, int]) -> bytes:
    """A Markdown book whose every sentence is distinct, so each has its own audio key."""
    parts = ["# Test Book"]
    for title, sentences in chapters.items():
        body = " ".join(
            f"{title} sentence {n + 1} talks about the {NOUNS[n % len(NOUNS)]}."
            for n in range(sentences)
        )
        parts.append(f"## {title}\n\n{body}")
    return "\n\n".join(parts).encode()


def snapshot(settings: Settings, project_id: int):
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        project = repository.get_project(session, project_id)
        chapters = repository.list_chapters(session, project_id)
        segments = {
            c.index: list(repository.list_segments(session, c.id, limit=10**6)) for c in chapters
        }
        session.expunge_all()
    engine.dispose()
    return project, {c.index: c for c in chapters}, segments


def conversions(settings: Settings, project_id: int) -> list[tuple[str, str | None]]:
    """The project's conversion rows as (state, error), oldest first."""
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        rows = [(c.state.value, c.error) for c in repository.list_conversions(session, project_id)]
    engine.dispose()
    return rows


def chapter_row(settings: Settings, project_id: int, index: int):
    """The chapter's row, or None while the import has not stored it yet."""
    return snapshot(settings, project_id)[1].get(index)


async def wait_for_chapter(
    settings: Settings, project_id: int, index: int, *, done: int = 0, state: str | None = None
):
    """Wait until the chapter has `done` segments done (and is in `state`, when given)."""
    return await wait_for(
        lambda: (
            (row := chapter_row(settings, project_id, index))
            and row.done_count >= done
            and (state is None or row.state == state)
        )
    )


async def project_result(client: Client, workflow_id: str, timeout_s: float = 300) -> ProjectResult:
    """The project workflow's result, bounded so a hung conversion fails the test."""
    handle = client.get_workflow_handle(workflow_id, result_type=ProjectResult)
    return await asyncio.wait_for(handle.result(), timeout=timeout_s)


async def wait_for(predicate, timeout_s: float = 120.0, every_s: float = 0.1):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = await asyncio.to_thread(predicate)
        if value:
            return value
        await asyncio.sleep(every_s)
    raise AssertionError(f"condition not met within {timeout_s}s")


def segment_files(settings: Settings) -> dict[str, int]:
    """Every stored segment WAV with its inode: a rewrite (a second synthesis) changes it."""
    root = Path(settings.artifacts_dir) / "segments"
    return {str(p.relative_to(root)): p.stat().st_ino for p in root.rglob("*.wav")}


async def convert(
    settings: Settings, data: bytes, name: str, client: Client | None = None, timeout_s: float = 300
) -> int:
    """Start a conversion and wait for it to finish as done; returns the project id."""
    from voxflow.conversion import connect, start_conversion_bytes

    client = client or await connect(settings)
    started = await start_conversion_bytes(settings, data, name, client=client)
    result = await project_result(client, started.workflow_id, timeout_s)
    assert result.state == "done", result
    return started.project_id
