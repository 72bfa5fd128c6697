"""Build `standardebooks-sherlock-holmes.epub` from the Standard Ebooks source repository.

The asset is a real EPUB 3 that no one here wrote, used by tests/unit/test_epub_structure.py:
Standard Ebooks' "The Adventures of Sherlock Holmes" (CC0 / US public domain), built from
https://github.com/standardebooks/arthur-conan-doyle_the-adventures-of-sherlock-holmes at
commit 23b2b6e0aa1350aaccaac91e1d0fe3bb6ed4c81f (`COMMIT`), with:

    git clone https://github.com/standardebooks/$REPO se   # $REPO: the repository named above
    python tests/assets/build_standard_ebooks_epub.py se/.git   # writes the asset beside this file

Every file under the repository's `src/` goes in unchanged (`mimetype` first and stored, as
EPUB requires, then `META-INF/` and `epub/`), except images over `MAX_IMAGE_BYTES`: the
1.6 MB cover SVG becomes a small valid SVG under the same name, so the OPF manifest still
matches. Timestamps are fixed, so the same commit always gives the same bytes.
"""

from __future__ import annotations

import argparse
import subprocess
import zipfile
from pathlib import Path

COMMIT = "23b2b6e0aa1350aaccaac91e1d0fe3bb6ed4c81f"
ASSET = Path(__file__).with_name("standardebooks-sherlock-holmes.epub")
MAX_IMAGE_BYTES = 200 * 1024
TINY_SVG = (
    b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" viewBox="0 0 1400 2100">'
    b'<rect width="1400" height="2100" fill="#2b2b2b"/></svg>\n'
)
_EPOCH = (1980, 1, 1, 0, 0, 0)


def _git(git_dir: Path, *args: str) -> bytes:
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", *args], check=True, capture_output=True
    ).stdout


def _source_files(git_dir: Path, commit: str) -> list[str]:
    """Paths under src/ at `commit`, mimetype first, then META-INF/ and epub/ in name order."""
    names = _git(git_dir, "ls-tree", "-r", "--name-only", commit, "src/").decode().split()
    paths = sorted(name.removeprefix("src/") for name in names)
    return sorted(paths, key=lambda path: (path != "mimetype", not path.startswith("META-INF/")))


def _content(git_dir: Path, commit: str, path: str) -> bytes:
    """A file's bytes; an image over MAX_IMAGE_BYTES is swapped for the tiny SVG."""
    data = _git(git_dir, "show", f"{commit}:src/{path}")
    if path.startswith("epub/images/") and len(data) > MAX_IMAGE_BYTES:
        if not path.endswith(".svg"):
            raise SystemExit(f"{path} is large and not an SVG; add a replacement for it")
        return TINY_SVG
    return data


def build(git_dir: Path, output: Path, commit: str = COMMIT) -> None:
    with zipfile.ZipFile(output, "w") as archive:
        for path in _source_files(git_dir, commit):
            stored = path == "mimetype"
            info = zipfile.ZipInfo(path, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, _content(git_dir, commit, path), compresslevel=9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("git_dir", type=Path, help="the source repository's .git directory")
    parser.add_argument("output", type=Path, nargs="?", default=ASSET, help="default: ASSET")
    parser.add_argument("--commit", default=COMMIT, help=f"source commit (default {COMMIT})")
    args = parser.parse_args()
    build(args.git_dir, args.output, args.commit)


if __name__ == "__main__":
    main()
