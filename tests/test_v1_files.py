"""Files, vector stores, attachments and ``file_search`` under ``/v1``, through the official SDK.

The search itself is the database's: the store tests run on SQLite (FTS5) and PostgreSQL
(``tsvector``) alike; the API tests on the embedded defaults (SQLite) with real ETH/BTC candles.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from sqlalchemy import Engine, func, select, text
from support.server import serve
from support.waiting import wait_for

from tradewind.adapters.pdf_text import pdf_text
from tradewind.api.app import create_app
from tradewind.assistants.chat_request import InvalidRequest
from tradewind.assistants.files import FileService
from tradewind.bootstrap import Container, build_container
from tradewind.settings import Settings
from tradewind.storage.files import SqlFileStore
from tradewind.storage.tables import V1FilePassageRow

DATA = Path(__file__).parent / "data"
MODEL = "tradewind-analyst"
MAX_FILE = 64 * 1024
RESEARCH = (b"# Desk research, November\n\nEthereum staking yields about 3.2 percent a year after the upgrade.\n\n"
            b"Bitcoin miners sold less after the halving; hash rate is at a high.\n")
HOLDINGS = b"symbol,quantity,note\nETHBTC,12.5,core\n"

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # client.beta is deprecated, still shipped


def pdf_with(line: str) -> bytes:
    """A one-page PDF whose text layer holds ``line`` (the offsets in its xref are exact)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({line}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)


# --- the store, on both databases ------------------------------------------------------------------------
@pytest.fixture
def files(engine: Engine) -> FileService:
    return FileService(store=SqlFileStore(engine), max_bytes=MAX_FILE, read_pdf=pdf_text,
                       wall=lambda: 1_700_000_000.0)


def test_search_finds_passages_by_the_databases_own_index(files: FileService, engine: Engine) -> None:
    research = files.upload("me", filename="research.md", purpose="assistants", data=RESEARCH)
    book = files.upload("me", filename="book.csv", purpose="assistants", data=HOLDINGS)
    paper = files.upload("me", filename="paper.pdf", purpose="assistants", data=pdf_with("Funding rates turned negative"))
    ids = [research["id"], book["id"], paper["id"]]
    found = files.search("me", ids, "what are staking yields now?")
    assert [p.file_id for p in found] == [research["id"]] and "3.2 percent" in found[0].text
    assert 0 < found[0].score <= 1 and found[0].filename == "research.md"
    assert files.search("me", ids, "funding rates")[0].file_id == paper["id"]  # the PDF's text layer
    assert files.search("me", ids, "ETHBTC")[0].text.startswith("symbol,quantity")  # a CSV passage keeps its header
    assert files.search("someone else", ids, "staking") == []  # another owner's files are not searched
    assert files.search("me", [book["id"]], "staking") == []  # only the files asked for
    files.delete("me", research["id"])
    assert files.search("me", ids, "staking") == []
    with engine.connect() as connection:  # the passages went with the file (and on SQLite their index rows)
        left = connection.execute(select(func.count()).select_from(V1FilePassageRow).where(
            V1FilePassageRow.file_id == research["id"])).scalar()
        assert left == 0
        if engine.dialect.name == "sqlite":
            assert connection.execute(text("SELECT count(*) FROM v1_file_passages_fts WHERE v1_file_passages_fts "
                                           "MATCH 'staking'")).scalar() == 0


HOSTILE_QUERIES = ['"', "staking*", "NEAR(staking yields)", "staking OR", "a:b", "'; DROP TABLE x; --", "\\",
                   "& | ! ( )", "\u3010\u2020\u3011", "\x00", "x" * 10_000, ""]
