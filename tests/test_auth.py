"""Authentication and authorisation over a real server: the scope table walked route by route,
API keys (hashed, revoked at once), HS256 JWTs, the service token, /ws from a browser's
subprotocol, ownership of /v1 objects through the official ``openai`` SDK, CORS, production checks.

Every route of ``create_app()`` must be in ``api/access.py``'s table: a route added without an
entry fails ``test_every_route_is_in_the_scope_table``.
"""

from __future__ import annotations

import asyncio
import io
import re
import secrets
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import sqlalchemy as sa
import openai
import orjson
import pytest
from alembic import command
from fastapi.routing import iter_route_contexts
from pydantic import ValidationError
from starlette.routing import Mount, WebSocketRoute
from support.server import serve
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tradewind.adapters.api_keys import ApiKeys
from tradewind.api.access import ACCESS, needed_scope
from tradewind.api.app import create_app
from tradewind.api.auth import FAILED_KEYS_PER_MINUTE
from tradewind.assistants.tools import CALLER_MAY_TRADE, Tool, run_tool
from tradewind.bootstrap import Container, build_container
from tradewind.settings import Settings, describe_settings_error
from tradewind.storage.api_keys import SqlApiKeyStore
from tradewind.storage.assistants import NOBODY
from tradewind.storage.db import create_engine_for
from tradewind.storage.migrate import alembic_config

JWT_SECRET = secrets.token_urlsafe(40)
SERVICE_TOKEN = secrets.token_urlsafe(40)
BELOW = {"trade": "read", "admin": "trade"}  # the scope just under each


def _settings(directory: Path, **overrides: Any) -> Settings:
    options: dict[str, Any] = {
        "database_url": f"sqlite:///{directory / 'tw.db'}", "feed": "synthetic", "symbols": ["BTCUSDT"],
        "timeframes": ["1m", "15m", "1h"], "analysis_timeframes": ["15m", "1h"], "history_hours": 30,
        "auth": True, "public_reads": False, "jwt_secret": JWT_SECRET, "service_token": SERVICE_TOKEN,
        "bootstrap_admin_key": False,
    }
    return Settings(**{**options, **overrides})


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Container, dict[str, str]]]:
    """A server whose reads need a credential too, with one key per scope."""
    container = build_container(_settings(tmp_path_factory.mktemp("auth")))
    assert container.api_keys is not None
    keys = {scope: container.api_keys.create(name=f"walk {scope}", scope=scope)[0] for scope in ("read", "trade", "admin")}
    with serve(create_app(container)) as url:
        yield url, container, keys


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def token(*, sub: str = "someone", exp: float | None = 300, secret: str = JWT_SECRET, **claims: Any) -> str:
    body: dict[str, Any] = {"sub": sub, **claims}
    if exp is not None:
        body["exp"] = int(time.time() + exp)
    return jwt.encode(body, secret, algorithm="HS256")


def _routes(app: Any) -> list[tuple[str, str]]:
    """(method, template) of every route the app serves (a mount as GET of its prefix)."""
    found = []
    for route in iter_route_contexts(app.routes):
        original = route.original_route
        if isinstance(original, WebSocketRoute) or type(original).__name__ == "APIWebSocketRoute":
            found.append(("WS", route.path))
        elif isinstance(original, Mount):
            found.append(("GET", route.path))
        else:
            found += [(method, route.path) for method in sorted(route.methods or ()) if method != "HEAD"]
    return found


def _concrete(template: str) -> str:
    values = {"symbol:path": "BTCUSDT", "symbol": "BTCUSDT", "timeframe": "1m"}
    path = re.sub(r"\{([^}]+)\}", lambda m: values.get(m.group(1), "missing"), template)
    return path + "/js/api.js" if template == "/dashboard/static" else path


