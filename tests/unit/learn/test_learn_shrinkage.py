"""Borrowing strength from the fleet: the fleet prior, the board, and shrunk models in the trainer."""

import numpy as np
import pytest

from udfs.learn import ModelStore, TrainConfig, Trainer, model_fields
from udfs.learn.algorithms import LinearRegression
from udfs.learn.candidate import Candidate
from udfs.learn.selection import origins, rolling_losses
from udfs.learn.shrinkage import GRID, MIN_WINDOWS, FleetPrior, grid_losses
from udfs.learn.transforms import TRANSFORMS


@pytest.fixture
def rng():
    return np.random.default_rng(77)


def fleet_of(rng, n_entities, rows, level_sd, slope_sd=0.0, noise=1.0):
    for _ in range(n_entities):
        x = rng.uniform(0, 10, rows)
        yield x[:, None], rng.normal(50, level_sd) + rng.normal(2.0, slope_sd) * x + rng.normal(0, noise, rows)


def test_fleet_slopes_are_within_entities_not_between(rng):
    prior = FleetPrior(1, TRANSFORMS[""])
    for e in range(30):
        # Bigger devices sit at higher x and far higher levels: a pooled fit would find a slope near 100.
        x = 10.0 * e + rng.uniform(0, 1, 20)
        prior.add(x[:, None], 1000.0 * e + 2.0 * x + rng.normal(0, 0.1, 20))
    assert prior.prior().coef[0] == pytest.approx(2.0, abs=0.05)


def test_levels_are_pooled_for_alike_devices_and_kept_for_different_ones(rng):
    alike, different = FleetPrior(1, TRANSFORMS[""]), FleetPrior(1, TRANSFORMS[""])
    for X, y in fleet_of(rng, 40, 12, level_sd=0.0):
        alike.add(X, y)
    for X, y in fleet_of(rng, 40, 12, level_sd=30.0):
        different.add(X, y)
    assert alike.prior().level_rows > 100
    assert different.prior().level_rows < 0.1


def test_levels_are_not_pooled_before_enough_windows(rng):
    prior = FleetPrior(1, TRANSFORMS[""])
    for X, y in fleet_of(rng, MIN_WINDOWS - 1, 12, level_sd=0.0):
        prior.add(X, y)
    assert prior.prior().level_rows == 0.0


def test_grid_losses_equal_the_generic_candidate_path(rng):
    prior_source = FleetPrior(1, TRANSFORMS[""])
    for X, y in fleet_of(rng, 20, 15, level_sd=5.0, slope_sd=0.5):
        prior_source.add(X, y)
    prior = prior_source.prior()
    X, y = next(fleet_of(rng, 1, 15, level_sd=5.0, slope_sd=0.5))
    at = origins(15, 3)
    fast = grid_losses(X, y, at, prior, TRANSFORMS[""], task="regression", metric="mae")
    for value, rows in zip(fast, GRID):
        slow = rolling_losses(Candidate(LinearRegression, (("prior_rows", rows),)), X, y, at, task="regression",
                              metric="mae", features=("x",), prior=prior, rest=True)
        assert value == pytest.approx(slow.mean(), rel=1e-9)


@pytest.mark.parametrize("blend", [0.5, 0.25])
def test_blended_grid_losses_equal_the_generic_candidate_path(rng, blend):
    prior_source = FleetPrior(2, TRANSFORMS[""])
    for _ in range(20):
        X = rng.uniform(0, 10, (15, 2))
        prior_source.add(X, rng.normal(50, 5) + X @ rng.normal([2.0, -1.0], 0.5) + rng.normal(0, 1.0, 15))
    prior = prior_source.prior()
    X = rng.uniform(0, 10, (15, 2))
    y = 40.0 + X @ np.array([2.5, -0.5]) + rng.normal(0, 1.0, 15)
    at = origins(15, 4)
    fast = grid_losses(X, y, at, prior, TRANSFORMS[""], task="regression", metric="mae", blend=blend)
    for value, rows in zip(fast, GRID):
        slow = rolling_losses(Candidate(LinearRegression, (("prior_rows", rows), ("blend", blend))), X, y, at,
                              task="regression", metric="mae", features=("a", "b"), prior=prior, rest=True)
        assert value == pytest.approx(slow.mean(), rel=1e-9)


