"""SqlDecisionLog on SQLite and PostgreSQL: record, cache, query, keyset-paged iterate, usage; pricing."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert
from sqlalchemy.exc import IntegrityError

from tradewind.analysts.decisions import Decision
from tradewind.analysts.pricing import DEFAULT_PRICES, cost_usd, price_for
from tradewind.domain.errors import InvalidSymbol
from tradewind.storage.decisions import SqlDecisionLog
from tradewind.storage.tables import DecisionRow

T0 = datetime(2026, 11, 21, 6, 0, tzinfo=timezone.utc)
PROMPT = [{"role": "system", "content": "You are a trading analyst."}, {"role": "user", "content": "BTCUSDT 1h: ..."}]


def decision(decision_id: str, *, minutes: float = 0, **overrides: Any) -> Decision:
    values: dict[str, Any] = dict(
        decision_id=decision_id, created_at=T0 + timedelta(minutes=minutes), analyst="llm:gpt-4o-mini",
        symbol="BTCUSDT", timeframe="1h", input_hash="ab" * 32, prompt_hash="cd" * 32, prompt=PROMPT,
        model="gpt-4o-mini", raw_response='{"signal": "Long", "confidence": 0.62}',
        parsed={"signal": "Long", "confidence": 0.62, "nested": {"levels": [1.5, 2.5]}}, source="llm",
        latency_ms=812.5, prompt_tokens=1200, completion_tokens=150, total_tokens=1350,
        cost_usd=cost_usd("gpt-4o-mini", 1200, 150), error=None, signal_id=f"sig_{decision_id}",
    )
    values.update(overrides)
    return Decision(**values)


@pytest.fixture
def log(engine: Engine) -> SqlDecisionLog:
    return SqlDecisionLog(engine)


def test_round_trip_keeps_every_field(log: SqlDecisionLog) -> None:
    full = decision("d1")
    bare = decision("d2", minutes=1, timeframe=None, model=None, raw_response=None, parsed=None,
                    source="rules_fallback", latency_ms=None, prompt_tokens=None, completion_tokens=None,
                    total_tokens=None, cost_usd=None, error="timeout: no answer in 30 s", signal_id=None)
    log.record(full)
    log.record(bare)
    assert log.query() == [bare, full]
    assert log.query(limit=1) == [bare] and log.query(limit=0) == []


def test_times_are_stored_in_utc_and_symbols_normalised(log: SqlDecisionLog) -> None:
    paris = timezone(timedelta(hours=1))
    log.record(decision("d1", created_at=datetime(2026, 11, 21, 7, 30, tzinfo=paris), symbol="btc/usdt"))
    stored = log.query()[0]
    assert stored.created_at == datetime(2026, 11, 21, 6, 30, tzinfo=timezone.utc)
    assert stored.created_at.utcoffset() == timedelta(0) and stored.symbol == "BTCUSDT"
    assert log.query(since=datetime(2026, 11, 21, 7, 30, tzinfo=paris)) == [stored]  # inclusive
    assert log.query(since=datetime(2026, 11, 21, 7, 31, tzinfo=paris)) == []
    assert log.query(since=datetime(2026, 11, 21, 6, 30)) == [stored]  # naive means UTC


def test_a_decision_id_is_recorded_once(log: SqlDecisionLog) -> None:
    log.record(decision("d1"))
    with pytest.raises(IntegrityError):
        log.record(decision("d1", minutes=5))
    assert len(log.query()) == 1


def test_cached_is_the_newest_valid_answer_for_the_model_and_prompt(log: SqlDecisionLog) -> None:
    assert log.cached("gpt-4o-mini", "cd" * 32) is None
    log.record(decision("old", minutes=0))
    log.record(decision("newer", minutes=5, parsed={"signal": "Short", "confidence": 0.55}))
    log.record(decision("invalid", minutes=6, parsed=None, error="schema: confidence missing"))
    log.record(decision("errored", minutes=7, error="rate_limited"))
    log.record(decision("unparsed", minutes=8, parsed=None))
    log.record(decision("other-prompt", minutes=9, prompt_hash="ef" * 32))
    log.record(decision("other-model", minutes=10, model="gpt-4o"))
    hit = log.cached("gpt-4o-mini", "cd" * 32)
    assert hit is not None and hit.decision_id == "newer" and hit.parsed == {"signal": "Short", "confidence": 0.55}
    assert log.cached("gpt-4o", "cd" * 32).decision_id == "other-model"  # type: ignore[union-attr]
    assert log.cached("gpt-4.1", "cd" * 32) is None


def test_query_filters_by_symbol_and_time_newest_first(log: SqlDecisionLog) -> None:
    for i in range(6):
        log.record(decision(f"b{i}", minutes=i * 10))
        log.record(decision(f"e{i}", minutes=i * 10 + 1, symbol="ETHUSDT"))
    assert [d.decision_id for d in log.query(limit=3)] == ["e5", "b5", "e4"]
    assert [d.decision_id for d in log.query(symbol="eth-usdt")] == [f"e{i}" for i in reversed(range(6))]
    since = T0 + timedelta(minutes=30)
    assert [d.decision_id for d in log.query(symbol="BTCUSDT", since=since)] == ["b5", "b4", "b3"]
    assert log.query(symbol="SOLUSDT") == []
    with pytest.raises(InvalidSymbol):
        log.query(symbol="  ")


def _bulk(engine: Engine, count: int) -> list[str]:
    """``count`` decisions inserted in one statement; many share a timestamp, so keyset ties matter."""
    rows = []
    for i in range(count):
        values = asdict(decision(f"d{i:05d}", minutes=i // 7, symbol="ETHUSDT" if i % 4 == 0 else "BTCUSDT"))
        rows.append(values)
    with engine.begin() as connection:
        connection.execute(insert(DecisionRow), rows)
    return [row["decision_id"] for row in rows]


def test_iterate_pages_with_a_keyset_in_batches(engine: Engine) -> None:
    ids = _bulk(engine, 10_000)
    log = SqlDecisionLog(engine, batch_size=1000)
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "ai_decision_logs" in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        rows = log.iterate()
        assert statements == []  # lazy: nothing read until asked
        first = next(rows)
        assert first.decision_id == ids[0] and len(statements) == 1
        rest = [d.decision_id for d in rows]
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert [first.decision_id, *rest] == ids  # oldest first, each once, ties broken by insertion
    assert len(statements) == 11  # ten full batches, then one that finds nothing more
    assert all("LIMIT" in s.upper() for s in statements)
    assert all("ai_decision_logs.created_at >=" in s for s in statements[1:])  # a keyset, not a skip count


def test_iterate_filters_and_handles_exact_batch_boundaries(engine: Engine) -> None:
    ids = _bulk(engine, 40)
    log = SqlDecisionLog(engine, batch_size=5)
    assert [d.decision_id for d in log.iterate()] == ids
    eth = [i for n, i in enumerate(ids) if n % 4 == 0]
    assert [d.decision_id for d in log.iterate(symbol="eth/usdt")] == eth
    since = T0 + timedelta(minutes=3)
    assert [d.decision_id for d in log.iterate(since=since)] == ids[21:]
    assert list(SqlDecisionLog(engine, batch_size=1).iterate(symbol="SOLUSDT")) == []
    with pytest.raises(ValueError):
        SqlDecisionLog(engine, batch_size=0)


def test_usage_sums_known_costs_and_counts_unknown_ones(log: SqlDecisionLog) -> None:
    empty = {"calls": 0, "repairs": 0, "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "cost_usd": 0.0,
             "unknown_token_calls": 0, "unknown_cost_calls": 0}
    assert log.usage() == {"by_model": [], "by_day": [], "total": empty}

    mini = cost_usd("gpt-4o-mini", 1200, 150)
    log.record(decision("m1"))
    log.record(decision("m2", minutes=60, prompt_tokens=800, completion_tokens=100, total_tokens=900,
                        cost_usd=cost_usd("gpt-4o-mini", 800, 100)))
    log.record(decision("local", minutes=120, model="llama3.1:8b", analyst="llm:llama3.1:8b", cost_usd=None))
    late = datetime(2026, 11, 21, 23, 30, tzinfo=timezone(timedelta(hours=-2)))  # 01:30 UTC next day
    log.record(decision("m3", created_at=late, prompt_tokens=None, completion_tokens=None, total_tokens=None,
                        cost_usd=None, error="timeout"))
    log.record(decision("fallback", minutes=180, model=None, prompt_tokens=None, completion_tokens=None,
                        total_tokens=None, cost_usd=None, source="rules_fallback"))
    usage = log.usage()

    by_model = {row["model"]: row for row in usage["by_model"]}
    assert [row["model"] for row in usage["by_model"]][0] == "gpt-4o-mini"
    assert by_model["gpt-4o-mini"] == {
        "model": "gpt-4o-mini", "calls": 3, "repairs": 0, "prompt_tokens": 2000, "completion_tokens": 250, "total_tokens": 2250,
        "cost_usd": pytest.approx(mini + cost_usd("gpt-4o-mini", 800, 100)),  # type: ignore[operator]
        "unknown_token_calls": 1, "unknown_cost_calls": 1,
    }
    assert by_model["llama3.1:8b"]["cost_usd"] is None and by_model["llama3.1:8b"]["unknown_cost_calls"] == 1
    assert by_model["llama3.1:8b"]["total_tokens"] == 1350
    assert by_model[None]["total_tokens"] is None and by_model[None]["cost_usd"] is None

    days = {row["day"]: row for row in usage["by_day"]}
    assert list(days) == ["2026-11-21", "2026-11-22"]
    assert days["2026-11-21"]["calls"] == 4 and days["2026-11-22"]["calls"] == 1
    assert days["2026-11-22"]["cost_usd"] is None and days["2026-11-22"]["unknown_cost_calls"] == 1

    total = usage["total"]
    assert total["calls"] == 5 and total["total_tokens"] == 1350 + 900 + 1350
    assert total["cost_usd"] == pytest.approx(by_model["gpt-4o-mini"]["cost_usd"])
    assert total["unknown_cost_calls"] == 3 and total["unknown_token_calls"] == 2


def test_a_zero_cost_is_a_known_cost(log: SqlDecisionLog) -> None:
    """A free call (a cache replay, a local model priced at 0) sums to 0.0, not to "unknown"."""
    log.record(decision("cached", source="cache", prompt_tokens=0, completion_tokens=0, total_tokens=0, cost_usd=0.0))
    assert log.usage()["total"] == {"calls": 1, "repairs": 0, "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0,
                                    "cost_usd": 0.0, "unknown_token_calls": 0, "unknown_cost_calls": 0}


def test_a_repair_is_its_own_row_and_answers_the_first_prompt(log: SqlDecisionLog) -> None:
    """Two calls, two rows: the invalid first answer and the repair naming it; the repaired answer
    is the cached answer to the first call's prompt, and usage counts both calls and the repair."""
    first = decision("first", parsed=None, raw_response="not json", prompt_hash="p-first", source="llm_repaired",
                     error="no JSON object found")
    repair = decision("repair", minutes=1, attempt=2, parent_id="first", prompt_hash="p-repair",
                      prompt=[{"role": "user", "content": "fix it"}], source="llm_repaired")
    log.record(first)
    log.record(repair)
    hit = log.cached(first.model or "", "p-first")
    assert hit is not None and hit.decision_id == "repair" and hit.parent_id == "first" and hit.attempt == 2
    assert log.cached(first.model or "", "p-repair").decision_id == "repair"  # type: ignore[union-attr]
    assert log.cached("another-model", "p-first") is None
    usage = log.usage()["total"]
    assert usage["calls"] == 2 and usage["repairs"] == 1
    assert [d.decision_id for d in log.query()] == ["repair", "first"]


