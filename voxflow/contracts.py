"""Payloads that cross Temporal: ids, counts and artifact keys only, never text or audio.

Workflows, activities and clients share these dataclasses so every payload stays small
(history size) and versionable (add fields with defaults only).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ConversionOptions:
    """Knobs fixed when a conversion starts, so a replayed workflow behaves as it first did."""

    voice: str = "joe"
    output_format: str = "mp3"
    dispatch: str = "direct"  # "direct": activities call TorchServe; "queue": via RabbitMQ
    job_max_segments: int = 16
    job_max_chars: int = 3000
    window: int = 4
    plan_page: int = 500  # jobs per planning call: ~50 kB, whatever the chapter's length
    max_parallel_chapters: int = 2
    activity_max_attempts: int = 5
    retry_initial_s: float = 1.0
    retry_max_s: float = 30.0
    # Activities heartbeat on a timer (activities/heartbeats.py): a dead worker's activity
    # is retried after this long.
    heartbeat_timeout_s: float = 10.0
    job_timeout_s: float = 900.0
    queue_heartbeat_timeout_s: float = 300.0
    # Speech QA after synthesis (voxflow.qa), and how many automatic retakes a flagged segment
    # gets before its best take is kept.
    speech_qa: bool = False
    qa_retakes: int = 0


@dataclass
class ProjectInput:
    project_id: int
    options: ConversionOptions = field(default_factory=ConversionOptions)


@dataclass
class ChapterSummary:
    """What the project workflow knows about one chapter (from the import manifest)."""

    chapter_id: int
    index: int
    title: str
    segment_count: int


@dataclass
class ImportManifest:
    project_id: int
    title: str
    chapters: list[ChapterSummary]


@dataclass
class JobTotals:
    synthesized: int = 0
    reused: int = 0
    failed: int = 0
    audio_s: float = 0.0
    first_error: str | None = None

    def count(
        self,
        index: int,
        *,
        failed: bool,
        synthesized: bool,
        duration_s: float | None,
        error: str | None,
    ) -> None:
        """Count one segment's outcome (a stored segment that was not synthesised is reused)."""
        if failed:
            self.failed += 1
            self.first_error = self.first_error or f"segment {index}: {error}"
        elif synthesized:
            self.synthesized += 1
        else:
            self.reused += 1
        self.audio_s += duration_s or 0.0

    def add(self, other: JobTotals) -> None:
        self.synthesized += other.synthesized
        self.reused += other.reused
        self.failed += other.failed
        self.audio_s += other.audio_s
        self.first_error = self.first_error or other.first_error

    @property
    def done(self) -> int:
        return self.synthesized + self.reused


@dataclass
class ChapterInput:
    project_id: int
    chapter: ChapterSummary
    options: ConversionOptions
    # Carried across continue-as-new: where the next run starts and what was done so far.
    next_job: int = 0
    totals: JobTotals | None = None


@dataclass
class JobSpec:
    """A batch of consecutive segments of one chapter, by index range [start, end)."""

    project_id: int
    chapter_id: int
    chapter_index: int
    job_index: int
    start: int
    end: int
    voice: str


@dataclass
class QaRequest:
    """Check a chapter's new renderings with speech recognition; `max_retakes` per segment."""

    project_id: int
    chapter_id: int
    chapter_index: int
    max_retakes: int = 0


@dataclass
class QaVerdict:
    """What a chapter's check found: segments checked now, flagged in the chapter, and the
    indices of flagged segments given a new take to synthesise."""

    checked: int
    flagged: int
    retakes: list[int] = field(default_factory=list)


@dataclass
class PlanRequest:
    """Ask for one page of a chapter's jobs, so no payload grows with the chapter's length."""

    chapter: ChapterInput
    first_job: int
    limit: int


@dataclass
class JobPlan:
    jobs: list[JobSpec]
    total: int


@dataclass
class ChapterProgress:
    """Signalled by a chapter to its project so the `progress` query stays current."""

    index: int
    done: int
    failed: int


@dataclass
class AssembleInput:
    project_id: int
    chapter_id: int
    output_format: str


@dataclass
class ChapterResult:
    index: int
    totals: JobTotals
    duration_s: float
    audio_key: str
    qa: QaVerdict | None = None  # the last speech-QA pass, when the conversion runs one
    retaken: int = 0  # segments synthesised again by automatic retakes


@dataclass
class ChapterStatus:
    index: int
    title: str
    total: int
    done: int = 0
    failed: int = 0
    state: str = "pending"  # pending | running | done | failed | skipped
    error: str | None = None
    duration_s: float = 0.0


@dataclass
class ProjectProgress:
    project_id: int
    state: str
    chapters: list[ChapterStatus]


@dataclass
class StatusUpdate:
    """A state change the database must show: the project's when chapter_index is None."""

    project_id: int
    chapter_index: int | None
    state: str
    error: str | None = None


@dataclass
class BookInput:
    project_id: int


@dataclass
class BookResult:
    book_key: str | None
    manifest_key: str
    duration_s: float


@dataclass
class ProjectResult:
    project_id: int
    state: str
    book: BookResult | None
    skipped_chapters: list[int]
    synthesized: int = 0
    reused: int = 0
