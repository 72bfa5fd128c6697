"""`voxflow lexicon ...` and `voxflow rerender`: fix how words are read, then render again.

A lexicon change shows which segments it touches before it is applied; `rerender` (or
`--render`) runs the project's workflow again, which synthesises only those segments and
assembles only their chapters.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from voxflow.cli.app import app
from voxflow.cli.convert import follow_and_export, run_on_stack
from voxflow.errors import InputError
from voxflow.qa.choice import MAX_RETAKES
from voxflow.settings import Settings, get_settings

console = Console()
lexicon_app = typer.Typer(help="Pronunciation lexicons: shared, and one per project.")
app.add_typer(lexicon_app, name="lexicon")
SHOWN = 20  # touched segments listed before "and N more"

ProjectOption = typer.Option(
    None, "--project", "-p", help="Project id; the shared lexicon when omitted."
)


@contextlib.contextmanager
def _session(settings: Settings) -> Iterator:
    from voxflow.db import make_engine, migrate, session_scope

    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            yield session
    finally:
        engine.dispose()


def _entry(term: str, replacement: str, phonemes: bool, case_sensitive: bool):
    from voxflow.lexicon import Entry, Kind

    kind = Kind.phonemes if phonemes else Kind.respell
    return Entry(term.strip(), replacement.strip(), kind, case_sensitive)


def _show_touched(touched: list, projects: list[int]) -> None:
    """Print, per project, how many segments a change touches and the first few."""
    for project_id in projects:
        found = [t for t in touched if t.project_id == project_id]
        console.print(f"project {project_id}: touches {len(found)} segments")
        for t in found[:SHOWN]:
            where = f"chapter {t.chapter_index} segment {t.segment_index}"
            console.print(f"  {where}: {t.spoken_after}", highlight=False)
        if len(found) > SHOWN:
            console.print(f"  … and {len(found) - SHOWN} more")


@lexicon_app.command("list")
def list_entries(project: int = ProjectOption) -> None:
    """The entries of one lexicon."""
    from voxflow.lexicon import store as lexicon_store

    with _session(get_settings()) as session:
        rows = lexicon_store.entries(session, project)
    table = Table(title="shared lexicon" if project is None else f"project {project} lexicon")
    for column in ("term", "replacement", "kind", "case"):
        table.add_column(column)
    for e in rows:
        case = "exact" if e.case_sensitive else "any"
        table.add_row(e.term, e.replacement, e.kind.value, case)
    console.print(table)


@lexicon_app.command("preview")
def preview(
    term: str = typer.Argument(..., help="Word or phrase, matched as whole words."),
    replacement: str = typer.Argument(..., help="Respelling, or phonemes with --phonemes."),
    project: int = ProjectOption,
    phonemes: bool = typer.Option(False, "--phonemes", help="REPLACEMENT is eSpeak IPA."),
    case_sensitive: bool = typer.Option(False, "--case-sensitive", help="Match exact case."),
) -> None:
    """Show which segments an entry would touch, without adding it."""
    from voxflow.lexicon import store as lexicon_store

    added = [_entry(term, replacement, phonemes, case_sensitive)]
    with _session(get_settings()) as session:
        projects = lexicon_store.reached(session, project)
        _show_touched(lexicon_store.touched_by_change(session, project, added), projects)


@lexicon_app.command("add")
def add(
    term: str = typer.Argument(..., help="Word or phrase, matched as whole words."),
    replacement: str = typer.Argument(..., help="Respelling, or phonemes with --phonemes."),
    project: int = ProjectOption,
    phonemes: bool = typer.Option(False, "--phonemes", help="REPLACEMENT is eSpeak IPA."),
    case_sensitive: bool = typer.Option(False, "--case-sensitive", help="Match exact case."),
    render: bool = typer.Option(False, "--render", help="Re-render the project at once."),
) -> None:
    """Add (or replace) an entry, after showing the segments it touches."""
    _apply(project, [_entry(term, replacement, phonemes, case_sensitive)], render)


@lexicon_app.command("import")
def import_file(
    file: Path = typer.Argument(..., help="A W3C PLS (.pls, .xml) or CSV (.csv) lexicon."),
    project: int = ProjectOption,
    render: bool = typer.Option(False, "--render", help="Re-render the project at once."),
) -> None:
    """Add every entry of a PLS or CSV file, after showing the segments they touch."""
    from voxflow.lexicon import from_csv, from_pls

    if not file.is_file():
        raise InputError(f"{file} does not exist or is not a file")
    reader = from_csv if file.suffix.lower() == ".csv" else from_pls
    _apply(project, reader(file.read_bytes(), file.name), render)


@lexicon_app.command("export")
def export_file(
    file: Path = typer.Argument(..., help="Where to write: .pls for PLS, .csv for CSV."),
    project: int = ProjectOption,
) -> None:
    """Write one lexicon as PLS (what Polly and Azure take) or CSV."""
    from voxflow.lexicon import store as lexicon_store
    from voxflow.lexicon import to_csv, to_pls

    with _session(get_settings()) as session:
        rows = lexicon_store.entries(session, project)
    data = to_csv(rows).encode() if file.suffix.lower() == ".csv" else to_pls(rows)
    file.write_bytes(data)
    console.print(f"{len(rows)} entries written to {file}")


@lexicon_app.command("remove")
def remove(
    term: str = typer.Argument(..., help="The term to remove."),
    project: int = ProjectOption,
) -> None:
    """Remove a term from one lexicon; re-render to hear the voice's own reading again."""
    from voxflow.lexicon import store as lexicon_store

    with _session(get_settings()) as session:
        count = lexicon_store.remove(session, project, term)
    console.print(f"removed {count} entr{'y' if count == 1 else 'ies'} for {term!r}")