def _status(url: str, method: str, template: str, headers: dict[str, str]) -> int:
    if method == "WS":
        async def handshake() -> int:
            try:
                async with connect(url.replace("http", "ws") + template, additional_headers=headers):
                    return 101
            except InvalidStatus as exc:
                return exc.response.status_code
        return asyncio.run(handshake())
    body = {} if method in ("POST", "PATCH") else None
    return httpx.request(method, url + _concrete(template), json=body, headers=headers, timeout=30).status_code


def test_every_route_is_in_the_scope_table(locked: tuple[str, Container, dict[str, str]]) -> None:
    app = create_app(locked[1])
    routes = _routes(app)
    assert len(routes) > 80 and ("WS", "/ws") in routes and ("POST", "/v1/threads/{thread_id}/runs") in routes
    missing = [f"{method} {path}" for method, path in routes if needed_scope(method, path) is None]
    assert not missing, f"routes without an entry in api/access.py: {missing}"
    assert needed_scope("POST", "/ai/storage/clear") == "admin" and needed_scope("GET", "/debug/gpt4") == "admin"
    assert needed_scope("POST", "/api/assets/{symbol}/pause") == "trade"
    assert needed_scope("POST", "/api/backtests") == "trade" and needed_scope("POST", "/v1/files") == "trade"
    assert needed_scope("HEAD", "/health") == "public" and needed_scope("GET", "/metrics") == "read"
    assert set(ACCESS.values()) <= {"public", "read", "trade", "admin"}


def test_the_whole_table_answers_401_403_and_lets_the_right_scope_through(
    locked: tuple[str, Container, dict[str, str]],
) -> None:
    url, container, keys = locked
    no_scope = token(sub="nobody", scopes=[])  # a valid credential that holds nothing
    walked = 0
    for method, template in _routes(create_app(container)):
        if template == "/ai/storage/clear":
            continue  # walked last: clearing storage would not hurt, but it is the one irreversible call
        access = needed_scope(method, template)
        anonymous = _status(url, method, template, {})
        if access == "public":
            assert anonymous not in (401, 403), (method, template, anonymous)
            continue
        assert anonymous == 401, (method, template, anonymous)
        small = bearer(keys[BELOW[access]]) if access in BELOW else bearer(no_scope)
        assert _status(url, method, template, small) == 403, (method, template)
        allowed = _status(url, method, template, bearer(keys[access]))
        assert allowed not in (401, 403), (method, template, allowed)
        walked += 1
    assert walked > 70
    assert _status(url, "POST", "/ai/storage/clear", {}) == 401
    assert _status(url, "POST", "/ai/storage/clear", bearer(keys["trade"])) == 403
    assert _status(url, "POST", "/ai/storage/clear", bearer(keys["admin"])) == 200


def test_errors_come_in_each_paths_shape_with_a_bearer_challenge(
    locked: tuple[str, Container, dict[str, str]],
) -> None:
    url, _, keys = locked
    rest = httpx.post(f"{url}/api/assets/BTCUSDT/pause")
    assert rest.status_code == 401 and rest.headers["www-authenticate"] == "Bearer"
    assert rest.json()["error_code"] == "UNAUTHORIZED" and rest.json()["field"] == "authorization"
    streamer = httpx.get(f"{url}/streamer/status")
    assert streamer.status_code == 401 and streamer.json()["success"] is False and streamer.json()["error_code"]
    scoped = httpx.post(f"{url}/api/assets/BTCUSDT/pause", headers=bearer(keys["read"]))
    assert scoped.status_code == 403 and 'scope="trade"' in scoped.headers["www-authenticate"]
    assert scoped.json()["error_code"] == "INSUFFICIENT_SCOPE" and "read" in scoped.json()["detail"]
    v1 = httpx.get(f"{url}/v1/models", headers=bearer("sk-not-a-key-of-ours"))
    assert v1.status_code == 401 and v1.json()["error"]["type"] == "authentication_error"
    assert "sk-not-a-key-of-ours" not in v1.text
    sdk = openai.OpenAI(base_url=f"{url}/v1", api_key=keys["read"], max_retries=0)
    with pytest.raises(openai.PermissionDeniedError):
        sdk.beta.assistants.create(model="tradewind-analyst")
    assert any(m.id == "tradewind-analyst" for m in sdk.models.list().data)


