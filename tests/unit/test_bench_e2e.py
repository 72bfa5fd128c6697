"""bench/e2e.py reads when each assembly and book activity ran from the worker's log: its
pattern must match what the worker actually writes."""

from __future__ import annotations

import logging
import time

from activities.activity_log import DONE
from bench.e2e import _steps
from voxflow.cli.worker import LOG_FORMAT
from voxflow.naming import chapter_workflow_id, project_workflow_id


def _line(what: str, took: float, at: float) -> str:
    record = logging.LogRecord(
        "voxflow.activities", logging.INFO, __file__, 1, DONE, (what, took), None
    )
    record.created = at
    record.msecs = (at % 1) * 1000
    return logging.Formatter(LOG_FORMAT).format(record)


def test_steps_are_read_back_from_the_workers_log(tmp_path) -> None:
    epoch = time.time()
    lines = [
        _line(f"assemble_chapter for {chapter_workflow_id(1, 2)} (attempt 1)", 8.2, epoch + 78.2),
        _line(f"build_book for {project_workflow_id(1)} (attempt 2)", 1.0, epoch + 79.3),
        _line(f"synthesize_job for {chapter_workflow_id(1, 2)} (attempt 1)", 0.5, epoch + 10.0),
        "some other line",
    ]
    (tmp_path / "temporal-worker.log").write_text("\n".join(lines) + "\n")
    steps = _steps(tmp_path, epoch)
    assert [what for what, _, _ in steps] == ["assemble_chapter chapter-2", "build_book project-1"]
    (_, start, end), (_, book_start, book_end) = steps
    assert abs(start - 70.0) < 0.01 and abs(end - 78.2) < 0.01
    assert abs(book_start - 78.3) < 0.01 and abs(book_end - 79.3) < 0.01
