"""engine.history: a series summarised at every resolution, checked against brute force on the raw points."""
from __future__ import annotations

import math

import numpy as np
import pytest

from engine.history import RATIO, Pyramid, thin


def series(n: int, seed: int = 0) -> np.ndarray:
    """A falling, noisy loss with a few zeros, nans and infs among it."""
    rng = np.random.default_rng(seed)
    values = np.exp(-np.arange(n) / max(n / 4, 1)) * rng.uniform(0.5, 1.5, n)
    for special in (0.0, math.nan, math.inf):
        values[rng.integers(0, n, max(n // 500, 1))] = special
    return values


def filled(values: np.ndarray, capacity: int, one_by_one: bool = False) -> Pyramid:
    """The values at iterations 1, 2, 3, ..."""
    pyramid = Pyramid(capacity)
    if one_by_one:
        for i, v in enumerate(values.tolist(), start=1):
            pyramid.append(i, v)
    else:
        for start in range(0, len(values), 997):  # as a log's blocks come: many at a time
            pyramid.extend(np.arange(start + 1, start + 1 + len(values[start:start + 997])), values[start:start + 997])
    return pyramid


def check_against_the_points(pyramid: Pyramid, values: np.ndarray, a: int, b: int, width: int) -> None:
    """Each entry is a run of consecutive points (iterations 1..n here, so an entry of `count` points centred on
    `iteration` starts at iteration - (count - 1) / 2): its min, max and mean are those of exactly these points;
    the runs follow on without a gap and cover [a, b]; at most 2 x width of them."""
    s = pyramid.query(a, b, width)
    assert 0 < len(s) <= 2 * width
    starts = s.iteration - (s.count - 1) / 2
    assert np.array_equal(starts, np.round(starts))
    starts = starts.astype(int)
    assert np.array_equal(starts[1:], starts[:-1] + s.count[:-1])  # no gap, no overlap
    assert starts[0] <= max(a, 1) and starts[-1] <= b and starts[-1] + s.count[-1] - 1 >= min(b, len(values))
    points = values[starts[0] - 1:starts[-1] - 1 + s.count[-1]]
    assert len(points) == s.count.sum()
    at = starts - starts[0]  # each entry's points, reduced straight from the raw values
    np.testing.assert_array_equal(s.low, np.fmin.reduceat(points, at))  # nan only when all are
    np.testing.assert_array_equal(s.high, np.maximum.reduceat(points, at))  # nan when any is
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(s.mean, np.add.reduceat(points, at) / s.count, rtol=1e-12)  # (summed otherwise)


@pytest.mark.parametrize("n, capacity", [(50, 8), (3000, 16), (40_000, 64), (20_000, 2048)])
def test_every_query_agrees_with_brute_force_on_the_points(n, capacity):
    values = series(n, seed=n)
    pyramid = filled(values, capacity)
    rng = np.random.default_rng(1)
    ranges = [(1, n), (0, 10 * n), (n - 5, n), (n // 3, n // 2)] + [tuple(sorted(rng.integers(1, n + 1, 2)))
                                                                   for _ in range(12)]
    for a, b in ranges:
        for width in (1, 3, 40, 150):
            check_against_the_points(pyramid, values, a, b, width)


def test_appending_one_by_one_or_in_blocks_gives_the_same_summary():
    values = series(5000)
    one, many = filled(values, 32, one_by_one=True), filled(values, 32)
    for a, b, width in ((1, 5000, 50), (4000, 4990, 20), (17, 900, 7)):
        x, y = one.query(a, b, width), many.query(a, b, width)
        for name in ("iteration", "low", "high", "mean", "count"):
            np.testing.assert_array_equal(getattr(x, name), getattr(y, name))


def test_a_short_series_comes_back_exactly():
    values = series(2 * 64)  # two levels' worth of level 0: all still there
    pyramid = filled(values, 64, one_by_one=True)
    s = pyramid.query(1, len(values), len(values))
    assert s.count.tolist() == [1] * len(values) and s.iteration.tolist() == list(range(1, len(values) + 1))
    np.testing.assert_array_equal(s.low, values)
    np.testing.assert_array_equal(s.mean, values)


def test_recent_points_stay_exact_however_long_the_series():
    values = series(100_000)
    pyramid = filled(values, 256)
    s = pyramid.query(100_000 - 99, 100_000, 100)
    assert s.count.tolist() == [1] * 100 and s.iteration.tolist() == list(range(99_901, 100_001))
    np.testing.assert_array_equal(s.low, values[-100:])


def test_a_query_takes_few_blocks_per_column_from_the_finest_level_that_holds_them():
    pyramid = filled(np.ones(200_000), 256)
    whole = pyramid.query(1, 200_000, 100)
    assert len(whole) == 100 and whole.count.sum() == 200_000
    recent = pyramid.query(199_001, 200_000, 100)  # within level 0, at most RATIO blocks a column
    assert len(recent) == 100 and recent.count.sum() <= 1000 + RATIO * 100 and recent.count.max() <= 2 * RATIO


def test_the_summary_stays_bounded_however_many_points_come():
    capacity = 2048
    pyramid = Pyramid(capacity)
    sizes = {}
    for start in range(0, 2_000_000, 10_000):
        pyramid.extend(np.arange(start + 1, start + 10_001), np.ones(10_000))
        if start + 10_000 in (1_000_000, 2_000_000):
            sizes[start + 10_000] = pyramid.stored()
    levels = math.ceil(math.log2(1_000_000 / capacity)) + 2
    assert len(pyramid) == 2_000_000
    assert sizes[1_000_000] <= 2 * capacity * levels  # blocks held, whatever the length ...
    assert sizes[2_000_000] - sizes[1_000_000] <= 2 * capacity  # ... twice the points: one level more at most


def test_a_pyramid_appended_one_by_one_stays_bounded_too():
    pyramid = Pyramid(16)
    for i in range(100_000):
        pyramid.append(i, float(i % 7))
    assert pyramid.stored() <= 2 * 16 * (math.ceil(math.log2(100_000 / 16)) + 2)
    assert (pyramid.first_iteration, pyramid.last_iteration, len(pyramid)) == (0, 99_999, 100_000)
    whole = pyramid.query(0, 99_999, 10)
    assert (whole.low.min(), whole.high.max(), whole.count.sum()) == (0.0, 6.0, 100_000)


def test_an_empty_series_or_an_empty_range_gives_nothing():
    pyramid = Pyramid(8)
    assert len(pyramid.query(0, 100, 10)) == 0 and pyramid.last_iteration is None
    pyramid.extend(np.arange(10, 20), np.ones(10))
    assert len(pyramid.query(0, 5, 10)) == 0 and len(pyramid.query(30, 20, 10)) == 0


def test_thinning_keeps_a_list_bounded_with_its_first_and_newest_points():
    points = []
    for i in range(10_000):
        points.append(i)
        thin(points, 100)
        assert len(points) <= 100 and points[0] == 0 and points[-1] == i
    assert points == sorted(points) and len(points) > 50