def _apply(project: int | None, entries: list, render: bool) -> None:
    from voxflow.lexicon import store as lexicon_store

    settings = get_settings()
    with _session(settings) as session:
        projects = lexicon_store.reached(session, project)
        touched = lexicon_store.save(session, project, entries)
    _show_touched(touched, projects)
    console.print(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'} saved")
    if project is None or not touched:
        return
    if render:
        _rerender(settings, project, None, False)
    else:
        console.print(f"re-render the {len(touched)} segments with: voxflow rerender {project}")


segment_app = typer.Typer(help="One segment: approve its take (lock it) or unlock it.")
app.add_typer(segment_app, name="segment")


def _approval(action, project: int, chapter: int, index: int, said: str) -> None:
    with _session(get_settings()) as session:
        action(session, project, chapter, index)
    console.print(f"segment {index} of chapter {chapter} {said}")


@segment_app.command("approve")
def approve(
    project: int = typer.Argument(..., help="Project id."),
    chapter: int = typer.Argument(..., help="Chapter number."),
    index: int = typer.Argument(..., help="Segment index within the chapter (from 0)."),
) -> None:
    """Approve a segment's take: later lexicon changes and re-renders leave its audio alone."""
    from voxflow.approval import approve as lock

    _approval(lock, project, chapter, index, "approved: its audio is locked")


@segment_app.command("unlock")
def unlock(
    project: int = typer.Argument(..., help="Project id."),
    chapter: int = typer.Argument(..., help="Chapter number."),
    index: int = typer.Argument(..., help="Segment index within the chapter (from 0)."),
) -> None:
    """Unlock an approved segment: the next re-render reads it with the current lexicon."""
    from voxflow.approval import unlock as release

    _approval(release, project, chapter, index, "unlocked")


SegmentArgs = (
    typer.Argument(..., help="Project id."),
    typer.Argument(..., help="Chapter number."),
    typer.Argument(..., help="Segment index within the chapter (from 0)."),
)


@segment_app.command("edit")
def edit_text(
    project: int = SegmentArgs[0],
    chapter: int = SegmentArgs[1],
    index: int = SegmentArgs[2],
    text: str = typer.Argument(..., help="The sentence as it should be read."),
) -> None:
    """Change a segment's text; `voxflow rerender` then synthesises it and its chapter only."""
    from voxflow import takes
    from voxflow.db import repository
    from voxflow.registry import load_registry

    settings = get_settings()
    with _session(settings) as session:
        voice = load_registry(settings).get(repository.get_project(session, project).voice)
        takes.edit(session, project, chapter, index, text, voice.max_chars)
    console.print(
        f"segment {index} of chapter {chapter} edited; render: voxflow rerender {project}"
    )


@segment_app.command("retake")
def retake(
    project: int = SegmentArgs[0], chapter: int = SegmentArgs[1], index: int = SegmentArgs[2]
) -> None:
    """Ask for another rendering of a segment (Piper reads a text a little differently each
    time); `voxflow rerender` makes it."""
    from voxflow import takes

    with _session(get_settings()) as session:
        segment = takes.retake(session, project, chapter, index)
    console.print(f"segment {index} of chapter {chapter} will be read again as take {segment.take}")


@segment_app.command("takes")
def list_takes(
    project: int = SegmentArgs[0], chapter: int = SegmentArgs[1], index: int = SegmentArgs[2]
) -> None:
    """The renderings a segment has had, numbered for `voxflow segment use`."""
    from voxflow import takes
    from voxflow.approval import segment_at

    with _session(get_settings()) as session:
        rows = takes.history(session, project, chapter, index)
        segment = segment_at(session, project, chapter, index)
        current, checks = segment.audio_key, takes.checks(session, segment.id)
    table = Table(title=f"chapter {chapter}, segment {index}")
    for column in ("#", "made", "text", "speech QA", "in use"):
        table.add_column(column)
    for number, take in enumerate(rows, start=1):
        mark = "yes" if take.audio_key == current else ""
        check = checks.get(take.audio_key)
        verdict = "" if check is None else f"WER {check.wer:.2f} {check.reason or 'passes'}"
        table.add_row(str(number), f"{take.created_at:%Y-%m-%d %H:%M}", take.text, verdict, mark)
    console.print(table)


@segment_app.command("use")
def use_take(
    project: int = SegmentArgs[0],
    chapter: int = SegmentArgs[1],
    index: int = SegmentArgs[2],
    number: int = typer.Argument(..., help="Take number from `voxflow segment takes`."),
) -> None:
    """Go back to an earlier take: its text and audio, approved (locked) so renders keep it."""
    from voxflow import takes

    with _session(get_settings()) as session:
        takes.use(session, project, chapter, index, number)
    console.print(
        f"segment {index} of chapter {chapter} uses take {number} (approved); "
        f"render: voxflow rerender {project}"
    )


@app.command()
def rerender(
    project: int = typer.Argument(..., help="Project id."),
    out: Path = typer.Option(None, "--out", "-o", help="Folder for the audiobook files."),
    acx: bool = typer.Option(False, "--acx", help="Also write acx/ (see convert --acx)."),
    qa: bool = typer.Option(
        None, "--qa/--no-qa", help="Turn speech QA on or off for this and later renders."
    ),
    qa_retakes: int = typer.Option(
        None,
        "--qa-retakes",
        min=0,
        max=MAX_RETAKES,
        help="Speech QA with up to N automatic retakes.",
    ),
) -> None:
    """Render a finished project again: only segments whose spoken text changed are
    synthesised, and only their chapters are assembled again."""
    from voxflow.conversion import QaChange

    change = None
    if qa_retakes is not None or qa:
        change = QaChange(qa_retakes or 0)
    elif qa is False:
        change = QaChange(None)
    _rerender(get_settings(), project, out, acx, change)


def _rerender(settings: Settings, project: int, out: Path | None, acx: bool, qa=None) -> None:
    from voxflow.conversion import connect, rerender_project

    async def work(stack) -> str:
        client = await connect(settings)
        started = await rerender_project(settings, client, project, qa)
        console.print(f"[bold]{started.title}[/]: project {project}, rendering again")
        return await follow_and_export(settings, client, started, stack, out, acx)

    if run_on_stack(settings, None, work) != "done":
        raise typer.Exit(1)
