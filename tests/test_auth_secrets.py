"""Secrets never leave the service: the real outputs of a running server, grepped for the real values.

The server runs on PostgreSQL with a password in its URL (the local server trusts, so the password
is carried but not checked), an LLM endpoint whose URL holds a password (unreachable: every call
fails, and the failure names the endpoint), an OpenAI key, Alpaca keys, a JWT secret, a service
token. Its health page, debug checks, error bodies, the decision
log (over the API, its JSON and CSV exports, and the table itself) and every log record are read
back; none holds any of the values, and the places that would have shown one show stars instead.
"""

from __future__ import annotations

import io
import logging
import secrets
import socket
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from support.server import serve

from tradewind.api.app import create_app
from tradewind.bootstrap import build_container
from tradewind.domain.redact import Redactor
from tradewind.settings import Settings, describe_settings_error

pytestmark = pytest.mark.postgres


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens there once the socket is closed


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Every log record of the process, formatted with its traceback, while the test runs."""
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield sink
    root.removeHandler(handler)
    root.setLevel(level)


def test_no_secret_appears_in_bodies_exports_the_decision_log_or_logs(
    postgres_url: str, logs: io.StringIO,
) -> None:
    values = {name: f"{name}-{secrets.token_urlsafe(24)}" for name in (
        "db_password", "llm_password", "openai_key", "alpaca_key", "alpaca_secret", "jwt_secret",
        "service_token")}
    url = make_url(postgres_url)
    with psycopg.connect(url.set(drivername="postgresql", query={}).render_as_string(hide_password=False),
                         autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{url.query["options"].split("=")[1]}"')
    database_url = url.set(password=values["db_password"]).render_as_string(hide_password=False)
    settings = Settings(
        database_url=database_url,
        feed="synthetic", symbols=["BTCUSDT"], timeframes=["1m", "15m", "1h"], analysis_timeframes=["15m", "1h"],
        history_hours=4, trading=False, analyst="llm",
        llm_base_url=f"http://tradewind:{values['llm_password']}@127.0.0.1:{_closed_port()}/v1",
        llm_max_retries=0, llm_timeout=3, openai_api_key=values["openai_key"], alpaca_api_key=values["alpaca_key"],
        alpaca_secret_key=values["alpaca_secret"], auth=True, jwt_secret=values["jwt_secret"],
        service_token=values["service_token"], bootstrap_admin_key=False,
    )
    container = build_container(settings)
    admin = {"Authorization": f"Bearer {values['service_token']}"}
    outputs: list[str] = []
    with serve(create_app(container)) as base:
        health = httpx.get(f"{base}/health")
        assert health.status_code == 200
        outputs.append(health.text)
        for path in ("/debug/gpt4", "/debug/llm"):
            check = httpx.get(base + path, headers=admin, timeout=30)
            assert check.status_code == 500 and check.json()["status"] == "failed"  # the endpoint is unreachable
            outputs.append(check.text)
        analysis = httpx.post(f"{base}/ai/analyze", json={"symbol": "BTCUSDT"}, timeout=60)
        assert analysis.status_code == 200  # the rules answered when the model could not
        outputs.append(analysis.text)
        for path in ("/api/ai-logs", "/api/ai-logs/export/json", "/api/ai-logs/export/csv", "/api/ai-logs/usage",
                     "/ai/info", "/", "/v1/models", "/no/such/path"):
            outputs.append(httpx.get(base + path, headers=admin, timeout=30).text)
        outputs.append(httpx.get(f"{base}/api/assets", headers={"Authorization": "Bearer nope"}).text)
        with container.database.connect() as connection:
            rows = connection.execute(text("SELECT error, raw_response FROM ai_decision_logs")).all()
        outputs += [str(row) for row in rows]
    errors = [row[0] for row in rows if row[0]]
    assert errors and any("*" * len(values["llm_password"]) in e for e in errors), errors  # masked, not absent
    assert "*" * len(values["llm_password"]) in health.text  # the endpoint's URL, its password starred
    outputs.append(logs.getvalue())
    assert "unreachable" in logs.getvalue() or errors  # the failure was logged or stored, masked
    settings_error = describe_settings_error(_refused(f"mysql://u:{values['db_password']}@h/db"))
    outputs.append(settings_error)
    assert "TRADEWIND_DATABASE_URL" in settings_error
    everything = "\n".join(outputs)
    leaked = [name for name, value in values.items() if value in everything]
    assert not leaked, f"secrets shown: {leaked}"


def test_a_redis_urls_password_is_among_the_masked_secrets() -> None:
    password = secrets.token_urlsafe(24)  # the server is not started: its Redis (db 11) has no password
    settings = Settings(redis_url=f"redis://:{password}@127.0.0.1:6379/11", service_token="t" * 40)
    assert password in settings.secret_values() and "t" * 40 in settings.secret_values()
    assert password not in Redactor(settings.secret_values()).text(f"redis://:{password}@127.0.0.1:6379/11 down")


def _refused(database_url: str) -> Exception:
    try:
        Settings(database_url=database_url)
    except Exception as exc:  # pydantic's ValidationError
        return exc
    raise AssertionError("a mysql:// URL was accepted")
