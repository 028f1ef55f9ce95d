"""``ApiKeys``: create, list, revoke and verify API keys (``tw_<id>_<secret>``).

A key's row is found by its id and only its secret is hashed (argon2id, whose verification is
constant-time and deliberately slow). So that the slowness is paid once per distinct key and not
on every request, a verified (or refused) key is remembered under a SHA-256 of the whole key; the
memory is bounded, dropped at once by ``revoke`` in this process, and a remembered key's row is
re-read every ``recheck_seconds`` so a revocation made elsewhere (``tradewind keys revoke`` in
another process) takes effect within that time.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tradewind.domain.errors import NotFound, ValidationError
from tradewind.domain.excerpt import excerpt
from tradewind.storage.api_keys import ApiKeyRecord, SqlApiKeyStore

__all__ = ["KEY_SCOPES", "ApiKeys", "KeyInfo", "first_key_notice", "looks_like_key"]

KEY_SCOPES = ("read", "trade", "admin")
_KEY = re.compile(r"tw_([0-9a-f]{12})_([A-Za-z0-9_-]{20,128})")
_NAME = re.compile(r"[\w .@:-]{1,100}")
_MEMORY = 4096  # distinct keys remembered (verified or refused)


def default_hasher() -> PasswordHasher:
    """argon2id at OWASP's minimum (19 MiB, 2 passes, 1 lane): a key's secret is 256 random bits, so
    the hash guards a leaked table rather than a guessable password, and a first request with a
    key should not cost a second of CPU on a small machine (the library's default does)."""
    return PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def first_key_notice(key: str) -> str:
    """What a first start prints, once, about the admin key it made (stderr, never the log)."""
    return (f"tradewind: no API key was configured, so an admin key was created. It is shown this once and only "
            f"its hash is stored:\n\n    {key}\n\nSend it as 'Authorization: Bearer <key>'; make others with "
            f"'tradewind keys create --name NAME --scope read|trade|admin'.\n")


def looks_like_key(token: str) -> bool:
    """Whether a bearer credential has the shape of an API key (else it may be a JWT or a token)."""
    return token.startswith("tw_")


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What may be shown about a key: never its secret nor its hash."""

    id: str
    name: str
    scope: str
    prefix: str
    created_at: int
    revoked_at: int | None

    @classmethod
    def of(cls, record: ApiKeyRecord) -> KeyInfo:
        return cls(record.id, record.name, record.scope, record.prefix, record.created_at, record.revoked_at)


@dataclass(slots=True)
class _Remembered:
    info: KeyInfo | None  # None: refused
    checked: float


class ApiKeys:
    def __init__(self, store: SqlApiKeyStore, *, wall: Callable[[], float] = time.time,
                 recheck_seconds: float = 1.0, hasher: PasswordHasher | None = None) -> None:
        self.store = store
        self.wall = wall
        self.recheck_seconds = recheck_seconds
        self.hasher = hasher or default_hasher()
        self._memory: OrderedDict[bytes, _Remembered] = OrderedDict()
        self._lock = threading.Lock()

    def create(self, *, name: str, scope: str) -> tuple[str, KeyInfo]:
        """A new key: the full key (shown once, never stored) and what is stored about it."""
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValidationError(f"name must be 1-100 letters, digits, spaces or ._@:- (got {excerpt(name)})",
                                  field="name")
        if scope not in KEY_SCOPES:
            raise ValidationError(f"scope must be one of {', '.join(KEY_SCOPES)} (got {excerpt(scope)})", field="scope")
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        record = ApiKeyRecord(id=key_id, name=name, scope=scope, prefix=f"tw_{key_id}_{secret[:4]}",
                              secret_hash=self.hasher.hash(secret), created_at=int(self.wall()), revoked_at=None)
        self.store.insert(record)
        return f"tw_{key_id}_{secret}", KeyInfo.of(record)

    def list(self) -> list[KeyInfo]:
        return [KeyInfo.of(record) for record in self.store.all()]

    def revoke(self, key_id: str) -> KeyInfo:
        """Revoke a key; its next request is refused (in this process at once)."""
        record = self.store.get(key_id) if isinstance(key_id, str) and len(key_id) <= 32 else None
        if record is None:
            raise NotFound(f"no API key {excerpt(key_id)}", field="id")
        if record.revoked_at is None:
            self.store.revoke(key_id, int(self.wall()))
        with self._lock:
            for digest in [d for d, seen in self._memory.items() if seen.info and seen.info.id == key_id]:
                del self._memory[digest]
        return KeyInfo.of(self.store.get(key_id) or record)

    def ensure_first(self) -> str | None:
        """On a first start (no key stored at all) an admin key, returned once; else None."""
        if self.store.all():
            return None
        key, _ = self.create(name="first-admin", scope="admin")
        return key

    def remembered(self, key: str) -> KeyInfo | None | bool:
        """The fast path: the key's info (or None if refused) when it is remembered, else False
        (call ``verify``, which is slow). A remembered live key's row is re-read (by its id, no
        hashing) once ``recheck_seconds`` have passed, so a revocation from elsewhere holds."""
        digest = hashlib.sha256(key.encode()).digest()
        with self._lock:
            seen = self._memory.get(digest)
            if seen is None:
                return False
            self._memory.move_to_end(digest)
            if seen.info is None or time.monotonic() - seen.checked <= self.recheck_seconds:
                return seen.info
        record = self.store.get(seen.info.id)
        with self._lock:
            seen.checked = time.monotonic()
            if record is None or record.revoked_at is not None:
                seen.info = None
        return seen.info

    def verify(self, key: str) -> KeyInfo | None:
        """The key's info when it is a live key, else None; the answer is remembered."""
        info = self._check(key)
        with self._lock:
            self._memory[hashlib.sha256(key.encode()).digest()] = _Remembered(info, time.monotonic())
            while len(self._memory) > _MEMORY:
                self._memory.popitem(last=False)
        return info

    def _check(self, key: str) -> KeyInfo | None:
        found = _KEY.fullmatch(key)
        if not found:
            return None
        record = self.store.get(found.group(1))
        if record is None or record.revoked_at is not None:
            return None
        try:
            self.hasher.verify(record.secret_hash, found.group(2))
        except (VerificationError, InvalidHashError):
            return None
        return KeyInfo.of(record)
