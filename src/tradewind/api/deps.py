"""FastAPI dependencies: the container built in ``create_app``, reached through the request.

They are ``async`` on purpose: FastAPI runs a sync dependency in a worker thread, which costs
more than the whole candle request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tradewind.bootstrap import Container
from tradewind.market.service import StreamerService

__all__ = ["ContainerDep", "StreamerDep"]


async def get_container(request: Request) -> Container:
    return request.app.state.container  # type: ignore[no-any-return]


async def get_streamer_service(request: Request) -> StreamerService:
    return request.app.state.streamer_service  # type: ignore[no-any-return]


ContainerDep = Annotated[Container, Depends(get_container)]
StreamerDep = Annotated[StreamerService, Depends(get_streamer_service)]
