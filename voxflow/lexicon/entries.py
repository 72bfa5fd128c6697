"""Lexicon entries and how they rewrite a sentence: whole words, case rules, longest first.

Matching rules (stated to users in the README):
- a term matches whole words only: "Ann" does not match inside "Annex"; a phrase matches with
  any run of spaces between its words;
- a term matches regardless of case unless its entry is case-sensitive; a case-sensitive entry
  wins over a case-insensitive one for the same text;
- where terms overlap, the longest wins ("New York City" before "New York");
- a respelling replaces the words with other words; phonemes replace them with Piper's raw
  phoneme block `[[ ... ]]` (eSpeak IPA), which voices that take phonemes pronounce as given.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    respell = "respell"
    phonemes = "phonemes"


@dataclass(frozen=True, slots=True)
class Entry:
    term: str
    replacement: str
    kind: Kind = Kind.respell
    case_sensitive: bool = False

    def spoken(self) -> str:
        """What replaces the term in the text sent to the voice."""
        return f"[[ {self.replacement} ]]" if self.kind == Kind.phonemes else self.replacement

    @property
    def key(self) -> str:
        """Entries with the same key are the same rule: one replaces the other."""
        return self.term if self.case_sensitive else self.term.casefold()


def merged(shared: Iterable[Entry], project: Iterable[Entry]) -> list[Entry]:
    """The project's entries over the shared ones: a project entry replaces a shared one."""
    rules = {(e.key, e.case_sensitive): e for e in shared}
    rules.update({(e.key, e.case_sensitive): e for e in project})
    return list(rules.values())


def _pattern(term: str) -> str:
    words = [re.escape(word) for word in term.split()]
    return r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)"


class Lexicon:
    """A set of entries compiled into one pass over a sentence."""

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        self.entries = [e for e in entries if e.term.strip()]
        # Longest first, and case-sensitive before insensitive for the same length: the regex
        # alternation takes the first alternative that matches at a position.
        ordered = sorted(self.entries, key=lambda e: (-len(e.term), not e.case_sensitive))
        self._by_group = {f"t{i}": e for i, e in enumerate(ordered)}
        parts = [
            f"(?P<{name}>{'' if e.case_sensitive else '(?i:'}{_pattern(e.term)}"
            f"{'' if e.case_sensitive else ')'})"
            for name, e in self._by_group.items()
        ]
        self._regex = re.compile("|".join(parts)) if parts else None

    def __bool__(self) -> bool:
        return self._regex is not None

    def apply(self, text: str) -> str:
        """`text` as the voice should read it."""
        if self._regex is None:
            return text
        return self._regex.sub(lambda m: self._by_group[m.lastgroup].spoken(), text)

    def written(self) -> Lexicon:
        """The respellings alone: the words a listener (or a speech recogniser) should hear;
        phoneme entries leave the written term, which is what their sounds spell."""
        return Lexicon(e for e in self.entries if e.kind == Kind.respell)

    def touches(self, text: str) -> bool:
        return self._regex is not None and self._regex.search(text) is not None
