"""The analysts' short means are numpy's, to the last bit."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tradewind.analysis.means import mean, weighted_mean

finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_subnormal=True)


@settings(max_examples=600)
@given(values=st.lists(finite, min_size=1, max_size=12))
def test_mean_is_numpys(values: list[float]) -> None:
    assert mean(values) == float(np.mean(values))


@settings(max_examples=600)
@given(pairs=st.lists(st.tuples(finite, st.floats(min_value=0.01, max_value=10)), min_size=1, max_size=12))
def test_weighted_mean_is_numpys(pairs: list[tuple[float, float]]) -> None:
    values, weights = [v for v, _ in pairs], [w for _, w in pairs]
    assert weighted_mean(values, weights) == float(np.average(values, weights=weights))


@given(flags=st.lists(st.booleans(), min_size=1, max_size=7))
def test_a_share_of_flags_is_numpys(flags: list[bool]) -> None:
    assert mean(flags) == float(np.mean(flags))
