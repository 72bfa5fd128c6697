"""`voxflow convert`, `status`, `replay` and `accept`: start and steer conversions."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from voxflow.cli.app import app
from voxflow.errors import ServiceUnavailable
from voxflow.qa.choice import MAX_RETAKES
from voxflow.settings import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from temporalio.client import Client

    from voxflow.conversion import StartedConversion
    from voxflow.stack import LocalStack

console = Console()
FINAL_STATES = {"done", "failed", "attention", "cancelled"}
WAIT_FOR_WORKER_S = 120.0  # `voxflow up` on a slow machine: TorchServe first, then the worker
STACK_CHECK_S = 5.0


@app.command()
def convert(
    file: Path = typer.Argument(..., help="TXT, Markdown, EPUB or DOCX document."),
    voice: str = typer.Option(None, "--voice", "-v", help="Voice from the model registry."),
    format: str = typer.Option(None, "--format", "-f", help="Chapter audio: mp3, wav or ogg."),
    out: Path = typer.Option(None, "--out", "-o", help="Folder for the audiobook files."),
    dispatch: str = typer.Option(
        None, help="direct (activities call TorchServe) or queue (RabbitMQ worker fleet)."
    ),
    include_front_matter: bool = typer.Option(
        False,
        "--include-front-matter",
        help="Narrate EPUB front and back matter (imprint, colophon, ...) skipped by default.",
    ),
    cover: Path = typer.Option(
        None,
        "--cover",
        help="JPEG or PNG cover for the M4B and MP3 chapters; replaces the document's own.",
    ),
    acx: bool = typer.Option(
        False,
        "--acx",
        help="ACX deliverable: narrate opening and closing credits as chapters of their own, "
        "and write acx/ with the chapter files numbered in reading order and the ACX report.",
    ),
    qa: bool = typer.Option(
        False,
        "--qa",
        help="Speech QA: transcribe each segment (pocketsphinx), flag those that do not say "
        "their text, and write qa-report.html. Costs about twice the synthesis CPU.",
    ),
    qa_retakes: int = typer.Option(
        None,
        "--qa-retakes",
        min=0,
        max=MAX_RETAKES,
        help="With speech QA (implies --qa): render a flagged segment again up to N times "
        "and keep its best take.",
    ),
) -> None:
    """Convert a document to narrated audio, starting the embedded stack if none is running."""
    settings = get_settings()
    if format and format not in {"mp3", "wav", "ogg"}:
        raise typer.BadParameter("choose mp3, wav or ogg", param_hint="--format")
    if cover is not None:
        _check_cover(cover)
    if dispatch:
        if dispatch not in {"direct", "queue"}:
            raise typer.BadParameter("choose direct or queue", param_hint="--dispatch")
        settings = settings.model_copy(update={"dispatch": dispatch})
    retakes = qa_retakes if qa_retakes is not None else (0 if qa else None)
    request = _Request(voice, format, out, include_front_matter, cover, acx, retakes)
    state = run_on_stack(settings, voice, lambda stack: _convert(settings, file, request, stack))
    if state != "done":
        raise typer.Exit(1)


def run_on_stack(
    settings: Settings,
    voice: str | None,
    work: Callable[[LocalStack | None], Coroutine[Any, Any, str]],
) -> str:
    """Run `work` on the running stack, or on the embedded stack started for it; its state.

    Ctrl-C says what happens to the conversion: saved in Temporal (embedded stack), or going on
    in the running stack."""
    from voxflow.stack import LocalStack, temporal_answers, wait_for_worker

    with contextlib.ExitStack() as exit_stack:
        embedded = not temporal_answers(settings)
        if embedded:
            with console.status("no running stack answered; starting the embedded stack…"):
                stack = exit_stack.enter_context(LocalStack(settings))
        else:
            waiting = (
                f"Temporal answers at {settings.temporal_address}; waiting for a worker on "
                f"{settings.temporal_task_queue!r} (a stack still starting)…"
            )
            with console.status(waiting):
                asyncio.run(wait_for_worker(settings, WAIT_FOR_WORKER_S))
            stack = None
            if settings.dispatch == "queue":
                _warn_without_inference_workers(settings, voice or settings.default_voice)
        try:
            return asyncio.run(work(stack))
        except KeyboardInterrupt:
            if embedded:
                console.print(
                    "\n[yellow]Stopped.[/] The embedded stack shuts down now; the conversion is "
                    "saved in Temporal and resumes when you run `voxflow up`."
                )
            else:
                console.print(
                    "\n[yellow]Detached.[/] The conversion goes on in the running stack; "
                    "follow it with `voxflow status`."
                )
            raise typer.Exit(130) from None


def _check_cover(cover: Path) -> None:
    """Refuse a cover that is no JPEG or PNG before any stack starts: a usage error."""
    from voxflow.cover import read_cover
    from voxflow.errors import InputError

    try:
        read_cover(cover)
    except InputError as error:
        raise typer.BadParameter(str(error), param_hint="--cover") from None


def _warn_without_inference_workers(settings: Settings, voice: str) -> None:
    """Queue mode with nobody consuming the pool's queue would wait forever: say so."""
    from voxflow.queue.broker import Names
    from voxflow.registry import load_registry
    from voxflow.stack import queue_consumers

    pool = load_registry(settings).get(voice).pool
    queue = Names(settings.queue_prefix).jobs_queue(pool)
    if asyncio.run(queue_consumers(settings, queue)) == 0:
        console.print(
            f"[yellow]warning:[/] no inference worker consumes {queue}; jobs wait there until "
            f"one runs: `voxflow worker inference --pool {pool}`"
        )


