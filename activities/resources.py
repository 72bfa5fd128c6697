"""Long-lived clients shared by a worker's activities: database, store, voices, TorchServe."""

from __future__ import annotations

from functools import cached_property

from sqlalchemy.engine import Engine

from voxflow.artifacts import ArtifactStore, open_store
from voxflow.db.engine import make_engine
from voxflow.inference import TorchServeClient
from voxflow.qa import Recognizer, RecognizerPool
from voxflow.queue.broker import Publisher
from voxflow.registry import Registry, load_registry
from voxflow.settings import Settings


class Resources:
    """Created once per worker process; each attribute is built on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: TorchServeClient | None = None
        self._publisher: Publisher | None = None

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    @cached_property
    def store(self) -> ArtifactStore:
        return open_store(self.settings)

    @cached_property
    def registry(self) -> Registry:
        return load_registry(self.settings)

    @cached_property
    def recognizer(self) -> Recognizer:
        """Speech QA's recogniser: a pool of decoder processes, started on first use."""
        return RecognizerPool(self.settings.qa_processes)

    def client(self) -> TorchServeClient:
        """One pooled HTTP client per worker, created inside the worker's event loop."""
        if self._client is None:
            self._client = TorchServeClient(self.settings)
        return self._client

    async def publisher(self) -> Publisher:
        """The RabbitMQ publisher (queue mode), connected on first use in the worker's loop."""
        if self._publisher is None:
            self._publisher = Publisher(self.settings)
        return await self._publisher.start()
