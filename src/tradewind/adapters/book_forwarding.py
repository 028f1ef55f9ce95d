"""``BookForwarding``: a manual override that reaches a worker without the book is sent to the one with it.

With several workers one holds the trading lease and with it the book; only it may change the
book (pause, resume, change, close, enter). Behind a proxy a client cannot pick the worker, so a
worker without the book forwards the override over Redis and answers with the holder's answer:

- the asking worker publishes ``{id, op, args, deadline}`` on ``{prefix}book:commands`` and waits
  (``BLPOP``, in a thread) on ``{prefix}book:reply:<id>`` for at most ``timeout`` seconds;
- every worker listens on that channel (a thread of its own); only the one holding the book runs
  the override, on its event loop, through the same ``TradingService`` method a local request
  calls, and pushes the answer (the document, or the error's kind, message and field) to the
  reply key, which expires soon after;
- no answer in time (the lease is moving between workers, Redis is away): 503, retry. A command
  older than its deadline is dropped by the holder, so a late one never changes the book after
  its client was told to retry.

Only the named overrides run (``OVERRIDES``); arguments are JSON, checked again by the holder's
service as any request's are. Pub/sub is at most once: a lost command is a 503, never a double.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import redis

from tradewind.domain.errors import NotFound, OrderRejected, TradewindError, Unavailable, ValidationError

__all__ = ["OVERRIDES", "BookForwarding"]

log = logging.getLogger(__name__)

OVERRIDES = frozenset({"pause", "resume", "update", "close", "enter"})
"""The ``TradingService`` methods another worker may ask the holder to run."""

Execute = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


class BookForwarding:
    def __init__(self, client: redis.Redis, *, prefix: str = "tradewind:", timeout: float = 5.0) -> None:
        self._client = client
        self.channel = f"{prefix}book:commands"
        self._reply_prefix = f"{prefix}book:reply:"
        self.timeout = timeout
        self._thread: threading.Thread | None = None
        self._pubsub: Any = None
        self._stopping = threading.Event()
        self.forwarded = 0
        self.served = 0

    # --- asking ----------------------------------------------------------------------------------
    async def forward(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """Run the override ``op`` on the worker holding the book; its answer, or its error raised here."""
        if op not in OVERRIDES:
            raise ValueError(f"{op} is not an override")
        command_id = uuid.uuid4().hex
        message = orjson.dumps({"id": command_id, "op": op, "args": args, "deadline": time.time() + self.timeout})
        reply = await asyncio.to_thread(self._ask, command_id, message)
        self.forwarded += 1
        if reply is None:
            raise Unavailable(f"the worker holding the book did not answer within {self.timeout:g} s (the trading "
                              "lease may be moving to another worker): retry the request")
        answer = orjson.loads(reply)
        if "error" in answer:
            raise _error(answer["error"])
        result: dict[str, Any] = answer["result"]
        return result

    def _ask(self, command_id: str, message: bytes) -> bytes | None:
        try:
            if not self._client.publish(self.channel, message):
                return None  # nobody listens: no worker to run it
            got = self._client.blpop([self._reply_prefix + command_id], timeout=self.timeout)
        except redis.RedisError as exc:
            log.warning("forwarding an override failed: %s", type(exc).__name__)
            return None
        return got[1] if got else None

    # --- answering -------------------------------------------------------------------------------
    def serve(self, execute: Execute, holds: Callable[[], bool], loop: asyncio.AbstractEventLoop) -> None:
        """Listen for overrides; run those that reach this worker while it ``holds`` the book."""
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        self._thread = threading.Thread(target=self._listen, args=(execute, holds, loop), daemon=True,
                                        name="book-forwarding")
        self._thread.start()

    def _listen(self, execute: Execute, holds: Callable[[], bool], loop: asyncio.AbstractEventLoop) -> None:
        subscribed = False  # here, not in ``serve``: the event loop never waits on Redis
        while not self._stopping.is_set():
            try:
                if not subscribed:
                    self._pubsub.subscribe(self.channel)
                    subscribed = True
                message = self._pubsub.get_message(timeout=0.5)
            except redis.RedisError as exc:
                log.warning("override listener: %s; retrying", type(exc).__name__)
                self._stopping.wait(1.0)
                continue
            except (ValueError, AttributeError):  # closed under us while stopping
                return
            if message is None or not holds():
                continue
            try:
                command = orjson.loads(message["data"])
                op, args, deadline, command_id = command["op"], command["args"], command["deadline"], command["id"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                log.warning("an override message that is not one was dropped")
                continue
            if op not in OVERRIDES or not isinstance(args, dict) or time.time() > float(deadline):
                continue  # not ours to run, or its client has been told to retry already
            self._answer(execute, loop, str(command_id)[:64], op, args, float(deadline))

    def _answer(self, execute: Execute, loop: asyncio.AbstractEventLoop, command_id: str, op: str,
                args: dict[str, Any], deadline: float) -> None:
        future = asyncio.run_coroutine_threadsafe(execute(op, args), loop)
        try:
            body: dict[str, Any] = {"result": future.result(timeout=max(0.1, deadline - time.time()))}
        except TradewindError as exc:
            body = {"error": _describe(exc)}
        except Exception as exc:  # noqa: BLE001 - the asking worker answers 503 with the reason
            future.cancel()
            body = {"error": {"kind": "unavailable", "message": f"the override failed on the worker holding the "
                              f"book: {type(exc).__name__}", "field": None}}
        self.served += 1
        key = self._reply_prefix + command_id
        try:
            pipe = self._client.pipeline()
            pipe.rpush(key, orjson.dumps(body, default=str))
            pipe.expire(key, max(1, int(self.timeout * 2)))
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("answering a forwarded override failed: %s", type(exc).__name__)

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        if self._pubsub is not None:
            try:
                self._pubsub.close()
            except redis.RedisError:
                pass
            self._pubsub = None

    def stats(self) -> dict[str, int]:
        return {"forwarded": self.forwarded, "served": self.served}


def _describe(error: TradewindError) -> dict[str, Any]:
    kind = ("validation" if isinstance(error, ValidationError) else "not_found" if isinstance(error, NotFound)
            else "rejected" if isinstance(error, OrderRejected) else "unavailable")
    status = getattr(error, "status", None)
    return {"kind": kind, "code": error.code, "message": str(error)[:1000], "field": getattr(error, "field", None),
            "reason": getattr(error, "reason", None), "status": status if isinstance(status, int) else None}


def _error(described: dict[str, Any]) -> TradewindError:
    """The holder's error as the same kind of error here, so the route answers the same status."""
    message, field = str(described.get("message", ""))[:1000], described.get("field")
    field = str(field)[:200] if field is not None else None
    kind = described.get("kind")
    error: TradewindError
    if kind == "validation":
        error = ValidationError(message, field=field)
    elif kind == "not_found":
        error = NotFound(message, field=field)
    elif kind == "rejected":
        error = OrderRejected(message, reason=str(described.get("reason") or "rejected")[:64])
    else:
        error = Unavailable(message)
    code, status = described.get("code"), described.get("status")
    if isinstance(code, str) and code.isupper() and len(code) <= 40:
        error.code = code  # the holder's own code (SYMBOL_NOT_FOUND, ...), as a local request would get
    if isinstance(status, int) and 400 <= status < 600:
        error.status = status  # type: ignore[attr-defined]
    return error
