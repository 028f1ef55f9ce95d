"""Runs of the Assistants API v2: a model answering a thread, with its tools, in the background.

A run is stored ``queued`` and executed by a task of its own, so it reaches a terminal state
whatever the client does (polls, streams, goes away). Each round the model sees the assistant's
instructions, the thread and this run's tool calls so far; built-in tool calls run here and are
recorded as a ``tool_calls`` step with their outputs; a call to one of the assistant's own
functions stops the run in ``requires_action`` until ``submit_tool_outputs`` (or ``expired``
after ten minutes); an answer becomes an assistant message and a ``message_creation`` step.
``cancel`` makes a run ``cancelling``, which always ends ``cancelled``. A run cut by a crash or a
stop is settled by ``recover`` (at the next start, and with several workers by the one sweeping):
``failed`` with ``last_error``, never left ``in_progress``.

Several workers share the store: each run records the worker executing it (``worker``), so a
cancel that reaches another worker leaves the run ``cancelling`` for its executor, and ``recover``
settles only runs whose worker is gone (``alive`` says which are not).

Each change is also an event (``thread.run.created``, ``thread.message.delta`` ...) for the
streams that follow the run, in OpenAI's order.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from tradewind.assistants.builtin_model import ATTACHED_NOTE, ToolCall
from tradewind.assistants.chat import MAX_ROUNDS, ChatModel, pieces, respond, usage_of
from tradewind.assistants.chat_request import InvalidRequest, tool_choice
from tradewind.assistants import file_search
from tradewind.assistants.checks import check_metadata, new_id, reject_unknown
from tradewind.assistants.file_search import FILE_SEARCH, annotations, model_choice, model_tools
from tradewind.assistants.objects import AssistantObjects
from tradewind.assistants.records import ObjectStore
from tradewind.assistants.tools import Tool, run_tool
from tradewind.assistants.upstream_model import UpstreamFailed
from tradewind.domain.errors import NotFound
from tradewind.domain.excerpt import excerpt

__all__ = ["RunService", "TERMINAL"]

log = logging.getLogger(__name__)

TERMINAL = frozenset({"completed", "failed", "cancelled", "expired", "incomplete"})
EXPIRES_SECONDS = 600  # a run waits this long for tool outputs (OpenAI's ten minutes)
MAX_TOOL_OUTPUT_CHARS = 512_000
POLL_AFTER_MS = 50
Event = tuple[str, dict[str, Any]]
_STEP_STAMP = {"failed": "failed_at", "cancelled": "cancelled_at", "expired": "expired_at", "incomplete": "failed_at"}


class RunService:
    def __init__(self, *, store: ObjectStore, objects: AssistantObjects, models: Mapping[str, ChatModel],
                 tools: Mapping[str, Tool], wall: Callable[[], float], worker: str | None = None,
                 alive: Callable[[str], bool] | None = None) -> None:
        self.store = store
        self.worker = worker or f"local-{uuid.uuid4().hex[:8]}"  # this process, as the executor of its runs
        self.alive = alive or (lambda other: other == self.worker)  # one process: only we are alive
        self.objects = objects
        self.models = models
        self.tools = tools
        self.wall = wall
        self._listeners: dict[str, list[asyncio.Queue[Event | None]]] = defaultdict(list)
        self._tasks: set[asyncio.Task[None]] = set()
        self._cancelling: set[str] = set()  # runs asked to stop while a task of ours executes them
        self._active: set[str] = set()  # runs a task of ours executes now
        self._stopping = False  # the server is shutting down: a cut run ends failed, with the reason

    # --- the doors ---------------------------------------------------------------------------------
    async def create(self, owner: str, thread_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Check and store a queued run; ``start`` executes it."""
        thread = await self._call(self.objects.get, "thread", owner, thread_id)
        return await self._call(self._new_run, owner, thread, body, [])

    async def create_thread_and_run(self, owner: str, body: Mapping[str, Any]) -> dict[str, Any]:
        thread_body = body.get("thread") or {}
        if not isinstance(thread_body, dict):
            raise InvalidRequest("thread must be an object", field="thread")
        thread, messages, stores = await self._call(self.objects.thread_document, owner, thread_body)
        rest = {k: v for k, v in body.items() if k != "thread"}
        return await self._call(self._new_run, owner, thread, rest, messages, True, stores)

    def start(self, owner: str, run: dict[str, Any]) -> None:
        task = asyncio.get_running_loop().create_task(self._execute(owner, run["id"]), name=f"run-{run['id']}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def retrieve(self, owner: str, thread_id: str, run_id: str) -> dict[str, Any]:
        run = await self._call(self._thread_run, owner, thread_id, run_id)
        return await self._call(self._expire_if_due, owner, run)

    async def list(self, owner: str, thread_id: str, **params: Any) -> dict[str, Any]:
        await self._call(self.objects.get, "thread", owner, thread_id)
        return await self._call(lambda: self.objects.page("run", owner, where={"thread_id": thread_id}, **params))

    async def modify(self, owner: str, thread_id: str, run_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        def change() -> dict[str, Any]:
            run = self._thread_run(owner, thread_id, run_id)
            reject_unknown(body, {"metadata"})
            run["metadata"] = check_metadata(body.get("metadata"))
            self.store.replace("run", owner, run)
            return run

        return await self._call(change)

    async def cancel(self, owner: str, thread_id: str, run_id: str) -> dict[str, Any]:
        run = await self.retrieve(owner, thread_id, run_id)
        if run["status"] in TERMINAL or run["status"] == "cancelling":
            raise InvalidRequest(f"Cannot cancel run with status '{run['status']}'.", field="run_id",
                                 code="run_not_cancellable")
        if run["status"] == "requires_action":  # nothing is executing: it ends here
            return await self._call(self._end, owner, run, "cancelled")
        run["status"] = "cancelling"  # the executing task ends it at its next step
        self._cancelling.add(run["id"])
        await self._call(self.store.replace, "run", owner, run)
        if run["id"] not in self._active and not await self._call(self._executed_elsewhere, run["id"]):
            return await self._call(self._end, owner, run, "cancelled")  # nobody else will end it
        self._emit(run["id"], "thread.run.cancelling", run)
        return run

    async def submit_tool_outputs(self, owner: str, thread_id: str, run_id: str,
                                  body: Mapping[str, Any]) -> dict[str, Any]:
        run = await self.retrieve(owner, thread_id, run_id)
        if run["status"] != "requires_action":
            raise InvalidRequest(f"Runs in status \"{run['status']}\" do not accept tool outputs.", field="run_id",
                                 code="run_not_waiting")
        outputs = _outputs(body, run)
        return await self._call(self._resume, owner, run, outputs)

    def subscribe(self, run_id: str) -> asyncio.Queue[Event | None]:
        """Listen before starting a run, so a stream misses none of its events."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._listeners[run_id].append(queue)
        return queue

    async def follow(self, run_id: str, queue: asyncio.Queue[Event | None]) -> AsyncIterator[Event]:
        """The events a ``subscribe`` queue receives, until the run ends or waits for the client."""
        try:
            while True:
                item = await queue.get()
                if item is None:
                    return
                yield item
        finally:
            listeners = self._listeners.get(run_id, [])
            if queue in listeners:
                listeners.remove(queue)
            if not listeners:
                self._listeners.pop(run_id, None)

    async def recover(self) -> int:
        """Runs a stop or a crash cut (their worker is gone, and their task with it) settle now;
        returns how many. Runs of this worker, or of another live one, are left to it."""
        settled = 0
        for owner, run, runner in await asyncio.to_thread(self.store.unfinished_runs):
            status = run["status"]
            if status == "requires_action":  # no task holds it: whoever sees it due expires it
                await self._call(self._expire_if_due, owner, run)
                continue
            if runner is not None and (runner == self.worker or await asyncio.to_thread(self.alive, runner)):
                continue
            if status == "cancelling":
                await self._call(self._end, owner, run, "cancelled")
            else:
                await self._call(self._end, owner, run, "failed",
                                 {"code": "server_error", "message": "the server stopped while this run was "
                                                                     f"{status.replace('_', ' ')}; start a new run"})
            settled += 1
        return settled

    async def stop(self, timeout: float = 5.0) -> None:
        """Let runs in flight finish (the built-in model is quick); the ones that do not are cut and
        end ``failed`` with the reason now (a kill leaves that to the next start's ``recover``)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        self._stopping = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- creating ----------------------------------------------------------------------------------
    def _new_run(self, owner: str, thread: dict[str, Any], body: Mapping[str, Any],
                 messages: list[dict[str, Any]], new_thread: bool = False,
                 stores: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        allowed = {"assistant_id", "model", "instructions", "additional_instructions", "additional_messages",
                   "tools", "metadata", "temperature", "top_p", "stream", "max_prompt_tokens",
                   "max_completion_tokens", "truncation_strategy", "tool_choice", "parallel_tool_calls",
                   "response_format", "tool_resources", "reasoning_effort", "include"}
        reject_unknown(body, allowed)
        assistant_id = body.get("assistant_id")
        if not isinstance(assistant_id, str):
            raise InvalidRequest("assistant_id is required", field="assistant_id",
                                 code="missing_required_parameter" if assistant_id is None else "invalid_value")
        assistant = self.objects.get("assistant", owner, assistant_id)
        model = self.objects.check_model(body["model"]) if body.get("model") is not None else assistant["model"]
        instructions = body.get("instructions")
        if instructions is not None and (not isinstance(instructions, str) or len(instructions) > 256_000):
            raise InvalidRequest("instructions must be a string of at most 256000 characters", field="instructions")
        extra = body.get("additional_instructions")
        if extra is not None and (not isinstance(extra, str) or len(extra) > 256_000):
            raise InvalidRequest("additional_instructions must be a string", field="additional_instructions")
        text = instructions if instructions is not None else assistant.get("instructions") or ""
        if extra:
            text = f"{text}\n\n{extra}" if text else extra
        tools = self.objects.check_tools(body["tools"]) if body.get("tools") is not None else assistant["tools"]
        if body.get("tool_choice") == {"type": FILE_SEARCH}:
            choice: Any = {"type": FILE_SEARCH}
            if all(t["type"] != FILE_SEARCH for t in tools):
                raise InvalidRequest("tool_choice is file_search, which this run does not have", field="tool_choice")
        else:
            choice = tool_choice(body.get("tool_choice"), tools)
        if isinstance(choice, dict) and choice["type"] == "function" and all(
                t.get("function", {}).get("name") != choice["function"]["name"] for t in tools):
            raise InvalidRequest("tool_choice names a function this run does not have", field="tool_choice")
        resources, new_stores = self.objects.vector_stores.resources(owner, body.get("tool_resources"))
        added = body.get("additional_messages") or []
        if not isinstance(added, list) or len(added) > 32:
            raise InvalidRequest("additional_messages must be a list of at most 32 messages",
                                 field="additional_messages")
        extra_messages = [self.objects.message_document(owner, thread["id"], m, f"additional_messages[{i}]")
                          for i, m in enumerate(added)]
        limits = {}
        for name in ("max_prompt_tokens", "max_completion_tokens"):
            value = body.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise InvalidRequest(f"{name} must be an integer >= 1", field=name)
            limits[name] = value
        now = self.objects.now()
        run = {
            "id": new_id("run"), "object": "thread.run", "created_at": now, "thread_id": thread["id"],
            "assistant_id": assistant_id, "status": "queued", "required_action": None, "last_error": None,
            "expires_at": now + EXPIRES_SECONDS, "started_at": None, "cancelled_at": None, "failed_at": None,
            "completed_at": None, "incomplete_details": None, "model": model, "instructions": text, "tools": tools,
            "metadata": check_metadata(body.get("metadata")), "usage": None,
            "temperature": assistant.get("temperature", 1.0), "top_p": assistant.get("top_p", 1.0),
            **limits, "truncation_strategy": {"type": "auto", "last_messages": None}, "response_format": "auto",
            "tool_choice": choice, "parallel_tool_calls": True, "reasoning_effort": None,
            **({"tool_resources": resources} if resources else {}),
        }
        items: list[tuple[Any, str, dict[str, Any]]] = [("vector_store", owner, s)
                                                        for s in [*(stores or []), *new_stores]]
        items += [("thread", owner, thread)] if new_thread else []
        items += [("message", owner, m) for m in [*messages, *extra_messages]]
        items.append(("run", owner, run))
        self.store.insert_many(items, runner=self.worker)  # the thread, its messages and the run: all or nothing
        return run

    # --- executing ---------------------------------------------------------------------------------
    async def _execute(self, owner: str, run_id: str) -> None:
        self._active.add(run_id)
        try:
            await self._rounds(owner, run_id)
        except asyncio.CancelledError:
            if self._stopping:
                run = await self._call(self.store.get, "run", owner, run_id)
                if run is not None and run["status"] not in TERMINAL:
                    status = run["status"]
                    await self._call(self._end, owner, run, "cancelled" if status == "cancelling" else "failed",
                                     None if status == "cancelling" else {
                                         "code": "server_error", "message": "the server was shut down while this "
                                         f"run was {status.replace('_', ' ')}; start a new run"})
            raise
        except Exception as exc:  # noqa: BLE001 - a run ends failed, with the reason, whatever broke
            if isinstance(exc, UpstreamFailed):
                code, message = ("rate_limit_exceeded" if exc.kind == "rate_limited" else "server_error"), str(exc)
            else:
                log.exception("run %s failed", run_id)
                code, message = "server_error", f"{type(exc).__name__}: {str(exc)[:300]}"
            run = await self._call(self.store.get, "run", owner, run_id)
            if run is not None and run["status"] not in TERMINAL:
                await self._call(self._end, owner, run, "failed", {"code": code, "message": message[:1000]})
        finally:
            self._active.discard(run_id)
            self._cancelling.discard(run_id)

    async def _rounds(self, owner: str, run_id: str) -> None:
        if await self._cancelled(owner, run_id):
            return
        run = await self._call(self.store.get, "run", owner, run_id)
        self._emit(run_id, "thread.run.queued", run)
        resumed = run["started_at"] is not None  # after tool outputs: the forced choice was made
        run["status"], run["started_at"] = "in_progress", run["started_at"] or self.objects.now()
        await self._save(owner, run)
        self._emit(run_id, "thread.run.in_progress", run)
        model = self.models[run["model"]]
        usage = run.get("usage") or {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        choice: Any = "auto" if resumed else model_choice(run["tool_choice"])
        thread = await self._call(self._thread_messages, owner, run)  # once: only this run's steps change
        searching = next((t["file_search"] for t in run["tools"] if t["type"] == FILE_SEARCH), None)
        for _ in range(MAX_ROUNDS):
            if await self._cancelled(owner, run_id):
                return
            messages = thread + await self._call(self._tool_messages, owner, run)
            offered = model_tools(run["tools"]) if choice != "none" else []
            turn = await respond(model, messages, offered, choice, run.get("max_completion_tokens"))
            prompt_used, completion_used = usage_of(turn, messages, offered)
            usage["prompt_tokens"] += prompt_used
            usage["completion_tokens"] += completion_used
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
            run["usage"] = usage
            choice = "auto"
            if not turn.tool_calls:
                await self._answer(owner, run, turn.content or "")
                return
            step = await self._call(self._step, owner, run, "tool_calls", {
                "type": "tool_calls", "tool_calls": [_step_call(c, searching) for c in turn.tool_calls]})
            self._emit(run_id, "thread.run.step.created", step)
            self._emit(run_id, "thread.run.step.in_progress", step)
            client = [c for c in turn.tool_calls if not _server_side(c, self.tools, searching)]
            for index, call in enumerate(turn.tool_calls):
                if not _server_side(call, self.tools, searching):
                    continue
                record = step["step_details"]["tool_calls"][index]
                if record["type"] == FILE_SEARCH:
                    await self._call(self._search, owner, run, record, call.arguments)
                else:
                    output = await run_tool(self.tools[call.name], call.arguments, owner=owner)
                    record["function"]["output"] = json.dumps(output)
                self._emit(run_id, "thread.run.step.delta", {
                    "id": step["id"], "object": "thread.run.step.delta",
                    "delta": {"step_details": {"type": "tool_calls", "tool_calls": [
                        {"index": index, **record}]}}})
            if client:
                await self._call(self.store.replace, "run_step", owner, step)
                if await self._cancelled(owner, run_id):
                    return
                run["status"] = "requires_action"
                run["expires_at"] = self.objects.now() + EXPIRES_SECONDS
                run["required_action"] = {"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": [
                    {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                    for c in client]}}
                await self._save(owner, run)
                self._emit(run_id, "thread.run.requires_action", run)
                self._close(run_id)
                return
            await self._call(self._complete_step, owner, run, step)
        await self._answer(owner, run, f"I stopped after {MAX_ROUNDS} rounds of tool calls without an answer.")

    async def _answer(self, owner: str, run: dict[str, Any], text: str) -> None:
        run_id = run["id"]
        if await self._cancelled(owner, run_id):
            return
        now = self.objects.now()
        message = {"id": new_id("message"), "object": "thread.message", "created_at": now,
                   "thread_id": run["thread_id"], "status": "in_progress", "incomplete_details": None,
                   "completed_at": None, "incomplete_at": None, "role": "assistant", "content": [],
                   "assistant_id": run["assistant_id"], "run_id": run_id, "attachments": [], "metadata": {}}
        step = await self._call(self._step, owner, run, "message_creation",
                                {"type": "message_creation", "message_creation": {"message_id": message["id"]}})
        self._emit(run_id, "thread.run.step.created", step)
        self._emit(run_id, "thread.run.step.in_progress", step)
        self._emit(run_id, "thread.message.created", message)
        self._emit(run_id, "thread.message.in_progress", message)
        for piece in pieces(text):
            self._emit(run_id, "thread.message.delta", {"id": message["id"], "object": "thread.message.delta",
                                                        "delta": {"content": [{"index": 0, "type": "text", "text": {
                                                            "value": piece, "annotations": []}}]}})
        cited = annotations(text, await self._call(self._sources, owner, run)) if "\u3010" in text else []
        message.update(status="completed", completed_at=self.objects.now(),
                       content=[{"type": "text", "text": {"value": text, "annotations": cited}}])

        def land() -> None:
            self.store.insert("message", owner, message)
            self._complete_step(owner, run, step)

        await self._call(land)
        self._emit(run_id, "thread.message.completed", message)
        await self._call(self._end, owner, run, "completed")

    async def _cancelled(self, owner: str, run_id: str) -> bool:
        """Whether the run is over for us: ended already, or asked to stop (then it ends cancelled)."""
        run = await self._call(self.store.get, "run", owner, run_id)
        if run is not None and (run["status"] == "cancelling" or run_id in self._cancelling):
            await self._call(self._end, owner, run, "cancelled")
            return True
        return run is None or run["status"] in TERMINAL

    async def _save(self, owner: str, run: dict[str, Any]) -> None:
        """Store the executing run; a cancel that came meanwhile (here or on another worker) is
        kept, not overwritten."""
        def save() -> None:
            stored = self.store.get("run", owner, run["id"])
            if run["id"] in self._cancelling or (stored is not None and stored["status"] == "cancelling"):
                run["status"] = "cancelling"
            self.store.replace("run", owner, run)

        await self._call(save)

    def _executed_elsewhere(self, run_id: str) -> bool:
        """Another live worker executes this run (so it ends it, not us)."""
        runner = self.store.runner(run_id)
        return runner is not None and runner != self.worker and self.alive(runner)

    # --- stored changes (each one short transaction, off the event loop) ---------------------------
    def _thread_messages(self, owner: str, run: dict[str, Any]) -> list[dict[str, Any]]:
        """What the model reads first: the instructions and the thread's messages, oldest first."""
        messages: list[dict[str, Any]] = [{"role": "system", "content": run["instructions"]}] if run["instructions"] else []
        after = None
        while True:  # the whole thread, oldest first, a page at a time
            page = self.store.page("message", owner, where={"thread_id": run["thread_id"]}, limit=100, order="asc",
                                   after=after, before=None)
            for message in page.data:
                if message["status"] == "completed":
                    text = "\n".join(part["text"]["value"] for part in message["content"] if part.get("type") == "text")
                    notes = [ATTACHED_NOTE.format(name=found["filename"], file_id=found["id"])
                             for a in message.get("attachments") or ()
                             if (found := self.objects.files.store.get(owner, a["file_id"])) is not None]
                    messages.append({"role": message["role"], "content": "\n".join([text, *notes]) if notes else text})
            if not page.has_more or not page.data:
                break
            after = page.data[-1]["id"]
        return messages

    def _tool_messages(self, owner: str, run: dict[str, Any]) -> list[dict[str, Any]]:
        """This run's tool calls so far, with the outputs that came back, as chat messages."""
        messages: list[dict[str, Any]] = []
        steps = self.store.page("run_step", owner, where={"run_id": run["id"]}, limit=100, order="asc", after=None,
                                before=None).data
        numbered = 0  # file_search passages are numbered across the run
        for step in steps:
            if step["type"] != "tool_calls":
                continue
            calls, outputs = [], []
            for c in step["step_details"]["tool_calls"]:
                if c["type"] == FILE_SEARCH:
                    call, out = file_search.as_chat(c, numbered)
                    numbered += len(c["file_search"]["results"])
                else:
                    call = {"id": c["id"], "type": "function", "function": {"name": c["function"]["name"],
                                                                            "arguments": c["function"]["arguments"]}}
                    out = c["function"].get("output")
                calls.append(call)
                if out is not None:
                    outputs.append({"role": "tool", "tool_call_id": c["id"], "content": out})
            messages.append({"role": "assistant", "content": None, "tool_calls": calls})
            messages += outputs
        return messages

    def _sources(self, owner: str, run: dict[str, Any]) -> list[dict[str, Any]]:
        """Every file_search result of this run so far, in the order the model saw them numbered."""
        steps = self.store.page("run_step", owner, where={"run_id": run["id"]}, limit=100, order="asc", after=None,
                                before=None).data
        return [result for step in steps if step["type"] == "tool_calls"
                for call in step["step_details"]["tool_calls"] if call["type"] == FILE_SEARCH
                for result in call["file_search"]["results"]]

    def _search(self, owner: str, run: dict[str, Any], record: dict[str, Any], arguments: str) -> None:
        """Run one file_search call over the run's files and record its results in ``record``."""
        try:
            args = json.loads(arguments or "{}")
        except ValueError:
            args = {}
        query = args.get("query") if isinstance(args, dict) else None
        query = query[:1000] if isinstance(query, str) else ""
        options = next(t["file_search"] for t in run["tools"] if t["type"] == FILE_SEARCH)
        assistant = self.store.get("assistant", owner, run["assistant_id"]) or {}
        thread = self.store.get("thread", owner, run["thread_id"]) or {"id": run["thread_id"]}
        file_ids = self.objects.search_files(owner, assistant, thread, run)
        found = self.objects.files.search(owner, file_ids, query, options["max_num_results"])
        record["file_search"].update(query=query, files_searched=len(file_ids), results=file_search.results(
            found, options["ranking_options"]["score_threshold"]))

    def _step(self, owner: str, run: dict[str, Any], kind: str, details: dict[str, Any]) -> dict[str, Any]:
        step = {"id": new_id("run_step"), "object": "thread.run.step", "created_at": self.objects.now(),
                "run_id": run["id"], "assistant_id": run["assistant_id"], "thread_id": run["thread_id"], "type": kind,
                "status": "in_progress", "cancelled_at": None, "completed_at": None, "expired_at": None,
                "failed_at": None, "last_error": None, "step_details": details, "usage": None, "metadata": {}}
        self.store.insert("run_step", owner, step)
        return step

    def _complete_step(self, owner: str, run: dict[str, Any], step: dict[str, Any]) -> None:
        step.update(status="completed", completed_at=self.objects.now())
        self.store.replace("run_step", owner, step)
        self._emit(run["id"], "thread.run.step.completed", step)

    def _resume(self, owner: str, run: dict[str, Any], outputs: dict[str, str]) -> dict[str, Any]:
        steps = self.store.page("run_step", owner, where={"run_id": run["id"]}, limit=100, order="desc", after=None,
                                before=None).data
        waiting = next(s for s in steps if s["type"] == "tool_calls" and s["status"] == "in_progress")
        for call in waiting["step_details"]["tool_calls"]:
            if call["id"] in outputs:
                call["function"]["output"] = outputs[call["id"]]
        self._complete_step(owner, run, waiting)
        run.update(status="queued", required_action=None)
        self.store.replace("run", owner, run, runner=self.worker)  # the worker resuming it executes it now
        return run

    def _thread_run(self, owner: str, thread_id: str, run_id: str) -> dict[str, Any]:
        self.objects.get("thread", owner, thread_id)
        run = self.objects.get("run", owner, run_id)
        if run["thread_id"] != thread_id:  # another thread's run: not found here, like any other
            raise NotFound(f"No run found with id '{excerpt(run_id)}'.", field="run_id")
        return run

    def _expire_if_due(self, owner: str, run: dict[str, Any]) -> dict[str, Any]:
        if run["status"] == "requires_action" and self.wall() >= run["expires_at"]:
            return self._end(owner, run, "expired")
        return run

    def _end(self, owner: str, run: dict[str, Any], status: str, error: dict[str, str] | None = None) -> dict[str, Any]:
        now = self.objects.now()
        run.update(status=status, required_action=None)
        stamp = {"completed": "completed_at", "failed": "failed_at", "cancelled": "cancelled_at"}.get(status)
        if stamp:
            run[stamp] = now
        if error is not None:
            run["last_error"] = error
        if status != "completed":  # a step cut short ends as its run did
            for step in self.store.page("run_step", owner, where={"run_id": run["id"]}, limit=100, order="desc",
                                        after=None, before=None).data:
                if step["status"] == "in_progress":
                    step.update(status=status, **{_STEP_STAMP[status]: now})
                    self.store.replace("run_step", owner, step)
        self.store.replace("run", owner, run)
        self._emit(run["id"], f"thread.run.{status}", run)
        self._close(run["id"])
        return run

    # --- events ------------------------------------------------------------------------------------
    def _emit(self, run_id: str, event: str, data: Mapping[str, Any]) -> None:
        for queue in self._listeners.get(run_id, ()):
            queue.put_nowait((event, json.loads(json.dumps(data))))  # a snapshot: later changes are not in it

    def _close(self, run_id: str) -> None:
        for queue in self._listeners.get(run_id, ()):
            queue.put_nowait(None)

    @staticmethod
    async def _call(work: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(work, *args)


def _outputs(body: Mapping[str, Any], run: Mapping[str, Any]) -> dict[str, str]:
    value = body.get("tool_outputs")
    waiting = [c["id"] for c in run["required_action"]["submit_tool_outputs"]["tool_calls"]]
    if not isinstance(value, list) or not value:
        raise InvalidRequest("tool_outputs must be a list of {tool_call_id, output}", field="tool_outputs",
                             code="missing_required_parameter" if value is None else "invalid_value")
    out: dict[str, str] = {}
    for index, item in enumerate(value[:128]):
        at = f"tool_outputs[{index}]"
        call_id = item.get("tool_call_id") if isinstance(item, dict) else None
        if call_id not in waiting:
            raise InvalidRequest(f"{at}.tool_call_id {excerpt(call_id)} is not a call this run waits for "
                                 f"({', '.join(waiting)})", field=f"{at}.tool_call_id")
        output = item.get("output", "")
        if not isinstance(output, str) or len(output) > MAX_TOOL_OUTPUT_CHARS:
            raise InvalidRequest(f"{at}.output must be a string of at most {MAX_TOOL_OUTPUT_CHARS} characters",
                                 field=f"{at}.output")
        out[call_id] = output
    missing = [c for c in waiting if c not in out]
    if missing:
        raise InvalidRequest(f"tool_outputs lacks the output of {', '.join(missing)}", field="tool_outputs")
    return out


def _server_side(call: ToolCall, tools: Mapping[str, Tool], searching: Mapping[str, Any] | None) -> bool:
    return call.name in tools or (call.name == FILE_SEARCH and searching is not None)


def _step_call(call: ToolCall, searching: Mapping[str, Any] | None) -> dict[str, Any]:
    if call.name == FILE_SEARCH and searching is not None:
        return file_search.call_record(call.id, searching)
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments,
                                                            "output": None}}

