"""``RedisLease``: the ``Lease`` port across worker processes, as a Redis key with a TTL.

Why Redis rather than a PostgreSQL advisory lock: an advisory lock lives as long as one
database session, so a holder whose connection hangs (not dies) keeps it for good, and holding it
pins a pooled connection per lease; a key with a TTL frees itself ``ttl`` after its holder stops
renewing, whatever the holder's state, and Redis is already there for the bus.

- Acquire: ``SET key token NX PX ttl`` (the token names this worker and is unique per start).
- Keep: every ``ttl / 3`` a script extends the TTL only while the key still holds our token.
  A holder that cannot renew (Redis unreachable, or the key was lost) gives the job up before
  its TTL can have run out (``margin`` of it), so two workers never run the job at once.
- Release on a clean stop: a script deletes the key only if it is still ours, so the next
  worker takes over at its next try instead of after the TTL.
- A worker killed with SIGKILL simply stops renewing: another takes over within ``ttl`` plus
  one ``retry`` period.

Redis is called from a worker thread (``asyncio.to_thread``): the event loop never waits on it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import redis

from tradewind.domain.lease import Transition

__all__ = ["RedisLease"]

log = logging.getLogger(__name__)

_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


class RedisLease:
    def __init__(self, client: redis.Redis, name: str, *, worker: str, ttl_seconds: float = 10.0,
                 retry_seconds: float | None = None, margin: float = 0.8, prefix: str = "tradewind:") -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self.name = name
        self.worker = worker
        self.key = f"{prefix}lease:{name}"
        self.note_key = f"{prefix}note:{name}"
        self.ttl = ttl_seconds
        self.renew_every = ttl_seconds / 3
        self.retry = retry_seconds if retry_seconds is not None else ttl_seconds / 5
        self.margin = margin
        self._client = client
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._token = f"{worker}:{uuid.uuid4().hex[:12]}"
        self._held = False
        self._deadline = 0.0  # monotonic time by which we must renew or give the job up
        self._task: asyncio.Task[None] | None = None
        self._on_gain: Transition | None = None
        self._on_lose: Transition | None = None
        self.gained = 0
        self.lost = 0
        self.errors = 0
        self.last_error: str | None = None

    @property
    def held(self) -> bool:
        return self._held

    # --- life cycle ----------------------------------------------------------------------------------
    async def start(self, on_gain: Transition, on_lose: Transition) -> None:
        self._on_gain, self._on_lose = on_gain, on_lose
        await self._attempt()
        self._task = asyncio.create_task(self._keep(), name=f"lease-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._held:
            await self._lose()
            try:
                await asyncio.to_thread(self._release, keys=[self.key], args=[self._token])
            except redis.RedisError as exc:  # it expires by itself
                self._failed("release", exc)

    async def _keep(self) -> None:
        while True:
            now = time.monotonic()
            await asyncio.sleep(min(self.renew_every, max(0.0, self._deadline - now)) if self._held else self.retry)
            try:
                await self._step()
            except Exception as exc:  # noqa: BLE001 - whatever happens, keep trying: the lease must outlive it
                self._failed("keep", exc)

    async def _step(self) -> None:
        if not self._held:
            await self._attempt()
            return
        started = time.monotonic()
        try:
            ours = bool(await asyncio.to_thread(self._renew, keys=[self.key],
                                                args=[self._token, int(self.ttl * 1000)]))
        except redis.RedisError as exc:
            self._failed("renew", exc)
            ours = time.monotonic() < self._deadline  # keep it until it could have expired
        else:
            if ours:
                self._deadline = started + self.ttl * self.margin
            else:
                log.warning("lease %s was lost (expired or taken): giving the job up", self.name)
        if not ours:
            await self._lose()

    async def _attempt(self) -> None:
        started = time.monotonic()
        try:
            got = bool(await asyncio.to_thread(self._client.set, self.key, self._token, nx=True,
                                               px=int(self.ttl * 1000)))
        except redis.RedisError as exc:
            self._failed("acquire", exc)
            return
        if not got:
            return
        self._deadline = started + self.ttl * self.margin
        self._held = True
        self.gained += 1
        log.info("lease %s acquired by worker %s", self.name, self.worker)
        try:
            assert self._on_gain is not None
            await self._on_gain()
        except Exception as exc:  # noqa: BLE001 - the job could not start here: let another worker try
            self._failed("start", exc)
            await self._lose()
            try:
                await asyncio.to_thread(self._release, keys=[self.key], args=[self._token])
            except redis.RedisError as error:  # it expires by itself
                self._failed("release", error)

    async def _lose(self) -> None:
        self._held = False
        self.lost += 1
        if self._on_lose is not None:
            try:
                await self._on_lose()
            except Exception as exc:  # noqa: BLE001 - stopping the job must not stop the lease
                self._failed("stop", exc)

    def _failed(self, step: str, exc: BaseException) -> None:
        self.errors += 1
        self.last_error = f"{step}: {type(exc).__name__}: {exc}"[:300]
        log.warning("lease %s: %s", self.name, self.last_error)

    # --- the successor's note ----------------------------------------------------------------------
    def note(self, value: float) -> None:
        """Written from a worker thread when called on the event loop: the loop never waits on Redis."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._note(value)
        else:
            loop.run_in_executor(None, self._note, value)

    def _note(self, value: float) -> None:
        try:
            self._client.set(self.note_key, repr(float(value)), ex=7 * 86400)
        except redis.RedisError as exc:
            self._failed("note", exc)

    def noted(self) -> float | None:
        try:
            raw = self._client.get(self.note_key)
        except redis.RedisError as exc:
            self._failed("noted", exc)
            return None
        try:
            return None if raw is None else float(raw)
        except ValueError:
            return None

    def holder(self) -> str | None:
        """The token of the current holder (its worker id first), or None."""
        raw = self._client.get(self.key)
        return None if raw is None else raw.decode() if isinstance(raw, bytes) else str(raw)

    def status(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "redis", "held": self._held, "ttl_seconds": self.ttl,
                "gained": self.gained, "lost": self.lost, "errors": self.errors, "last_error": self.last_error}
