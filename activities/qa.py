"""Speech QA of a chapter: transcribe each rendering not yet checked, store its score, and
give flagged segments their automatic retakes (voxflow.qa)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from temporalio import activity

from activities.heartbeats import beating
from activities.resources import Resources
from voxflow.contracts import QaRequest, QaVerdict
from voxflow.db import session_scope
from voxflow.qa import Recognizer, SegmentScore, check_segment
from voxflow.qa import store as qa_store
from voxflow.qa.store import Unchecked

PAGE = 50  # renderings read per query; each check is its own short transaction


class QaActivities:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources

    @activity.defn
    async def check_chapter(self, request: QaRequest) -> QaVerdict:
        """Checks are stored one by one, so a retried attempt goes on where the last stopped."""
        progress = [0]
        async with beating(lambda: progress):
            checked, flagged = await asyncio.to_thread(self._check_all, request, progress)
            retakes = await asyncio.to_thread(self._settle, request)
        activity.logger.info(
            "speech QA of chapter %s: %d renderings checked now, %d flagged, %d retakes asked",
            request.chapter_index, checked, flagged, len(retakes),
        )  # fmt: skip
        return QaVerdict(checked, flagged, retakes)

    def _check_all(self, request: QaRequest, progress: list[int]) -> tuple[int, int]:
        recognizer = self.resources.recognizer
        started, checked, flagged, after = time.monotonic(), 0, 0, -1
        while True:
            with session_scope(self.resources.engine) as session:
                page = qa_store.unchecked(
                    session, request.project_id, request.chapter_id, after, PAGE
                )
            if not page:
                break
            for pending, score in self._scores(page, recognizer):
                with session_scope(self.resources.engine) as session:
                    qa_store.save(session, pending, score, recognizer.name)
                checked, flagged = checked + 1, flagged + score.flagged
                progress[0] = checked
                if score.flagged:
                    activity.logger.info(
                        "segment %d of chapter %d flagged: %s",
                        pending.index, request.chapter_index, score.reason,
                    )  # fmt: skip
            after = page[-1].index
        if checked:
            activity.logger.info(
                "chapter %d: %d renderings transcribed in %.1f s",
                request.chapter_index, checked, time.monotonic() - started,
            )  # fmt: skip
        return checked, flagged

    def _scores(
        self, page: list[Unchecked], recognizer: Recognizer
    ) -> Iterator[tuple[Unchecked, SegmentScore]]:
        """Each rendering's score in page order, `recognizer.concurrency` transcribed at once."""

        def score(pending: Unchecked) -> SegmentScore:
            wav = self.resources.store.get(pending.audio_key)
            return check_segment(pending.index, pending.expected, wav, recognizer)

        with ThreadPoolExecutor(recognizer.concurrency, thread_name_prefix="qa") as pool:
            yield from zip(page, pool.map(score, page), strict=True)

    def _settle(self, request: QaRequest) -> list[int]:
        with session_scope(self.resources.engine) as session:
            return qa_store.settle_flagged(session, request.chapter_id, request.max_retakes)
