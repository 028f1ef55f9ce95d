"""Vector stores: the named sets of files ``file_search`` searches for an assistant or a thread.

OpenAI's v2 attaches files to an assistant or a thread through ``tool_resources.file_search``:
``vector_store_ids``, or the ``vector_stores`` helper that creates one from ``file_ids``. Here a
vector store is that set and nothing more: the passages are indexed once, at upload, by the
database's full-text search (``assistants.files``), so a store is ``completed`` when it is created.
A store's documents carry the ``file_ids`` they hold (a field OpenAI does not send; it lists them
under ``/vector_stores/{id}/files``, which tradewind does not serve).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tradewind.assistants.chat_request import InvalidRequest
from tradewind.assistants.checks import check_metadata, list_envelope, list_params, new_id, reject_unknown
from tradewind.assistants.files import FileService
from tradewind.assistants.records import ObjectStore
from tradewind.domain.errors import NotFound
from tradewind.domain.excerpt import excerpt

__all__ = ["MAX_STORES", "VectorStores"]

MAX_STORES = 1  # vector stores per assistant or thread, as OpenAI allows


class VectorStores:
    def __init__(self, *, store: ObjectStore, files: FileService, wall: Callable[[], float]) -> None:
        self.store = store
        self.files = files
        self.wall = wall

    def get(self, owner: str, store_id: Any, field: str = "vector_store_id") -> dict[str, Any]:
        found = self.store.get("vector_store", owner, store_id) if isinstance(store_id, str) and len(
            store_id) <= 64 else None
        if found is None:
            raise NotFound(f"No vector store found with id '{excerpt(store_id)}'.", field=field)
        return found

    def delete(self, owner: str, store_id: str) -> dict[str, Any]:
        self.get(owner, store_id)
        self.store.delete("vector_store", owner, store_id)
        return {"id": store_id, "object": "vector_store.deleted", "deleted": True}

    def page(self, owner: str, *, limit: Any = 20, order: Any = "desc", after: Any = None,
             before: Any = None) -> dict[str, Any]:
        limit, order, after, before = list_params(limit, order, after, before)
        page = self.store.page("vector_store", owner, where={}, limit=limit, order=order, after=after, before=before)
        return list_envelope(page)

    def document(self, owner: str, body: Any, field: str = "") -> dict[str, Any]:
        prefix = f"{field}." if field else ""
        if not isinstance(body, dict):
            raise InvalidRequest(f"{field or 'body'} must be an object", field=field or "body")
        reject_unknown(body, {"name", "file_ids", "metadata", "expires_after", "chunking_strategy"}, prefix)
        name = body.get("name")
        if name is not None and (not isinstance(name, str) or len(name) > 256):
            raise InvalidRequest(f"{prefix}name must be a string of at most 256 characters", field=f"{prefix}name")
        if body.get("expires_after") is not None:
            raise InvalidRequest(f"{prefix}expires_after is not supported: vector stores here do not expire",
                                 field=f"{prefix}expires_after", code="unsupported_parameter")
        files = self.files.check_ids(owner, body.get("file_ids") or [], f"{prefix}file_ids")
        file_ids, size = [f["id"] for f in files], sum(f["bytes"] for f in files)
        now = int(self.wall())
        return {"id": new_id("vector_store"), "object": "vector_store", "created_at": now, "name": name,
                "usage_bytes": size, "file_counts": _counts(len(file_ids)), "status": "completed",
                "expires_after": None, "expires_at": None, "last_active_at": now,
                "metadata": check_metadata(body.get("metadata"), f"{prefix}metadata"), "file_ids": file_ids}

    def create(self, owner: str, body: Mapping[str, Any]) -> dict[str, Any]:
        document = self.document(owner, body)
        self.store.insert("vector_store", owner, document)
        return document

    def modify(self, owner: str, store_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        document = self.get(owner, store_id)
        reject_unknown(body, {"name", "metadata", "expires_after"})
        if "name" in body:
            name = body["name"]
            if name is not None and (not isinstance(name, str) or len(name) > 256):
                raise InvalidRequest("name must be a string of at most 256 characters", field="name")
            document["name"] = name
        if "metadata" in body:
            document["metadata"] = check_metadata(body["metadata"])
        self.store.replace("vector_store", owner, document)
        return document

    def resources(self, owner: str, value: Any, field: str = "tool_resources") -> tuple[dict[str, Any],
                                                                                        list[dict[str, Any]]]:
        """Checked ``tool_resources`` and the vector stores its ``vector_stores`` helper creates (not
        stored yet: the caller stores them with the object they belong to, in one transaction)."""
        if value is None:
            return {}, []
        if not isinstance(value, dict):
            raise InvalidRequest(f"{field} must be an object", field=field)
        reject_unknown(value, {"file_search", "code_interpreter"}, f"{field}.")
        if value.get("code_interpreter"):
            raise InvalidRequest(f"{field}.code_interpreter: code_interpreter is not available here",
                                 field=f"{field}.code_interpreter", code="unsupported_tool")
        search = value.get("file_search")
        if search is None:
            return {}, []
        at = f"{field}.file_search"
        if not isinstance(search, dict):
            raise InvalidRequest(f"{at} must be an object", field=at)
        reject_unknown(search, {"vector_store_ids", "vector_stores"}, f"{at}.")
        ids = search.get("vector_store_ids") or []
        helpers = search.get("vector_stores") or []
        if not isinstance(ids, list) or not isinstance(helpers, list) or len(ids) + len(helpers) > MAX_STORES:
            raise InvalidRequest(f"{at} takes at most {MAX_STORES} vector store (vector_store_ids or vector_stores)",
                                 field=f"{at}.vector_store_ids")
        for index, store_id in enumerate(ids):
            self.get(owner, store_id, f"{at}.vector_store_ids[{index}]")
        created = [self.document(owner, helper, f"{at}.vector_stores[{i}]") for i, helper in enumerate(helpers)]
        return {"file_search": {"vector_store_ids": [*ids, *(s["id"] for s in created)]}}, created

    def file_ids(self, owner: str, resources: Mapping[str, Any] | None) -> list[str]:
        """The files of ``tool_resources``' vector stores (those still there)."""
        out: list[str] = []
        for store_id in ((resources or {}).get("file_search") or {}).get("vector_store_ids") or ():
            store = self.store.get("vector_store", owner, store_id)
            for file_id in (store or {}).get("file_ids", ()):
                if file_id not in out:
                    out.append(file_id)
        return out


def _counts(total: int) -> dict[str, int]:
    return {"in_progress": 0, "completed": total, "failed": 0, "cancelled": 0, "total": total}