@dataclass(frozen=True)
class _Request:
    """What the user asked of this conversion, besides the document."""

    voice: str | None = None
    fmt: str | None = None
    out: Path | None = None
    include_front_matter: bool = False
    cover: Path | None = None
    acx: bool = False
    qa_retakes: int | None = None  # None: no speech QA


async def _convert(
    settings: Settings, file: Path, request: _Request, stack: LocalStack | None
) -> str:
    from voxflow.conversion import connect, start_conversion

    client = await connect(settings)
    started = await start_conversion(
        settings,
        file,
        voice=request.voice,
        output_format=request.fmt,
        client=client,
        include_front_matter=request.include_front_matter,
        cover=request.cover,
        acx_credits=request.acx,
        qa_retakes=request.qa_retakes,
    )
    console.print(
        f"[bold]{started.title}[/]: project {started.project_id}, {started.chapters} chapters, "
        f"{started.segments} segments"
    )
    return await follow_and_export(settings, client, started, stack, request.out, request.acx)


def _print_qa(folder: Path, project_id: int) -> None:
    """The speech QA summary, when the conversion ran it, and where the report is."""
    report_path = folder / "qa-report.json"
    if not report_path.is_file():
        return
    report = json.loads(report_path.read_text())
    flagged, checked = report["flagged_count"], report["segments"]
    colour = "yellow" if flagged else "green"
    console.print(
        f"[{colour}]Speech QA: {flagged} of {checked} segments flagged[/]; see "
        f"{folder / 'qa-report.html'} (`voxflow qa {project_id}` lists them)"
    )


async def follow_and_export(
    settings: Settings,
    client: Client,
    started: StartedConversion,
    stack: LocalStack | None,
    out: Path | None,
    acx: bool = False,
) -> str:
    """Show progress until the conversion stops, then export its files (or say what to do)."""
    from voxflow.conversion import temporal_ui_link
    from voxflow.db import make_engine
    from voxflow.naming import slugify

    console.print(f"Temporal UI: {temporal_ui_link(settings, started.workflow_id)}")
    engine = make_engine(settings.database_url)  # one engine for the polling and the export
    try:
        state = await _follow(engine, started.project_id, _StackWatch(settings, stack))
        folder = out or Path("voxflow-out") / f"{started.project_id}-{slugify(started.title)}"
        await _report(settings, engine, client, started, state, folder, acx=acx)
    finally:
        engine.dispose()
    return state


