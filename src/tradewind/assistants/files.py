"""Files of the Assistants API (``/v1/files``, purpose ``assistants``) and the search over them.

A file is stored whole with its text cut into passages, and the passages go into the database's
own full-text index (SQLite FTS5, PostgreSQL ``tsvector``; ``storage.files``), in the same
transaction: a file is searchable the moment its upload answers, and deleting it takes its
passages and their index entries with it. Like every Assistants object a file belongs to the key
that uploaded it; another key's id is not found.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tradewind.assistants.chat_request import InvalidRequest
from tradewind.assistants.file_text import PdfReader, extract_text, passages
from tradewind.assistants.checks import list_envelope, list_params
from tradewind.assistants.records import Page
from tradewind.domain.errors import NotFound
from tradewind.domain.excerpt import excerpt

__all__ = ["PURPOSES", "FileService", "FileStore", "Passage", "search_words"]

PURPOSES = ("assistants",)
MAX_FILENAME_CHARS = 255
MAX_QUERY_WORDS = 32
MAX_RESULTS = 50
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Passage:
    file_id: str
    filename: str
    ordinal: int  # its place in the file, from 0
    text: str
    score: float  # relevance, 0..1, higher is better


class FileStore(Protocol):
    def insert(self, owner: str, document: Mapping[str, Any], data: bytes, passages: Sequence[str]) -> None:
        """The file, its bytes and its indexed passages: all in one transaction."""
        ...

    def get(self, owner: str, file_id: str) -> dict[str, Any] | None: ...

    def content(self, owner: str, file_id: str) -> bytes | None: ...

    def delete(self, owner: str, file_id: str) -> bool: ...

    def page(self, owner: str, *, purpose: str | None, limit: int, order: str, after: str | None,
             before: str | None) -> Page: ...

    def search(self, owner: str, file_ids: Sequence[str], words: Sequence[str], limit: int) -> list[Passage]:
        """The passages of these files (the owner's only) holding any of the words, best first."""
        ...


def search_words(query: str) -> list[str]:
    """The words of a query as the index matches them: no operators, quotes or syntax of either
    database's query language survive, so a query can never be a malformed one."""
    seen: list[str] = []
    for word in _WORD.findall(query.lower()):
        if len(word) > 1 and word not in seen:
            seen.append(word[:64])
        if len(seen) == MAX_QUERY_WORDS:
            break
    return seen


class FileService:
    def __init__(self, *, store: FileStore, max_bytes: int, read_pdf: PdfReader, wall: Callable[[], float]) -> None:
        self.store = store
        self.read_pdf = read_pdf
        self.max_bytes = max_bytes
        self.wall = wall

    def upload(self, owner: str, *, filename: Any, purpose: Any, data: bytes) -> dict[str, Any]:
        if not isinstance(purpose, str) or purpose not in PURPOSES:
            raise InvalidRequest(f"purpose must be one of {', '.join(PURPOSES)} here, got {excerpt(purpose)}",
                                 field="purpose", code="missing_required_parameter" if purpose is None else
                                 "invalid_value")
        if not isinstance(filename, str) or not filename.strip():
            raise InvalidRequest("file must be a file upload with a name", field="file",
                                 code="missing_required_parameter")
        name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()  # a name, never a path
        if not name or len(name) > MAX_FILENAME_CHARS or any(ord(c) < 32 for c in name):
            raise InvalidRequest(f"the file name must be 1 to {MAX_FILENAME_CHARS} printable characters, got "
                                 f"{excerpt(filename)}", field="file")
        if len(data) > self.max_bytes:
            raise InvalidRequest(f"file is {len(data)} bytes; at most {self.max_bytes} are accepted "
                                 "(TRADEWIND_MAX_FILE_BYTES)", field="file", code="file_too_large")
        if not data:
            raise InvalidRequest("file is empty", field="file", code="invalid_file")
        text = extract_text(name, data, self.read_pdf)
        document = {"id": "file-" + uuid.uuid4().hex[:24], "object": "file", "bytes": len(data),
                    "created_at": int(self.wall()), "filename": name, "purpose": purpose, "status": "processed",
                    "status_details": None, "expires_at": None}
        self.store.insert(owner, document, data, passages(name, text))
        return document

    def get(self, owner: str, file_id: Any, field: str = "file_id") -> dict[str, Any]:
        found = self.store.get(owner, file_id) if isinstance(file_id, str) and len(file_id) <= 64 else None
        if found is None:
            raise NotFound(f"No such File object: {excerpt(file_id)}", field=field)
        return found

    def content(self, owner: str, file_id: str) -> tuple[dict[str, Any], bytes]:
        document = self.get(owner, file_id)
        data = self.store.content(owner, file_id)
        if data is None:  # deleted between the two reads
            raise NotFound(f"No such File object: {excerpt(file_id)}", field="file_id")
        return document, data

    def text(self, owner: str, file_id: Any, field: str = "file_id") -> tuple[str, str]:
        """(file name, text) of a file, as the tools read it."""
        document, data = self.content(owner, self.get(owner, file_id, field)["id"])
        return document["filename"], extract_text(document["filename"], data, self.read_pdf)

    def delete(self, owner: str, file_id: str) -> dict[str, Any]:
        self.get(owner, file_id)
        self.store.delete(owner, file_id)
        return {"id": file_id, "object": "file", "deleted": True}

    def page(self, owner: str, *, purpose: Any = None, limit: Any = 20, order: Any = "desc", after: Any = None,
             before: Any = None) -> dict[str, Any]:
        limit, order, after, before = list_params(limit, order, after, before)
        if purpose is not None and (not isinstance(purpose, str) or len(purpose) > 32):
            raise InvalidRequest("purpose must be a file purpose", field="purpose")
        page = self.store.page(owner, purpose=purpose, limit=limit, order=order, after=after, before=before)
        return list_envelope(page)

    def check_ids(self, owner: str, file_ids: Any, field: str) -> list[dict[str, Any]]:
        """The files a request names by id, each one the caller's (404 naming the one that is not),
        once each and in order."""
        if not isinstance(file_ids, list) or len(file_ids) > 100:
            raise InvalidRequest(f"{field} must be a list of at most 100 file ids", field=field)
        out: dict[str, dict[str, Any]] = {}
        for index, file_id in enumerate(file_ids):
            document = self.get(owner, file_id, f"{field}[{index}]")
            out.setdefault(document["id"], document)
        return list(out.values())

    def search(self, owner: str, file_ids: Sequence[str], query: str, limit: int = 10) -> list[Passage]:
        words = search_words(query)
        if not words or not file_ids:
            return []
        return self.store.search(owner, list(file_ids), words, max(1, min(limit, MAX_RESULTS)))
