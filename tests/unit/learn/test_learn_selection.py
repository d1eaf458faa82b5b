"""auto: rolling-origin error inside the window, the one-standard-error rule, what is searched when."""

import numpy as np
import pytest

from udfs.learn import ModelStore, TrainConfig, Trainer
from udfs.learn.algorithms import LinearRegression, QuadraticRegression
from udfs.learn.candidate import Candidate
from udfs.learn.selection import (
    FLEXIBLE_MIN_ROWS, FORM_MIN_ROWS, base_candidate, candidates, one_standard_error, origins, rolling_losses,
    search,
)
from udfs.learn.transforms import TRANSFORMS


@pytest.fixture
def rng():
    return np.random.default_rng(2024)


@pytest.mark.parametrize("n", [4, 8, 15, 30, 500, 8000])
def test_origins_are_bounded_sorted_and_leave_rows_to_predict(n):
    at = origins(n, first=3)
    assert len(at) <= 8 and list(at) == sorted(set(at))
    assert all(3 <= m < n for m in at) and (len(at) == 0 or at[0] >= n / 2)


def test_rolling_losses_refit_before_each_origin_and_predict_up_to_the_next(rng):
    X = rng.random((20, 1))
    y = 2.0 * X[:, 0] + rng.normal(0, 0.1, 20)
    at = np.array([10, 15])
    losses = rolling_losses(Candidate(LinearRegression), X, y, at, task="regression", metric="mae", features=("x",))
    for loss, (m, end) in zip(losses, [(10, 15), (15, 20)]):
        beta = np.polyfit(X[:m, 0], y[:m], 1)
        assert loss == pytest.approx(np.mean(np.abs(y[m:end] - np.polyval(beta, X[m:end, 0]))), rel=1e-9)


def test_one_standard_error_prefers_the_first_candidate_within_noise():
    noisy_best = np.array([1.0, 3.0, 1.0, 3.0])
    simple = np.array([2.0, 2.0, 2.0, 2.1])
    assert one_standard_error([simple, noisy_best]) == 0
    assert one_standard_error([simple + 5.0, noisy_best]) == 1


def test_small_windows_search_only_the_base_model():
    base = base_candidate("regression", TRANSFORMS[""])
    assert candidates("regression", base, FORM_MIN_ROWS - 1, modelruns=10, seed=0, search_transforms=True) == [base]
    names = [c.name for c in candidates("regression", base, FLEXIBLE_MIN_ROWS, modelruns=10, seed=0,
                                        search_transforms=True)]
    assert names[0] == "linear" and "gradient_boosting" in names and "neural_network" in names and len(names) == 10
    assert len(candidates("regression", base, FLEXIBLE_MIN_ROWS, modelruns=3, seed=0, search_transforms=True)) == 3


def test_fixed_transformtype_is_not_searched():
    base = base_candidate("regression", TRANSFORMS["log-log"])
    found = candidates("regression", base, 50, modelruns=10, seed=0, search_transforms=False)
    assert {c.transform.name for c in found} == {"log-log"}


def test_search_takes_the_curve_when_the_data_bend_and_mostly_the_line_when_they_do_not(rng):
    found = candidates("regression", Candidate(LinearRegression), 60, modelruns=10, seed=0, search_transforms=True)
    curved = straight = 0
    for _ in range(40):
        X = np.sort(rng.uniform(1, 3, 60))[:, None]
        chosen, _ = search(found, X, 5 + 4 * X[:, 0] ** 2 + rng.normal(0, 0.05, 60), task="regression",
                           metric="mae", features=("x",))
        curved += chosen.algorithm is QuadraticRegression
        chosen, _ = search(found, X, 5 + 4 * X[:, 0] + rng.normal(0, 0.05, 60), task="regression", metric="mae",
                           features=("x",))
        straight += chosen.name == "linear"
    # One standard error lets an alternative win by chance now and then, never by much.
    assert curved == 40 and straight >= 30, (curved, straight)  # 91 to 95 % of 200 such windows here


def test_auto_on_a_small_window_fleet_deploys_plain_least_squares(rng):
    # A fleet of 12-row windows whose truth is linear: auto must not chase noise.
    trainer = Trainer(TrainConfig(["x"], "y", algorithm="auto", shrinkage="off"), ModelStore(), fleet_retrain_every=0)
    for e in range(40):
        x = rng.uniform(0, 10, 12)
        y = rng.normal(50, 5) + rng.normal(2, 0.5) * x + rng.normal(0, 1.0, 12)
        outcome = trainer.train_window(f"d{e}", {"x": x, "y": y})
        assert outcome.challenger["algorithm"] == "linear" and outcome.challenger["transform"] == ""
        beta = np.polyfit(x, y, 1)
        np.testing.assert_allclose(trainer.store.model(f"d{e}").predict_rows(np.array([[0.0], [10.0]])),
                                   np.polyval(beta, [0.0, 10.0]), rtol=1e-9)


def test_auto_is_seeded(rng):
    X = rng.random((160, 2))
    y = np.where(X[:, 0] > 0.5, 4.0, 1.0) + 0.01 * rng.normal(size=160)
    columns = {"a": X[:, 0], "b": X[:, 1], "y": y}
    docs = []
    for _ in range(2):
        trainer = Trainer(TrainConfig(["a", "b"], "y", algorithm="auto", modelruns=10, seed=4), ModelStore(),
                          fleet_retrain_every=0, wall_clock=lambda: 0.0)
        docs.append(trainer.train_window("d", columns).challenger)
    assert docs[0] == docs[1]
    assert docs[0]["algorithm"] in ("gradient_boosting", "neural_network")
