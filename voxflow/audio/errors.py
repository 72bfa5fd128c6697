"""The one error type the audio kernel raises, so callers can tell bad audio from bugs."""

from __future__ import annotations

from voxflow.errors import VoxflowError


class AudioError(VoxflowError):
    """Segment audio, an encoder run, or a probe failed; the message says what and why."""