def test_jwts_grant_their_claimed_scopes_and_are_refused_naming_why(
    locked: tuple[str, Container, dict[str, str]],
) -> None:
    url = locked[0]
    pause = f"{url}/api/assets/BTCUSDT/pause"
    assert httpx.post(pause, headers=bearer(token(scope="read trade"))).status_code == 200
    assert httpx.post(f"{url}/api/assets/BTCUSDT/resume", headers=bearer(token(scopes=["admin"]))).status_code == 200
    assert httpx.post(pause, headers=bearer(token(scope="read"))).status_code == 403
    cases = {
        "expired": token(scope="trade", exp=-60),
        "signature": token(scope="trade", secret=secrets.token_urlsafe(40)),
        "'exp'": token(scope="trade", exp=None),
    }
    for reason, credential in cases.items():
        refused = httpx.post(pause, headers=bearer(credential))
        assert refused.status_code == 401 and reason in refused.json()["detail"], refused.text
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]
        assert credential not in refused.text and credential.split(".")[2] not in refused.text
    none_alg = jwt.encode({"sub": "x", "exp": int(time.time()) + 60, "scope": "admin"}, None, algorithm="none")
    assert httpx.post(pause, headers=bearer(none_alg)).status_code == 401


def test_the_service_token_is_admin_and_the_old_admin_token_is_its_alias(
    locked: tuple[str, Container, dict[str, str]], tmp_path: Path,
) -> None:
    url = locked[0]
    assert httpx.get(f"{url}/debug/llm", headers=bearer(SERVICE_TOKEN)).status_code == 500  # no LLM: the check fails
    assert httpx.get(f"{url}/debug/llm", headers=bearer(SERVICE_TOKEN[:-1] + "x")).status_code == 401
    legacy = _settings(tmp_path, service_token=None, admin_token="dashboard-admin")
    assert legacy.service_secret() == "dashboard-admin" and legacy.auth_settings.service_token is not None


def test_a_revoked_key_fails_on_its_next_request_here_and_within_a_second_from_elsewhere(
    locked: tuple[str, Container, dict[str, str]],
) -> None:
    url, container, _ = locked
    assert container.api_keys is not None
    key, info = container.api_keys.create(name="short-lived", scope="read")
    assert httpx.get(f"{url}/api/assets", headers=bearer(key)).status_code == 200
    container.api_keys.revoke(info.id)
    assert httpx.get(f"{url}/api/assets", headers=bearer(key)).status_code == 401
    other, other_info = container.api_keys.create(name="revoked-by-the-cli", scope="read")
    assert httpx.get(f"{url}/api/assets", headers=bearer(other)).status_code == 200
    elsewhere = ApiKeys(SqlApiKeyStore(container.database))  # what `tradewind keys revoke` builds
    elsewhere.revoke(other_info.id)
    revoked_at = time.monotonic()
    while httpx.get(f"{url}/api/assets", headers=bearer(other)).status_code != 401:
        assert time.monotonic() - revoked_at < 2.0, "a key revoked by another process still works"
        time.sleep(0.05)
    wrong_secret = key.rsplit("_", 1)[0] + "_" + secrets.token_urlsafe(32)
    assert httpx.get(f"{url}/api/assets", headers=bearer(wrong_secret)).status_code == 401


