"""Pronunciation lexicons: what the voice is told to say for a word or phrase.

A project has its own lexicon and shares one with every project; a project entry overrides a
shared one for the same term. The text synthesised is a segment's text with the lexicon
applied, and its audio key is computed from that text: changing an entry re-renders exactly the
segments whose spoken text changes.
"""

from voxflow.lexicon.entries import Entry, Kind, Lexicon, merged
from voxflow.lexicon.files import from_csv, from_pls, to_csv, to_pls

__all__ = ["Entry", "Kind", "Lexicon", "from_csv", "from_pls", "merged", "to_csv", "to_pls"]
