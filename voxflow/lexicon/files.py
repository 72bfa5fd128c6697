"""Lexicon files: the W3C Pronunciation Lexicon Specification (PLS 1.0) and CSV.

PLS is what Amazon Polly and Azure take: a `<lexeme>` holds one or more `<grapheme>`s and either
an `<alias>` (a respelling) or a `<phoneme>` (in the lexicon's `alphabet`; Voxflow writes and
reads "ipa", which Piper's eSpeak voices take). PLS has no case flag, so every PLS entry is
case-insensitive. CSV columns: term, replacement, kind (respell | phonemes), case_sensitive.
"""

from __future__ import annotations

import csv
import io

from lxml import etree

from voxflow.errors import InputError
from voxflow.lexicon.entries import Entry, Kind

PLS_NAMESPACE = "http://www.w3.org/2005/01/pronunciation-lexicon"
_NS = {"pls": PLS_NAMESPACE}
CSV_COLUMNS = ["term", "replacement", "kind", "case_sensitive"]
MAX_FILE_BYTES = 5 * 1024 * 1024


def to_pls(entries: list[Entry], language: str = "en-US") -> bytes:
    """A PLS 1.0 document; phoneme entries in IPA."""
    root = etree.Element(
        f"{{{PLS_NAMESPACE}}}lexicon",
        nsmap={None: PLS_NAMESPACE},
        version="1.0",
        alphabet="ipa",
    )
    root.set("{http://www.w3.org/XML/1998/namespace}lang", language)
    for entry in entries:
        lexeme = etree.SubElement(root, f"{{{PLS_NAMESPACE}}}lexeme")
        etree.SubElement(lexeme, f"{{{PLS_NAMESPACE}}}grapheme").text = entry.term
        tag = "phoneme" if entry.kind == Kind.phonemes else "alias"
        etree.SubElement(lexeme, f"{{{PLS_NAMESPACE}}}{tag}").text = entry.replacement
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def from_pls(data: bytes, name: str = "lexicon.pls") -> list[Entry]:
    """Entries of a PLS document: one per grapheme, its lexeme's first alias or phoneme."""
    _check_size(data, name)
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as error:
        raise InputError(f"{name} is not well-formed XML ({error}); export it again.") from error
    if etree.QName(root).namespace != PLS_NAMESPACE or etree.QName(root).localname != "lexicon":
        raise InputError(
            f'{name} is not a PLS lexicon: its root must be <lexicon xmlns="{PLS_NAMESPACE}">'
        )
    alphabet = root.get("alphabet", "ipa")
    entries = []
    for lexeme in root.iterfind("pls:lexeme", _NS):
        alias = lexeme.findtext("pls:alias", namespaces=_NS)
        phoneme = lexeme.findtext("pls:phoneme", namespaces=_NS)
        if phoneme is not None and alias is None and alphabet.lower() != "ipa":
            raise InputError(
                f"{name} writes phonemes in {alphabet!r}; Voxflow's voices take IPA: convert "
                "them, or use <alias> respellings."
            )
        replacement, kind = (alias, Kind.respell) if alias is not None else (phoneme, Kind.phonemes)
        if not replacement or not replacement.strip():
            continue
        for grapheme in lexeme.iterfind("pls:grapheme", _NS):
            if grapheme.text and grapheme.text.strip():
                entries.append(Entry(grapheme.text.strip(), replacement.strip(), kind))
    return entries


def to_csv(entries: list[Entry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        writer.writerow([e.term, e.replacement, e.kind.value, "yes" if e.case_sensitive else "no"])
    return out.getvalue()


def from_csv(data: bytes, name: str = "lexicon.csv") -> list[Entry]:
    """Entries of a CSV with a header row naming at least `term` and `replacement`."""
    _check_size(data, name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"{name} is not UTF-8 text; save it as UTF-8 CSV.") from error
    rows = csv.DictReader(io.StringIO(text))
    if not rows.fieldnames or not {"term", "replacement"} <= set(rows.fieldnames):
        raise InputError(f"{name} needs a header row with columns {', '.join(CSV_COLUMNS)}")
    entries = []
    for line, row in enumerate(rows, start=2):
        term, replacement = (row.get("term") or "").strip(), (row.get("replacement") or "").strip()
        if not term or not replacement:
            raise InputError(f"{name} line {line}: term and replacement must not be empty")
        kind = (row.get("kind") or "respell").strip().lower()
        if kind not in Kind.__members__:
            raise InputError(f"{name} line {line}: kind {kind!r} is not respell or phonemes")
        flag = (row.get("case_sensitive") or "").strip().lower() in {"yes", "true", "1"}
        entries.append(Entry(term, replacement, Kind(kind), flag))
    return entries


def _check_size(data: bytes, name: str) -> None:
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"{name} is {len(data):,} bytes; a lexicon file may hold at most 5 MB")