BAD_UPLOADS: list[tuple[str, str | None, bytes, str, str]] = [
    ("notes.md", "fine-tune", RESEARCH, "purpose", "invalid_value"),
    ("notes.md", None, RESEARCH, "purpose", "missing_required_parameter"),
    ("tool.exe", "assistants", b"MZ", "file", "unsupported_file"),
    ("notes.md", "assistants", b"x" * (MAX_FILE + 1), "file", "file_too_large"),
    ("notes.md", "assistants", b"", "file", "invalid_file"),
    ("notes.txt", "assistants", b"\xff\xfe caf\xe9", "file", "invalid_file"),
    ("notes.txt", "assistants", b"a\x00b", "file", "invalid_file"),
    ("data.json", "assistants", b'{"a": ', "file", "invalid_file"),
    ("paper.pdf", "assistants", b"%PDF-1.4\n garbage", "file", "invalid_file"),
    ("x" * 300 + ".md", "assistants", RESEARCH, "file", "invalid_value"),
    ("bad\nname.md", "assistants", RESEARCH, "file", "invalid_value"),
]


def test_a_query_is_words_never_syntax(files: FileService) -> None:
    """FTS5 and tsquery syntax, quotes, NUL and huge queries: read as words, never an error."""
    research = files.upload("me", filename="research.md", purpose="assistants", data=RESEARCH)
    for query in HOSTILE_QUERIES:
        found = files.search("me", [research["id"]], query + " staking")
        assert [p.file_id for p in found] == [research["id"]], query[:40]


def test_bad_uploads_are_refused_and_nothing_is_stored(files: FileService) -> None:
    for filename, purpose, data, param, code in BAD_UPLOADS:
        with pytest.raises(InvalidRequest) as refused:
            files.upload("me", filename=filename, purpose=purpose, data=data)
        assert (refused.value.field, refused.value.code) == (param, code), filename[:40]
        assert len(str(refused.value)) < 400
    assert files.page("me")["data"] == []


def test_a_name_is_never_a_path(files: FileService) -> None:
    stored = files.upload("me", filename="../../etc/research.md", purpose="assistants", data=RESEARCH)
    assert stored["filename"] == "research.md"


# --- the API, through the SDK ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Container]]:
    settings = Settings(database_url=f"sqlite:///{tmp_path_factory.mktemp('files') / 'tw.db'}", feed="replay",
                        replay_path=DATA / "ETH_BTC-5m.json", replay_symbol="ETHBTC", replay_timeframe="5m",
                        replay_speed=100_000, symbols=["ETHBTC"], timeframes=["5m", "15m", "1h"],
                        analysis_timeframes=["15m", "1h"], max_file_bytes=MAX_FILE)
    container = build_container(settings)
    with serve(create_app(container)) as url:
        wait_for(lambda: container.runtime.feed.played >= 300)  # type: ignore[attr-defined]
        yield url, container


@pytest.fixture
def client(running: tuple[str, Container]) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{running[0]}/v1", api_key=f"sk-test-{uuid.uuid4().hex}", max_retries=0)


def test_files_upload_list_retrieve_content_delete(client: openai.OpenAI, running: tuple[str, Container]) -> None:
    uploaded = client.files.create(file=("research.md", RESEARCH), purpose="assistants")
    assert (uploaded.object, uploaded.filename, uploaded.bytes, uploaded.purpose, uploaded.status) == (
        "file", "research.md", len(RESEARCH), "assistants", "processed")
    assert [f.id for f in client.files.list()] == [uploaded.id]
    assert client.files.retrieve(uploaded.id).filename == "research.md"
    assert client.files.content(uploaded.id).read() == RESEARCH
    stranger = openai.OpenAI(base_url=client.base_url, api_key="sk-someone-else", max_retries=0)
    with pytest.raises(openai.NotFoundError):
        stranger.files.retrieve(uploaded.id)
    deleted = client.files.delete(uploaded.id)
    assert (deleted.id, deleted.deleted) == (uploaded.id, True)
    with pytest.raises(openai.NotFoundError) as gone:
        client.files.content(uploaded.id)
    assert gone.value.param == "file_id"


