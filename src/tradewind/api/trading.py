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

from tradewind.api.body import read_json
from tradewind.api.deps import AdminDep, ContainerDep, TradingDep
from tradewind.domain import parse_timeframe
from tradewind.domain.epoch import MAX_EPOCH_SECONDS
from tradewind.domain.symbol import MAX_SYMBOL_INPUT, normalize_symbol
from tradewind.domain.timeframe import MAX_TIMEFRAME_INPUT
from tradewind.trading.backtest import BacktestSpec
from tradewind.trading.service import MAX_CHART_CANDLES, MAX_LIMIT, MAX_VIEW_CANDLES

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["trading"])

SymbolPath = Annotated[str, Path(max_length=MAX_SYMBOL_INPUT)]
SymbolQuery = Annotated[str | None, Query(max_length=MAX_SYMBOL_INPUT)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
ParamValue = bool | int | float | Annotated[str, Field(max_length=200)]
Params = Annotated[dict[Annotated[str, Field(max_length=64)], ParamValue], Field(max_length=32)]
RiskValue = bool | int | float | Annotated[list[float], Field(max_length=16)] | None
RiskOverrides = Annotated[dict[Annotated[str, Field(max_length=64)], RiskValue], Field(max_length=32)]
Epoch = Annotated[float, Field(ge=0, le=MAX_EPOCH_SECONDS, description="UTC epoch seconds")]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssetChanges(_Closed):
    """What ``PATCH /api/assets/{symbol}`` may change while the asset trades."""

    interval_minutes: int | None = Field(None, description="1 to 60")
    strategy: Name | None = None
    params: Params | None = None
    analyst: Annotated[str, Field(max_length=32)] | None = None
    risk: Annotated[str, Field(max_length=32)] | None = None
    risk_overrides: RiskOverrides | None = None


class CloseBody(_Closed):
    fraction: float = Field(1.0, description="of the position, within (0, 1]")


class EnterBody(_Closed):
    side: Literal["long", "short"]
    size: float | None = Field(None, description="a fraction of equity within (0, 1] (0.1 = 10%); default: the risk profile's")


class BacktestBody(_Closed):
    symbol: Annotated[str, Field(max_length=MAX_SYMBOL_INPUT)]
    timeframe: Annotated[str, Field(max_length=MAX_TIMEFRAME_INPUT, description="of the stored candles")]
    strategy: Name = "sma-cross"
    params: Params = Field(default_factory=dict)
    analyst: Annotated[str, Field(max_length=32)] = "rules"
    risk: Annotated[str, Field(max_length=32)] = "none"
    risk_overrides: RiskOverrides = Field(default_factory=dict)
    cash: float = 10_000.0
    fee: float = 0.001
    slippage: float = 0.0
    interval_minutes: int | None = None
    trade_timeframe: Annotated[str, Field(max_length=MAX_TIMEFRAME_INPUT)] | None = None
    higher: Annotated[list[Annotated[str, Field(max_length=MAX_TIMEFRAME_INPUT)]], Field(max_length=8)] = Field(
        default_factory=list)
    start: Epoch | None = Field(None, alias="from")
    end: Epoch | None = Field(None, alias="to")
    warmup: int = 0


def _changes(body: AssetChanges) -> dict[str, Any]:
    return body.model_dump(exclude_unset=True)


@router.get("/assets", summary="The traded assets with their settings, status and position")
async def assets(trading: TradingDep) -> dict[str, Any]:
    return {"assets": trading.assets()}


@router.get("/assets/{symbol}", summary="One traded asset")
async def asset(symbol: SymbolPath, trading: TradingDep) -> dict[str, Any]:
    return trading.asset(symbol)


@router.get("/assets/{symbol}/dashboard", summary="Price and chart, position, trades, P&L, statistics, latest signal "
                                                  "and reflection of one asset")
async def dashboard(symbol: SymbolPath, trading: TradingDep,
                    candles: Annotated[int, Query(ge=1, le=MAX_CHART_CANDLES)] = 100,
                    trades: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20) -> dict[str, Any]:
    return await trading.dashboard(symbol, candles=candles, trades=trades)


@router.get("/assets/{symbol}/chart", summary="Candles with EMA and Bollinger lines, fair value gaps and order "
                                              "blocks, swings, BOS and CHoCH, and the asset's signals and trades")
async def chart(symbol: SymbolPath, trading: TradingDep,
                timeframe: Annotated[str | None, Query(max_length=MAX_TIMEFRAME_INPUT,
                                                       description="default: the asset's own")] = None,
                candles: Annotated[int, Query(ge=1, le=MAX_VIEW_CANDLES)] = 500) -> dict[str, Any]:
    tf = parse_timeframe(timeframe, field="timeframe") if timeframe else None
    return await trading.chart(symbol, timeframe=tf, candles=candles)


@router.post("/assets/{symbol}/pause", summary="Stop deciding for this asset (positions and their stops stay)")
async def pause(symbol: SymbolPath, trading: TradingDep, _: AdminDep) -> dict[str, Any]:
    return await trading.pause(symbol)


@router.post("/assets/{symbol}/resume", summary="Decide again (also lifts the kill switch)")
async def resume(symbol: SymbolPath, trading: TradingDep, _: AdminDep) -> dict[str, Any]:
    return await trading.resume(symbol)


@router.patch("/assets/{symbol}", summary="Change the interval, strategy (and params), analyst or risk profile",
              openapi_extra={"requestBody": {"content": {"application/json": {"schema": AssetChanges.model_json_schema()}}}})
async def update(symbol: SymbolPath, request: Request, trading: TradingDep, _: AdminDep) -> dict[str, Any]:
    body = await read_json(request, AssetChanges)
    return await trading.update(symbol, _changes(body))


@router.post("/assets/{symbol}/close", summary="Close the position now (all, or a fraction)")
async def close(symbol: SymbolPath, request: Request, trading: TradingDep, _: AdminDep) -> dict[str, Any]:
    body = await read_json(request, CloseBody) if await request.body() else CloseBody()
    return await trading.close(symbol, body.fraction)


@router.post("/assets/{symbol}/enter", summary="Open a position now, through risk like any entry")
async def enter(symbol: SymbolPath, request: Request, trading: TradingDep, _: AdminDep) -> dict[str, Any]:
    body = await read_json(request, EnterBody)
    return await trading.enter(symbol, body.side, body.size)


@router.get("/trades", summary="Closed trades, newest first")
async def trades(trading: TradingDep, symbol: SymbolQuery = None, limit: Limit = 100) -> dict[str, Any]:
    return {"trades": await trading.trades(symbol=symbol, limit=limit)}


@router.get("/positions", summary="Open positions with their P&L, and the portfolio")
async def positions(trading: TradingDep) -> dict[str, Any]:
    return trading.positions()


@router.get("/performance", summary="Return, CAGR, Sharpe, Sortino, Calmar, drawdown, win rate... of the book")
async def performance(trading: TradingDep) -> dict[str, Any]:
    return await trading.performance()


@router.get("/risk-events", summary="Orders risk refused and other risk events, newest first")
async def risk_events(trading: TradingDep, symbol: SymbolQuery = None, limit: Limit = 100) -> dict[str, Any]:
    return {"risk_events": await trading.risk_events(symbol=symbol, limit=limit)}


@router.get("/reflections", summary="The analysts' reviews of their recent trades, newest first")
async def reflections(trading: TradingDep, symbol: SymbolQuery = None, limit: Limit = 100) -> dict[str, Any]:
    return {"reflections": await trading.reflections(symbol=symbol, limit=limit)}


@router.post("/backtests", status_code=202, summary="Start a backtest over stored candles in the background",
             openapi_extra={"requestBody": {"content": {"application/json": {"schema": BacktestBody.model_json_schema()}}}})
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


@router.get("/backtests/{job_id}", summary="A backtest's status, progress and, once done, its report")
async def get_backtest(job_id: Annotated[str, Path(max_length=64)], container: ContainerDep) -> dict[str, Any]:
    return (await container.backtests.find(job_id)).as_dict()