async def _report(
    settings: Settings,
    engine: Engine,
    client: Client,
    started: StartedConversion,
    state: str,
    folder: Path,
    acx: bool = False,
) -> None:
    """What the user needs once the conversion stopped: files, or which chapter to replay."""
    from voxflow.contracts import ProjectResult

    if state == "done":
        handle = client.get_workflow_handle(started.workflow_id, result_type=ProjectResult)
        result = await handle.result()
        console.print(
            f"{result.synthesized} segments synthesised, {result.reused} reused from the "
            "audio store (unchanged sentences are never synthesised twice)"
        )
        files = await asyncio.to_thread(
            export_outputs, settings, engine, started.project_id, folder, acx
        )
        console.print(f"[green]Done.[/] {len(files)} files in [bold]{folder}[/]")
        _print_qa(folder, started.project_id)
    elif state == "attention":
        _print_attention(engine, started.project_id)
    else:
        console.print(f"[red]Conversion {state}.[/] See `voxflow status {started.project_id}`.")


class _StackWatch:
    """Notices when the stack running the conversion goes away, instead of waiting silently."""

    def __init__(self, settings: Settings, stack: LocalStack | None) -> None:
        self.settings, self.stack = settings, stack
        self.next_check = time.monotonic() + STACK_CHECK_S

    async def gone(self) -> str | None:
        from voxflow.stack import stack_gone

        if time.monotonic() < self.next_check:
            return None
        self.next_check = time.monotonic() + STACK_CHECK_S
        if self.stack is not None:  # embedded: its processes are our children
            dead = [p.name for p in self.stack.processes() if not p.alive]
            return f"the embedded stack's {', '.join(dead)} exited" if dead else None
        return await stack_gone(self.settings)


async def _follow(engine: Engine, project_id: int, watch: _StackWatch) -> str:
    """Rich progress bars from the database (the authoritative counts), one per chapter."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        tasks: dict[int, int] = {}
        while True:
            project, chapters = await asyncio.to_thread(_snapshot, engine, project_id)
            for chapter in chapters:
                if chapter.index not in tasks:
                    label = f"{chapter.index:>2}. {chapter.title[:40]}"
                    tasks[chapter.index] = progress.add_task(label, total=chapter.segment_count)
                progress.update(tasks[chapter.index], completed=chapter.done_count)
            if project.state in FINAL_STATES:
                return project.state
            why = await watch.gone()
            if why is not None:
                raise ServiceUnavailable(
                    f"{why}. Project {project_id} is saved and resumes when a stack runs "
                    f"again (`voxflow up`); follow it with `voxflow status {project_id}`"
                )
            await asyncio.sleep(0.5)


def _snapshot(engine: Engine, project_id: int):
    from voxflow.db import repository, session_scope

    with session_scope(engine) as session:
        project = repository.get_project(session, project_id)
        chapters = repository.list_chapters(session, project_id)
        session.expunge_all()
        return project, chapters


def export_outputs(
    settings: Settings, engine: Engine, project_id: int, folder: Path, acx: bool = False
) -> list[Path]:
    """Copy the chapter files, subtitles, book, read-along EPUB, ACX report and manifest from
    the artifact store; with `acx`, also `acx/`: the chapters named as ACX takes them, and the
    report again, where a producer uploading them looks."""
    from voxflow.artifacts import open_store
    from voxflow.naming import acx_report_key, qa_report_key

    project, chapters = _snapshot(engine, project_id)
    store = open_store(settings)
    keys = [k for c in chapters for k in (c.audio_key, c.subtitle_key) if k]
    keys += [k for k in (project.book_key, project.read_along_key, project.manifest_key) if k]
    report = acx_report_key(project_id)
    keys += [report] if store.exists(report) else []
    keys += [k for k in (qa_report_key(project_id, "html"), qa_report_key(project_id, "json"))
             if store.exists(k)]  # fmt: skip
    copies = [(key, folder / Path(key).name) for key in keys]
    if acx and project.manifest_key:
        copies += _acx_copies(store, project.manifest_key, chapters, folder / "acx")
        copies += [(report, folder / "acx" / Path(report).name)] if report in keys else []
    for key, target in copies:
        target.parent.mkdir(parents=True, exist_ok=True)
        with store.open(key) as source, target.open("wb") as sink:
            shutil.copyfileobj(source, sink)
    return [target for _, target in copies]


def _acx_copies(store, manifest_key: str, chapters, acx_folder: Path) -> list[tuple[str, Path]]:
    """Each chapter's audio key with its ACX-named file (`01_Opening_Credits.mp3`, ...)."""

    from voxflow.publishing.acx import acx_file_names

    names = acx_file_names(json.loads(store.get(manifest_key)))
    return [(c.audio_key, acx_folder / names[c.index]) for c in chapters if c.audio_key]


