"""The trading tools a model may call: each calls the service a REST route calls, nothing more.

A tool is a name, a description and a JSON schema for its arguments (what OpenAI's function
calling sends to a model), and an async ``run`` over already-parsed arguments. Arguments come
from a model, so they are hostile input like any request body: ``ToolArgumentError`` names the
argument and why, and the caller hands that back to the model as the tool's output instead of
failing the request.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tradewind.assistants.file_text import csv_rows, kind_of
from tradewind.assistants.files import FileService
from tradewind.domain.errors import TradewindError, Unavailable, ValidationError
from tradewind.domain.excerpt import excerpt
from tradewind.domain.symbol import normalize_symbol
from tradewind.domain.timeframe import Timeframe, parse_timeframe
from tradewind.market.service import MAX_LIMIT, StreamerService
from tradewind.signals.service import SignalService
from tradewind.trading.backtest import BacktestSpec
from tradewind.trading.holdings import MAX_HOLDINGS, HoldingsAnalysis
from tradewind.trading.jobs import BacktestJobs
from tradewind.trading.risk_metrics import risk_metrics
from tradewind.trading.service import TradingService

__all__ = ["CALLER_MAY_TRADE", "MAX_SYMBOLS", "Tool", "ToolArgumentError", "run_tool", "trading_tools"]

MAX_SYMBOLS = 10
MAX_SYMBOL_CHARS = 32
LOCAL_OWNER = "local"
CALLER: contextvars.ContextVar[str] = contextvars.ContextVar("tool_caller", default=LOCAL_OWNER)
"""Whose request a tool serves (the owner of the files it may read), set by ``run_tool``."""
CALLER_MAY_TRADE: contextvars.ContextVar[bool] = contextvars.ContextVar("tool_caller_may_trade", default=True)
"""Whether the request a tool serves holds the ``trade`` scope: authentication sets it per request
(a run started by a request inherits it), so a tool that would start work or change something
(``Tool.changes``) answers a read-only caller with an error saying so instead of running."""
_SYMBOL_COLUMNS = ("symbol", "ticker", "asset", "instrument", "pair")
_QUANTITY_COLUMNS = ("quantity", "qty", "shares", "units", "amount", "position", "size")


class ToolArgumentError(ValidationError):
    """A model called a tool with arguments it does not take; ``field`` names the argument."""


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments object
    run: Callable[[Mapping[str, Any]], Awaitable[Any]]
    changes: bool = False  # starts work or changes state: the caller needs the trade scope

    def spec(self) -> dict[str, Any]:
        """The tool as Chat Completions and the Assistants API declare a function."""
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": self.parameters}}


def trading_tools(*, streamer: StreamerService, signals: Mapping[str, SignalService],
                  trading: TradingService | None, holdings: HoldingsAnalysis, backtests: BacktestJobs | None,
                  timeframes: Sequence[Timeframe], files: FileService | None = None,
                  backtest_wait_seconds: float = 60.0) -> dict[str, Tool]:
    """The built-in tools over the running services; ``timeframes`` are the streamed ones, the
    first being the default a tool reads when it is not told."""
    default_tf = timeframes[0] if timeframes else Timeframe.M1
    analysts = tuple(signals)

    def book() -> TradingService:
        if trading is None:
            raise Unavailable("trading is off on this server (TRADEWIND_TRADING=false)")
        return trading

    async def get_market_data(args: Mapping[str, Any]) -> dict[str, Any]:
        _only(args, {"symbols", "timeframe", "limit"})
        symbols = _symbols(args)
        timeframe = _timeframe(args, default_tf)
        limit = _integer(args, "limit", 1, MAX_LIMIT, 50)
        out = []
        for symbol in symbols:
            query = streamer.query(symbol, timeframe.value, limit)
            candles = query.series.tail(limit)
            closes = [c.close for c in candles]
            out.append({
                "symbol": query.symbol, "timeframe": timeframe.value, "candles": len(candles),
                "last_price": closes[-1] if closes else None,
                "change_pct": (closes[-1] / closes[0] - 1) * 100 if len(closes) >= 2 else None,
                "high": max(c.high for c in candles) if candles else None,
                "low": min(c.low for c in candles) if candles else None,
                "first_time": candles[0].time if candles else None,
                "rows": [[c.time, c.open, c.high, c.low, c.close, c.volume] for c in candles],
            })
        return {"markets": out}

    async def generate_trading_signals(args: Mapping[str, Any]) -> dict[str, Any]:
        _only(args, {"symbols", "analyst"})
        symbols = _symbols(args)
        analyst = args.get("analyst", "rules" if "rules" in analysts else analysts[0])
        if analyst not in analysts:
            raise ToolArgumentError(f"analyst must be one of {', '.join(analysts)}, got {excerpt(analyst)}",
                                    field="analyst")
        service = signals[analyst]

        def analyse(symbol: str) -> dict[str, Any]:
            record = service.analyze_payload(symbol=symbol, timeframe_data=None, origin="assistant").record
            risk = record.get("risk_assessment", {})
            return {"symbol": record["symbol"], "signal": record["signal"], "confidence": record["confidence"],
                    "analyst": record["analyst"], "timeframe": record.get("timeframe"),
                    "entry_price": record.get("entry_price"), "stop_loss": risk.get("stop_loss_suggestion"),
                    "take_profit": risk.get("take_profit_suggestion"), "reasoning": record.get("reasoning"),
                    "signal_id": record["signal_id"]}

        return {"signals": [await asyncio.to_thread(analyse, symbol) for symbol in symbols]}

    async def get_positions(args: Mapping[str, Any]) -> dict[str, Any]:
        _only(args, set())
        return book().positions()

    async def get_performance(args: Mapping[str, Any]) -> dict[str, Any]:
        _only(args, set())
        report = await book().performance()
        for curve in ("equity_curve", "drawdown_curve"):  # the figures, not thousands of points
            report[f"{curve}_points"] = len(report.pop(curve, None) or [])
        return report

    async def calculate_risk_metrics(args: Mapping[str, Any]) -> dict[str, Any]:
        _only(args, {"returns", "holdings", "benchmark", "timeframe", "periods_per_year"})
        if ("returns" in args) == ("holdings" in args):
            raise ToolArgumentError("give either returns or holdings", field="returns")
        if "returns" in args:
            returns = _numbers(args, "returns")
            per_year = _number(args, "periods_per_year", 365.0)
            bench = args.get("benchmark")
            if bench is not None and not isinstance(bench, list):
                raise ToolArgumentError("with returns, benchmark must be a list of returns", field="benchmark")
            benchmark = _numbers(args, "benchmark") if bench is not None else None
            return {"source": "returns", **risk_metrics(returns, periods_per_year=per_year, benchmark=benchmark)}
        timeframe = _timeframe(args, default_tf)
        held = _holdings(args)
        bench_symbol = args.get("benchmark")
        if bench_symbol is not None and not isinstance(bench_symbol, str):
            raise ToolArgumentError("with holdings, benchmark must be a symbol", field="benchmark")
        bench = normalize_symbol(bench_symbol, field="benchmark") if bench_symbol is not None else None
        return await asyncio.to_thread(holdings.risk, held, timeframe=timeframe, benchmark=bench)

    async def analyze_portfolio(args: Mapping[str, Any]) -> dict[str, Any]:
        _only(args, {"holdings", "file_id", "timeframe"})
        timeframe = _timeframe(args, default_tf)
        if ("holdings" in args) == ("file_id" in args):
            raise ToolArgumentError("give either holdings or file_id (a CSV or JSON file of holdings)",
                                    field="holdings")
        if "file_id" in args:
            if files is None:
                raise Unavailable("files are not available on this server")
            held = await asyncio.to_thread(_file_holdings, files, CALLER.get(), args["file_id"])
        else:
            held = _holdings(args)
        return await asyncio.to_thread(holdings.health, held, timeframe=timeframe)

    async def run_backtest(args: Mapping[str, Any]) -> dict[str, Any]:
        _only(args, {"symbol", "timeframe", "strategy", "params", "from", "to", "cash", "fee"})
        if backtests is None:
            raise Unavailable("backtests are not available on this server")
        symbol = args.get("symbol")
        if not isinstance(symbol, str) or not 0 < len(symbol) <= MAX_SYMBOL_CHARS:
            raise ToolArgumentError("symbol must be a symbol such as BTCUSDT", field="symbol")
        strategy = args.get("strategy", "sma-cross")
        params = args.get("params", {})
        if not isinstance(strategy, str) or len(strategy) > 200:
            raise ToolArgumentError("strategy must be a strategy name such as sma-cross", field="strategy")
        if not isinstance(params, dict):
            raise ToolArgumentError("params must be an object", field="params")
        spec = BacktestSpec(symbol=normalize_symbol(symbol), timeframe=_timeframe(args, default_tf), strategy=strategy,
                            params=params, cash=_number(args, "cash", 10_000.0), fee=_number(args, "fee", 0.001),
                            start=_optional_number(args, "from"), end=_optional_number(args, "to"))
        job = await backtests.start(spec)
        if job.task is not None:  # its report, when it comes within the wait; else its progress and id
            await asyncio.wait({job.task}, timeout=backtest_wait_seconds)
        out = job.as_dict()
        report = out.pop("report", None) or {}
        out["metrics"] = report.get("metrics")
        out["trades"] = len(report.get("trades") or [])
        return out

    symbols_schema = {"type": "array", "items": {"type": "string", "maxLength": MAX_SYMBOL_CHARS},
                      "minItems": 1, "maxItems": MAX_SYMBOLS, "description": "symbols such as BTCUSDT or ETH/BTC"}
    timeframe_schema = {"type": "string", "enum": [tf.value for tf in timeframes] or [default_tf.value]}
    holdings_schema = {"type": "array", "minItems": 1, "maxItems": MAX_HOLDINGS, "items": {
        "type": "object", "properties": {"symbol": {"type": "string", "maxLength": MAX_SYMBOL_CHARS},
                                         "quantity": {"type": "number"}}, "required": ["symbol", "quantity"]}}
    tools = [
        Tool("get_market_data", "Recent candles of streamed symbols: last price, change, high and low.",
             {"type": "object", "properties": {"symbols": symbols_schema, "timeframe": timeframe_schema,
                                               "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}},
              "required": ["symbols"], "additionalProperties": False}, get_market_data),
        Tool("generate_trading_signals", "A fresh Long/Short/Neutral signal per symbol with confidence, stop "
             "and target, from the analyst (stored like any signal).",
             {"type": "object", "properties": {"symbols": symbols_schema,
                                               "analyst": {"type": "string", "enum": list(analysts)}},
              "required": ["symbols"], "additionalProperties": False}, generate_trading_signals),
        Tool("get_positions", "The bot's open positions with their P&L, and the portfolio's cash and equity.",
             {"type": "object", "properties": {}, "additionalProperties": False}, get_positions),
        Tool("get_performance", "The bot's performance: return, CAGR, Sharpe, Sortino, drawdown, win rate, "
             "profit factor and more.",
             {"type": "object", "properties": {}, "additionalProperties": False}, get_performance),
        Tool("calculate_risk_metrics", "Volatility, max drawdown, Sharpe, Sortino, beta and 95 % value at risk of "
             "holdings (valued on streamed candles) or of a list of periodic returns.",
             {"type": "object", "properties": {
                 "holdings": holdings_schema,
                 "returns": {"type": "array", "items": {"type": "number"}},
                 "benchmark": {"description": "a symbol (with holdings) or returns (with returns)"},
                 "timeframe": timeframe_schema,
                 "periods_per_year": {"type": "number", "exclusiveMinimum": 0}},
              "additionalProperties": False}, calculate_risk_metrics),
        Tool("analyze_portfolio", "Health score, risk level, recommendations (action, symbol, reason, confidence, "
             "timeframe) and insights for holdings valued on streamed candles.",
             {"type": "object", "properties": {
                 "holdings": holdings_schema, "timeframe": timeframe_schema,
                 "file_id": {"type": "string", "maxLength": 64,
                             "description": "instead of holdings: an uploaded CSV (symbol, quantity columns) or "
                                            "JSON ([{symbol, quantity}]) file of holdings"}},
              "additionalProperties": False}, analyze_portfolio),
        Tool("run_backtest", "Backtest a strategy over the stored candles of a symbol: return, Sharpe, drawdown, "
             "win rate and trades.",
             {"type": "object", "properties": {
                 "symbol": {"type": "string", "maxLength": MAX_SYMBOL_CHARS}, "timeframe": timeframe_schema,
                 "strategy": {"type": "string", "description": "sma-cross, rsi-reversion or signal-follower"},
                 "params": {"type": "object"}, "from": {"type": "number", "description": "epoch seconds"},
                 "to": {"type": "number", "description": "epoch seconds"}, "cash": {"type": "number"},
                 "fee": {"type": "number"}},
              "required": ["symbol"], "additionalProperties": False}, run_backtest, changes=True),
    ]
    return {tool.name: tool for tool in tools}


async def run_tool(tool: Tool, arguments: str, owner: str = LOCAL_OWNER) -> dict[str, Any]:
    """The tool's output for a model's call (its arguments as the JSON text the wire carries), or
    ``{"error": ...}`` naming what went wrong: what the model reads back. ``owner`` is whose
    request it serves: a tool reads only that owner's files."""
    CALLER.set(owner)  # the caller's own task context: it does not leak into other requests
    try:
        args = json.loads(arguments or "{}")
    except ValueError:
        return {"error": f"arguments are not JSON: {excerpt(arguments)}"}
    if not isinstance(args, dict):
        return {"error": "arguments must be a JSON object"}
    if tool.changes and not CALLER_MAY_TRADE.get():
        return {"error": f"{tool.name} needs a credential with the trade scope; this caller may only read"}
    try:
        return {"result": await tool.run(args)}
    except TradewindError as exc:
        field = getattr(exc, "field", None)
        return {"error": str(exc)[:500], **({"field": field} if field else {})}