def test_guessing_secrets_is_answered_429_after_a_few_without_more_hashing(tmp_path: Path) -> None:
    """Each unseen key costs an argon2 verification; a client whose keys keep being refused gets 429
    with Retry-After (in the path's shape) instead, and a key it proved before still works."""
    container = build_container(_settings(tmp_path))
    assert container.api_keys is not None
    key, _ = container.api_keys.create(name="real", scope="read")
    guesses = [key.rsplit("_", 1)[0] + "_" + secrets.token_urlsafe(32) for _ in range(FAILED_KEYS_PER_MINUTE + 2)]
    with serve(create_app(container)) as url, httpx.Client(base_url=url) as http:
        assert http.get("/api/assets", headers=bearer(key)).status_code == 200  # verified: remembered
        statuses = [http.get("/api/assets", headers=bearer(guess)).status_code for guess in guesses]
        assert statuses == [401] * FAILED_KEYS_PER_MINUTE + [429, 429], statuses
        limited = http.get("/api/assets", headers=bearer(guesses[-1] + "x"))
        assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 61
        body = limited.json()
        assert body["error_code"] == "RATE_LIMIT_EXCEEDED" and body["field"] == "authorization"
        assert "refused API keys from this client" in body["detail"] and guesses[0] not in limited.text
        v1 = http.get("/v1/models", headers=bearer(guesses[-1] + "y"))
        assert v1.status_code == 429 and v1.json()["error"]["type"] == "rate_limit_error"
        assert http.get("/api/assets", headers=bearer(key)).status_code == 200  # the proven key: no hashing
        assert http.get("/api/assets", headers=bearer(guesses[0])).status_code == 401  # a known refusal, from memory


def test_keys_are_stored_as_argon2_hashes_only(locked: tuple[str, Container, dict[str, str]]) -> None:
    _, container, keys = locked
    path = container.settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT id, prefix, secret_hash FROM api_keys").fetchall()
        dump = "\n".join(db.iterdump())
    assert len(rows) >= 3 and all(h.startswith("$argon2id$") for _, _, h in rows)
    for key in keys.values():
        secret = key.split("_", 2)[2]
        assert secret not in dump and key not in dump
        assert any(key.startswith(prefix) for _, prefix, _ in rows)


def test_websocket_takes_the_key_as_a_header_or_a_browsers_subprotocol(
    locked: tuple[str, Container, dict[str, str]],
) -> None:
    url, _, keys = locked
    ws = url.replace("http", "ws") + "/ws"

    async def talk() -> tuple[str | None, dict[str, Any]]:
        async with connect(ws, subprotocols=["tradewind.bearer", keys["read"]]) as socket:  # type: ignore[list-item]
            await socket.send('{"type": "ping"}')
            while (message := orjson.loads(await asyncio.wait_for(socket.recv(), 10)))["type"] .lower() != "pong":
                pass  # the greeting first
            return socket.subprotocol, message

    protocol, answer = asyncio.run(talk())
    assert protocol == "tradewind.bearer" and answer["type"].lower() == "pong"
    assert _status(url, "WS", "/ws", bearer(keys["read"])) == 101
    assert _status(url, "WS", "/ws", {}) == 401
    assert _status(url, "WS", "/ws", bearer(token(scopes=[]))) == 403


