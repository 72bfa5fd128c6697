"""Run the W3C EPUBCheck (Debian's `epubcheck` package) on a file and read its JSON report."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Debian installs the checker as an executable jar, which needs binfmt_misc to run directly;
# a jar is therefore always started with `java -jar`.
DEBIAN_JAR = Path("/usr/share/java/epubcheck.jar")
FAILING = ("FATAL", "ERROR")


class EpubCheckMissing(FileNotFoundError):
    """EPUBCheck (or the Java to run it) is not installed."""


@dataclass(frozen=True)
class EpubCheckReport:
    ok: bool  # no FATAL or ERROR message
    messages: list[str]  # every message, "SEVERITY ID path:line:column: text"
    version: str


def epubcheck_command() -> list[str]:
    """How to start EPUBCheck here: $VOXFLOW_EPUBCHECK_JAR, `epubcheck` on PATH, or Debian's jar."""
    configured = os.environ.get("VOXFLOW_EPUBCHECK_JAR")
    found = shutil.which("epubcheck")
    target = Path(configured or (found and os.path.realpath(found)) or DEBIAN_JAR)
    if not target.is_file():
        raise EpubCheckMissing("epubcheck is not installed (scripts/install.sh installs it)")
    if target.suffix != ".jar":
        return [str(target)]
    java = shutil.which("java")
    if java is None:
        raise EpubCheckMissing("java is not installed, and EPUBCheck needs it")
    return [java, "-jar", str(target)]


def run_epubcheck(path: Path, timeout_s: float = 300) -> EpubCheckReport:
    """Check `path` as a whole EPUB; `ok` when EPUBCheck reports no error and no fatal error."""
    with tempfile.TemporaryDirectory(prefix="voxflow-epubcheck-") as tmp:
        report_path = Path(tmp) / "report.json"
        command = [*epubcheck_command(), str(path), "--json", str(report_path)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
        if not report_path.is_file():
            raise RuntimeError(f"epubcheck wrote no report (exit {done.returncode}): {done.stderr}")
        report = json.loads(report_path.read_text(encoding="utf-8"))
    messages = [_describe(message) for message in report.get("messages", [])]
    failing = [m for m in report.get("messages", []) if m.get("severity") in FAILING]
    version = report.get("checker", {}).get("checkerVersion", "")
    return EpubCheckReport(ok=not failing, messages=messages, version=version)


def _describe(message: dict) -> str:
    locations = message.get("locations") or [{}]
    where = locations[0]
    place = f"{where.get('path', '')}:{where.get('line', -1)}:{where.get('column', -1)}"
    return f"{message.get('severity')} {message.get('ID')} {place}: {message.get('message')}"
