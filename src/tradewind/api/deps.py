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
    """The seam for destructive endpoints: with ``TRADEWIND_ADMIN_TOKEN`` set, a matching
    ``Authorization: Bearer <token>`` is required; real user auth will plug in here."""
    token = container.settings.admin_token
    if token is None:
        return
    if not secrets.compare_digest((authorization or "").encode(), f"Bearer {token.get_secret_value()}".encode()):
        raise Forbidden("this endpoint needs the admin credential (Authorization: Bearer <TRADEWIND_ADMIN_TOKEN>)")


AdminDep = Annotated[None, Depends(require_admin)]


async def get_trading(request: Request) -> TradingService:
    trading = request.app.state.container.trading
    if trading is None:
        raise Unavailable("trading is off (TRADEWIND_TRADING=false): no engine runs here")
    return trading  # type: ignore[no-any-return]


TradingDep = Annotated[TradingService, Depends(get_trading)]