def _print_attention(engine: Engine, project_id: int) -> None:
    _, chapters = _snapshot(engine, project_id)
    console.print("[yellow]Some chapters failed;[/] the project waits for a replay:")
    for chapter in chapters:
        if chapter.state == "failed":
            console.print(f"  chapter {chapter.index} ({chapter.title}): {chapter.error}")
            console.print(f"    replay: voxflow replay {project_id} --chapter {chapter.index}")
    console.print(f"  or finish without them: voxflow accept {project_id}")


@app.command()
def status(
    project: int = typer.Argument(None, help="Project id; all projects when omitted."),
) -> None:
    """Show projects, or one project's chapters, with state and progress."""
    from voxflow.conversion import temporal_ui_link
    from voxflow.db import make_engine, migrate, repository, session_scope
    from voxflow.naming import project_workflow_id

    settings = get_settings()
    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        if project is None:
            table = Table(
                "id", "title", "voice", "state", "chapters", "segments", "duration", "created"
            )
            for p in repository.list_projects(session):
                duration = f"{p.duration_s / 60:.1f} min" if p.duration_s else "-"
                table.add_row(
                    str(p.id), p.title, p.voice, str(p.state.value), str(p.chapter_count),
                    str(p.segment_count), duration, p.created_at.strftime("%Y-%m-%d %H:%M"),
                )  # fmt: skip
            console.print(table)
            return
        p = repository.get_project(session, project)
        console.print(f"[bold]{p.title}[/] (project {p.id}): {p.state.value}")
        if p.error:
            console.print(f"  error: {p.error}")
        console.print(f"  Temporal UI: {temporal_ui_link(settings, project_workflow_id(p.id))}")
        table = Table("#", "title", "state", "done", "failed", "duration", "error")
        for c in repository.list_chapters(session, project):
            duration = f"{c.duration_s:.1f} s" if c.duration_s else "-"
            table.add_row(
                str(c.index), c.title, c.state.value, f"{c.done_count}/{c.segment_count}",
                str(c.failed_count), duration, c.error or "",
            )  # fmt: skip
        console.print(table)


@app.command()
def replay(
    project: int = typer.Argument(..., help="Project id."),
    chapter: int = typer.Option(..., "--chapter", "-c", help="Chapter number to run again."),
) -> None:
    """Run a failed chapter again; completed chapters are not redone."""
    from voxflow.conversion import connect, replay_chapter

    async def go() -> str:
        return await replay_chapter(await connect(get_settings()), project, chapter)

    console.print(asyncio.run(go()))


@app.command()
def accept(project: int = typer.Argument(..., help="Project id.")) -> None:
    """Finish a project's book without its failed chapters."""
    from voxflow.conversion import accept_partial, connect

    async def go() -> list[int]:
        return await accept_partial(await connect(get_settings()), project)

    skipped = asyncio.run(go())
    console.print(f"building the book without chapters {', '.join(map(str, skipped))}")
