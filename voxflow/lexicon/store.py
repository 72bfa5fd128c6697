"""Lexicon entries in the database: the shared lexicon (no project) and each project's own."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, select

from voxflow.db import repository
from voxflow.db.models import Chapter, LexiconEntry, Project, Segment
from voxflow.lexicon.entries import Entry, Kind, Lexicon, merged

PAGE = 2000


def _row_entry(row: LexiconEntry) -> Entry:
    return Entry(row.term, row.replacement, Kind(row.kind), row.case_sensitive)


def _scope(project_id: int | None):
    return (
        LexiconEntry.project_id.is_(None)
        if project_id is None
        else LexiconEntry.project_id == project_id
    )


def entries(session: Session, project_id: int | None) -> list[Entry]:
    """One scope's entries (`None`: the shared lexicon), in the order they were added."""
    rows = session.exec(select(LexiconEntry).where(_scope(project_id)).order_by(LexiconEntry.id))
    return [_row_entry(row) for row in rows]


def project_lexicon(session: Session, project_id: int) -> Lexicon:
    """What a project's segments are read with: its entries over the shared ones."""
    return Lexicon(merged(entries(session, None), entries(session, project_id)))


def put(session: Session, project_id: int | None, items: Iterable[Entry]) -> int:
    """Add entries, replacing any in the same scope with the same term and case rule."""
    count = 0
    for entry in items:
        found = session.exec(
            select(LexiconEntry).where(
                _scope(project_id),
                LexiconEntry.term_key == entry.key,
                LexiconEntry.case_sensitive == entry.case_sensitive,
            )
        ).first()
        row = found or LexiconEntry(project_id=project_id, term_key=entry.key)
        row.term, row.replacement = entry.term, entry.replacement
        row.kind, row.case_sensitive = entry.kind.value, entry.case_sensitive
        session.add(row)
        count += 1
    session.flush()
    return count


def remove(session: Session, project_id: int | None, term: str) -> int:
    """Remove a term's entries (either case rule) from one scope; how many went."""
    result = session.execute(
        sa.delete(LexiconEntry).where(
            _scope(project_id),
            sa.or_(LexiconEntry.term == term, LexiconEntry.term_key == term.casefold()),
        )
    )
    return result.rowcount or 0


@dataclass(frozen=True, slots=True)
class Touched:
    """A segment whose spoken text a lexicon change alters."""

    project_id: int
    chapter_index: int
    segment_index: int
    text: str
    spoken_before: str
    spoken_after: str


def _project_segments(session: Session, project_id: int) -> Iterator[tuple[int, int, str]]:
    """(chapter index, segment index, text) in reading order, a page at a time; approved
    segments are left out, as no lexicon change reaches them."""
    statement = (
        select(Chapter.index, Segment.index, Segment.text)
        .join(Chapter, Chapter.id == Segment.chapter_id)
        .where(Segment.project_id == project_id, Segment.approved_key.is_(None))
        .order_by(Chapter.index, Segment.index)
    )
    offset = 0
    while page := session.exec(statement.offset(offset).limit(PAGE)).all():
        yield from page
        offset += len(page)


def touched(session: Session, project_id: int, before: Lexicon, after: Lexicon) -> list[Touched]:
    """The segments whose spoken text differs between two lexicons: what a change re-renders."""
    found = []
    for chapter, index, text in _project_segments(session, project_id):
        old, new = before.apply(text), after.apply(text)
        if old != new:
            found.append(Touched(project_id, chapter, index, text, old, new))
    return found


@dataclass(frozen=True, slots=True)
class SpokenRow:
    """A job's segment as the voice reads it; `approved_key` is a locked take's audio."""

    segment_id: int
    index: int
    text: str
    approved_key: str | None
    take: int = 0


def spoken_rows(
    session: Session, project_id: int, chapter_id: int, start: int, end: int
) -> list[SpokenRow]:
    """A job's segments with the text the voice reads (the lexicon applied)."""
    lexicon = project_lexicon(session, project_id)
    rows = repository.list_segments(session, chapter_id, offset=start, limit=end - start)
    return [SpokenRow(r.id, r.index, lexicon.apply(r.text), r.approved_key, r.take) for r in rows]


def touched_by(
    session: Session, project_id: int, added: list[Entry], *, shared: bool
) -> list[Touched]:
    """The project's segments that adding `added` (to the shared lexicon, or the project's own)
    would make the voice read differently."""
    common, own = entries(session, None), entries(session, project_id)
    before = Lexicon(merged(common, own))
    after = Lexicon(merged(common + added, own) if shared else merged(common, own + added))
    return touched(session, project_id, before, after)


def reached(session: Session, scope: int | None) -> list[int]:
    """The projects a lexicon reaches: its own (an unknown id is an error), or for the shared
    lexicon (`scope` None) every project."""
    if scope is not None:
        return [repository.get_project(session, scope).id]
    return list(session.exec(select(Project.id).order_by(Project.id)).all())


def touched_by_change(session: Session, scope: int | None, added: list[Entry]) -> list[Touched]:
    """What adding `added` to one lexicon would change, in every project it reaches."""
    shared = scope is None
    return [
        t for pid in reached(session, scope) for t in touched_by(session, pid, added, shared=shared)
    ]


def save(session: Session, scope: int | None, added: list[Entry]) -> list[Touched]:
    """Store entries in one lexicon; the segments they touch, found before they are stored."""
    found = touched_by_change(session, scope, added)
    put(session, scope, added)
    return found
