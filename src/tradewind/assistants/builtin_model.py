"""``tradewind-analyst``: the built-in model, deterministic and offline.

It reads the latest user message for what it recognises (symbols the server streams; requests
about prices, signals, positions, performance and risk), calls the tools for them, and once their
outputs are back answers with the facts they returned, numbers cited. It calls a client's own
function tools the same way, when the message names one (``get_weather`` or "get weather") or
``tool_choice`` forces it, so the whole tool-calling protocol works with no network. What it does
not recognise it says plainly, with what it can do.

Token counts are of its own tokenizer (words and punctuation marks, ``TOKEN``): a real count of
what it read and wrote, not an estimate of another model's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tradewind.domain.errors import InvalidSymbol
from tradewind.domain.symbol import normalize_symbol

__all__ = ["ATTACHED_NOTE", "MODEL_ID", "BuiltinModel", "ModelTurn", "ToolCall", "count_tokens"]

MODEL_ID = "tradewind-analyst"
TOKEN = re.compile(r"\w+|[^\w\s]")
_WORD = re.compile(r"[A-Za-z0-9]+(?:[/\-][A-Za-z0-9]+)?")
_INTENTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("generate_trading_signals", re.compile(r"\b(signals?|analy[sz]e|analysis|outlook|long|short|buy|sell|should i)\b", re.I)),
    ("get_market_data", re.compile(r"\b(price|prices|quote|market data|candles?|chart|trading at|worth)\b", re.I)),
    ("get_positions", re.compile(r"\b(positions?|holding|holdings|open trades?|exposure)\b", re.I)),
    ("get_performance", re.compile(r"\b(performance|p&l|pnl|profit|returns?|sharpe|win rate|how did)\b", re.I)),
    ("calculate_risk_metrics", re.compile(r"\b(risk|volatility|drawdown|value at risk|var|beta|sortino)\b", re.I)),
    ("analyze_portfolio", re.compile(r"\b(portfolio|health|rebalanc\w*|diversif\w*)\b", re.I)),
    ("run_backtest", re.compile(r"\b(backtest\w*|back-test\w*)\b", re.I)),
    ("file_search", re.compile(r"\b(search\w*|find|look up|files?|documents?|research|notes?|reports?|according to|"
                               r"says?|mention\w*)\b", re.I)),
)
_ATTACHED = re.compile(r"\[attached: (?P<name>[^\]\n]{1,255}), file_id (?P<id>file-[A-Za-z0-9]{1,60})\]")
ATTACHED_NOTE = "[attached: {name}, file_id {file_id}]"
"""How a message's attached files are written into what a model reads (any model can use the id)."""
_STRATEGIES = ("signal-follower", "sma-cross", "rsi-reversion")
_AMOUNT = re.compile(r"(-?\d+(?:\.\d+)?)\s+([A-Za-z][A-Za-z0-9]*(?:[/\-][A-Za-z0-9]+)?)")
_LEADING = re.compile(r"^\s*(?:(?:for|in|at|of|on|about|with|to|the)\s+)+", re.I)
_NEEDS_SYMBOLS = frozenset({"get_market_data", "generate_trading_signals", "run_backtest"})


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as OpenAI's wire format carries it


@dataclass(frozen=True)
class ModelTurn:
    content: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)
    prompt_tokens: int | None = None  # as the model's server counted them; None: count them here
    completion_tokens: int | None = None


def count_tokens(text: str) -> int:
    return len(TOKEN.findall(text))