# --- pricing -------------------------------------------------------------------------------------


def test_cost_from_the_default_table() -> None:
    assert cost_usd("gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert cost_usd("gpt-4o", 2000, 500) == pytest.approx(2000 * 2.5e-6 + 500 * 10e-6)
    assert cost_usd("gpt-4.1-mini", 10_000, 1000) == pytest.approx(0.004 + 0.0016)
    assert cost_usd("gpt-4.1", 0, 0) == 0.0
    assert DEFAULT_PRICES["gpt-4o-mini"] == (0.15, 0.60)


def test_a_dated_snapshot_takes_its_models_price_and_nothing_else_is_guessed() -> None:
    assert price_for("gpt-4o-mini-2024-07-18") == DEFAULT_PRICES["gpt-4o-mini"]
    assert price_for("gpt-4o-2024-08-06") == DEFAULT_PRICES["gpt-4o"]
    assert price_for("gpt-4.1-mini-2025-04-14") == DEFAULT_PRICES["gpt-4.1-mini"]
    assert price_for("gpt-4o-audio-preview") is None  # another product, another price
    assert price_for("gpt-4o-minimal") is None
    assert price_for("gpt-4.5") is None and price_for("") is None and price_for(None) is None
    assert cost_usd("llama3.1:8b", 1000, 100) is None  # a local model is free only when the table says so


def test_unknown_tokens_mean_unknown_cost_and_the_table_is_configurable() -> None:
    assert cost_usd("gpt-4o", None, 100) is None and cost_usd("gpt-4o", 100, None) is None
    prices = {"llama3.1:8b": (0.0, 0.0), "my-gpt": (1.0, 2.0)}
    assert cost_usd("llama3.1:8b", 5000, 500, prices) == 0.0
    assert cost_usd("my-gpt", 1_000_000, 500_000, prices) == pytest.approx(2.0)
    assert cost_usd("gpt-4o", 1000, 100, prices) is None  # only the given table counts
    assert cost_usd("gpt-4o", 1000, 100, None) == cost_usd("gpt-4o", 1000, 100)
    assert replace(decision("x"), cost_usd=None).cost_usd is None


# --- filters: analyst, model, until, text ----------------------------------------------------------


def _filtered_log(log: SqlDecisionLog) -> None:
    """Six decisions across two analysts and models, with prompts and answers to search."""
    rows = [
        decision("mini-1", minutes=0, raw_response='{"signal": "Long", "reasoning": "Breakout above 100%"}'),
        decision("mini-2", minutes=10, prompt=[{"role": "user", "content": "ETH: RSI_14 at 71, a 50% retrace"}],
                 symbol="ETHUSDT"),
        decision("llama-1", minutes=20, model="llama3.1:8b", analyst="llm:llama3.1:8b",
                 raw_response="Le marché est haussier: \"breakout\"\nsecond line"),
        decision("llama-2", minutes=30, model="llama3.1:8b", analyst="llm:llama3.1:8b", raw_response=None,
                 error="timeout", prompt=[{"role": "system", "content": "Ünïcode ÉTÉ prompt"},
                                         {"role": "user", "content": "path C:\\\\data"}]),
        decision("assistant-1", minutes=40, analyst="assistant:gpt-4o-mini", symbol="ASSISTANT",
                 raw_response='{"content": "hello"}'),
        decision("reflection", minutes=50, prompt=[{"role": "user", "content": "Review my trades"}],
                 raw_response='{"review": "tighter stops"}'),
    ]
    for row in rows:
        log.record(row)


def _ids(rows: list[Decision]) -> list[str]:
    return [d.decision_id for d in rows]


def test_query_and_iterate_filter_by_analyst_model_and_until(log: SqlDecisionLog) -> None:
    _filtered_log(log)
    assert _ids(log.query(model="llama3.1:8b")) == ["llama-2", "llama-1"]
    assert _ids(log.query(analyst="llm:gpt-4o-mini")) == ["reflection", "mini-2", "mini-1"]
    assert _ids(log.query(analyst="assistant:gpt-4o-mini", model="gpt-4o-mini")) == ["assistant-1"]
    assert log.query(analyst="llm:gpt-4o") == [] and log.query(model="GPT-4O-MINI") == []  # exact, as logged
    assert _ids(log.query(until=T0 + timedelta(minutes=20))) == ["mini-2", "mini-1"]  # until is exclusive
    window = dict(since=T0 + timedelta(minutes=10), until=T0 + timedelta(minutes=40))
    assert _ids(log.query(**window)) == ["llama-2", "llama-1", "mini-2"]  # type: ignore[arg-type]
    paris = timezone(timedelta(hours=1))
    assert _ids(log.query(until=datetime(2026, 11, 21, 7, 10, tzinfo=paris))) == ["mini-1"]
    assert _ids(log.iterate(model="gpt-4o-mini", until=T0 + timedelta(minutes=45))) == ["mini-1", "mini-2", "assistant-1"]
    assert _ids(log.iterate(symbol="eth/usdt", model="gpt-4o-mini")) == ["mini-2"]
    assert _ids(log.query(model="llama3.1:8b", limit=1)) == ["llama-2"]


def test_text_search_is_a_literal_case_insensitive_substring_of_prompts_and_answers(log: SqlDecisionLog) -> None:
    _filtered_log(log)
    assert _ids(log.query(text="BREAKOUT")) == ["llama-1", "mini-1"]  # raw responses, any case
    assert _ids(log.query(text="rsi_14")) == ["mini-2"]  # a prompt message's content
    assert _ids(log.query(text="ÉTÉ")) == ["llama-2"]  # non-ASCII, as written
    assert _ids(log.query(text="review")) == ["reflection"]  # prompt and answer of one row: once
    # wildcards are literal: % and _ match only themselves
    assert _ids(log.query(text="50%")) == ["mini-2"] and _ids(log.query(text="100%")) == ["mini-1"]
    assert log.query(text="RSI%14") == [] and log.query(text="R_I") == []
    assert _ids(log.query(text="I_1")) == ["mini-2"]
    # JSON's keys and escapes are not text: "role" is in every prompt's JSON, "content" in one answer
    assert log.query(text="role") == []
    assert _ids(log.query(text="content")) == ["assistant-1"]
    assert _ids(log.query(text='"breakout"\nsecond')) == ["llama-1"]  # quotes and newlines as written
    assert _ids(log.query(text="C:\\\\data")) == ["llama-2"]  # a backslash is literal too
    assert log.query(text="nowhere to be found") == []
    # combined with the other filters, in listings and exports
    assert _ids(log.query(text="breakout", model="gpt-4o-mini")) == ["mini-1"]
    assert _ids(log.iterate(text="BREAKOUT")) == ["mini-1", "llama-1"]
    assert _ids(log.iterate(text="breakout", since=T0 + timedelta(minutes=5))) == ["llama-1"]
    assert len(log.query(text="")) == 6  # no text: no filter


def test_text_search_pages_through_a_long_export(engine: Engine) -> None:
    ids = _bulk(engine, 40)
    log = SqlDecisionLog(engine, batch_size=3)
    with engine.begin() as connection:  # every fifth row's answer mentions a sweep
        connection.execute(DecisionRow.__table__.update().where(DecisionRow.__table__.c.decision_id.in_(ids[::5]))
                           .values(raw_response="liquidity SWEEP below the lows"))
    assert _ids(log.iterate(text="sweep")) == ids[::5]
    assert _ids(log.query(text="Sweep", limit=3)) == list(reversed(ids[::5]))[:3]


def test_a_prompt_that_is_not_a_list_reads_as_no_messages(engine: Engine, log: SqlDecisionLog) -> None:
    """This code never writes one, but a hand-edited or foreign row must not turn a search into a 500."""
    odd = {**asdict(decision("odd", raw_response="an answer")), "prompt": {"content": "an object, not a list"}}
    with engine.begin() as connection:
        connection.execute(insert(DecisionRow), [odd])
    log.record(decision("fine", minutes=1, prompt=[{"role": "user", "content": "an object, not a list"}]))
    assert _ids(log.query(text="not a list")) == ["fine"]
    assert _ids(log.query(text="AN ANSWER")) == ["odd"]
