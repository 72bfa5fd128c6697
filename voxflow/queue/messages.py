"""The one versioned schema for job and result messages; ids, text and keys, never audio."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from voxflow.synthesis import SegmentOutcome

SCHEMA_VERSION = 1
RESULT_SCHEMA_VERSION = 2


def new_id() -> str:
    return uuid.uuid4().hex


def encode_token(task_token: bytes) -> str:
    return base64.b64encode(task_token).decode("ascii")


def decode_token(token: str) -> bytes:
    return base64.b64decode(token.encode("ascii"))


class Envelope(BaseModel):
    schema_version: Literal[1] = SCHEMA_VERSION
    message_id: str = Field(default_factory=new_id)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class JobSegment(BaseModel):
    segment_id: int
    index: int
    audio_key: str  # content hash of (model, version, params, text): the dedupe key
    text: str


class JobMessage(Envelope):
    """One synthesis job; the activity that published it waits for its result by task token."""

    kind: Literal["job"] = "job"
    job_id: str
    task_token: str  # base64 of the Temporal activity task token
    workflow_id: str
    activity_id: str
    attempt: int
    project_id: int
    chapter_id: int
    model: str
    version: str
    pool: Literal["gpu", "cpu"]
    params: dict[str, Any] = Field(default_factory=dict)
    segments: list[JobSegment]


class ResultMessage(Envelope):
    """What an inference worker did with one job: per-segment outcomes, or the job's failure."""

    kind: Literal["result"] = "result"
    job_id: str
    task_token: str
    workflow_id: str
    activity_id: str
    # Version 2: the segments are the kernel's SegmentOutcome itself, serialised, so the relay
    # records them exactly as the direct-mode activity does (voxflow/outcomes.py). A version 1
    # result fails validation and is dropped; its activity times out and is retried.
    schema_version: Literal[2] = RESULT_SCHEMA_VERSION  # type: ignore[assignment]
    # Always "ok": a job that fails for good is dead-lettered with its reason instead.
    status: Literal["ok"] = "ok"
    segments: list[SegmentOutcome] = Field(default_factory=list)
    worker: str = ""


class AttemptMessage(Envelope):
    """Segments a worker is about to synthesise: their attempts count even if it then dies."""

    kind: Literal["attempt"] = "attempt"
    job_id: str
    segment_ids: list[int]
    worker: str = ""


ResultQueueMessage = Annotated[ResultMessage | AttemptMessage, Field(discriminator="kind")]
"""What the results queue carries; the relay tells them apart by `kind`."""
