"""``Metrics``: what the service did, in Prometheus form, from the places where it happens.

One ``CollectorRegistry`` per app (never prometheus-client's global one), so two apps in one
process, as the tests run them, count apart. Every figure comes from an event that happened:

- HTTP requests: ``RequestMetrics`` (``api/request_metrics.py``) times each one, by method, route
  *template* and status class;
- LLM calls, tokens, cost and latency by model: each row the decision log stores (one per model
  call, ``storage/decisions.py``); a cost is added only when the model's price is known;
- signals by analyst, orders, fills, risk denials: the bus's ``SignalCreated``, ``OrderSubmitted``,
  ``OrderFilled`` and ``RiskDenied``;
- WebSocket clients: read from the broadcast hub when scraped;
- bus lag: how old a closed candle is when its ``CandleClosed`` reaches the bus's subscribers
  (the WebSocket bridge among them), i.e. wall time now minus the candle's close time. Only on a
  wall-clock feed: a replay's candles are history, their age says nothing about the service.

Label values that come from outside (model and analyst names, risk reasons) are ``Bounded``: the
first ``MAX_VALUES`` distinct ones are kept, later ones count as ``other``; symbols are never labels.

With several workers each process serves its own registry (prometheus-client's multiprocess mode
is not used: it needs a shared directory set before import and cannot serve live gauges such as the
WebSocket clients); a scrape through a load balancer sees one worker, so scrape each worker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tradewind.adapters.broadcast import BroadcastHub
from tradewind.analysts.decisions import Decision
from tradewind.domain.events import CandleClosed, OrderFilled, OrderSubmitted, RiskDenied, SignalCreated
from tradewind.domain.ports import EventBus

__all__ = ["MAX_VALUES", "OTHER", "Bounded", "Metrics"]

MAX_VALUES = 50
OTHER = "other"
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0)


class Bounded:
    """A label's values: the first ``limit`` distinct ones as they are (cut to 64 characters), then ``other``."""

    def __init__(self, limit: int = MAX_VALUES) -> None:
        self.limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: object) -> str:
        text = str(value)[:64] if value is not None and value != "" else "unknown"
        with self._lock:
            if text in self._seen:
                return text
            if len(self._seen) < self.limit:
                self._seen.add(text)
                return text
        return OTHER


class Metrics:
    """The app's registry and its instruments; ``watch`` connects them to a container's sources."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Histogram(
            "tradewind_http_request_duration_seconds", "HTTP requests: time to the end of the response",
            ("method", "route", "status"), buckets=_LATENCY_BUCKETS, registry=r)
        self.llm_calls = Counter("tradewind_llm_calls", "Model calls logged, by how the answer was used",
                                 ("model", "source", "outcome"), registry=r)
        self.llm_tokens = Counter("tradewind_llm_tokens", "Tokens the model reported", ("model", "kind"), registry=r)
        self.llm_cost = Counter("tradewind_llm_cost_usd", "Cost of the calls whose model has a known price",
                                ("model",), registry=r)
        self.llm_latency = Histogram("tradewind_llm_call_duration_seconds", "Model call latency", ("model",),
                                     buckets=_LATENCY_BUCKETS, registry=r)
        self.signals = Counter("tradewind_signals", "Signals stored", ("analyst", "signal", "origin"), registry=r)
        self.orders = Counter("tradewind_orders", "Orders the engine sent to its broker", ("side", "type", "status"),
                              registry=r)
        self.fills = Counter("tradewind_fills", "Fills of the engine's orders", ("side", "reason"), registry=r)
        self.risk_denials = Counter("tradewind_risk_denials", "Orders risk refused", ("reason",), registry=r)
        self.bus_lag = Histogram(
            "tradewind_bus_lag_seconds", "Age of a closed candle when its event reaches the WebSocket bridge",
            buckets=_LAG_BUCKETS, registry=r)
        self._models = Bounded()
        self._analysts = Bounded()
        self._reasons = Bounded()
        self._small = Bounded()  # engine-made values (sides, order types, fill reasons): few by construction

    def watch(self, *, bus: EventBus, hub: BroadcastHub, decisions: Any, wall_clock: bool,
              now: Callable[[], float] = time.time) -> Callable[[], None]:
        """Count what ``bus`` carries and ``decisions`` stores, read ``hub`` when scraped; returns the undo.
        On a bus shared by several workers only this worker's own events are counted (``own``), so
        summing the workers' counters counts each order, fill and signal once."""
        self.registry.register(_HubCollector(hub))
        bus = getattr(bus, "own", bus)
        undo = [bus.subscribe(SignalCreated.topic, self._on_signal),
                bus.subscribe(OrderSubmitted.topic, self._on_order),
                bus.subscribe(OrderFilled.topic, self._on_fill),
                bus.subscribe(RiskDenied.topic, self._on_risk)]
        if wall_clock:
            def on_candle(event: object) -> None:
                if isinstance(event, CandleClosed):
                    self.bus_lag.observe(max(0.0, now() - (event.candle.time + event.timeframe.seconds)))

            undo.append(bus.subscribe(CandleClosed.topic, on_candle))
        listeners = getattr(decisions, "listeners", None)
        if isinstance(listeners, list):
            listeners.append(self.on_decision)
            undo.append(lambda: listeners.remove(self.on_decision) if self.on_decision in listeners else None)

        def unwatch() -> None:
            for step in undo:
                step()

        return unwatch

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, f"{status // 100}xx").observe(seconds)

    def on_decision(self, decision: Decision) -> None:
        model = self._models(decision.model)
        outcome = "error" if decision.error else "ok"
        self.llm_calls.labels(model, decision.source, outcome).inc()
        for kind, tokens in (("prompt", decision.prompt_tokens), ("completion", decision.completion_tokens)):
            if tokens:
                self.llm_tokens.labels(model, kind).inc(tokens)
        if decision.cost_usd:
            self.llm_cost.labels(model).inc(decision.cost_usd)
        if decision.latency_ms is not None:
            self.llm_latency.labels(model).observe(decision.latency_ms / 1000)

    def _on_signal(self, event: object) -> None:
        if isinstance(event, SignalCreated):
            signal = event.signal
            self.signals.labels(self._analysts(signal.analyst), self._small(signal.signal),
                                self._small(event.origin)).inc()

    def _on_order(self, event: object) -> None:
        if isinstance(event, OrderSubmitted):
            order = event.order
            status = "accepted" if event.accepted else "rejected"
            self.orders.labels(self._small(order.side), self._small(order.type), status).inc()

    def _on_fill(self, event: object) -> None:
        if isinstance(event, OrderFilled):
            self.fills.labels(self._small(event.fill.side), self._small(event.fill.reason)).inc()

    def _on_risk(self, event: object) -> None:
        if isinstance(event, RiskDenied):
            self.risk_denials.labels(self._reasons(event.reason)).inc()


class _HubCollector(Collector):
    """The hub's live figures, read at scrape time (they are the hub's own counters, not copies)."""

    def __init__(self, hub: BroadcastHub) -> None:
        self.hub = hub

    def collect(self) -> Iterator[Metric]:
        hub = self.hub
        yield GaugeMetricFamily("tradewind_websocket_clients", "WebSocket clients connected now",
                                value=hub.stats()["clients"])
        yield CounterMetricFamily("tradewind_websocket_messages_sent", "Messages written to WebSocket clients",
                                  value=hub.messages_sent)
        yield CounterMetricFamily("tradewind_websocket_slow_clients_disconnected",
                                  "WebSocket clients cut off for falling behind", value=hub.slow_clients_disconnected)