def test_another_keys_objects_are_not_found_through_the_openai_sdk(
    locked: tuple[str, Container, dict[str, str]],
) -> None:
    url, container, _ = locked
    assert container.api_keys is not None
    mine = openai.OpenAI(base_url=f"{url}/v1", api_key=container.api_keys.create(name="a", scope="trade")[0],
                         max_retries=0)
    theirs = openai.OpenAI(base_url=f"{url}/v1", api_key=container.api_keys.create(name="b", scope="trade")[0],
                           max_retries=0)
    assistant = mine.beta.assistants.create(model="tradewind-analyst", name="mine")
    thread = mine.beta.threads.create(messages=[{"role": "user", "content": "hello"}])
    upload = mine.files.create(file=("notes.txt", io.BytesIO(b"BTC 0.5\nETH 2"), "text/plain"), purpose="assistants")
    store = mine.vector_stores.create(name="mine", file_ids=[upload.id])
    assert mine.beta.assistants.retrieve(assistant.id).name == "mine"
    assert mine.files.retrieve(upload.id).filename == "notes.txt"
    for fetch in (lambda c: c.beta.assistants.retrieve(assistant.id), lambda c: c.beta.threads.retrieve(thread.id),
                  lambda c: c.beta.threads.messages.list(thread.id), lambda c: c.files.retrieve(upload.id),
                  lambda c: c.files.content(upload.id), lambda c: c.vector_stores.retrieve(store.id),
                  lambda c: c.beta.assistants.delete(assistant.id), lambda c: c.files.delete(upload.id)):
        with pytest.raises(openai.NotFoundError):
            fetch(theirs)
    assert assistant.id not in [a.id for a in theirs.beta.assistants.list()]
    assert upload.id not in [f.id for f in theirs.files.list()]
    assert mine.beta.threads.retrieve(thread.id).id == thread.id  # still there for its owner
    jwt_client = openai.OpenAI(base_url=f"{url}/v1", api_key=token(sub="a-user", scope="trade"), max_retries=0)
    owned = jwt_client.beta.assistants.create(model="tradewind-analyst")
    again = openai.OpenAI(base_url=f"{url}/v1", api_key=token(sub="a-user", scope="read"), max_retries=0)
    assert again.beta.assistants.retrieve(owned.id).id == owned.id  # the JWT's sub owns it, whatever token
    with pytest.raises(openai.NotFoundError):
        theirs.beta.assistants.retrieve(owned.id)
    nobodys = container.assistants.create_assistant(NOBODY, {"model": "tradewind-analyst", "name": "shared"})
    assert theirs.beta.assistants.retrieve(nobodys["id"]).name == "shared"  # made before auth: no one's, seen by all
    assert mine.beta.assistants.retrieve(nobodys["id"]).name == "shared"


