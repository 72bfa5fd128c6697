"""ACX's opening and closing credits, as two short chapters of their own.

ACX asks for the credits as separate files: the opening names the title, author and narrator, the
closing says the title has ended. They are added to the imported text, before segmentation, so
they are synthesised, assembled and checked like any chapter.
"""

from __future__ import annotations

from voxflow.document import RawChapter, RawDocument

OPENING_TITLE = "Opening Credits"
CLOSING_TITLE = "Closing Credits"


def narrator_line(voice_name: str) -> str:
    """Who reads the book: listeners are told the voice is synthetic."""
    return f"Narrated by {voice_name}, a synthetic voice."


def with_credits(raw: RawDocument, voice_name: str) -> RawDocument:
    """`raw` with an opening credits chapter first and a closing credits chapter last."""
    author = raw.metadata.author
    written = [f"Written by {author}."] if author else []
    opening = [raw.title + ".", *written, narrator_line(voice_name)]
    closing = [f"This has been {raw.title}.", *written, narrator_line(voice_name), "The end."]
    raw.chapters = [
        RawChapter(OPENING_TITLE, [" ".join(opening)]),
        *raw.chapters,
        RawChapter(CLOSING_TITLE, [" ".join(closing)]),
    ]
    return raw
