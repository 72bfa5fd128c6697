"""`voxflow parse FILE`: show how a document splits into chapters, blocks and segments."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from voxflow.cli.app import app
from voxflow.document import Document, SkippedSection
from voxflow.importers import load_document
from voxflow.settings import get_settings


def _table(document: Document) -> Table:
    table = Table(title=document.title, show_footer=True)
    totals = [0, 0, 0]
    table.add_column("#", justify="right", footer="")
    table.add_column("Chapter", footer="Total")
    for name in ("Blocks", "Segments", "Characters"):
        table.add_column(name, justify="right")
    for chapter in document.chapters:
        segments = chapter.segments
        row = [len(chapter.blocks), len(segments), sum(len(s.text) for s in segments)]
        totals = [a + b for a, b in zip(totals, row, strict=True)]
        table.add_row(str(chapter.index), chapter.title, *(f"{n:,}" for n in row))
    for column, total in zip(table.columns[2:], totals, strict=True):
        column.footer = f"{total:,}"
    return table


def _skipped_line(section: SkippedSection) -> str:
    """One line per skipped section: its file, its title if it has one, and why."""
    title = f' "{section.title}"' if section.title else ""
    return f"Skipped: {section.file}{title}: {section.reason}"


@app.command("parse")
def parse(
    file: Path = typer.Argument(
        ..., metavar="FILE", help="Document to import: .txt, .md, .epub or .docx."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the document (chapters, blocks, segments) as JSON."
    ),
    max_chars: int | None = typer.Option(
        None, "--max-chars", min=1, help="Longest segment in characters (default: settings)."
    ),
    include_front_matter: bool = typer.Option(
        False,
        "--include-front-matter",
        help="Import EPUB front and back matter (imprint, colophon, copyright page, ...) "
        "as chapters instead of skipping it.",
    ),
) -> None:
    """Import a document and show its chapters, blocks and segments without synthesising it."""
    settings = get_settings()
    document = load_document(
        file, settings=settings, max_chars=max_chars, include_front_matter=include_front_matter
    )
    note = None
    if document.encoding and document.encoding not in ("utf-8", "utf-8-sig"):
        note = f"note: {file.name} is not UTF-8; it was read as {document.encoding}."
    if as_json:
        if note:
            Console(stderr=True).print(note, highlight=False, soft_wrap=True)
        sys.stdout.write(json.dumps(document.to_dict(), ensure_ascii=False, indent=2) + "\n")
        return
    console = Console()
    console.print(_table(document))
    for section in document.skipped:
        console.print(_skipped_line(section), markup=False, highlight=False, soft_wrap=True)
    limit = max_chars or settings.max_chars
    console.print(f"{document.source_format} document, segments of at most {limit} characters")
    if note:
        console.print(note, highlight=False)