@pytest.mark.parametrize("database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_migration_0008_adds_the_key_table_and_gives_older_objects_to_no_one(database_url: str) -> None:
    config = alembic_config(database_url)
    command.upgrade(config, "0007")
    engine = create_engine_for(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("INSERT INTO v1_assistants (id, owner, created_at, body) "
                                       "VALUES ('asst_old', 'a-digest-of-some-bearer', 1, '{}')"))
        command.upgrade(config, "head")
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT owner FROM v1_assistants")).scalar_one() == NOBODY
            assert connection.execute(sa.text("SELECT count(*) FROM api_keys")).scalar_one() == 0
        command.downgrade(config, "0007")
        assert "api_keys" not in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_public_reads_need_nothing_and_writes_still_do(tmp_path: Path) -> None:
    container = build_container(_settings(tmp_path, public_reads=True, trading=False))
    with serve(create_app(container)) as url:
        assert httpx.get(f"{url}/streamer/status").status_code == 200
        assert httpx.get(f"{url}/v1/models").status_code == 200
        assert httpx.post(f"{url}/ai/analyze", json={"symbol": "BTCUSDT"}, timeout=30).status_code == 200
        assert httpx.post(f"{url}/v1/threads", json={}).status_code == 401
        assert httpx.post(f"{url}/ai/storage/clear").status_code == 401
        assert _status(url, "WS", "/ws", {}) == 101
        assert httpx.get(f"{url}/streamer/status", headers=bearer("tw_000000000000_" + "x" * 30)).status_code == 401


def test_a_chat_tool_that_starts_work_runs_only_for_a_trade_caller() -> None:
    ran: list[dict[str, Any]] = []

    async def start(args: Any) -> dict[str, Any]:
        ran.append(dict(args))
        return {"started": True}

    tool = Tool("run_backtest", "starts a backtest", {"type": "object"}, start, changes=True)

    async def as_caller(may_trade: bool) -> dict[str, Any]:
        CALLER_MAY_TRADE.set(may_trade)
        return await run_tool(tool, '{"symbol": "BTCUSDT"}')

    refused = asyncio.run(as_caller(False))
    assert "trade scope" in refused["error"] and ran == []
    assert asyncio.run(as_caller(True)) == {"result": {"started": True}} and ran == [{"symbol": "BTCUSDT"}]


def test_cors_is_an_explicit_allow_list(tmp_path: Path) -> None:
    closed = create_app(build_container(_settings(tmp_path / "a", trading=False)))
    opened = create_app(build_container(_settings(tmp_path / "b", trading=False, cors_origins="https://ok.example")))
    preflight = {"Origin": "https://ok.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}
    (tmp_path / "a").mkdir(exist_ok=True)
    with serve(closed) as url:
        answer = httpx.get(f"{url}/health", headers={"Origin": "https://ok.example"})
        assert "access-control-allow-origin" not in answer.headers
        assert "access-control-allow-origin" not in httpx.options(f"{url}/ai/analyze", headers=preflight).headers
    with serve(opened) as url:
        allowed = httpx.options(f"{url}/ai/analyze", headers=preflight)
        assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == "https://ok.example"
        other = httpx.options(f"{url}/ai/analyze", headers={**preflight, "Origin": "https://evil.example"})
        assert other.headers.get("access-control-allow-origin") != "https://evil.example"
        assert httpx.get(f"{url}/health", headers={"Origin": "https://ok.example"}).headers[
            "access-control-allow-origin"] == "https://ok.example"


@pytest.mark.parametrize(("overrides", "named"), [
    ({"auth": False}, "TRADEWIND_AUTH"),
    ({"jwt_secret": "changethis"}, "TRADEWIND_JWT_SECRET"),
    ({"jwt_secret": "secret"}, "TRADEWIND_JWT_SECRET"),
    ({"service_token": "short-but-not-default"}, "TRADEWIND_SERVICE_TOKEN"),
    ({"admin_token": "a" * 40}, "TRADEWIND_ADMIN_TOKEN"),
    ({"cors_origins": "*"}, "TRADEWIND_CORS_ORIGINS"),
])
def test_production_refuses_weak_secrets_and_auth_off(overrides: dict[str, Any], named: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(env="production", **{"auth": True, **overrides})
    assert named in describe_settings_error(caught.value)
    Settings(env="development", **overrides)  # development allows them


def test_production_takes_strong_secrets() -> None:
    settings = Settings(env="production", auth=True, jwt_secret=secrets.token_urlsafe(40), service_token=secrets.token_urlsafe(40))
    assert settings.auth and settings.env == "production"


def test_a_first_start_makes_one_admin_key_and_prints_it_once(tmp_path: Path,
                                                               capfd: pytest.CaptureFixture[str]) -> None:
    settings = _settings(tmp_path, bootstrap_admin_key=True, trading=False)
    for start in range(2):
        container = build_container(settings)
        with serve(create_app(container)) as url:
            printed = re.findall(r"tw_[0-9a-f]{12}_[\w-]+", capfd.readouterr().err)
            if start == 0:
                (key,) = printed
                assert httpx.post(f"{url}/ai/storage/clear", headers=bearer(key)).status_code == 200
            else:
                assert printed == []  # a restart prints nothing: the key exists, only its hash is kept
    assert container.api_keys is not None and [k.scope for k in container.api_keys.list()] == ["admin"]


def test_the_document_names_401_and_403_where_the_table_asks_for_a_credential(
        locked: tuple[str, Container, dict[str, str]]) -> None:
    url, _, _ = locked
    paths = httpx.get(f"{url}/openapi.json").json()["paths"]
    clear = paths["/ai/storage/clear"]["post"]["responses"]
    assert {"401", "403"} <= set(clear) and clear["401"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/RestError")
    assert paths["/v1/assistants"]["post"]["responses"]["401"]["content"]["application/json"]["schema"][
        "$ref"].endswith("/OpenAIError")
    assert "401" not in paths["/health"]["get"]["responses"]  # public: no credential is ever asked for