# --- argument checks ---------------------------------------------------------------------------------
def _only(args: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(args) - allowed)
    if unknown:
        raise ToolArgumentError(f"unknown argument {excerpt(unknown[0])}", field=str(unknown[0])[:64])


def _symbols(args: Mapping[str, Any]) -> list[str]:
    value = args.get("symbols")
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_SYMBOLS:
        raise ToolArgumentError(f"symbols must be a list of 1 to {MAX_SYMBOLS} symbols", field="symbols")
    for index, symbol in enumerate(value):
        if not isinstance(symbol, str) or not 0 < len(symbol) <= MAX_SYMBOL_CHARS:
            raise ToolArgumentError(f"symbols[{index}] must be a symbol of 1 to {MAX_SYMBOL_CHARS} characters, "
                                    f"got {excerpt(symbol)}", field=f"symbols[{index}]")
    return list(dict.fromkeys(value))


def _timeframe(args: Mapping[str, Any], default: Timeframe) -> Timeframe:
    value = args.get("timeframe")
    if value is None:
        return default
    if not isinstance(value, str):
        raise ToolArgumentError(f"timeframe must be a string such as 15m, got {excerpt(value)}", field="timeframe")
    return parse_timeframe(value, field="timeframe")


def _integer(args: Mapping[str, Any], name: str, low: int, high: int, default: int) -> int:
    value = args.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ToolArgumentError(f"{name} must be an integer from {low} to {high}, got {excerpt(value)}", field=name)
    return value


