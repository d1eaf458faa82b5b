"""Windows the tests run every type on: short, constant, NaN, mixed, negative."""

import math

import numpy as np

BASE_TIME = 1_699_999_000 * 10**9


def _times(rng, n):
    steps = rng.integers(10**8, 5 * 10**9, size=n)
    return (BASE_TIME + np.cumsum(steps)).tolist()


def value_windows(seed=20240815):
    """(label, values) pairs of raw windows for types reading single values."""
    rng = np.random.default_rng(seed)
    cases = []
    for n in (0, 1, 2, 3, 4, 5, 6, 7, 12, 30):
        cases.append((f"normal{n}", rng.normal(0.0, 3.0, n).tolist()))
        cases.append((f"positive{n}", rng.lognormal(1.0, 0.7, n).tolist()))
    for n in (1, 2, 5, 30):
        cases.append((f"constant{n}", [2.5] * n))
    cases.append(("constant_tenth30", [0.1] * 30))
    cases.append(("zeros5", [0.0] * 5))
    cases.append(("ints_with_duplicates", rng.integers(-3, 4, 25).tolist()))
    cases.append(("negative", (-rng.lognormal(0.0, 1.0, 10)).tolist()))
    cases.append(("zero_and_positive", [0.0, 1.0, 2.0, 3.0]))
    cases.append(("mixed_signs_zero_mean", [-2.0, -1.0, 1.0, 2.0]))
    with_nan = rng.normal(10.0, 1.0, 20).tolist()
    with_nan[3] = with_nan[11] = math.nan
    with_nan[15] = math.inf
    cases.append(("with_nan", with_nan))
    cases.append(("all_nan", [math.nan] * 4))
    cases.append(("mixed", [1.5, "n/a", None, 2.5, True, "off", 7, "off", -3.25, False, 4.0, 11]))
    cases.append(("strings_only", ["on", "off", "standby"]))
    cases.append(("strings_duplicate", ["on", "off", "on"]))
    cases.append(("bools", [True, False, True, True]))
    cases.append(("numpy_array", rng.normal(100.0, 5.0, 15)))
    on_off = [1000.0 + rng.normal(0, 2) for _ in range(24)] + [rng.normal(0, 2) for _ in range(6)]
    rng.shuffle(on_off)
    cases.append(("on_off", on_off))
    cases.append(("on_off_spike", on_off + [4000.0]))
    cases.append(("three_levels", ([0.0] * 6 + [50.0] * 8 + [1000.0] * 16)[::-1]))
    spikes = rng.normal(5.0, 0.2, 30)
    spikes[[9, 20]] = [12.0, -4.0]
    cases.append(("spikes", spikes.tolist()))
    return [(label, values, _times(rng, len(values))) for label, values in cases]


def extreme_windows():
    """Windows at the edge of float range, where statistics overflow or underflow."""
    rng = np.random.default_rng(11)
    cases = [
        ("huge", [1e308, -1e308, 1e308, 5.0, 1e308, -1e308]),
        ("huge_positive", [1e308] * 3 + [1e307] * 4),
        ("tiny", [1e-308, 2e-308, 3e-308, 5e-324, 0.0, 1e-320]),
        ("tiny_mean", [-1e-300, 1e-300, 3.0, -3.0, 2e-300]),
        ("big_ints", [10**400, 2, 3, 4, 5, 6]),
    ]
    return [(label, values, _times(rng, len(values))) for label, values in cases]


def position_windows(seed=7):
    """(label, values, times) windows of (latitude, longitude) pairs."""
    rng = np.random.default_rng(seed)
    cases = [("empty", []), ("one", [(34.04893, -111.09373)])]
    for n in (2, 5, 20):
        lat = rng.uniform(-89, 89, n)
        lon = rng.uniform(-179, 179, n)
        cases.append((f"random{n}", list(zip(lat.tolist(), lon.tolist()))))
    cases.append(("nearby", [(34.04893, -111.09373), (34.04900, -111.09300)]))
    cases.append(("antipodes", [(10.0, 20.0), (-10.0, -160.0)]))
    cases.append(("invalid", [(34.0, -111.0), ("n/a", 1.0), (95.0, 0.0), None, (math.nan, 1.0), (35.0, -110.0)]))
    cases.append(("all_invalid", [None, "x", (200.0, 0.0)]))
    return [(label, values, _times(rng, len(values))) for label, values in cases]
