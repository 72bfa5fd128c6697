"""The service itself: database and Temporal reachability, and the voices it can read with."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from web.deps import Ctx, temporal_status
from web.routes.common import api_router
from web.schemas import Health, VoiceOut

router = api_router()


@router.get("/health", response_model=Health, summary="Database and Temporal reachability")
async def health(ctx: Ctx) -> Health:
    def ping() -> bool:
        try:
            with ctx.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
            return True
        except Exception:
            return False

    return Health(database=await run_in_threadpool(ping), temporal=await temporal_status(ctx))


@router.get("/voices", response_model=list[VoiceOut], summary="Voices in the model registry")
def voices(ctx: Ctx) -> list[VoiceOut]:
    return [VoiceOut.of(v) for v in ctx.registry.voices]
