"""`voxflow qa PROJECT`: the segments speech QA flagged, with why, to listen to and fix."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from voxflow.cli.app import app
from voxflow.cli.studio import _session
from voxflow.settings import get_settings

console = Console()


@app.command("qa")
def qa_flags(
    project: int = typer.Argument(..., help="Project id."),
    chapter: int = typer.Option(None, "--chapter", "-c", help="Only this chapter."),
    every: bool = typer.Option(False, "--all", help="Every checked segment, not only flagged."),
) -> None:
    """List what speech QA flagged in a project's current audio (or every checked segment)."""
    from voxflow.db import repository
    from voxflow.qa.store import current_checks

    with _session(get_settings()) as session:
        chapters = [
            c
            for c in repository.list_chapters(session, project)
            if chapter is None or c.index == chapter
        ]
        checks = [
            (c.index, segment.index, check)
            for c in chapters
            for segment, check in current_checks(session, c.id)
        ]
    rows = checks if every else [row for row in checks if row[2].reason]
    checked = len(checks)
    table = Table(title=f"project {project}: {sum(bool(r[2].reason) for r in rows)} flagged of "
                  f"{checked} checked segments")  # fmt: skip
    for column in ("chapter", "segment", "WER", "text", "heard", "reason"):
        table.add_column(column)
    for chapter_index, index, check in rows:
        table.add_row(
            str(chapter_index), str(index), f"{check.wer:.2f}", check.expected, check.heard,
            check.reason or "passes",
        )  # fmt: skip
    console.print(table)
    if not checked:
        console.print(
            f"No segment of project {project} has been checked: run `voxflow rerender {project} "
            "--qa` to check its audio."
        )
