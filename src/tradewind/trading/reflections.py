"""Reflections: after every few closed trades an asset's analyst reviews what worked and what did not.

The rules analyst writes its review from the trade statistics (win rate, average win and loss,
which exits dominated, long against short), so every figure in the text is measured. An LLM
reflector asks the model the same question with the same statistics through the decision log (the
seed's ``generateReflection``); if the model fails, the rules review stands in, and says so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from tradewind.domain.orders import Trade
from tradewind.trading.analytics import trade_stats
from tradewind.trading.records import Reflection

__all__ = ["Reflector", "RulesReflector", "review"]


class Reflector(Protocol):
    name: str
    slow: bool  # True: it calls a model, so the engine runs it off the event loop

    def reflect(self, symbol: str, trades: Sequence[Trade], *, time: float) -> Reflection: ...


def review(trades: Sequence[Trade]) -> tuple[str, dict[str, Any]]:
    """A plain-language review of ``trades`` and the statistics it cites."""
    stats = {key: value for key, value in trade_stats(trades).items() if not isinstance(value, (dict, list))}
    exits = Counter(t.exit_reason for t in trades)
    sides = Counter(t.side for t in trades)
    stats["exits"] = dict(exits)
    stats["sides"] = dict(sides)
    win_rate = stats.get("win_rate")
    parts = [f"{len(trades)} trades: {stats.get('wins', 0)} won, {stats.get('losses', 0)} lost"
             + (f" (win rate {win_rate:.0%})" if win_rate is not None else "") + "."]
    average_win, average_loss = stats.get("average_win"), stats.get("average_loss")
    if average_win is not None and average_loss is not None and average_loss:
        ratio = average_win / -average_loss
        parts.append(f"Average win {average_win:.2f} against average loss {average_loss:.2f} "
                     f"({ratio:.2f}x): " + ("winners pay for the losers." if ratio * (win_rate or 0) > (1 - (win_rate or 0))
                                           else "losers cost more than the winners bring."))
    if exits:
        reason, count = exits.most_common(1)[0]
        parts.append(f"Most exits were {reason.replace('_', ' ')} ({count} of {len(trades)}).")
        if exits.get("stop_loss", 0) > len(trades) / 2:
            parts.append("Stops were hit more often than not: entries may be early or stops too tight.")
        if exits.get("take_profit", 0) > len(trades) / 2:
            parts.append("Targets were reached more often than not: the targets may be conservative.")
    by_side = {side: [t.pnl for t in trades if t.side == side] for side in sides}
    if len(by_side) == 2:
        better = max(by_side, key=lambda side: sum(by_side[side]))
        parts.append(f"{better.capitalize()} trades did better ({sum(by_side[better]):.2f} in all).")
    return " ".join(parts), stats


class RulesReflector:
    name = "rules"
    slow = False

    def reflect(self, symbol: str, trades: Sequence[Trade], *, time: float) -> Reflection:
        text, stats = review(trades)
        return Reflection(symbol, time, self.name, text, stats, len(trades))


class ModelReflector:
    """A reflection written by a model: ``ask(symbol, prompt) -> text`` (the LLM analyst's
    ``review``, through the decision log); the rules review answers when it fails."""

    slow = True

    def __init__(self, name: str, ask: Callable[[str, str], str]) -> None:
        self.name = name
        self.ask = ask

    def reflect(self, symbol: str, trades: Sequence[Trade], *, time: float) -> Reflection:
        text, stats = review(trades)
        prompt = (f"You trade {symbol}. Review your last {len(trades)} trades in three sentences: what worked, what did "
                  f"not, one change to try. Measured statistics: {stats}. A plain summary: {text}")
        try:
            answer = self.ask(symbol, prompt).strip()
        except Exception as exc:  # noqa: BLE001 - a reflection must never break trading
            return Reflection(symbol, time, "rules", f"{text} (the model did not answer: {type(exc).__name__})",
                              stats, len(trades))
        return Reflection(symbol, time, self.name, answer[:2000] or text, stats, len(trades))