class BuiltinModel:
    """``respond(messages, tools, tool_choice)`` is one model turn over OpenAI-shaped messages."""

    id = MODEL_ID
    remote = False  # answers at once, on the event loop

    def __init__(self, *, symbols: Callable[[], Sequence[str]], new_id: Callable[[], str]) -> None:
        self.symbols = symbols  # what the streamer tracks now
        self.new_id = new_id

    def respond(self, messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]],
                tool_choice: Any = "auto", max_tokens: int | None = None) -> ModelTurn:
        """``max_tokens`` is not read here: the chat service cuts a long answer to it and says so."""
        last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
        text = _text(messages[last_user].get("content")) if last_user >= 0 else ""
        results = _results(messages[last_user + 1:])
        if results:  # the tools answered this message: say what they found
            return ModelTurn(_answer(results))
        names = {t["function"]["name"]: t["function"] for t in tools if t.get("type") == "function"}
        if tool_choice == "none" or not names:
            return ModelTurn(self._without_tools(text))
        earlier = [n.group(0) for m in messages[:max(last_user, 0)] if m.get("role") == "user"
                   for n in _ATTACHED.finditer(_text(m.get("content")))]  # files attached before still count
        calls = self._calls(" ".join([*earlier, text]), names, tool_choice)
        if not calls:
            return ModelTurn(self._not_understood(text, names))
        return ModelTurn(None, [ToolCall(self.new_id(), name, json.dumps(args)) for name, args in calls])

    # --- choosing calls ------------------------------------------------------------------------------
    def _calls(self, text: str, tools: Mapping[str, Mapping[str, Any]], choice: Any) -> list[tuple[str, dict[str, Any]]]:
        plain = _ATTACHED.sub("", text)  # what was asked; the notes of attached files only feed arguments
        symbols = self._symbols_in(plain)
        forced = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
        if forced is not None:
            return [(forced, self._arguments(forced, tools.get(forced, {}), text, symbols))] if forced in tools else []
        calls: list[tuple[str, dict[str, Any]]] = []
        for name, pattern in _INTENTS:
            if name in tools and pattern.search(plain) and (symbols or name not in _NEEDS_SYMBOLS):
                calls.append((name, self._arguments(name, tools[name], text, symbols)))
        lowered = plain.lower()
        for name, spec in tools.items():  # a client's tool the message names
            if name in dict(_INTENTS) or any(name == c[0] for c in calls):
                continue
            for spelling in (name.lower(), name.lower().replace("_", " ")):
                at = lowered.find(spelling)
                if at >= 0:  # what follows the name is what it is asked about ("get_weather for Paris")
                    rest = _LEADING.sub("", plain[at + len(spelling):]).strip(" \t\n?!.,;:") or plain
                    calls.append((name, _fill(spec.get("parameters") or {}, rest, symbols)))
                    break
        if not calls and choice == "required":
            name = next(iter(tools))
            calls.append((name, self._arguments(name, tools[name], text, symbols)))
        return calls

    def _arguments(self, name: str, spec: Mapping[str, Any], text: str, symbols: list[str]) -> dict[str, Any]:
        if name == "run_backtest":
            strategy = next((s for s in _STRATEGIES if s in text.lower() or s.replace("-", " ") in text.lower()),
                            "sma-cross")
            return {"symbol": (symbols or self._symbols_known()[:1])[0], "strategy": strategy}
        if name in _NEEDS_SYMBOLS:
            return {"symbols": symbols or self._symbols_known()[:1]}
        plain = _ATTACHED.sub("", text)
        if name == "analyze_portfolio":
            attached = [m["id"] for m in _ATTACHED.finditer(text) if m["name"].lower().endswith((".csv", ".json"))]
            return {"file_id": attached[-1]} if attached else {"holdings": self._holdings(plain, symbols)}
        if name == "calculate_risk_metrics":
            return {"holdings": self._holdings(plain, symbols)}
        if name == "file_search":
            return {"query": plain.strip()[:1000]}
        if name in ("get_positions", "get_performance"):
            return {}
        return _fill(spec.get("parameters") or {}, plain, symbols)  # a client's tool: from its schema

    def _holdings(self, text: str, symbols: list[str]) -> list[dict[str, Any]]:
        """``2 BTCUSDT and 10 ETH/BTC`` as holdings; else one of each symbol named (or the first streamed)."""
        known = set(self._symbols_known())
        held: list[dict[str, Any]] = []
        for amount, word in _AMOUNT.findall(text):
            try:
                symbol = normalize_symbol(word)
            except InvalidSymbol:
                continue
            if symbol in known and float(amount) != 0:
                held.append({"symbol": symbol, "quantity": float(amount)})
        return held or [{"symbol": s, "quantity": 1.0} for s in (symbols or self._symbols_known()[:1])]

    def _symbols_known(self) -> list[str]:
        return list(self.symbols())

    def _symbols_in(self, text: str) -> list[str]:
        known = set(self._symbols_known())
        found: list[str] = []
        for word in _WORD.findall(text):
            try:
                symbol = normalize_symbol(word)
            except InvalidSymbol:
                continue
            if symbol in known and symbol not in found:
                found.append(symbol)
        return found

    # --- answering -----------------------------------------------------------------------------------
    def _without_tools(self, text: str) -> str:
        return ("Tools are off for this request, and I answer only from what the tools return, so I have no "
                "figures to give. " + _capabilities(self._symbols_known()))

    def _not_understood(self, text: str, tools: Mapping[str, Any]) -> str:
        quoted = text.strip()[:80] + ("..." if len(text.strip()) > 80 else "")
        return (f"I did not understand what to look up in \u201c{quoted}\u201d. " if quoted else "I got no question. "
                ) + _capabilities(self._symbols_known())


