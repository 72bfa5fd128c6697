"""deploy/terraform parsed one way for every test that reads it (python-hcl2 8)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.plugins.services import missing

try:
    import hcl2
except ImportError:  # the dev extras bring it: fail under CI=true, skip on a developer machine
    hcl2 = None

TERRAFORM = Path(__file__).resolve().parents[2] / "deploy" / "terraform"


def parse(path: Path) -> dict[str, Any]:
    """One .tf file as plain values, string literals unquoted; interpolations kept as `${...}`."""
    if hcl2 is None:
        missing("python-hcl2 is not installed (pip install -e '.[dev]')")
    options = hcl2.SerializationOptions(
        with_comments=False,
        explicit_blocks=False,
        strip_string_quotes=True,
        preserve_heredocs=False,
    )
    return hcl2.loads(path.read_text(encoding="utf-8"), serialization_options=options)
