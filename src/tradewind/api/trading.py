"""``/api/*``: the trading bot of seed 001 (assets, dashboards, trades, positions, performance, risk
events, reflections, manual overrides) and backtests started in the background.

Routes parse and delegate to ``TradingService`` and ``BacktestJobs``. Bodies are closed models
(an unknown field is a 422 naming it) with bounds on every size; the values' rules (an interval
within 1-60, a size within 0-100%, a known strategy with well-typed params) are the engine's, so
the CLI and the assistant's tools get the same answers. Overrides sit behind the admin seam.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonDict

from tradewind.api.body import read_json
from tradewind.api.deps import AdminDep, ContainerDep, TradingDep
from tradewind.api.error_schemas import rest
from tradewind.api.request_route import request_body
from tradewind.domain import parse_timeframe
from tradewind.domain.epoch import MAX_EPOCH_SECONDS
from tradewind.domain.symbol import MAX_SYMBOL_INPUT, SYMBOL_PATTERN, normalize_symbol
from tradewind.domain.timeframe import MAX_TIMEFRAME_INPUT, TIMEFRAME_PATTERN
from tradewind.trading.backtest import BacktestSpec
from tradewind.trading.service import MAX_CHART_CANDLES, MAX_LIMIT, MAX_VIEW_CANDLES

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["trading"])

_SYMBOL = {"pattern": SYMBOL_PATTERN}  # documents normalize_symbol's rule, which the services apply
SymbolPath = Annotated[str, Path(min_length=1, max_length=MAX_SYMBOL_INPUT, json_schema_extra=_SYMBOL)]
SymbolQuery = Annotated[str | None, Query(max_length=MAX_SYMBOL_INPUT, json_schema_extra=_SYMBOL)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
ParamValue = bool | int | float | Annotated[str, Field(max_length=200)]
Params = Annotated[dict[Annotated[str, Field(max_length=64)], ParamValue], Field(max_length=32)]
RiskValue = bool | int | float | Annotated[list[float], Field(max_length=16)] | None
RiskOverrides = Annotated[dict[Annotated[str, Field(max_length=64)], RiskValue], Field(max_length=32)]
Timeframe = Annotated[str, Field(max_length=MAX_TIMEFRAME_INPUT, pattern=TIMEFRAME_PATTERN)]
Epoch = Annotated[float, Field(ge=0, le=MAX_EPOCH_SECONDS, description="UTC epoch seconds")]


def _no_null_defaults(schema: JsonDict) -> None:
    """A field left out keeps its value; null is not a value it takes, so it is no documented default."""
    for prop in schema.get("properties", {}).values():  # type: ignore[union-attr]
        if isinstance(prop, dict) and "default" in prop and prop["default"] is None:
            del prop["default"]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Changes(_Closed):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_no_null_defaults)


class AssetChanges(_Changes):
    """What ``PATCH /api/assets/{symbol}`` may change while the asset trades (a field left out is kept)."""

    interval_minutes: int = Field(None, ge=1, le=60, description="1 to 60")  # type: ignore[assignment]
    strategy: Name = None  # type: ignore[assignment]
    params: Params = None  # type: ignore[assignment]
    analyst: Annotated[str, Field(max_length=32)] = None  # type: ignore[assignment]
    risk: Annotated[str, Field(max_length=32)] = None  # type: ignore[assignment]
    risk_overrides: RiskOverrides = None  # type: ignore[assignment]


class CloseBody(_Closed):
    fraction: float = Field(1.0, gt=0, le=1, description="of the position, within (0, 1]")


class EnterBody(_Closed):
    side: Literal["long", "short"]
    size: float | None = Field(None, gt=0, le=1,
                               description="a fraction of equity within (0, 1] (0.1 = 10%); default: the risk profile's")


class BacktestBody(_Closed):
    symbol: Annotated[str, Field(min_length=1, max_length=MAX_SYMBOL_INPUT, json_schema_extra=_SYMBOL)]
    timeframe: Timeframe = Field(description="of the stored candles")
    strategy: Name = "sma-cross"
    params: Params = Field(default_factory=dict)
    analyst: Annotated[str, Field(max_length=32)] = "rules"
    risk: Annotated[str, Field(max_length=32)] = "none"
    risk_overrides: RiskOverrides = Field(default_factory=dict)
    cash: float = 10_000.0
    fee: float = 0.001
    slippage: float = 0.0
    interval_minutes: int | None = None
    trade_timeframe: Timeframe | None = None
    higher: Annotated[list[Timeframe], Field(max_length=8)] = Field(default_factory=list)
    start: Epoch | None = Field(None, alias="from")
    end: Epoch | None = Field(None, alias="to")
    warmup: int = 0


def _changes(body: AssetChanges) -> dict[str, Any]:
    return body.model_dump(exclude_unset=True)


@router.get("/assets", responses=rest(503), summary="The traded assets with their settings, status and position")
async def assets(trading: TradingDep) -> dict[str, Any]:
    return {"assets": trading.assets()}


@router.get("/assets/{symbol}", responses=rest(404, 503), summary="One traded asset")
async def asset(symbol: SymbolPath, trading: TradingDep) -> dict[str, Any]:
    return trading.asset(symbol)


@router.get("/assets/{symbol}/dashboard", responses=rest(404, 503),
            summary="Price and chart, position, trades, P&L, statistics, latest signal "
                    "and reflection of one asset")
async def dashboard(symbol: SymbolPath, trading: TradingDep,
                    candles: Annotated[int, Query(ge=1, le=MAX_CHART_CANDLES)] = 100,
                    trades: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20) -> dict[str, Any]:
    return await trading.dashboard(symbol, candles=candles, trades=trades)


@router.get("/assets/{symbol}/chart", responses=rest(404, 503),
            summary="Candles with EMA and Bollinger lines, fair value gaps and order "
                    "blocks, swings, BOS and CHoCH, and the asset's signals and trades")
async def chart(symbol: SymbolPath, trading: TradingDep,
                timeframe: Annotated[str | None, Query(max_length=MAX_TIMEFRAME_INPUT, pattern=TIMEFRAME_PATTERN,
                                                       description="default: the asset's own")] = None,
                candles: Annotated[int, Query(ge=1, le=MAX_VIEW_CANDLES)] = 500) -> dict[str, Any]:
    tf = parse_timeframe(timeframe, field="timeframe") if timeframe else None
    return await trading.chart(symbol, timeframe=tf, candles=candles)


@router.post("/assets/{symbol}/pause", responses=rest(403, 404, 503),
             summary="Stop deciding for this asset (positions and their stops stay)")
async def pause(symbol: SymbolPath, trading: TradingDep, _: AdminDep) -> dict[str, Any]:
    return await trading.pause(symbol)


@router.post("/assets/{symbol}/resume", responses=rest(403, 404, 503),
             summary="Decide again (also lifts the kill switch)")
async def resume(symbol: SymbolPath, trading: TradingDep, _: AdminDep) -> dict[str, Any]:
    return await trading.resume(symbol)


@router.patch("/assets/{symbol}", responses=rest(403, 404, 503),
              summary="Change the interval, strategy (and params), analyst or risk profile",
              openapi_extra=request_body(AssetChanges))
async def update(symbol: SymbolPath, request: Request, trading: TradingDep, _: AdminDep) -> dict[str, Any]:
    body = await read_json(request, AssetChanges)
    return await trading.update(symbol, _changes(body))


@router.post("/assets/{symbol}/close", responses=rest(403, 404, 503),
             summary="Close the position now (all, or a fraction)",
             openapi_extra=request_body(CloseBody, required=False))
async def close(symbol: SymbolPath, request: Request, trading: TradingDep, _: AdminDep) -> dict[str, Any]:
    body = await read_json(request, CloseBody) if await request.body() else CloseBody()
    return await trading.close(symbol, body.fraction)


@router.post("/assets/{symbol}/enter", responses=rest(403, 404, 503),
             summary="Open a position now, through risk like any entry",
             openapi_extra=request_body(EnterBody))
async def enter(symbol: SymbolPath, request: Request, trading: TradingDep, _: AdminDep) -> dict[str, Any]:
    body = await read_json(request, EnterBody)
    return await trading.enter(symbol, body.side, body.size)


@router.get("/trades", responses=rest(404, 503), summary="Closed trades, newest first")
async def trades(trading: TradingDep, symbol: SymbolQuery = None, limit: Limit = 100) -> dict[str, Any]:
    return {"trades": await trading.trades(symbol=symbol, limit=limit)}


@router.get("/positions", responses=rest(503), summary="Open positions with their P&L, and the portfolio")
async def positions(trading: TradingDep) -> dict[str, Any]:
    return trading.positions()


@router.get("/performance", responses=rest(503),
            summary="Return, CAGR, Sharpe, Sortino, Calmar, drawdown, win rate... of the book")
async def performance(trading: TradingDep) -> dict[str, Any]:
    return await trading.performance()


@router.get("/risk-events", responses=rest(404, 503), summary="Orders risk refused and other risk events, newest first")
async def risk_events(trading: TradingDep, symbol: SymbolQuery = None, limit: Limit = 100) -> dict[str, Any]:
    return {"risk_events": await trading.risk_events(symbol=symbol, limit=limit)}


@router.get("/reflections", responses=rest(404, 503),
            summary="The analysts' reviews of their recent trades, newest first")
async def reflections(trading: TradingDep, symbol: SymbolQuery = None, limit: Limit = 100) -> dict[str, Any]:
    return {"reflections": await trading.reflections(symbol=symbol, limit=limit)}


@router.post("/backtests", responses=rest(404, 503), status_code=202,
             summary="Start a backtest over stored candles in the background",
             openapi_extra=request_body(BacktestBody))
async def start_backtest(request: Request, container: ContainerDep, response: Response) -> dict[str, Any]:
    body = await read_json(request, BacktestBody)
    spec = BacktestSpec(
        symbol=normalize_symbol(body.symbol), timeframe=parse_timeframe(body.timeframe, field="timeframe"),
        strategy=body.strategy, params=body.params, analyst=body.analyst, risk=body.risk,
        risk_overrides=body.risk_overrides, cash=body.cash, fee=body.fee, slippage=body.slippage,
        interval_minutes=body.interval_minutes,
        trade_timeframe=parse_timeframe(body.trade_timeframe, field="trade_timeframe") if body.trade_timeframe else None,
        higher=tuple(parse_timeframe(tf, field="higher") for tf in body.higher), start=body.start, end=body.end,
        warmup=body.warmup,
    )
    job = await container.backtests.start(spec)
    response.headers["Location"] = f"/api/backtests/{job.id}"
    return job.as_dict(report=False)


@router.get("/backtests", summary="Recent backtests (without their reports)")
async def list_backtests(container: ContainerDep) -> dict[str, Any]:
    return {"backtests": [job.as_dict(report=False) for job in await container.backtests.recent()]}


@router.get("/backtests/options", summary="What a backtest may be started with: strategies and their params, "
                                          "analysts, risk profiles and the stored candles")
async def backtest_options(container: ContainerDep) -> dict[str, Any]:
    return await container.backtests.options()


@router.get("/backtests/{job_id}", responses=rest(404),
            summary="A backtest's status, progress and, once done, its report")
async def get_backtest(job_id: Annotated[str, Path(max_length=64)], container: ContainerDep) -> dict[str, Any]:
    return (await container.backtests.find(job_id)).as_dict()
