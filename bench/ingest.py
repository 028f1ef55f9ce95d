"""Ingest throughput: ticks per second into all 7 timeframes, for 1 and 8 symbols, on one core.

Prints our batched path (how feeds deliver ticks), our tick-by-tick path, and as the baseline a
straightforward per-tick aggregator (a dict per timeframe, the usual first implementation) run on
the same ticks in the same process. Goal: >= 500,000 ticks/s.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from tradewind.domain import Timeframe
from tradewind.market.streamer import MultiTimeframeStreamer

SYMBOLS = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "ADAUSDT", "DOTUSDT", "XRPUSDT", "LINKUSDT"]
TIMEFRAMES = list(Timeframe)


def make_ticks(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    times = 1_700_000_000.0 + np.cumsum(rng.exponential(0.05, n))  # ~20 ticks/s, days of data
    prices = 65_000.0 * np.exp(np.cumsum(rng.normal(0, 2e-5, n)))
    sizes = rng.exponential(0.1, n)
    spreads = np.full(n, 0.5)
    return times, prices, sizes, spreads


class NaiveAggregator:
    """Baseline: one dict of OHLCV per timeframe, updated tick by tick."""

    def __init__(self) -> None:
        self.forming: dict[tuple[str, int], list[float]] = {}
        self.closed: list[tuple[str, int, list[float]]] = []

    def tick(self, symbol: str, ts: float, price: float, size: float) -> None:
        for tf in TIMEFRAMES:
            sec = tf.seconds
            start = int(ts // sec) * sec
            key = (symbol, sec)
            bar = self.forming.get(key)
            if bar is None or bar[0] != start:
                if bar is not None:
                    self.closed.append((symbol, sec, bar))
                self.forming[key] = [start, price, price, price, price, size]
            else:
                bar[2] = max(bar[2], price)
                bar[3] = min(bar[3], price)
                bar[4] = price
                bar[5] += size


def run(symbols: list[str], n_per_symbol: int, batch: int) -> dict[str, float]:
    data = {s: make_ticks(n_per_symbol, i) for i, s in enumerate(symbols)}
    total = n_per_symbol * len(symbols)

    streamer = MultiTimeframeStreamer(symbols, TIMEFRAMES, buffer_size=1000)
    start = time.perf_counter()
    for i in range(0, n_per_symbol, batch):
        for s in symbols:
            t, p, v, sp = data[s]
            streamer.ingest_ticks(s, t[i:i + batch], p[i:i + batch], v[i:i + batch], sp[i:i + batch])
    batched = total / (time.perf_counter() - start)

    per_tick_n = min(n_per_symbol, 100_000)
    lists = {s: (data[s][0][:per_tick_n].tolist(), data[s][1][:per_tick_n].tolist(), data[s][2][:per_tick_n].tolist()) for s in symbols}
    streamer = MultiTimeframeStreamer(symbols, TIMEFRAMES, buffer_size=1000)
    start = time.perf_counter()
    for s in symbols:
        ts, ps, vs = lists[s]
        ingest = streamer.ingest_tick
        for j in range(per_tick_n):
            ingest(s, ts[j], ps[j], vs[j], 0.5)
    single = per_tick_n * len(symbols) / (time.perf_counter() - start)

    naive = NaiveAggregator()
    start = time.perf_counter()
    for s in symbols:
        ts, ps, vs = lists[s]
        for j in range(per_tick_n):
            naive.tick(s, ts[j], ps[j], vs[j])
    baseline = per_tick_n * len(symbols) / (time.perf_counter() - start)
    return {"batched": batched, "per_tick": single, "baseline": baseline}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ticks", type=int, default=2_000_000, help="ticks per run (split across symbols)")
    parser.add_argument("--batch", type=int, default=1000, help="ticks per ingest_ticks call")
    args = parser.parse_args()
    print(f"ingest into {len(TIMEFRAMES)} timeframes, batch={args.batch}, one process (one core)")
    print(f"{'symbols':>8} {'batched ticks/s':>16} {'per-tick ticks/s':>17} {'baseline ticks/s':>17} {'batched/baseline':>17} {'goal >=500k (batched, per-tick)':>32}")
    for symbols in (SYMBOLS[:1], SYMBOLS):
        r = run(symbols, args.ticks // len(symbols), args.batch)
        ok = ", ".join("met" if r[k] >= 500_000 else "NOT met" for k in ("batched", "per_tick"))
        print(f"{len(symbols):>8} {r['batched']:>16,.0f} {r['per_tick']:>17,.0f} {r['baseline']:>17,.0f} {r['batched'] / r['baseline']:>16.1f}x {ok:>32}")


if __name__ == "__main__":
    main()