def test_an_upload_that_is_not_a_form_or_lacks_the_file(running: tuple[str, Container]) -> None:
    url = running[0]
    response = httpx.post(f"{url}/v1/files", json={"purpose": "assistants"})
    assert response.status_code == 415 and response.json()["error"]["param"] == "content-type"
    response = httpx.post(f"{url}/v1/files", data={"purpose": "assistants"}, files={"other": ("a.md", b"x")})
    assert response.status_code == 400 and response.json()["error"]["param"] == "file"
    response = httpx.post(f"{url}/v1/files", data={"purpose": "assistants"},
                          files={"file": ("a.md", b"x" * (MAX_FILE + 10))})
    assert response.status_code == 400 and response.json()["error"]["code"] == "file_too_large"
    response = httpx.post(f"{url}/v1/files", content=b"--b\r\nContent-Disposition: form-data; name=\"file\"\r\n",
                          headers={"content-type": "multipart/form-data; boundary=b"})
    assert 400 <= response.status_code < 500 and "error" in response.json()


def test_a_run_searches_the_assistants_files_and_cites_them(client: openai.OpenAI) -> None:
    research = client.files.create(file=("research.md", RESEARCH), purpose="assistants")
    store = client.vector_stores.create(name="Research", file_ids=[research.id])
    assert (store.status, store.file_counts.completed, store.usage_bytes) == ("completed", 1, len(RESEARCH))
    assistant = client.beta.assistants.create(model=MODEL, tools=[{"type": "file_search"}],
                                              tool_resources={"file_search": {"vector_store_ids": [store.id]}})
    assert assistant.tool_resources.file_search.vector_store_ids == [store.id]  # type: ignore[union-attr]
    thread = client.beta.threads.create(messages=[{"role": "user",
                                                   "content": "What does my research say about staking yields?"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id,
                                                   poll_interval_ms=50)
    assert run.status == "completed", run.last_error
    steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id, order="asc").data
    call = steps[0].step_details.tool_calls[0]  # type: ignore[union-attr]
    assert call.type == "file_search"
    results = call.file_search.results  # type: ignore[union-attr]
    assert results and results[0].file_id == research.id and results[0].file_name == "research.md"
    answer = client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id).data[0].content[0].text  # type: ignore[union-attr]
    assert "3.2 percent" in answer.value
    citations = [a for a in answer.annotations if a.type == "file_citation"]
    assert citations and citations[0].file_citation.file_id == research.id  # type: ignore[union-attr]
    assert answer.value[citations[0].start_index:citations[0].end_index] == citations[0].text
    assert client.vector_stores.delete(store.id).deleted


def test_attached_files_are_searched_and_a_portfolio_file_is_analysed(client: openai.OpenAI) -> None:
    research = client.files.create(file=("research.md", RESEARCH), purpose="assistants")
    book = client.files.create(file=("holdings.csv", HOLDINGS), purpose="assistants")
    assistant = client.beta.assistants.create(model=MODEL, tools=[
        {"type": "file_search"}, {"type": "function", "function": {"name": "analyze_portfolio"}}])
    thread = client.beta.threads.create(messages=[{
        "role": "user", "content": "Search my notes: what happened after the halving?",
        "attachments": [{"file_id": research.id, "tools": [{"type": "file_search"}]}]}])
    assert thread.id
    listed = client.beta.threads.messages.list(thread_id=thread.id).data[0]
    assert listed.attachments[0].file_id == research.id  # type: ignore[index]
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id,
                                                   poll_interval_ms=50)
    assert run.status == "completed", run.last_error
    answer = client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id).data[0].content[0].text  # type: ignore[union-attr]
    assert "halving" in answer.value and answer.annotations[0].file_citation.file_id == research.id  # type: ignore[union-attr]

    client.beta.threads.messages.create(thread_id=thread.id, role="user", content="How healthy is my portfolio?",
                                        attachments=[{"file_id": book.id}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id,
                                                   poll_interval_ms=50)
    assert run.status == "completed", run.last_error
    steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id, order="asc").data
    call = steps[0].step_details.tool_calls[0]  # type: ignore[union-attr]
    assert call.function.name == "analyze_portfolio"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"file_id": book.id}  # type: ignore[union-attr]
    output = json.loads(call.function.output)["result"]  # type: ignore[union-attr]
    assert output["weights"] == {"ETHBTC": 1.0} and output["value"] > 0  # the file's one holding, valued
    assert "Portfolio health" in client.beta.threads.messages.list(
        thread_id=thread.id, run_id=run.id).data[0].content[0].text.value  # type: ignore[union-attr]