def _capabilities(symbols: Sequence[str]) -> str:
    listed = ", ".join(symbols[:8]) + (" ..." if len(symbols) > 8 else "") if symbols else "none yet"
    return ("I can give prices, trading signals, the bot's positions, its performance and risk metrics "
            f"for the streamed symbols ({listed}). Ask, for example: \u201cWhat is the signal for "
            f"{symbols[0] if symbols else 'BTCUSDT'}?\u201d")


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: the text ones
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _results(after_user: Sequence[Mapping[str, Any]]) -> list[tuple[str, dict[str, Any], Any]]:
    """(tool name, arguments, output) of each tool call answered since the last user message."""
    calls: dict[str, tuple[str, dict[str, Any]]] = {}
    out: list[tuple[str, dict[str, Any], Any]] = []
    for message in after_user:
        for call in message.get("tool_calls") or ():
            function = call.get("function", {})
            try:
                args = json.loads(function.get("arguments") or "{}")
            except ValueError:
                args = {}
            calls[call.get("id", "")] = (function.get("name", "?"), args if isinstance(args, dict) else {})
        if message.get("role") == "tool":
            name, args = calls.get(message.get("tool_call_id", ""), ("a tool", {}))
            raw = _text(message.get("content"))
            try:
                output: Any = json.loads(raw)
            except ValueError:
                output = raw
            out.append((name, args, output))
    return out


def _answer(results: Sequence[tuple[str, dict[str, Any], Any]]) -> str:
    parts = [_describe(name, output) for name, _, output in results]
    return "\n".join(p for p in parts if p)


def _describe(name: str, output: Any) -> str:
    if isinstance(output, dict) and "error" in output and "result" not in output:
        return f"{name} failed: {str(output['error'])[:300]}"
    result = output.get("result", output) if isinstance(output, dict) else output
    describe = _DESCRIBERS.get(name)
    if describe is not None and isinstance(result, dict):
        try:
            return describe(result)
        except (KeyError, TypeError, ValueError):
            pass
    return f"{name} returned: {json.dumps(result, default=str)[:400]}"


def _num(value: Any, digits: int = 6) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, (int, float)):
        return f"{value:,.2f}" if abs(value) >= 1000 else f"{value:.{digits}g}"
    return str(value)


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{value * 100:+.2f} %"


def _market(result: dict[str, Any]) -> str:
    lines = []
    for m in result["markets"]:
        change = "n/a" if m["change_pct"] is None else f"{m['change_pct']:+.2f} %"
        lines.append(f"{m['symbol']} ({m['timeframe']}): last price {_num(m['last_price'])}, {change} over the last "
                     f"{m['candles']} candles (high {_num(m['high'])}, low {_num(m['low'])}).")
    return "\n".join(lines)


def _signals(result: dict[str, Any]) -> str:
    lines = []
    for s in result["signals"]:
        levels = (f", entry {_num(s['entry_price'])}, stop-loss {_num(s['stop_loss'])}, take-profit "
                  f"{_num(s['take_profit'])}") if s["signal"] != "Neutral" else ""
        reason = str(s.get("reasoning") or "")
        lines.append(f"{s['symbol']}: {s['signal']} with confidence {s['confidence']:.2f} ({s['analyst']} analyst, "
                     f"{s['timeframe']}){levels}. Reasoning: {reason[:300]}{'...' if len(reason) > 300 else ''} "
                     f"(signal {s['signal_id']})")
    return "\n".join(lines)


def _positions(result: dict[str, Any]) -> str:
    book = result["portfolio"]
    held = result["positions"]
    head = (f"{len(held)} open position{'s' if len(held) != 1 else ''}: " + "; ".join(
        f"{p['symbol']} {p['side']} {_num(p['quantity'])} at {_num(p['entry_price'])} (unrealised P&L "
        f"{_num(p['unrealized_pnl'])})" for p in held) + ".") if held else "No open positions."
    return f"{head} Equity {_num(book.get('equity'))}, cash {_num(book.get('cash'))}."


def _performance(result: dict[str, Any]) -> str:
    drawdown = result.get("max_drawdown")
    depth = drawdown.get("value") if isinstance(drawdown, dict) else drawdown
    return (f"Total return {_pct(result.get('total_return'))}, Sharpe {_num(result.get('sharpe'), 3)}, "
            f"Sortino {_num(result.get('sortino'), 3)}, max drawdown {_pct(depth)}, win rate "
            f"{_pct(result.get('win_rate'))} over {result.get('trades', 0)} trades, profit factor "
            f"{_num(result.get('profit_factor'), 3)}.")


