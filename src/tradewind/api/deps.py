"""FastAPI dependencies: the container built in ``create_app``, reached through the request.

They are ``async`` on purpose: FastAPI runs a sync dependency in a worker thread, which costs
more than the whole candle request.
"""

from __future__ import annotations

from typing import Annotated

import secrets

from fastapi import Depends, Header, Request

from tradewind.bootstrap import Container
from tradewind.domain.errors import Forbidden, Unavailable
from tradewind.market.service import StreamerService
from tradewind.trading.service import TradingService

__all__ = ["AdminDep", "ContainerDep", "StreamerDep", "TradingDep"]


async def get_container(request: Request) -> Container:
    return request.app.state.container  # type: ignore[no-any-return]


async def get_streamer_service(request: Request) -> StreamerService:
    return request.app.state.streamer_service  # type: ignore[no-any-return]


ContainerDep = Annotated[Container, Depends(get_container)]
StreamerDep = Annotated[StreamerService, Depends(get_streamer_service)]


async def require_admin(container: ContainerDep, authorization: Annotated[str | None, Header()] = None) -> None:
    """With authentication on, the scope table (``api/access.py``) has already decided, in the
    middleware; with it off (development only), the older seam still holds: with
    ``TRADEWIND_ADMIN_TOKEN`` (or ``TRADEWIND_SERVICE_TOKEN``) set, that bearer is required."""
    settings = container.settings
    token = settings.service_secret()
    if settings.auth or token is None:
        return
    if not secrets.compare_digest((authorization or "").encode(), f"Bearer {token}".encode()):
        raise Forbidden("this endpoint needs the admin credential (Authorization: Bearer <TRADEWIND_ADMIN_TOKEN>)")


AdminDep = Annotated[None, Depends(require_admin)]


async def get_trading(request: Request) -> TradingService:
    trading = request.app.state.container.trading
    if trading is None:
        raise Unavailable("trading is off (TRADEWIND_TRADING=false): no engine runs here")
    return trading  # type: ignore[no-any-return]


TradingDep = Annotated[TradingService, Depends(get_trading)]
