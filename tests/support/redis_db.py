"""The local Redis for tests: ``TRADEWIND_TEST_REDIS_URL`` (our own database number), or a skip.

Keys and pub/sub channels of each test live under a fresh prefix (pub/sub channels are shared by
every database number of a server), and only those keys are deleted afterwards: never a FLUSH.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

__all__ = ["REDIS_URL", "redis_client"]

REDIS_URL = os.environ.get("TRADEWIND_TEST_REDIS_URL", "redis://127.0.0.1:6379/10")


@contextmanager
def redis_client() -> Iterator[tuple[redis.Redis, str]]:
    """A client of the test database and a fresh key prefix; the prefix's keys are removed after."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2.0, socket_connect_timeout=2.0)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        pytest.skip(f"Redis unreachable at {REDIS_URL}: {exc}")
    prefix = f"twtest:{uuid.uuid4().hex[:10]}:"
    try:
        yield client, prefix
    finally:
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
        client.close()
