"""The streaming detector (udfs.detect): its contract (range, causality, state, input) and what it flags."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from udfs.detect import Detector, Params, Score

ROOT = Path(__file__).resolve().parents[3]


def noisy_sine(n: int, seed: int = 1, drift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return np.sin(2 * np.pi * t / 100) + 0.1 * rng.standard_normal(n) + drift * t / n


def scores(values, params=None) -> np.ndarray:
    det = Detector(params)
    return np.array([det.update(float(v), i * 60_000_000_000).anomaly_score for i, v in enumerate(values)])


def test_scores_lie_in_0_1_and_learning_scores_0():
    rng = np.random.default_rng(3)
    x = np.concatenate([noisy_sine(1500), rng.standard_normal(500) * 50, [1e9, -1e9, 0.0]])
    det = Detector()
    out = [det.update(float(v), i) for i, v in enumerate(x)]
    assert all(isinstance(s, Score) and 0.0 <= s.anomaly_score <= 1.0 for s in out)
    assert all(s.learning and s.anomaly_score == 0.0 for s in out[: Params().learning])
    assert all(math.isfinite(s.raw) for s in out)


def test_a_score_does_not_depend_on_later_values():
    x = noisy_sine(1200)
    base = scores(x)
    for i in (200, 700, 1100):
        y = x.copy()
        y[i + 1:] = 100.0 + np.arange(len(x) - i - 1)  # anything at all after i
        assert np.array_equal(scores(y)[: i + 1], base[: i + 1])


def test_a_restored_state_continues_exactly():
    x = noisy_sine(3000, seed=7)
    x[2200:2300] += 2.0
    whole = Detector()
    expected = [whole.update(float(v), i) for i, v in enumerate(x)]
    for cut in (10, 100, 1000, 2250):
        first = Detector()
        for i, v in enumerate(x[:cut]):
            first.update(float(v), i)
        doc = json.loads(json.dumps(first.state()))
        second = Detector.restore(doc)
        rest = [second.update(float(v), cut + i) for i, v in enumerate(x[cut:])]
        assert rest == expected[cut:], cut
        assert second.state() == whole.state()


def test_state_json_stays_under_16_kb_on_a_long_series():
    rng = np.random.default_rng(5)
    det = Detector()
    for i, v in enumerate(rng.standard_normal(20_000).cumsum()):
        det.update(float(v), i)
    size = len(json.dumps(det.state()).encode())
    assert size <= 16 * 1024, size


def test_the_largest_parameters_accepted_still_fit_16_kb():
    p = Params(window=8, context_blocks=8, memory=512)  # memory * dims = 8192, the limit
    det = Detector(p)
    for i, v in enumerate(np.random.default_rng(2).standard_normal(3000)):
        det.update(float(v), i)
    assert len(json.dumps(det.state()).encode()) <= 16 * 1024
    with pytest.raises(ValueError):
        Params(memory=513)


def test_the_same_input_gives_the_same_scores():
    x = noisy_sine(1500, seed=11)
    assert np.array_equal(scores(x), scores(x))


@pytest.mark.parametrize("kind", ["level shift", "spike", "dip"])
def test_an_anomaly_in_a_noisy_sine_scores_above_the_healthy_part(kind):
    x = noisy_sine(4000)
    if kind == "level shift":
        x[3000:] += 1.5
    elif kind == "spike":
        x[3000] += 3.0
    else:
        x[3000:3010] = -0.2  # the cycle stops, at a level inside the normal range
    s = scores(x)
    healthy = s[Params().learning:3000].max()
    assert healthy < 0.5
    assert s[3000:3020].max() >= 0.5
    assert s[3000:3020].max() > healthy


@pytest.mark.parametrize("drift", [2.0, 5.0, 20.0])
def test_a_slow_healthy_drift_is_not_flagged(drift):
    # the level climbs by `drift` (two to twenty amplitudes) over 5,000 points, the shape stays healthy
    s = scores(noisy_sine(5000, drift=drift))
    assert s[Params().learning:].max() < 0.5


def test_the_sensitivity_raises_and_lowers_scores():
    x = noisy_sine(2000)
    x[1500:] += 0.5
    low, mid, high = (scores(x, Params(sensitivity=k))[1500:1520].max() for k in (0.5, 1.0, 2.0))
    assert low < mid < high


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "abc", None, True])
def test_bad_values_raise_and_leave_the_state_as_it_was(bad):
    x = noisy_sine(600)
    det = Detector()
    for i, v in enumerate(x[:500]):
        det.update(float(v), i)
    before = json.dumps(det.state())
    with pytest.raises(ValueError):
        det.update(bad, 500)
    assert json.dumps(det.state()) == before
    clean = Detector()
    for i, v in enumerate(x[:500]):
        clean.update(float(v), i)
    assert [det.update(float(v), 500 + i) for i, v in enumerate(x[500:])] == \
        [clean.update(float(v), 500 + i) for i, v in enumerate(x[500:])]


@pytest.mark.parametrize("bad_time", [1.5, "0", None, True])
def test_a_bad_time_raises(bad_time):
    det = Detector()
    with pytest.raises(ValueError):
        det.update(1.0, bad_time)
    assert det.seen == 0


def test_bad_parameters_and_states_raise_value_errors():
    for bad in ({"window": 0}, {"hold": -1}, {"half_life": math.nan}, {"memory": 2.5}, {"nonsense": 1}):
        with pytest.raises(ValueError):
            Detector(bad)
    good = Detector().state()
    with pytest.raises(ValueError):
        Detector.restore({**good, "version": 99})
    with pytest.raises(ValueError):
        Detector.restore({k: v for k, v in good.items() if k != "record"})


def test_a_flat_series_is_never_flagged():
    assert scores(np.full(2000, 3.0)).max() == 0.0


def test_the_package_depends_on_numpy_only():
    code = ("import sys; import udfs.detect; "
            "bad = [m for m in sys.modules if m.startswith(('tickml', 'udfs.')) and not m.startswith('udfs.detect')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_bench_smoke_run_prints_scores_and_throughput():
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "nab_inprocess.py"), "--smoke"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    if done.returncode == 2 and "no NAB development split" in done.stderr:
        pytest.skip(done.stderr.strip())
    assert done.returncode == 0, done.stderr
    assert "tickml udfs.detect" in done.stdout and "numenta" in done.stdout and "ARTime" in done.stdout
    assert "leave one category out" in done.stdout and "points/s" in done.stdout