def _number(args: Mapping[str, Any], name: str, default: float) -> float:
    value = args.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ToolArgumentError(f"{name} must be a finite number, got {excerpt(value)}", field=name)
    return float(value)


def _numbers(args: Mapping[str, Any], name: str) -> np.ndarray:
    value = args.get(name)
    if not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value):
        raise ToolArgumentError(f"{name} must be a list of numbers", field=name)
    return np.array(value, dtype=np.float64)


def _holdings(args: Mapping[str, Any]) -> dict[str, float]:
    value = args.get("holdings")
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_HOLDINGS:
        raise ToolArgumentError(f"holdings must be a list of 1 to {MAX_HOLDINGS} {{symbol, quantity}}",
                                field="holdings")
    out: dict[str, float] = {}
    for index, item in enumerate(value):
        field = f"holdings[{index}]"
        if not isinstance(item, dict) or set(item) - {"symbol", "quantity"}:
            raise ToolArgumentError(f"{field} must be {{symbol, quantity}}", field=field)
        symbol, quantity = item.get("symbol"), item.get("quantity")
        if not isinstance(symbol, str) or not 0 < len(symbol) <= MAX_SYMBOL_CHARS:
            raise ToolArgumentError(f"{field}.symbol must be a symbol, got {excerpt(symbol)}", field=f"{field}.symbol")
        if isinstance(quantity, bool) or not isinstance(quantity, (int, float)) or not math.isfinite(quantity):
            raise ToolArgumentError(f"{field}.quantity must be a finite number, got {excerpt(quantity)}",
                                    field=f"{field}.quantity")
        canonical = normalize_symbol(symbol, field=f"{field}.symbol")
        out[canonical] = out.get(canonical, 0.0) + float(quantity)
    return out



