"""Backtests started from the API: each runs the backtester in a worker thread (its own event loop,
its own simulated clock) while the server goes on serving, and is polled by id.

A few run at once (the rest are refused with a clear reason, never queued without bound), and
only the newest finished ones are kept, each report with its equity curve thinned, so memory
stays bounded however many are asked for.

Each backtest is saved to a ``BacktestStore`` at every change of status (the database, when the
server has one), so it outlives the process: a finished report is still there after a restart,
and one the server was running when it died is found unfinished at the next start (``recover``)
and ends ``failed`` with the reason. A stop (SIGTERM) ends the running ones ``failed`` too, and
the worker threads stop at their next candle instead of holding the exit until they finish.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from tradewind.analysts.base import Analyst
from tradewind.domain.candle import Candle
from tradewind.domain.clock import Clock
from tradewind.domain.errors import NotFound, TradewindError, ValidationError
from tradewind.domain.excerpt import excerpt
from tradewind.trading.backtest import BacktestSpec, plain, run_backtest_sync
from tradewind.trading.backtest_store import UNFINISHED, BacktestStore, MemoryBacktestStore
from tradewind.trading.risk import PROFILES, risk_profile
from tradewind.trading.service import EQUITY_POINTS, thin_curve
from tradewind.trading.strategies import BUILTIN
from tradewind.trading.strategy import Param, load_strategy

__all__ = ["BacktestJob", "BacktestJobs", "BacktestRecord", "INTERRUPTED", "MAX_CANDLES", "STOPPED"]

log = logging.getLogger(__name__)

MAX_CANDLES = 600_000  # a year of one-minute candles, with room
Status = Literal["queued", "running", "done", "failed"]
CandleSource = Callable[[str, Any, float | None, float | None], Sequence[Candle]]
Coverage = Callable[[], Sequence[Mapping[str, Any]]]
INTERRUPTED = {"code": "INTERRUPTED", "message": "the server stopped while it ran (it was killed or crashed); "
                                                  "start the backtest again"}
STOPPED = {"code": "CANCELLED", "message": "the server stopped while it ran (it was shut down); "
                                           "start the backtest again"}


class _Stopped(asyncio.CancelledError):
    """Raised in a backtest's worker thread at its next candle once the server stops: a cancel, so
    the replay inside stops as a cancelled task does (quietly), not as a failed feed."""


@dataclass(frozen=True)
class BacktestRecord:
    """A backtest this process does not run (finished, or from before a restart): its stored document."""

    document: Mapping[str, Any]

    @property
    def id(self) -> str:
        return str(self.document["id"])

    @property
    def status(self) -> str:
        return str(self.document["status"])

    def as_dict(self, *, report: bool = True) -> dict[str, Any]:
        out = dict(self.document)
        if not report:
            out.pop("report", None)
        return out


@dataclass
class BacktestJob:
    id: str
    spec: BacktestSpec
    created_at: float
    status: Status = "queued"
    done: int = 0
    total: int = 0
    report: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    finished_at: float | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    stopping: threading.Event = field(default_factory=threading.Event, repr=False)

    def as_dict(self, *, report: bool = True) -> dict[str, Any]:
        spec = self.spec
        return {
            "id": self.id, "status": self.status, "created_at": self.created_at, "finished_at": self.finished_at,
            "progress": {"done": self.done, "total": self.total,
                         "fraction": (self.done / self.total) if self.total else None},
            "spec": {"symbol": spec.symbol, "timeframe": spec.timeframe.value, "strategy": spec.strategy,
                     "params": dict(spec.params), "analyst": spec.analyst, "risk": spec.risk, "cash": spec.cash,
                     "fee": spec.fee, "slippage": spec.slippage, "interval_minutes": spec.interval_minutes,
                     "trade_timeframe": spec.trade_timeframe.value if spec.trade_timeframe else None,
                     "from": spec.start, "to": spec.end},
            "error": self.error,
            **({"report": self.report} if report else {}),
        }


class BacktestJobs:
    def __init__(self, *, candles: CandleSource, analysts: Callable[[], Mapping[str, Analyst]], clock: Clock,
                 max_running: int = 2, keep: int = 20, strategy_paths: Collection[str] = (),
                 stored: Coverage | None = None, store: BacktestStore | None = None, worker: str | None = None,
                 alive: Callable[[str], bool] | None = None) -> None:
        self.strategy_paths = frozenset(strategy_paths)  # a request may not import a module of its choosing
        self.candles = candles  # (symbol, timeframe, start, end) -> stored closed candles, oldest first
        self.stored = stored  # () -> [{symbol, timeframe, candles, first, last}] of the stored candles
        self.analysts = analysts
        self.clock = clock
        self.max_running = max_running
        self.keep = keep
        self.store: BacktestStore = store or MemoryBacktestStore()
        self.worker = worker or f"local-{uuid.uuid4().hex[:8]}"  # this process, as the runner of its backtests
        self.alive = alive or (lambda other: other == self.worker)  # one process: only we are alive
        self._jobs: OrderedDict[str, BacktestJob] = OrderedDict()  # the ones this process runs

    async def recover(self) -> int:
        """The backtests a crash cut short (still queued or running in the store, run by a worker
        that is gone) end ``failed`` with the reason; returns how many. Ours, and those of another
        live worker, are left running."""
        settled = 0
        for document, runner in await asyncio.to_thread(self.store.unfinished):
            if document["id"] in self._jobs or runner == self.worker:
                continue
            if runner is not None and await asyncio.to_thread(self.alive, runner):
                continue
            document.update(status="failed", error=dict(INTERRUPTED), finished_at=self.clock.now())
            await asyncio.to_thread(self.store.save, document, runner)
            settled += 1
        return settled

    async def start(self, spec: BacktestSpec) -> BacktestJob:
        """Check the spec, its strategy and that its candles exist (a 4xx now, not a failed job
        later), then run it in the background."""
        spec.check()
        load_strategy(spec.strategy, spec.params, builtins=BUILTIN, paths=self.strategy_paths)
        risk_profile(spec.risk, spec.risk_overrides)
        analysts = self.analysts()
        if spec.analyst not in analysts:
            raise ValidationError(f"unknown analyst {excerpt(spec.analyst)}: use one of {', '.join(analysts)}",
                                  field="analyst")
        running = sum(1 for job in self._jobs.values() if job.status in UNFINISHED)
        if running >= self.max_running:
            raise ValidationError(f"{running} backtests are running (at most {self.max_running}): wait for one to "
                                  "finish", field="backtests")
        candles = await asyncio.to_thread(self.candles, spec.symbol, spec.timeframe, spec.start, spec.end)
        if not candles:
            raise ValidationError(f"no stored {spec.timeframe.value} candles of {spec.symbol} in that range "
                                  "(import some with `tradewind data import`, or let the streamer record them)",
                                  field="symbol" if spec.start is None and spec.end is None else "from")
        if len(candles) > MAX_CANDLES:
            raise ValidationError(f"{len(candles)} candles is more than a backtest here takes ({MAX_CANDLES}): "
                                  "narrow from/to", field="from")
        job = BacktestJob("bt_" + uuid.uuid4().hex[:16], spec, self.clock.now(), total=len(candles))
        self._jobs[job.id] = job
        await self._save(job)
        job.task = asyncio.create_task(self._run(job, candles, analysts), name=f"backtest-{job.id}")
        return job

    async def options(self) -> dict[str, Any]:
        """What a backtest may be started with: the strategies and their declared parameters, the
        analysts, the risk profiles and the stored candles, so a form offers only what will run."""
        stored = list(await asyncio.to_thread(self.stored)) if self.stored is not None else []
        strategies = [_strategy_document(name, cls) for name, cls in BUILTIN.items()]
        strategies += [{"name": path, "summary": "", "uses_signals": None, "params": []}
                       for path in sorted(self.strategy_paths)]  # listed, not imported to describe them
        return {"strategies": strategies, "analysts": list(self.analysts()), "risk_profiles": list(PROFILES),
                "stored": stored}

    def get(self, job_id: str) -> BacktestJob | BacktestRecord:
        """A backtest by id: the live job while this process runs it, else its stored document."""
        found: BacktestJob | BacktestRecord | None = None
        if isinstance(job_id, str) and len(job_id) <= 64:
            found = self._jobs.get(job_id)
            if found is None and (document := self.store.get(job_id)) is not None:
                found = BacktestRecord(document)
        if found is None:
            raise NotFound(f"no backtest {excerpt(job_id)}", field="id")
        return found

    async def find(self, job_id: str) -> BacktestJob | BacktestRecord:
        """``get`` off the event loop (the store may be a database)."""
        if isinstance(job_id, str) and job_id in self._jobs:
            return self._jobs[job_id]
        return await asyncio.to_thread(self.get, job_id)

    def list(self) -> list[BacktestJob | BacktestRecord]:
        """The newest backtests first: the ones running here as they are now, the rest as stored."""
        stored = self.store.recent(self.keep + self.max_running)
        return [self._jobs.get(d["id"]) or BacktestRecord(d) for d in stored]

    async def recent(self) -> list[BacktestJob | BacktestRecord]:
        return await asyncio.to_thread(self.list)

    async def stop(self) -> None:
        """End the backtests in flight ``failed`` (the server stopped) and stop their threads."""
        jobs = [job for job in self._jobs.values() if job.task is not None and not job.task.done()]
        for job in jobs:
            job.stopping.set()  # the worker thread raises at its next candle
            assert job.task is not None
            job.task.cancel()
        await asyncio.gather(*(job.task for job in jobs if job.task is not None), return_exceptions=True)
        for job in jobs:
            await self._save(job)

    async def _run(self, job: BacktestJob, candles: Sequence[Candle], analysts: Mapping[str, Analyst]) -> None:
        outcome: dict[str, Any]
        try:
            job.status = "running"
            await self._save(job)

            def progress(done: int, total: int) -> None:
                if job.stopping.is_set():
                    raise _Stopped
                job.done, job.total = done, total

            report = plain(await asyncio.to_thread(run_backtest_sync, job.spec, candles, analysts=analysts,
                                                   progress=progress))
            for key in ("equity", "drawdown"):
                report[key] = thin_curve(report.get(key) or [], EQUITY_POINTS)
            outcome = {"report": report, "status": "done", "done": job.total}
        except asyncio.CancelledError:  # a stop: the task cancelled, or its thread at its next candle (_Stopped)
            job.status, job.error = "failed", dict(STOPPED)
            job.finished_at = self.clock.now()
            raise  # ``stop`` saves it
        except TradewindError as exc:
            outcome = {"status": "failed", "error": {"code": exc.code, "message": str(exc)[:1000],
                                                     "field": getattr(exc, "field", None)}}
        except Exception as exc:  # noqa: BLE001 - a failed run is a job's status, not a server error
            log.exception("backtest %s failed", job.id)
            outcome = {"status": "failed", "error": {"code": "INTERNAL_ERROR", "message": f"{type(exc).__name__}"}}
        outcome["finished_at"] = self.clock.now()
        try:  # stored first, then shown: no client sees an outcome that a kill now would take back
            await asyncio.to_thread(self.store.save, replace(job, **outcome).as_dict())
            saved = True
        except Exception:  # noqa: BLE001 - the job keeps its outcome in memory
            log.exception("backtest %s: could not save its outcome", job.id)
            saved = False
        for key, value in outcome.items():
            setattr(job, key, value)
        if not saved:
            return
        self._jobs.pop(job.id, None)  # finished and stored: served from the store from now on
        try:
            await asyncio.to_thread(self.store.trim, self.keep)
        except Exception:  # noqa: BLE001 - trimmed after the next one
            log.exception("backtests: could not trim the store")

    async def _save(self, job: BacktestJob) -> None:
        await asyncio.to_thread(self.store.save, job.as_dict(), self.worker)


def _strategy_document(name: str, cls: type[Any]) -> dict[str, Any]:
    """A built-in strategy as a form shows it: the first line of its module's docstring and its params."""
    doc = (sys.modules[cls.__module__].__doc__ or "").strip().splitlines()
    summary = doc[0].replace("``", "") if doc else ""
    declared: Mapping[str, Param] = getattr(cls, "params", {})
    return {"name": name, "summary": summary, "uses_signals": bool(getattr(cls, "uses_signals", False)),
            "params": [{"name": key, "type": param.kind.__name__, "default": param.default, "minimum": param.minimum,
                        "maximum": param.maximum, "description": param.description}
                       for key, param in declared.items()]}
