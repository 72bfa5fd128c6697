"""Pronunciation lexicons: matching rules, precedence, and PLS/CSV files."""

from __future__ import annotations

import pytest

from voxflow.errors import InputError
from voxflow.lexicon import Entry, Kind, Lexicon, from_csv, from_pls, merged, to_csv, to_pls


def test_whole_words_only_and_any_case_by_default():
    lexicon = Lexicon([Entry("Ann", "Anne-with-an-e")])
    assert lexicon.apply("Ann met ann in the Annex.") == (
        "Anne-with-an-e met Anne-with-an-e in the Annex."
    )
    assert not lexicon.touches("Annex and annals")


def test_case_sensitive_entries_match_exact_case_and_win():
    lexicon = Lexicon([Entry("US", "U S", case_sensitive=True), Entry("us", "uss")])
    assert lexicon.apply("The US told us.") == "The U S told uss."


def test_the_longest_term_wins_and_phrases_span_any_spaces():
    lexicon = Lexicon([Entry("New York", "Noo York"), Entry("New York City", "the Big Apple")])
    assert lexicon.apply("New  York City and New York.") == "the Big Apple and Noo York."


def test_phonemes_become_a_raw_phoneme_block_and_punctuation_stays():
    lexicon = Lexicon([Entry("Nguyen", "ŋwˈiən", Kind.phonemes)])
    assert lexicon.apply("Nguyen, again.") == "[[ ŋwˈiən ]], again."


def test_a_project_entry_overrides_the_shared_one():
    shared = [Entry("Holmes", "Homes"), Entry("Watson", "Wot-son")]
    project = [Entry("holmes", "Hohlmz")]
    rules = Lexicon(merged(shared, project))
    assert rules.apply("Holmes and Watson.") == "Hohlmz and Wot-son."


def test_pls_round_trip_and_a_real_polly_style_file():
    entries = [Entry("Hermione", "Her-my-oh-nee"), Entry("Nguyen", "ŋwˈiən", Kind.phonemes)]
    assert from_pls(to_pls(entries)) == entries
    polly = b"""<?xml version="1.0" encoding="UTF-8"?>
<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon"
      alphabet="ipa" xml:lang="en-US">
  <lexeme><grapheme>W3C</grapheme><grapheme>w3c</grapheme>
    <alias>World Wide Web Consortium</alias></lexeme>
</lexicon>"""
    assert [e.term for e in from_pls(polly)] == ["W3C", "w3c"]


def test_pls_refuses_what_it_cannot_use():
    with pytest.raises(InputError, match="not well-formed"):
        from_pls(b"<lexicon")
    with pytest.raises(InputError, match="not a PLS lexicon"):
        from_pls(b"<root/>")
    sampa = (
        b'<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" '
        b'alphabet="x-sampa"><lexeme><grapheme>a</grapheme><phoneme>{</phoneme></lexeme>'
        b"</lexicon>"
    )
    with pytest.raises(InputError, match="IPA"):
        from_pls(sampa)
    bomb = b'<!DOCTYPE l [<!ENTITY a "aaaa">]><lexicon>&a;</lexicon>'
    with pytest.raises(InputError):
        from_pls(bomb)


def test_csv_round_trip_and_clear_errors():
    entries = [Entry("Dr.", "Doctor"), Entry("SQL", "sequel", case_sensitive=True)]
    assert from_csv(to_csv(entries).encode()) == entries
    with pytest.raises(InputError, match="header row"):
        from_csv(b"Dr.,Doctor\n")
    with pytest.raises(InputError, match="line 2: kind"):
        from_csv(b"term,replacement,kind\nDr.,Doctor,sound\n")