def test_the_vector_stores_helper_and_a_deleted_file(client: openai.OpenAI) -> None:
    research = client.files.create(file=("research.md", RESEARCH), purpose="assistants")
    assistant = client.beta.assistants.create(model=MODEL, tools=[{"type": "file_search"}], tool_resources={
        "file_search": {"vector_stores": [{"file_ids": [research.id], "metadata": {"desk": "crypto"}}]}})
    store_id = assistant.tool_resources.file_search.vector_store_ids[0]  # type: ignore[union-attr, index]
    store = client.vector_stores.retrieve(store_id)
    assert store.metadata == {"desk": "crypto"} and store.file_counts.total == 1
    client.files.delete(research.id)
    run = client.beta.threads.create_and_run_poll(assistant_id=assistant.id, poll_interval_ms=50, thread={
        "messages": [{"role": "user", "content": "What do my files say about staking?"}]})
    assert run.status == "completed"
    answer = client.beta.threads.messages.list(thread_id=run.thread_id, run_id=run.id).data[0].content[0].text  # type: ignore[union-attr]
    assert "found nothing" in answer.value and answer.annotations == []


@pytest.mark.parametrize(("path", "body", "param", "code", "status"), [
    ("/assistants", {"model": MODEL, "tools": [{"type": "file_search", "file_search": {"max_num_results": 99}}]},
     "tools[0].file_search.max_num_results", "invalid_value", 400),
    ("/assistants", {"model": MODEL, "tools": [{"type": "function", "function": {"name": "file_search"}}]},
     "tools[0].function.name", "invalid_value", 400),
    ("/assistants", {"model": MODEL, "tool_resources": {"file_search": {"vector_store_ids": ["vs_missing"]}}},
     "tool_resources.file_search.vector_store_ids[0]", "not_found", 404),
    ("/assistants", {"model": MODEL, "tool_resources": {"code_interpreter": {"file_ids": []}, "x": 1}},
     "tool_resources.x", "unknown_parameter", 400),
    ("/threads", {"messages": [{"role": "user", "content": "x", "attachments": [{"file_id": "file-missing"}]}]},
     "messages[0].attachments[0].file_id", "not_found", 404),
    ("/threads", {"messages": [{"role": "user", "content": "x", "attachments": "nope"}]},
     "messages[0].attachments", "invalid_value", 400),
    ("/vector_stores", {"file_ids": ["file-missing"]}, "file_ids[0]", "not_found", 404),
    ("/vector_stores", {"expires_after": {"anchor": "last_active_at", "days": 1}}, "expires_after",
     "unsupported_parameter", 400),
])
def test_bad_resources_and_attachments(running: tuple[str, Container], path: str, body: dict[str, Any], param: str,
                                       code: str, status: int) -> None:
    key = f"sk-test-{uuid.uuid4().hex}"
    response = httpx.post(f"{running[0]}/v1{path}", json=body, headers={"authorization": f"Bearer {key}"})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"]) == (param, code), error
    listed = httpx.get(f"{running[0]}/v1/vector_stores", headers={"authorization": f"Bearer {key}"}).json()
    assert listed["data"] == []  # nothing half-written


def test_an_attachment_for_code_interpreter_is_refused(client: openai.OpenAI) -> None:
    research = client.files.create(file=("research.md", RESEARCH), purpose="assistants")
    with pytest.raises(openai.BadRequestError) as refused:
        client.beta.threads.create(messages=[{"role": "user", "content": "x", "attachments": [
            {"file_id": research.id, "tools": [{"type": "code_interpreter"}]}]}])
    assert refused.value.code == "unsupported_tool"