def test_a_blended_candidate_forecasts_the_average_of_its_parts(rng):
    """The combination is one linear model: its forecast is the weighted average of the shrunk fit's and the
    entity's own least squares', at every row, new ones too."""
    prior_source = FleetPrior(1, TRANSFORMS[""])
    for X, y in fleet_of(rng, 20, 12, level_sd=5.0, slope_sd=0.3, noise=3.0):
        prior_source.add(X, y)
    prior = prior_source.prior()
    X, y = next(fleet_of(rng, 1, 12, level_sd=5.0, slope_sd=0.3, noise=3.0))
    new = np.linspace(-5, 20, 7)[:, None]

    def forecast(hyper):
        return Candidate(LinearRegression, hyper).fit(X, y, task="regression", features=("x",),
                                                      prior=prior).predict(new)
    shrunk, own = forecast((("prior_rows", 8.0),)), forecast(())
    np.testing.assert_allclose(forecast((("prior_rows", 8.0), ("blend", 0.25))), 0.75 * shrunk + 0.25 * own,
                               rtol=1e-9)
    assert not np.allclose(shrunk, own)
    with pytest.raises(ValueError, match="linear"):
        from udfs.learn.algorithms import GradientBoosting
        Candidate(GradientBoosting, (("blend", 0.5),)).fit(X, y, task="regression", features=("x",))


def test_trainer_shrinks_new_entities_towards_the_fleet_and_reports_it(rng):
    trainer = Trainer(TrainConfig(["x"], "y", shrinkage="auto"), ModelStore(), fleet_retrain_every=0)
    for e, (X, y) in enumerate(fleet_of(rng, 30, 40, level_sd=10.0, slope_sd=0.1, noise=3.0)):
        trainer.train_window(f"d{e}", {"x": X[:, 0], "y": y})
    assert trainer.fleet_prior_.windows == 30 and trainer.board_.windows == pytest.approx(29, rel=0.02)
    # A newcomer with three noisy rows: its slope lands near the fleet's 2, not wherever its noise points.
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    outcome = trainer.train_window("newcomer", {"x": x, "y": 70.0 + 2.0 * x + np.array([6.0, 3.0, 0.0, -3.0, -6.0])})
    fields = model_fields(outcome.challenger, deployed=outcome.deployed)
    assert "Shrinkage" in fields and "Levelshrinkage" in fields
    model = trainer.store.model("newcomer")
    slope = model.predict_row([10.0]) - model.predict_row([0.0])
    own = np.polyfit(x, 70.0 + 2.0 * x + np.array([6.0, 3.0, 0.0, -3.0, -6.0]), 1)[0] * 10.0
    assert abs(slope - 20.0) < abs(own - 20.0)


def test_shrinkage_state_survives_a_snapshot_and_a_bad_one_changes_nothing(rng):
    config = TrainConfig(["x"], "y", algorithm="auto")
    trainer = Trainer(config, ModelStore(), fleet_retrain_every=0)
    for e, (X, y) in enumerate(fleet_of(rng, 15, 20, level_sd=5.0)):
        trainer.train_window(f"d{e}", {"x": X[:, 0], "y": y})
    state = trainer.export_state()
    restored = Trainer(config, ModelStore(), fleet_retrain_every=0)
    restored.import_state(state)
    assert restored.export_state() == state
    np.testing.assert_array_equal(restored.fleet_prior_.prior().coef, trainer.fleet_prior_.prior().coef)
    assert restored.fleet_choice() == trainer.fleet_choice()
    broken = dict(state, fleet_prior=dict(state["fleet_prior"], gram=[[1.0, 2.0]]))
    with pytest.raises(ValueError, match="fleet prior"):
        restored.import_state(broken)
    assert restored.export_state() == state


def test_shrinkage_options_are_checked():
    assert TrainConfig("x", "y").prior_rows is None
    assert TrainConfig("x", "y", algorithm="auto").prior_rows == "auto"
    assert TrainConfig("x", "y", algorithm="auto", shrinkage="off").prior_rows is None
    assert TrainConfig("x", "y", shrinkage="0").prior_rows == 0.0
    with pytest.raises(ValueError, match="shrinkage 'auto' applies to regression"):
        TrainConfig("x", "y", islogistic=1, shrinkage="auto")
    with pytest.raises(ValueError, match="shrinkage must be"):
        TrainConfig("x", "y", shrinkage="lots")
