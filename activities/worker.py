"""The Temporal worker process: both workflows plus every activity, on one task queue."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.worker import Worker

from activities.activity_log import ActivityLogging
from activities.assembly import AssemblyActivities
from activities.documents import DocumentActivities
from activities.outages import WaitOutDatabase
from activities.qa import QaActivities
from activities.queue import QueueActivities
from activities.resources import Resources
from activities.synthesis import SynthesisActivities
from voxflow.conversion import connect
from voxflow.settings import Settings
from workflows.chapter import ChapterWorkflow
from workflows.project import ProjectWorkflow

log = logging.getLogger("voxflow.temporal_worker")


def build_worker(client: Client, settings: Settings, executor: ThreadPoolExecutor) -> Worker:
    resources = Resources(settings)
    documents = DocumentActivities(resources)
    synthesis = SynthesisActivities(resources)
    assembly = AssemblyActivities(resources)
    queue = QueueActivities(resources)
    qa = QaActivities(resources)
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[ProjectWorkflow, ChapterWorkflow],
        activities=[
            documents.import_document,
            documents.record_status,
            synthesis.plan_chapter_jobs,
            synthesis.synthesize_job,
            queue.enqueue_job,
            qa.check_chapter,
            assembly.assemble_chapter,
            assembly.build_book,
        ],
        activity_executor=executor,
        max_concurrent_activities=settings.worker_max_activities,
        interceptors=[ActivityLogging(), WaitOutDatabase(settings.database_outage_s)],
    )


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """Run until `stop` is set, then finish in-flight activities and exit cleanly."""
    client = await connect(settings)
    with ThreadPoolExecutor(max_workers=settings.worker_max_activities) as executor:
        async with build_worker(client, settings, executor):
            log.info(
                "temporal worker polling task queue %s in namespace %s at %s (dispatch %s)",
                settings.temporal_task_queue,
                settings.temporal_namespace,
                settings.temporal_address,
                settings.dispatch,
            )
            await stop.wait()
            log.info("temporal worker stopping: finishing the activities in flight")
    # sdk-python#300: give the core a moment before interpreter teardown.
    await asyncio.sleep(0.1)