def _optional_number(args: Mapping[str, Any], name: str) -> float | None:
    return None if args.get(name) is None else _number(args, name, 0.0)


def _file_holdings(files: FileService, owner: str, file_id: Any) -> dict[str, float]:
    """Holdings from an uploaded file: CSV with a symbol and a quantity column, or JSON
    ``[{symbol, quantity}]`` (or ``{"holdings": [...]}``)."""
    name, text = files.text(owner, file_id, field="file_id")
    kind = kind_of(name)
    if kind == "csv":
        rows = csv_rows(text, MAX_HOLDINGS + 1)
        columns = set(rows[0]) if rows else set()
        symbol_col = next((c for c in _SYMBOL_COLUMNS if c in columns), None)
        quantity_col = next((c for c in _QUANTITY_COLUMNS if c in columns), None)
        if symbol_col is None or quantity_col is None:
            raise ToolArgumentError(f"the CSV file {excerpt(name)} needs a symbol column ({', '.join(_SYMBOL_COLUMNS)}) "
                                    f"and a quantity column ({', '.join(_QUANTITY_COLUMNS)})", field="file_id")
        items: Any = []
        for index, row in enumerate(rows):
            try:
                quantity: Any = float(row[quantity_col].replace(",", ""))
            except ValueError:
                raise ToolArgumentError(f"row {index + 2} of {excerpt(name)}: {quantity_col} "
                                        f"{excerpt(row[quantity_col])} is not a number", field="file_id") from None
            items.append({"symbol": row[symbol_col], "quantity": quantity})
    elif kind == "json":
        items = json.loads(text)
        if isinstance(items, dict):
            items = items.get("holdings")
        if isinstance(items, list):
            items = [{k: v for k, v in item.items() if k in ("symbol", "quantity")} if isinstance(item, dict) else item
                     for item in items]
    else:
        raise ToolArgumentError(f"the file {excerpt(name)} is {kind}; holdings are read from CSV or JSON files",
                                field="file_id")
    return _holdings({"holdings": items})
