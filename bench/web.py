"""Web app latency on a 60,000-segment project: project page, chapter pages, status endpoint.

Usage: python bench/web.py [--segments 60000] [--chapters 12] [--requests 50]
                           [--database-url URL] [--keep DIR]

Seeds one project straight into the database (SQLite in a temporary folder unless
--database-url is given; the PostgreSQL database must exist and be empty or Voxflow's), then
runs `voxflow web` in its own process, as deployed, and times N sequential HTTP requests per
page with httpx from this process. Prints median and p95 in milliseconds. Target: < 300 ms.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from voxflow.db import make_engine, migrate, repository, session_scope
from voxflow.db.models import ChapterState, ProjectState, Segment, SegmentStatus
from voxflow.document import Block, Chapter, Document
from voxflow.document import Segment as DocSegment
from voxflow.naming import project_workflow_id

WORDS = ("the", "keeper", "climbed", "ninety", "two", "steps", "wound", "the", "clockwork")


def sentence(chapter: int, index: int) -> str:
    words = [WORDS[(index * 7 + k * 3 + chapter) % len(WORDS)] for k in range(12)]
    return f"Sentence {index} of chapter {chapter}: " + " ".join(words) + "."


def seed(database_url: str, segments: int, chapters: int) -> tuple[int, int, int]:
    """One project, `segments` split over `chapters`; two thirds done. Returns ids and size."""
    migrate(database_url)
    per_chapter = segments // chapters
    document = Document(title="Benchmark Book", source_format="markdown")
    for number in range(1, chapters + 1):
        blocks = [
            Block(b, [DocSegment(number, b, i, sentence(number, i)) for i in range(s, s + 10)])
            for b, s in enumerate(range(0, per_chapter, 10))
        ]
        document.chapters.append(Chapter(number, f"Chapter {number}", blocks))
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            project = repository.create_project(
                session, document, source_name="bench.md", voice="joe"
            )
            pid = project.id
            repository.record_conversion(session, pid, workflow_id=project_workflow_id(pid))
            for chapter in repository.list_chapters(session, pid):
                session.execute(
                    sa.update(Segment)
                    .where(Segment.chapter_id == chapter.id, Segment.index < per_chapter * 2 // 3)
                    .values(
                        status=SegmentStatus.done,
                        attempts=1,
                        duration_s=3.2,
                        audio_key="segments/00/bench.wav",
                    )
                )
                repository.refresh_chapter_counts(session, chapter.id)
                repository.set_chapter_state(session, pid, chapter.index, ChapterState.running)
            repository.set_project_state(session, pid, ProjectState.running)
    finally:
        engine.dispose()
    return pid, chapters, per_chapter


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def measure(client: httpx.Client, url: str, requests: int) -> tuple[float, float, int]:
    client.get(url).raise_for_status()  # warm-up (templates compiled, connections pooled)
    times = []
    size = 0
    for _ in range(requests):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
        size = len(response.content)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=60_000)
    parser.add_argument("--chapters", type=int, default=12)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--database-url")
    parser.add_argument("--keep", type=Path, help="data folder to use and keep")
    args = parser.parse_args()

    data_dir = args.keep or Path(tempfile.mkdtemp(prefix="voxflow-bench-web-"))
    database_url = args.database_url or f"sqlite:///{data_dir / 'voxflow.db'}"
    started = time.perf_counter()
    pid, chapters, per_chapter = seed(database_url, args.segments, args.chapters)
    backend = database_url.split(":", 1)[0]
    print(
        f"seeded project {pid}: {chapters * per_chapter} segments in {chapters} chapters "
        f"({per_chapter} per chapter) on {backend} in {time.perf_counter() - started:.1f}s"
    )

    port = free_port()
    env = dict(
        os.environ,
        VOXFLOW_DATA_DIR=str(data_dir),
        VOXFLOW_DATABASE_URL=database_url,
        VOXFLOW_TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}",  # down: pages read the database
    )
    voxflow = str(Path(sys.executable).parent / "voxflow")
    server = subprocess.Popen(
        [voxflow, "web", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    client.get("/api/health")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("voxflow web did not start") from None
                    time.sleep(0.2)
            middle = (per_chapter // 2) // 100 * 100
            last_chapter = chapters
            pages = [
                ("project page", f"/projects/{pid}"),
                ("chapter page, first 100", f"/projects/{pid}/chapters/1"),
                ("chapter page, middle", f"/projects/{pid}/chapters/1?start={middle}"),
                (
                    "chapter page, last",
                    f"/projects/{pid}/chapters/{last_chapter}?start={per_chapter - 100}",
                ),
                ("chapter page, pending only", f"/projects/{pid}/chapters/1?status=pending"),
                ("status endpoint", f"/api/projects/{pid}"),
                ("segments API, middle", f"/api/projects/{pid}/chapters/1/segments?start={middle}"),
                ("projects list", "/"),
            ]
            print(f"{args.requests} sequential requests each, after one warm-up request:")
            print(f"{'page':28} {'median ms':>10} {'p95 ms':>8} {'bytes':>9}")
            for name, url in pages:
                median, p95, size = measure(client, url, args.requests)
                print(f"{name:28} {median:10.1f} {p95:8.1f} {size:9d}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
