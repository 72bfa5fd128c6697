"""Acknowledgements that survive a broker restart: the old delivery is simply redelivered."""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from aio_pika.exceptions import AMQPError, ChannelInvalidStateError

log = logging.getLogger("voxflow.queue")


async def settle(operation: Awaitable[None], what: str) -> bool:
    """Run an ack/nack; after a reconnect the delivery tag is stale and the broker redelivers.

    Processing is idempotent (content-addressed audio, idempotent DB writes), so a lost ack
    only costs a cheap second pass.
    """
    try:
        await operation
    except (ChannelInvalidStateError, AMQPError, ConnectionError) as error:
        log.warning(
            "%s failed (%s): the broker will redeliver; processing is idempotent", what, error
        )
        return False
    return True
