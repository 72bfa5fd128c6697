"""Jinja2 filters the templates share: durations, times and sizes people read at a glance."""

from __future__ import annotations

from datetime import datetime

from starlette.templating import Jinja2Templates


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "–"


def seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}s"


def pct(value: float) -> str:
    """58.1 → "58.1", 100.0 → "100": the same text the live updates write."""
    return f"{value:.1f}".removesuffix(".0")


def configure(templates: Jinja2Templates) -> Jinja2Templates:
    templates.env.filters.update(duration=duration, when=when, seconds=seconds, pct=pct)
    templates.env.globals.update(final_states={"done", "failed", "cancelled"})
    return templates
