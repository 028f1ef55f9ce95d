"""Overrides forwarded to the worker that holds the book, over the real Redis: the holder's answer
comes back, its errors come back as the same errors, and without a holder the asker gets a 503
(``Unavailable``) in bounded time rather than a hang. Two ``BookForwarding`` stand for two workers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from support.redis_db import redis_client
from tradewind.adapters.book_forwarding import BookForwarding
from tradewind.domain.errors import SymbolNotFound, Unavailable, ValidationError

pytestmark = pytest.mark.redis


@pytest.fixture
def client() -> Iterator[tuple[redis.Redis, str]]:
    with redis_client() as pair:
        yield pair


async def test_the_holder_runs_the_override_and_its_answer_or_error_comes_back(client: tuple[redis.Redis, str]) -> None:
    conn, prefix = client
    ran: list[tuple[str, dict[str, Any]]] = []

    async def execute(op: str, args: dict[str, Any]) -> dict[str, Any]:
        ran.append((op, args))
        if args.get("symbol") == "NOSUCH":
            raise SymbolNotFound("symbol 'NOSUCH' is not traded here")
        if args.get("fraction", 1) > 1:
            raise ValidationError("fraction must be in (0, 1]", field="fraction")
        return {"symbol": args["symbol"], "paused": op == "pause"}

    holder, asker, idle = (BookForwarding(conn, prefix=prefix, timeout=2.0) for _ in range(3))
    loop = asyncio.get_running_loop()
    holder.serve(execute, lambda: True, loop)
    idle.serve(execute, lambda: False, loop)  # a third worker without the book: it must not run it too
    try:
        await asyncio.sleep(0.2)  # subscribed
        assert await asker.forward("pause", {"symbol": "ETHUSDT"}) == {"symbol": "ETHUSDT", "paused": True}
        with pytest.raises(ValidationError) as invalid:
            await asker.forward("close", {"symbol": "ETHUSDT", "fraction": 2})
        assert invalid.value.field == "fraction" and "fraction must be in" in str(invalid.value)
        with pytest.raises(Exception) as missing:
            await asker.forward("resume", {"symbol": "NOSUCH"})
        assert missing.value.code == "SYMBOL_NOT_FOUND"  # type: ignore[attr-defined]
        assert [op for op, _ in ran] == ["pause", "close", "resume"]  # each once: only the holder ran it
        with pytest.raises(ValueError, match="not an override"):
            await asker.forward("liquidate_everything", {})
    finally:
        for forwarding in (holder, idle):
            forwarding.close()
    assert holder.stats()["served"] == 3 and asker.stats()["forwarded"] == 3


async def test_without_a_holder_the_asker_gets_unavailable_in_bounded_time(client: tuple[redis.Redis, str]) -> None:
    conn, prefix = client

    async def execute(op: str, args: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("no worker holds the book: nothing may run")

    asker = BookForwarding(conn, prefix=prefix, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(Unavailable, match="retry"):  # nobody listens at all
        await asker.forward("pause", {"symbol": "ETHUSDT"})
    assert time.monotonic() - started < 0.5
    between = BookForwarding(conn, prefix=prefix, timeout=0.5)  # the lease is moving: nobody holds it
    between.serve(execute, lambda: False, asyncio.get_running_loop())
    try:
        await asyncio.sleep(0.2)
        started = time.monotonic()
        with pytest.raises(Unavailable, match="did not answer within 0.5 s"):
            await asker.forward("pause", {"symbol": "ETHUSDT"})
        assert 0.4 < time.monotonic() - started < 2.0
    finally:
        between.close()


async def test_garbage_on_the_channel_is_dropped_and_the_listener_goes_on(client: tuple[redis.Redis, str]) -> None:
    conn, prefix = client

    async def execute(op: str, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    holder, asker = BookForwarding(conn, prefix=prefix, timeout=2.0), BookForwarding(conn, prefix=prefix, timeout=2.0)
    holder.serve(execute, lambda: True, asyncio.get_running_loop())
    try:
        await asyncio.sleep(0.2)
        for junk in (b"not json", b'{"op": "pause"}', b'{"id": "x", "op": "eval", "args": {}, "deadline": 9e99}',
                     b'{"id": "y", "op": "pause", "args": [], "deadline": 9e99}',
                     b'{"id": "z", "op": "pause", "args": {}, "deadline": 1}'):  # long past its deadline
            conn.publish(holder.channel, junk)
        assert await asker.forward("resume", {"symbol": "ETHUSDT"}) == {"ok": True}
        assert holder.stats()["served"] == 1
    finally:
        holder.close()
