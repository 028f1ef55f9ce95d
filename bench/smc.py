"""Smart-money structure throughput: every detector on 100k and 1M one-minute candles.

Prints our ``compute_structure`` time at 100k and 1M candles and their ratio (linear is 10x; the
goal is <= 12x and under 1 s at 1M), the numba first-call time (JIT compile, or loading the
on-disk cache) apart, and as the baseline the ``smartmoneyconcepts`` package (swing_highs_lows,
fvg, bos_choch, ob, liquidity) on the same candles. The baseline grows faster than linearly, so it
runs at 100k by default and at 1M only with ``--full-baseline``; only measured figures are printed.

Candles: the real ETH/BTC one-minute file of tests/data (14,397 candles), stitched end to end with
every other copy mirrored in price, each copy shifted to open at the previous copy's close, so
prices stay continuous and trend-free. ``--source synthetic`` uses the synthetic market instead.

``--compare`` prints instead the agreement counts between our detectors and the package's on the
two real files, the figures quoted in docs/structure.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tradewind.analysis.structure import StructureArrays, compute_structure
from tradewind.domain.bars import Bars

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
T0 = 1_600_000_020 // 60 * 60


def load_freqtrade(name: str) -> Bars:
    rows = np.array(json.loads((DATA / name).read_text()), dtype=np.float64)
    n = len(rows)
    return Bars((rows[:, 0] // 1000).astype(np.int64), *(rows[:, j].copy() for j in range(1, 6)), np.full(n, np.nan))


def stitched(n: int) -> Bars:
    """``n`` one-minute candles from copies of the real file, alternately mirrored, continuous in price."""
    src = load_freqtrade("ETH_BTC-1m.json")
    cols: list[list[np.ndarray]] = [[], [], [], [], []]
    last_close, have, copy = float(src.open[0]), 0, 0
    while have < n:
        o, h, l, c = src.open, src.high, src.low, src.close
        if copy % 2:
            o, h, l, c = -o, -l, -h, -c
        shift = last_close - o[0]
        for k, col in enumerate((o, h, l, c)):
            cols[k].append(col + shift)
        cols[4].append(src.volume)
        last_close = float(c[-1] + shift)
        have += len(src)
        copy += 1
    o, h, l, c, v = (np.concatenate(col)[:n] for col in cols)
    return Bars(T0 + 60 * np.arange(n, dtype=np.int64), o, h, l, c, v, np.full(n, np.nan))


def synthetic(n: int) -> Bars:
    from tradewind.market.feeds.synthetic import SyntheticFeed

    return SyntheticFeed(7).base_history("BTCUSDT", T0, T0 + 60 * n)


def best_of(runs: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def run_baseline(bars: Bars, swing_length: int) -> dict[str, float]:
    import pandas as pd

    with contextlib.redirect_stdout(io.StringIO()):  # the package prints a banner on import
        from smartmoneyconcepts import smc
    frame = pd.DataFrame({"open": bars.open, "high": bars.high, "low": bars.low, "close": bars.close,
                          "volume": bars.volume})
    out: dict[str, float] = {}
    start = time.perf_counter()
    swings = smc.swing_highs_lows(frame, swing_length=swing_length)
    out["swing_highs_lows"] = time.perf_counter() - start
    for name, call in (
        ("fvg", lambda: smc.fvg(frame)),
        ("bos_choch", lambda: smc.bos_choch(frame, swings)),
        ("ob", lambda: smc.ob(frame, swings)),
        ("liquidity", lambda: smc.liquidity(frame, swings)),
    ):
        start = time.perf_counter()
        call()
        out[name] = time.perf_counter() - start
    return out


def bench(args: argparse.Namespace) -> None:
    make = synthetic if args.source == "synthetic" else stitched
    sizes = (100_000, 1_000_000)
    data = {n: make(n) for n in sizes}
    print(f"candles: {args.source}, swing_length={args.swing_length}")
    start = time.perf_counter()
    compute_structure(data[sizes[0]].slice(0, 1000), swing_length=args.swing_length)
    print(f"numba first call (JIT compile or cache load, excluded below): {time.perf_counter() - start:.2f} s")
    ours = {n: best_of(args.runs, lambda n=n: compute_structure(data[n], swing_length=args.swing_length))
            for n in sizes}
    for n in sizes:
        print(f"ours {n:>9,} candles: {ours[n]:.3f} s  ({n / ours[n] / 1e6:.1f} M candles/s, best of {args.runs})")
    ratio = ours[sizes[1]] / ours[sizes[0]]
    print(f"ours 1M / 100k: {ratio:.1f}x (linear = 10x, goal <= 12x); "
          f"1M under 1 s: {'yes' if ours[sizes[1]] < 1 else 'NO'}")
    baseline_sizes = sizes if args.full_baseline else sizes[:1]
    for n in baseline_sizes:
        parts = run_baseline(data[n], args.swing_length)
        total = sum(parts.values())
        detail = ", ".join(f"{k} {v:.2f}" for k, v in parts.items())
        print(f"smartmoneyconcepts {n:>9,} candles: {total:.2f} s measured ({detail}); "
              f"ours is {total / ours[n]:.0f}x faster")
    if not args.full_baseline:
        print("smartmoneyconcepts at 1,000,000 candles: not run (pass --full-baseline; it takes minutes)")


def compare(args: argparse.Namespace) -> None:
    """Agreement counts with the package on the real files (the figures of docs/structure.md)."""
    import pandas as pd

    with contextlib.redirect_stdout(io.StringIO()):
        from smartmoneyconcepts import smc
    for name in ("ETH_BTC-5m.json", "ETH_BTC-1m.json"):
        bars = load_freqtrade(name)
        a = compute_structure(bars, swing_length=args.swing_length)
        frame = pd.DataFrame({"open": bars.open, "high": bars.high, "low": bars.low, "close": bars.close,
                              "volume": bars.volume})
        print(f"== {name}: {len(bars)} candles, swing_length={args.swing_length}")
        compare_gaps(bars, a, smc.fvg(frame))
        swings = smc.swing_highs_lows(frame, swing_length=args.swing_length)
        compare_swings(a, swings, args.swing_length)
        compare_breaks(a, smc.bos_choch(frame, swings))
        compare_blocks(a, smc.ob(frame, swings))
        compare_pools(a, smc.liquidity(frame, swings))


def compare_gaps(bars: Bars, a: StructureArrays, theirs: object) -> None:
    fvg = theirs["FVG"].to_numpy()  # type: ignore[index]
    at = np.flatnonzero(~np.isnan(fvg))
    ours = np.flatnonzero(a.fvg_dir)
    middle = ours - 1
    colour = np.sign(bars.close[middle] - bars.open[middle])
    agree = ours[colour == a.fvg_dir[ours]]
    doji = int(np.count_nonzero(colour == 0))
    print(f"  fvg: ours {len(ours)} (bull {int((a.fvg_dir == 1).sum())}, bear {int((a.fvg_dir == -1).sum())}), "
          f"theirs {len(at)}; same formation (their middle-candle index + 1) {len(np.intersect1d(at + 1, agree))}; "
          f"ours only: {len(ours) - len(agree)} (middle candle doji {doji}, opposite colour {len(ours) - len(agree) - doji}); "
          f"theirs only: {len(np.setdiff1d(at + 1, ours))}")
    top_ok = np.array_equal(theirs["Top"].to_numpy()[at], a.fvg_top[at + 1])  # type: ignore[index]
    bottom_ok = np.array_equal(theirs["Bottom"].to_numpy()[at], a.fvg_bottom[at + 1])  # type: ignore[index]
    print(f"       top/bottom identical (float64) on all shared gaps: {top_ok and bottom_ok}")
    their_bar = theirs["MitigatedIndex"].to_numpy()[at].astype(np.int64)  # type: ignore[index]
    our_of = {gap: bar for bar, gap in a.fvg_mitigations.tolist()}
    our_bar = np.array([our_of.get(int(i) + 1, 0) for i in at], dtype=np.int64)
    same = int(np.count_nonzero(our_bar == their_bar))
    later = int(np.count_nonzero((our_bar > their_bar) & (their_bar > 0)))
    never = int(np.count_nonzero((our_bar == 0) & (their_bar > 0)))
    print(f"       mitigation bar on shared gaps: same {same}, ours later {later} (edge touch before a trade inside), "
          f"touched but never traded inside {never}, neither {int(np.count_nonzero((our_bar == 0) & (their_bar == 0)))}")


def compare_swings(a: StructureArrays, theirs: object, length: int) -> None:
    hl = theirs["HighLow"].to_numpy()  # type: ignore[index]
    n = len(hl)
    ours_h = set(a.swing_high_pivot[a.swing_high_pivot >= 0].tolist())
    ours_l = set(a.swing_low_pivot[a.swing_low_pivot >= 0].tolist())
    their_h = set(np.flatnonzero(hl == 1).tolist())
    their_l = set(np.flatnonzero(hl == -1).tolist())
    edge = {0, n - 1}
    print(f"  swings (by pivot bar): highs ours {len(ours_h)} theirs {len(their_h)} shared {len(ours_h & their_h)}; "
          f"lows ours {len(ours_l)} theirs {len(their_l)} shared {len(ours_l & their_l)}; "
          f"their first/last bar forced to a swing: {len((their_h | their_l) & edge)}; "
          f"theirs within the last {length} bars (not yet confirmable): "
          f"{len([p for p in their_h | their_l if n - 1 - length < p < n - 1])}")


def compare_breaks(a: StructureArrays, theirs: object) -> None:
    bos, choch = theirs["BOS"].to_numpy(), theirs["CHOCH"].to_numpy()  # type: ignore[index]
    broken = theirs["BrokenIndex"].to_numpy()  # type: ignore[index]
    rows = np.flatnonzero(~np.isnan(bos) | ~np.isnan(choch))
    ours = np.flatnonzero((a.bos != 0) | (a.choch != 0))
    their_break_bars = set(broken[rows].astype(np.int64).tolist())
    print(f"  bos/choch: ours {len(ours)} (BOS {int(np.count_nonzero(a.bos))}, CHoCH {int(np.count_nonzero(a.choch))}), "
          f"theirs {len(rows)} (BOS {int(np.count_nonzero(~np.isnan(bos)))}, CHoCH {int(np.count_nonzero(~np.isnan(choch)))}); "
          f"their rows placed before their own break bar: {int(np.count_nonzero(broken[rows] > rows))}; "
          f"their break bars that are also ours: {len(their_break_bars & set(ours.tolist()))}")


def compare_blocks(a: StructureArrays, theirs: object) -> None:
    ob = theirs["OB"].to_numpy()  # type: ignore[index]
    rows = np.flatnonzero(~np.isnan(ob))
    ours = set(a.ob_candle[a.ob_candle >= 0].tolist())
    print(f"  order blocks (by candle): ours {len(ours)}, theirs {len(rows)} (after their own removals), "
          f"same candle {len(ours & set(rows.tolist()))}")


def compare_pools(a: StructureArrays, theirs: object) -> None:
    liq = theirs["Liquidity"].to_numpy()  # type: ignore[index]
    swept = theirs["Swept"].to_numpy()  # type: ignore[index]
    rows = np.flatnonzero(~np.isnan(liq))
    ours = len(set(a.pool_high_id[a.pool_high_id >= 0].tolist())) + len(set(a.pool_low_id[a.pool_low_id >= 0].tolist()))
    print(f"  liquidity: our pools {ours}, sweeps {int(np.count_nonzero(a.pool_ends[:, 3]))}, runs "
          f"{int(np.count_nonzero(a.pool_ends[:, 3] == 0))}; their pools {len(rows)} "
          f"(range 1% of the whole series' high-low), with a swept bar {int(np.count_nonzero(swept[rows] > 0))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", choices=["eth", "synthetic"], default="eth")
    parser.add_argument("--swing-length", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--full-baseline", action="store_true", help="also run smartmoneyconcepts on 1M candles")
    parser.add_argument("--compare", action="store_true", help="print agreement counts on the real files instead")
    args = parser.parse_args()
    compare(args) if args.compare else bench(args)


if __name__ == "__main__":
    main()
