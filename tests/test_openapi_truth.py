"""The OpenAPI document tells the truth: schemathesis, with every check, over the service's own document.

A real server of ``create_app()`` on small data (``support.fuzz.SERVER_CODE``: one synthetic symbol,
a few hours of history, so analyses and backtests are cheap) is fuzzed by schemathesis's CLI with
all its phases and checks, a fixed seed and a few examples per operation. Every operation is run;
the checks left out of some operations are ``support.fuzz.EXCLUDED``, each with its reason, and this
test fails if schemathesis finds anything else. The document's own rules are checked too: the
error shapes per path, 429 everywhere, 413/415 wherever a body is read, and the patterns that
document a rule the code applies (symbols, timeframes, times) accept exactly what the code does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.fuzz import EXCLUDED, run_campaign, served, write_config

from tradewind.api.ai_logs import TIME_PATTERN, parse_time
from tradewind.api.error_schemas import document_auth
from tradewind.domain.errors import InvalidSymbol, InvalidTimeframe, ValidationError
from tradewind.domain.symbol import MAX_SYMBOL_INPUT, SYMBOL_PATTERN, normalize_symbol
from tradewind.domain.timeframe import MAX_TIMEFRAME_INPUT, TIMEFRAME_PATTERN, parse_timeframe_name

EXAMPLES = 3  # per operation and phase; the bench runs a longer campaign (bench/openapi_fuzz.py)
SEED = 20261204


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app in its own process, as it is served (the bench runs the very same code)."""
    with served(_free_port(), tmp_path_factory.mktemp("fuzz")) as url:
        yield url


@pytest.fixture(scope="module")
def document(server: str) -> dict[str, Any]:
    return httpx.get(f"{server}/openapi.json", timeout=30).json()  # type: ignore[no-any-return]


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def test_schemathesis_finds_nothing_with_every_check(server: str, tmp_path: Path, document: dict[str, Any]) -> None:
    campaign = run_campaign(server, examples=EXAMPLES, seed=SEED, config=write_config(tmp_path / "st.toml"))
    assert campaign.operations == sum(1 for _ in operations(document)), "every operation is run"
    assert not campaign.failures, "\n".join(campaign.lines()) + "\n" + campaign.output[-20_000:]
    assert not campaign.errors, campaign.output[-20_000:]


def test_every_error_status_has_its_path_s_shape(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        where = f"{method} {path}"
        responses = operation["responses"]
        limited = responses["429"]
        assert {"Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining"} <= set(limited["headers"]), where
        if "requestBody" in operation:
            assert {"413", "415"} <= set(responses), where
        expected = ("OpenAIError" if path.startswith("/v1/") else "StreamerError" if path.startswith("/streamer")
                    else "RestError")
        for status, response in responses.items():
            if status.startswith("4") and status != "429":
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith(f"/{expected}"), f"{where} {status}: {ref}"
    assert "HTTPValidationError" not in document["components"]["schemas"]  # FastAPI's 422, answered by no route


def test_exports_and_streams_name_their_media_types(document: dict[str, Any]) -> None:
    paths = document["paths"]
    assert set(paths["/api/ai-logs/export/csv"]["get"]["responses"]["200"]["content"]) == {"text/csv"}
    assert "text/event-stream" in paths["/v1/chat/completions"]["post"]["responses"]["200"]["content"]
    assert "text/event-stream" in paths["/v1/threads/{thread_id}/runs"]["post"]["responses"]["200"]["content"]
    assert "multipart/form-data" in paths["/v1/files"]["post"]["requestBody"]["content"]
    limit = {p["name"]: p for p in paths["/api/ai-logs"]["get"]["parameters"]}["limit"]["schema"]
    assert (limit["type"], limit["minimum"], limit["maximum"]) == ("integer", 1, 1000)


def test_document_auth_adds_401_and_403_where_a_credential_is_needed(document: dict[str, Any]) -> None:
    import copy

    marked = document_auth(copy.deepcopy(document), lambda method, path: path == "/ai/storage/clear")
    clear = marked["paths"]["/ai/storage/clear"]["post"]["responses"]
    assert {"401", "403"} <= set(clear) and clear["401"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/RestError")
    assert "401" not in marked["paths"]["/ai/info"]["get"]["responses"]


def _accepts(parse: Any, text: str) -> bool:
    try:
        parse(text)
    except (InvalidSymbol, InvalidTimeframe, ValidationError):
        return False
    return True


SYMBOLISH = st.text(alphabet="aZ09._-/: \t", max_size=MAX_SYMBOL_INPUT + 4)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(SYMBOLISH, st.from_regex(SYMBOL_PATTERN)))
def test_the_symbol_pattern_is_normalize_symbol_s_rule(text: str) -> None:
    documented = bool(re.search(SYMBOL_PATTERN, text)) and len(text) <= MAX_SYMBOL_INPUT  # pattern and maxLength
    assert _accepts(normalize_symbol, text) == documented, repr(text)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(st.text(alphabet="mhdMHD0123456 ", max_size=6), st.from_regex(TIMEFRAME_PATTERN)))
def test_the_timeframe_pattern_is_the_parser_s_rule(text: str) -> None:
    documented = bool(re.search(TIMEFRAME_PATTERN, text)) and len(text) <= MAX_TIMEFRAME_INPUT
    assert _accepts(parse_timeframe_name, text) == documented, repr(text)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.from_regex(TIME_PATTERN))
def test_every_time_the_pattern_admits_parses(text: str) -> None:
    parse_time(text, field="since")


def test_every_exclusion_names_an_operation_that_exists(document: dict[str, Any]) -> None:
    names = {f"{method} {path}" for method, path, _ in operations(document)}
    assert {operation for operation, _ in EXCLUDED} <= names
    assert all(reason.strip() for reason in EXCLUDED.values())
