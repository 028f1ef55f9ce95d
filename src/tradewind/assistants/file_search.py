"""``file_search`` in a run: how a model is offered it, how a call is recorded, how answers cite.

A model sees ``file_search`` as a function taking a ``query`` (every OpenAI-compatible server
can call one). The run executes it here over the run's files (``AssistantObjects.search_files``),
records it in the run step as OpenAI's ``file_search`` tool call with its results, and hands the
model the passages numbered across the run. An answer cites a passage as ``【3†notes.md】``;
each such marker becomes a ``file_citation`` annotation with the passage's file id, exactly where
OpenAI's clients look for them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from tradewind.assistants.files import Passage

__all__ = ["FILE_SEARCH", "SPEC", "annotations", "call_record", "model_choice", "model_tools", "output", "results"]

FILE_SEARCH = "file_search"
SPEC = {"type": "function", "function": {
    "name": FILE_SEARCH,
    "description": "Search the files attached to this assistant and thread (research, notes, portfolio files) "
                   "for passages about a query. Cite a passage you use as 【index†file_name】.",
    "parameters": {"type": "object", "properties": {"query": {"type": "string", "maxLength": 1000,
                                                              "description": "what to look for, in words"}},
                   "required": ["query"], "additionalProperties": False}}}
_MARKER = re.compile(r"【(\d{1,4})†([^】\n]{0,256})】")
PASSAGE_CHARS_TO_MODEL = 1200


def model_tools(tools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A run's tools as functions for the model: ``file_search`` becomes its function."""
    return [SPEC if t.get("type") == FILE_SEARCH else dict(t) for t in tools]


def model_choice(choice: Any) -> Any:
    return {"type": "function", "function": {"name": FILE_SEARCH}} if choice == {"type": FILE_SEARCH} else choice


def call_record(call_id: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The step's record of a file_search call before it ran (``results`` filled when it has)."""
    return {"id": call_id, "type": FILE_SEARCH, "file_search": {
        "ranking_options": dict(options.get("ranking_options") or {"ranker": "default_2024_08_21",
                                                                   "score_threshold": 0.0}),
        "results": [], "query": None}}


def results(found: Sequence[Passage], threshold: float) -> list[dict[str, Any]]:
    """The passages as OpenAI's ``FileSearchResult`` (with their content), above the threshold."""
    return [{"file_id": p.file_id, "file_name": p.filename, "score": p.score,
             "content": [{"type": "text", "text": p.text}]} for p in found if p.score >= threshold]


def output(query: str, searched: int, found: Sequence[Mapping[str, Any]], first: int) -> dict[str, Any]:
    """What the model reads back: the passages numbered from ``first`` (numbers run across a run,
    so a citation is unambiguous)."""
    return {"result": {"query": query, "files_searched": searched, "results": [
        {"index": first + i, "file_id": r["file_id"], "file_name": r["file_name"], "score": r["score"],
         "text": r["content"][0]["text"][:PASSAGE_CHARS_TO_MODEL]} for i, r in enumerate(found)]}}


def as_chat(record: Mapping[str, Any], first: int) -> tuple[dict[str, Any], str | None]:
    """A recorded call as the function call and tool output a model reads in the next round."""
    search = record["file_search"]
    call = {"id": record["id"], "type": "function", "function": {
        "name": FILE_SEARCH, "arguments": json.dumps({"query": search.get("query") or ""})}}
    if search.get("query") is None:
        return call, None
    return call, json.dumps(output(search["query"], search.get("files_searched", 0), search["results"], first))


def annotations(text: str, sources: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A ``file_citation`` for each ``【i†name】`` in ``text`` that names a passage of this run."""
    out = []
    for match in _MARKER.finditer(text):
        index = int(match.group(1))
        if index < len(sources):
            out.append({"type": "file_citation", "text": match.group(0), "start_index": match.start(),
                        "end_index": match.end(), "file_citation": {"file_id": sources[index]["file_id"]}})
    return out
