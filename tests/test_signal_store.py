"""SqlSignalStore on SQLite and PostgreSQL: analyses, outcomes, feedback, stats, clear."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tradewind.storage.signals import SqlSignalStore
from tradewind.signals.outcomes import Outcome
from tradewind.signals.records import Feedback, StoredSignal

T0 = datetime(2026, 11, 21, 6, 0, tzinfo=timezone.utc)


def stored(signal_id: str, symbol: str = "BTCUSDT", minutes: int = 0, **overrides: object) -> StoredSignal:
    values: dict[str, object] = dict(
        signal_id=signal_id, symbol=symbol, timestamp=int((T0 + timedelta(minutes=minutes)).timestamp() * 1000),
        created_at=T0 + timedelta(minutes=minutes), analyst="rules", timeframe="1h", signal="Long", confidence=0.71,
        entry_time=int(T0.timestamp()) + minutes * 60, entry_price=67_500.5, stop_loss=66_000.0, take_profit=68_500.0,
        horizon_seconds=86_400, input_hash="ab" * 32,
        analysis={"signal": "Long", "confidence": 0.71, "reasoning": "EMA 9 > EMA 21", "nested": {"levels": [1.5, 2.5]}},
    )
    values.update(overrides)
    return StoredSignal(**values)  # type: ignore[arg-type]


@pytest.fixture
def store(engine) -> SqlSignalStore:  # type: ignore[no-untyped-def]
    return SqlSignalStore(engine)


def test_round_trip_and_the_recent_answer_to_an_input(store: SqlSignalStore) -> None:
    first, second = stored("sig_a", minutes=0), stored("sig_b", minutes=3, confidence=0.55)
    store.save(first)
    store.save(second)
    store.save(stored("sig_c", symbol="ETHUSDT", minutes=1, input_hash="cd" * 32))
    store.save(stored("sig_d", minutes=5, input_hash="ef" * 32, analysis={"source": "rules_fallback"}))
    assert store.get("sig_a") == first
    assert store.get("nope") is None
    assert store.recent_for_input("ab" * 32, since=first.created_at) == second
    assert store.recent_for_input("ab" * 32, since=second.created_at + timedelta(seconds=1)) is None
    assert store.recent_for_input("cd" * 32, since=T0).signal_id == "sig_c"  # type: ignore[union-attr]
    assert store.recent_for_input("ef" * 32, since=T0) is None  # a fallback is not kept as the answer
    stats = store.stats()
    assert stats["total"] == 4
    assert [(s, n) for s, n, _ in stats["symbols"]] == [("BTCUSDT", 3), ("ETHUSDT", 1)]
    assert stats["symbols"][0][2] == second.created_at + timedelta(minutes=2)


def test_a_symbols_signals_since_a_time_are_the_newest_in_time_order(store: SqlSignalStore) -> None:
    from tradewind.signals.records import MemorySignalStore

    memory = MemorySignalStore()
    for target in (store, memory):
        for minutes in (0, 5, 1, 9, 3):
            target.save(stored(f"sig_{minutes}", minutes=minutes))
        target.save(stored("sig_eth", symbol="ETHUSDT", minutes=4))
        since = int((T0 + timedelta(minutes=1)).timestamp() * 1000)
        assert [s.signal_id for s in target.for_symbol("BTCUSDT", since=since)] == ["sig_1", "sig_3", "sig_5", "sig_9"]
        assert [s.signal_id for s in target.for_symbol("BTCUSDT", since=since, limit=2)] == ["sig_5", "sig_9"]
        assert target.for_symbol("BTCUSDT", since=since, limit=0) == []
        assert target.for_symbol("SOLUSDT", since=0) == []
        assert target.for_symbol("BTCUSDT", since=0)[0] == stored("sig_0", minutes=0)


def test_outcomes_are_written_once_and_open_ones_never(store: SqlSignalStore) -> None:
    store.save(stored("sig_a"))
    store.save(stored("sig_b", minutes=1))
    store.save(stored("sig_x", minutes=2, entry_time=None, entry_price=None))  # not scorable
    assert [s.signal_id for s in store.unresolved()] == ["sig_a", "sig_b"]
    store.save_outcome("sig_a", Outcome("sig_a", "open"))
    assert [s.signal_id for s in store.unresolved()] == ["sig_a", "sig_b"]
    done = Outcome("sig_a", "take_profit", 1_795_000_000, 68_500.0, 0.0148, "Long", True)
    store.save_outcome("sig_a", done)
    store.save_outcome("sig_a", Outcome("sig_a", "stop_loss", 1, 1.0, -1.0, "Short", False))  # ignored: final already
    assert [s.signal_id for s in store.unresolved()] == ["sig_b"]
    assert store.outcome("sig_a") == done and store.outcome("sig_b") is None
    assert store.scored() == [(stored("sig_a"), done), (stored("sig_b", minutes=1), None)]


def test_feedback_and_clear(store: SqlSignalStore) -> None:
    store.save(stored("sig_a"))
    note = Feedback("sig_a", "BTCUSDT", "Long", "PROFIT", 50.0, True, "well timed", 1_697_234_567_000, T0)
    store.add_feedback(note)
    assert store.feedback_for("sig_a") == [note]
    store.save_outcome("sig_a", Outcome("sig_a", "horizon", 2, 1.0, 0.01, "Long", True))
    assert store.clear() == 1
    assert store.stats() == {"total": 0, "symbols": []}
    assert store.feedback_for("sig_a") == [] and store.scored() == []
