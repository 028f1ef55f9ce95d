"""Assistants, threads and messages of the Assistants API v2, as OpenAI's SDK expects them.

Every object belongs to the key that created it (``owner``, a digest of the key): another key's
id is not found (404), exactly as an id that never existed. Lists are OpenAI's envelope with
``limit`` (1-100, default 20), ``order`` (default desc), ``after`` and ``before``. The checks here
are OpenAI's (metadata: at most 16 string pairs; roles user and assistant; text content) and each
names the parameter it refuses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tradewind.assistants.chat_request import MAX_CONTENT_CHARS, InvalidRequest, function_tool
from tradewind.assistants.checks import check_metadata, list_envelope, list_params, new_id, reject_unknown
from tradewind.assistants.file_search import FILE_SEARCH
from tradewind.assistants.files import FileService
from tradewind.assistants.records import Kind, ObjectStore
from tradewind.assistants.tools import Tool
from tradewind.assistants.vector_stores import VectorStores
from tradewind.domain.errors import NotFound
from tradewind.domain.excerpt import excerpt

__all__ = ["AssistantObjects", "text_content"]

MAX_ATTACHMENTS = 20  # files one message may attach

MAX_THREAD_MESSAGES = 32  # messages a thread may be created with (OpenAI's limit)
_NOT_FOUND = {"assistant": "No assistant found with id", "thread": "No thread found with id",
              "message": "No message found with id", "run": "No run found with id", "run_step": "No run step found with id",
              "vector_store": "No vector store found with id"}
_PARAM = {"assistant": "assistant_id", "thread": "thread_id", "message": "message_id", "run": "run_id",
          "run_step": "step_id", "vector_store": "vector_store_id"}


def text_content(value: Any, field: str) -> list[dict[str, Any]]:
    """A message's content (a string or text parts) as the SDK's content blocks."""
    if isinstance(value, str):
        texts = [value]
    elif isinstance(value, list) and value:
        texts = []
        for index, part in enumerate(value[:100]):
            at = f"{field}[{index}]"
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                kind = part.get("type") if isinstance(part, dict) else part
                raise InvalidRequest(f"{at} must be a text part (no images here), got type {excerpt(kind)}",
                                     field=f"{at}.type")
            texts.append(part["text"])
        if len(value) > 100:
            raise InvalidRequest(f"{field} holds more than 100 parts", field=field)
    else:
        raise InvalidRequest(f"{field} must be a string or a list of text parts", field=field,
                             code="missing_required_parameter" if value is None else "invalid_value")
    if sum(len(t) for t in texts) > MAX_CONTENT_CHARS:
        raise InvalidRequest(f"{field} is too long: at most {MAX_CONTENT_CHARS} characters", field=field,
                             code="string_above_max_length")
    return [{"type": "text", "text": {"value": text, "annotations": []}} for text in texts]


class AssistantObjects:
    """Create, read, change, delete and list assistants, threads and messages (and read run steps)."""

    def __init__(self, *, store: ObjectStore, models: Callable[[], Sequence[str]], tools: Mapping[str, Tool],
                 files: FileService, vector_stores: VectorStores, wall: Callable[[], float]) -> None:
        self.store = store
        self.models = models  # the model ids an assistant may name
        self.tools = tools  # the built-in tools, enabled per assistant by naming them
        self.files = files
        self.vector_stores = vector_stores
        self.wall = wall

    # --- generic -----------------------------------------------------------------------------------
    def get(self, kind: Kind, owner: str, object_id: str) -> dict[str, Any]:
        found = self.store.get(kind, owner, object_id) if isinstance(object_id, str) and len(object_id) <= 64 else None
        if found is None:
            raise NotFound(f"{_NOT_FOUND[kind]} '{excerpt(object_id)}'.", field=_PARAM[kind])
        return found

    def delete(self, kind: Kind, owner: str, object_id: str) -> dict[str, Any]:
        self.get(kind, owner, object_id)
        self.store.delete(kind, owner, object_id)
        object_name = {"assistant": "assistant.deleted", "thread": "thread.deleted", "message": "thread.message.deleted",
                       "vector_store": "vector_store.deleted"}
        return {"id": object_id, "object": object_name[kind], "deleted": True}

    def page(self, kind: Kind, owner: str, *, where: Mapping[str, str] | None = None, limit: Any = 20,
             order: Any = "desc", after: Any = None, before: Any = None) -> dict[str, Any]:
        limit, order, after, before = list_params(limit, order, after, before)
        page = self.store.page(kind, owner, where=where or {}, limit=limit, order=order, after=after, before=before)
        return list_envelope(page)

    def now(self) -> int:
        return int(self.wall())

    # --- assistants --------------------------------------------------------------------------------
    def create_assistant(self, owner: str, body: Mapping[str, Any]) -> dict[str, Any]:
        document = {"id": new_id("assistant"), "object": "assistant", "created_at": self.now(), "name": None,
                    "description": None, "model": None, "instructions": None, "tools": [], "tool_resources": {},
                    "metadata": {}, "temperature": 1.0, "top_p": 1.0, "response_format": "auto"}
        if "model" not in body:
            raise InvalidRequest("model is required", field="model", code="missing_required_parameter")
        fields, stores = self._assistant_fields(owner, body)
        document.update(fields)
        self.store.insert_many([*(("vector_store", owner, s) for s in stores), ("assistant", owner, document)])
        return document

    def modify_assistant(self, owner: str, assistant_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        document = self.get("assistant", owner, assistant_id)
        fields, stores = self._assistant_fields(owner, body)
        document.update(fields)
        if stores:
            self.store.insert_many([("vector_store", owner, s) for s in stores])
        self.store.replace("assistant", owner, document)
        return document

    def _assistant_fields(self, owner: str, body: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        out: dict[str, Any] = {}
        reject_unknown(body, {"model", "name", "description", "instructions", "tools", "metadata",
                                      "temperature", "top_p", "response_format", "tool_resources",
                                      "reasoning_effort"})
        if "model" in body:
            out["model"] = self.check_model(body["model"])
        for name, limit in (("name", 256), ("description", 512), ("instructions", 256_000)):
            if name in body:
                value = body[name]
                if value is not None and (not isinstance(value, str) or len(value) > limit):
                    raise InvalidRequest(f"{name} must be a string of at most {limit} characters", field=name,
                                         code="string_above_max_length" if isinstance(value, str) else "invalid_value")
                out[name] = value
        if "tools" in body:
            out["tools"] = self.check_tools(body["tools"])
        if "metadata" in body:
            out["metadata"] = check_metadata(body["metadata"])
        for name, low, high in (("temperature", 0.0, 2.0), ("top_p", 0.0, 1.0)):
            if name in body and body[name] is not None:
                value = body[name]
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                    raise InvalidRequest(f"{name} must be a number from {low:g} to {high:g}", field=name)
                out[name] = float(value)
        if "response_format" in body and body["response_format"] not in (None, "auto", {"type": "text"}):
            raise InvalidRequest('response_format must be "auto" or {"type": "text"} here', field="response_format")
        stores: list[dict[str, Any]] = []
        if "tool_resources" in body:
            out["tool_resources"], stores = self.vector_stores.resources(owner, body["tool_resources"])
        return out, stores

    def check_model(self, model: Any) -> str:
        known = list(self.models())
        if not isinstance(model, str) or model not in known:
            raise InvalidRequest(f"The model {excerpt(model)} does not exist; GET /v1/models lists them",
                                 field="model", code="model_not_found")
        return model

    def check_tools(self, value: Any, field: str = "tools") -> list[dict[str, Any]]:
        """An assistant's or a run's tools: functions (a built-in tool's name enables it, with its
        own schema) and ``file_search``; ``code_interpreter`` is refused for what it is."""
        if value is None:
            return []
        if not isinstance(value, list) or len(value) > 128:
            raise InvalidRequest(f"{field} must be a list of at most 128 tools", field=field)
        out, names = [], set()
        for index, tool in enumerate(value):
            at = f"{field}[{index}]"
            kind = tool.get("type") if isinstance(tool, dict) else None
            if kind == "code_interpreter":
                raise InvalidRequest(f"{at}: code_interpreter is not available: tradewind runs no code until it "
                                     "can run it sandboxed", field=f"{at}.type", code="unsupported_tool")
            if kind == FILE_SEARCH:
                if FILE_SEARCH in names:
                    raise InvalidRequest(f"{at}: file_search is declared twice", field=f"{at}.type")
                names.add(FILE_SEARCH)
                out.append(_file_search_tool(tool, at))
                continue
            if kind != "function":
                raise InvalidRequest(f"{at}.type must be function, got {excerpt(kind if kind else tool)}",
                                     field=f"{at}.type")
            function = tool.get("function")
            name = function.get("name") if isinstance(function, dict) else None
            builtin = isinstance(name, str) and name in self.tools
            clean = self.tools[name].spec()["function"] if builtin else function_tool(tool, at)
            if clean["name"] == FILE_SEARCH:
                raise InvalidRequest(f"{at}.function.name file_search is the built-in tool's: declare it as "
                                     '{"type": "file_search"}', field=f"{at}.function.name")
            if clean["name"] in names:
                raise InvalidRequest(f"{at}.function.name {clean['name']} is declared twice", field=f"{at}.function.name")
            names.add(clean["name"])
            out.append({"type": "function", "function": clean})
        return out

    # --- threads -----------------------------------------------------------------------------------
    def thread_document(self, owner: str, body: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]],
                                                                             list[dict[str, Any]]]:
        """A new thread, its first messages and the vector stores its tool_resources create:
        checked, not stored yet."""
        reject_unknown(body, {"messages", "metadata", "tool_resources"})
        resources, stores = self.vector_stores.resources(owner, body.get("tool_resources"))
        thread = {"id": new_id("thread"), "object": "thread", "created_at": self.now(),
                  "metadata": check_metadata(body.get("metadata")), "tool_resources": resources}
        messages = body.get("messages") or []
        if not isinstance(messages, list) or len(messages) > MAX_THREAD_MESSAGES:
            raise InvalidRequest(f"messages must be a list of at most {MAX_THREAD_MESSAGES} messages", field="messages")
        return thread, [self.message_document(owner, thread["id"], m, f"messages[{i}]")
                        for i, m in enumerate(messages)], stores

    def create_thread(self, owner: str, body: Mapping[str, Any]) -> dict[str, Any]:
        thread, messages, stores = self.thread_document(owner, body)
        self.store.insert_many([*(("vector_store", owner, s) for s in stores), ("thread", owner, thread),
                                *(("message", owner, m) for m in messages)])
        return thread

    def modify_thread(self, owner: str, thread_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        document = self.get("thread", owner, thread_id)
        reject_unknown(body, {"metadata", "tool_resources"})
        if "metadata" in body:
            document["metadata"] = check_metadata(body["metadata"])
        stores: list[dict[str, Any]] = []
        if "tool_resources" in body:
            document["tool_resources"], stores = self.vector_stores.resources(owner, body["tool_resources"])
        if stores:
            self.store.insert_many([("vector_store", owner, s) for s in stores])
        self.store.replace("thread", owner, document)
        return document

    def search_files(self, owner: str, assistant: Mapping[str, Any], thread: Mapping[str, Any],
                     run: Mapping[str, Any] | None = None) -> list[str]:
        """What ``file_search`` searches in a run: the files of the assistant's and the thread's
        vector stores (the run's own resources, when it names some, instead of the assistant's),
        and the files the thread's messages attach for file_search."""
        resources = (run or {}).get("tool_resources") or assistant.get("tool_resources")
        found = self.vector_stores.file_ids(owner, resources)
        for file_id in self.vector_stores.file_ids(owner, thread.get("tool_resources")):
            if file_id not in found:
                found.append(file_id)
        after = None
        while True:
            page = self.store.page("message", owner, where={"thread_id": thread["id"]}, limit=100, order="asc",
                                   after=after, before=None)
            for message in page.data:
                for attachment in message.get("attachments") or ():
                    if any(t.get("type") == FILE_SEARCH for t in attachment.get("tools", ())) and \
                            attachment["file_id"] not in found:
                        found.append(attachment["file_id"])
            if not page.has_more or not page.data:
                return found
            after = page.data[-1]["id"]

    # --- messages ----------------------------------------------------------------------------------
    def message_document(self, owner: str, thread_id: str, body: Any, field: str = "") -> dict[str, Any]:
        prefix = f"{field}." if field else ""
        if not isinstance(body, dict):
            raise InvalidRequest(f"{field or 'body'} must be an object", field=field or "body")
        reject_unknown(body, {"role", "content", "attachments", "metadata"}, prefix)
        role = body.get("role")
        if not isinstance(role, str) or role not in ("user", "assistant"):
            raise InvalidRequest(f"{prefix}role must be user or assistant, got {excerpt(role)}", field=f"{prefix}role",
                                 code="missing_required_parameter" if role is None else "invalid_value")
        attachments = self._attachments(owner, body.get("attachments"), f"{prefix}attachments")
        now = self.now()
        return {"id": new_id("message"), "object": "thread.message", "created_at": now, "thread_id": thread_id,
                "status": "completed", "incomplete_details": None, "completed_at": now, "incomplete_at": None,
                "role": role, "content": text_content(body.get("content"), f"{prefix}content"),
                "assistant_id": None, "run_id": None, "attachments": attachments,
                "metadata": check_metadata(body.get("metadata"), f"{prefix}metadata")}

    def _attachments(self, owner: str, value: Any, field: str) -> list[dict[str, Any]]:
        """``[{file_id, tools: [{type: file_search}]}]``: files of the caller, for file_search (the
        tools an attachment may name; a portfolio file is read by ``analyze_portfolio`` by its id)."""
        if value is None:
            return []
        if not isinstance(value, list) or len(value) > MAX_ATTACHMENTS:
            raise InvalidRequest(f"{field} must be a list of at most {MAX_ATTACHMENTS} attachments", field=field)
        out = []
        for index, item in enumerate(value):
            at = f"{field}[{index}]"
            if not isinstance(item, dict):
                raise InvalidRequest(f"{at} must be an object with file_id and tools", field=at)
            reject_unknown(item, {"file_id", "tools"}, f"{at}.")
            file_id = self.files.get(owner, item.get("file_id"), f"{at}.file_id")["id"]
            tools = item.get("tools") or []
            if not isinstance(tools, list) or len(tools) > 2:
                raise InvalidRequest(f"{at}.tools must be a list of tools", field=f"{at}.tools")
            for number, tool in enumerate(tools):
                kind = tool.get("type") if isinstance(tool, dict) else None
                if kind == "code_interpreter":
                    raise InvalidRequest(f"{at}.tools[{number}]: code_interpreter is not available here",
                                         field=f"{at}.tools[{number}].type", code="unsupported_tool")
                if kind != FILE_SEARCH:
                    raise InvalidRequest(f"{at}.tools[{number}].type must be file_search, got {excerpt(kind)}",
                                         field=f"{at}.tools[{number}].type")
            out.append({"file_id": file_id, "tools": [{"type": FILE_SEARCH}] if tools else []})
        return out

    def create_message(self, owner: str, thread_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        self.get("thread", owner, thread_id)
        document = self.message_document(owner, thread_id, body)
        self.store.insert("message", owner, document)
        return document

    def thread_message(self, owner: str, thread_id: str, message_id: str) -> dict[str, Any]:
        self.get("thread", owner, thread_id)
        document = self.get("message", owner, message_id)
        if document["thread_id"] != thread_id:
            raise NotFound(f"{_NOT_FOUND['message']} '{excerpt(message_id)}'.", field="message_id")
        return document

    def modify_message(self, owner: str, thread_id: str, message_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        document = self.thread_message(owner, thread_id, message_id)
        reject_unknown(body, {"metadata"})
        document["metadata"] = check_metadata(body.get("metadata"))
        self.store.replace("message", owner, document)
        return document

    def delete_message(self, owner: str, thread_id: str, message_id: str) -> dict[str, Any]:
        self.thread_message(owner, thread_id, message_id)
        return self.delete("message", owner, message_id)

    def list_messages(self, owner: str, thread_id: str, *, run_id: Any = None, **params: Any) -> dict[str, Any]:
        self.get("thread", owner, thread_id)
        where = {"thread_id": thread_id}
        if run_id is not None:
            if not isinstance(run_id, str) or len(run_id) > 64:
                raise InvalidRequest("run_id must be a run id", field="run_id")
            where["run_id"] = run_id
        return self.page("message", owner, where=where, **params)


def _file_search_tool(tool: Mapping[str, Any], at: str) -> dict[str, Any]:
    """``{"type": "file_search", "file_search": {max_num_results, ranking_options}}``, checked."""
    reject_unknown(tool, {"type", "file_search"}, f"{at}.")
    options = tool.get("file_search") or {}
    if not isinstance(options, dict):
        raise InvalidRequest(f"{at}.file_search must be an object", field=f"{at}.file_search")
    reject_unknown(options, {"max_num_results", "ranking_options"}, f"{at}.file_search.")
    most = options.get("max_num_results", 20)
    if isinstance(most, bool) or not isinstance(most, int) or not 1 <= most <= 50:
        raise InvalidRequest(f"{at}.file_search.max_num_results must be an integer from 1 to 50",
                             field=f"{at}.file_search.max_num_results")
    ranking = options.get("ranking_options") or {}
    if not isinstance(ranking, dict):
        raise InvalidRequest(f"{at}.file_search.ranking_options must be an object",
                             field=f"{at}.file_search.ranking_options")
    reject_unknown(ranking, {"ranker", "score_threshold"}, f"{at}.file_search.ranking_options.")
    threshold = ranking.get("score_threshold", 0.0)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise InvalidRequest(f"{at}.file_search.ranking_options.score_threshold must be a number from 0 to 1",
                             field=f"{at}.file_search.ranking_options.score_threshold")
    return {"type": FILE_SEARCH, "file_search": {"max_num_results": most, "ranking_options": {
        "ranker": "default_2024_08_21", "score_threshold": float(threshold)}}}