def _risk(result: dict[str, Any]) -> str:
    what = (", ".join(f"{_num(q)} {s}" for s, q in result["holdings"].items()) + f" on {result['timeframe']} candles"
            if result.get("source") == "holdings" else f"{result['returns']} returns")
    beta = f", beta {_num(result['beta'], 3)} against {result.get('benchmark') or 'the benchmark'}" if result.get(
        "beta") is not None else ""
    return (f"Risk of {what}: annualised volatility {_pct(result['volatility'])}, max drawdown "
            f"{_pct(result['max_drawdown'])}, Sharpe {_num(result['sharpe'], 3)}, Sortino {_num(result['sortino'], 3)}, "
            f"95 % value at risk {_pct(result['value_at_risk_95'])} per period{beta}.")


def _portfolio(result: dict[str, Any]) -> str:
    score = "n/a" if result["health_score"] is None else f"{result['health_score']:.1f} of 10"
    recs = "; ".join(f"{r['action']} {r['symbol']} ({r['reason']}"
                     + (f", confidence {r['confidence']:.2f})" if r["confidence"] is not None else ")")
                     for r in result["recommendations"]) or "none"
    return (f"Portfolio health {score}, risk level {result['risk_level'] or 'n/a'}, value {_num(result['value'])}. "
            f"Recommendations: {recs}. " + " ".join(f"{i}." for i in result["insights"]))


def _file_search(result: dict[str, Any]) -> str:
    found = result["results"]
    if not found:
        return (f"I found nothing about \u201c{str(result['query'])[:80]}\u201d in the {result['files_searched']} "
                "file(s) attached to this assistant and thread.")
    lines = [f"From the attached files ({len(found)} passage{'s' if len(found) != 1 else ''} found):"]
    for hit in found[:3]:
        text = " ".join(str(hit["text"]).split())
        lines.append(f"\u201c{text[:300]}{'...' if len(text) > 300 else ''}\u201d \u3010{hit['index']}\u2020"
                     f"{hit['file_name']}\u3011")
    return "\n".join(lines)


def _backtest(result: dict[str, Any]) -> str:
    spec = result["spec"]
    if result["status"] != "done":
        error = (result.get("error") or {}).get("message")
        return f"The backtest {result['id']} of {spec['strategy']} on {spec['symbol']} is {result['status']}" + (
            f": {error}" if error else " (ask again for its report: GET /api/backtests/" + result["id"] + ")")
    m = result.get("metrics") or {}
    drawdown = m.get("max_drawdown")
    depth = drawdown.get("value") if isinstance(drawdown, dict) else drawdown
    return (f"Backtest {result['id']}: {spec['strategy']} on {spec['symbol']} {spec['timeframe']}: total return "
            f"{_pct(m.get('total_return'))}, Sharpe {_num(m.get('sharpe'), 3)}, max drawdown {_pct(depth)}, win rate "
            f"{_pct(m.get('win_rate'))} over {result['trades']} trades.")


_DESCRIBERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "get_market_data": _market, "generate_trading_signals": _signals, "get_positions": _positions,
    "get_performance": _performance, "calculate_risk_metrics": _risk, "analyze_portfolio": _portfolio,
    "run_backtest": _backtest, "file_search": _file_search,
}


def _fill(schema: Mapping[str, Any], text: str, symbols: list[str]) -> dict[str, Any]:
    """Arguments for a client's tool from its JSON schema: each required property gets the symbol
    (a property named like one), a number from the message, or the message itself."""
    properties = schema.get("properties") or {}
    numbers = re.findall(r"-?\d+(?:\.\d+)?", text)
    out: dict[str, Any] = {}
    for name in schema.get("required") or []:
        prop = properties.get(name) or {}
        kind = prop.get("type")
        if "enum" in prop and prop["enum"]:
            out[name] = prop["enum"][0]
        elif kind in ("number", "integer"):
            value = float(numbers[0]) if numbers else float(prop.get("minimum", 0))
            out[name] = int(value) if kind == "integer" else value
        elif kind == "boolean":
            out[name] = False
        elif kind == "array":
            out[name] = symbols if symbols and "symbol" in name.lower() else []
        elif kind == "object":
            out[name] = {}
        elif ("symbol" in name.lower() or "ticker" in name.lower()) and symbols:
            out[name] = symbols[0]
        else:
            out[name] = text.strip()[:200]
    return out
