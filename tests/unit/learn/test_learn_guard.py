"""The no-harm guard (udfs.learn.evidence) and the fleet's choice of a model form (trainer, selection).

What is learned from the fleet is used only where the fleet's paired evidence
shows a gain beyond noise: the guard must engage on fleets where borrowing is
right (many short noisy windows sharing coefficients) and abstain where it is
wrong (coefficients that differ by entity, little noise), small fleets and
large.
"""

import math

import numpy as np
import pytest

from udfs.learn import ModelStore, TrainConfig, Trainer
from udfs.learn.evidence import LEVEL, MIN_WINDOWS, FleetBoard, lent, t_quantile, window_ratios
from udfs.learn.candidate import Candidate
from udfs.learn.algorithms import LinearRegression
from udfs.learn.selection import base_candidate, forms
from udfs.learn.shrinkage import BLEND, GRID, FleetPrior
from udfs.learn.transforms import TRANSFORMS


def shared_noisy(rng, n, rows=8):
    """Right for shrinkage: every entity has slope 2 and a level near 50; noise 4 over an x range of 10."""
    for _ in range(n):
        x = rng.uniform(0, 10, rows)
        yield x, rng.normal(50, 2) + 2.0 * x + rng.normal(0, 4.0, rows)


def different_clean(rng, n, rows=8):
    """Wrong for shrinkage: slopes and levels differ much by entity, noise is small."""
    for _ in range(n):
        x = rng.uniform(0, 10, rows)
        yield x, rng.normal(50, 20) + rng.normal(2.0, 3.0) * x + rng.normal(0, 0.05, rows)


def train(trainer, fleet):
    for e, (x, y) in enumerate(fleet):
        trainer.train_window(f"d{e}", {"x": x, "y": y})
    return trainer


def own_least_squares(model, x, y):
    return np.allclose(model.predict_rows(np.array([[0.0], [10.0]])), np.polyval(np.polyfit(x, y, 1), [0.0, 10.0]),
                       rtol=1e-9)


def test_t_quantile_matches_the_table():
    # Student's t, one-sided: df 9 at 5 % is 1.833; df 30 at 0.5 % is 2.750; df 1e6 at 5 % is the normal 1.645.
    assert t_quantile(0.05, 9) == pytest.approx(1.833, abs=3e-3)
    assert t_quantile(0.005, 30) == pytest.approx(2.750, abs=3e-3)
    assert t_quantile(0.05, 1e6) == pytest.approx(1.645, abs=1e-3)


@pytest.mark.parametrize("level", [0.05, LEVEL])
def test_board_engages_on_noise_no_more_often_than_its_level(level):
    rng = np.random.default_rng(3)
    false_alarms = lowest_mean_below_zero = 0
    for _ in range(200):  # no option gains anything
        board = FleetBoard(["a", "b", "c"], level=level)
        for _ in range(40):
            board.add({"a": rng.normal(0, 0.3), "b": rng.normal(0, 0.3), "c": rng.normal(0, 0.3)})
        false_alarms += board.choice(["a", "b", "c"]) is not None
        lowest_mean_below_zero += min(mean for _, mean, _ in board.statistics().values()) < 0
    expected = 200 * level
    assert false_alarms <= expected + 2.6 * math.sqrt(expected * (1 - level))  # family-wise, over the 3 options
    assert lowest_mean_below_zero >= 150  # what taking the lowest mean would have done (7 in 8)


def test_board_engages_on_a_steady_gain_after_enough_windows():
    rng = np.random.default_rng(3)
    board = FleetBoard(["a", "b"])
    for _ in range(MIN_WINDOWS - 1):  # a clear gain, but fewer windows than the rule asks
        board.add({"a": -0.5 + rng.normal(0, 0.01), "b": 0.0})
    assert board.choice(["a", "b"]) is None
    for _ in range(30):
        board.add({"a": -0.1 + rng.normal(0, 0.1), "b": rng.normal(0, 0.1)})
    assert board.choice(["a", "b"]) == "a"
    assert board.passing().keys() == {"a"}


def test_the_guard_lends_the_surest_strength_and_a_passing_form_beside_it():
    """Of the strengths that pass, the one with the lowest t (not the lowest mean: the window overstates how far
    to pull); of the forms, the lowest mean, lent even where a strength gains more inside the window."""
    options = [base_candidate("regression", TRANSFORMS[""], r, BLEND) for r in (1.0, 8.0, 64.0)]
    options += forms("regression", TRANSFORMS[""], search_transforms=False)
    names = [c.name for c in options]
    board = FleetBoard(names, corrections=[1, 1, 1] + [len(options) - 3] * (len(options) - 3))
    rng = np.random.default_rng(4)
    for _ in range(60):
        board.add({names[0]: -0.04 + rng.normal(0, 0.02),    # surest
                   names[1]: -0.10 + rng.normal(0, 0.20),    # more on average, less surely
                   names[2]: -0.30 + rng.normal(0, 2.00),    # the lowest mean, noise
                   names[3]: -0.02 + rng.normal(0, 0.01),    # ridge: a small, steady gain, less than shrinkage's
                   names[4]: rng.normal(0, 0.3)})            # recency weights: noise
    stats = board.statistics()
    assert min(board.passing(), key=board.passing().get) == names[1] and stats[names[1]][2] > stats[names[0]][2]
    strength, form = lent(board, options)
    assert strength is options[0] and form is options[3]
    assert lent(board, options, shrinkable=False) == (None, options[3])


def test_the_board_scores_each_form_as_it_is_deployed_and_lends_the_form_itself():
    """``auto``'s board weighs each form averaged with the entity's own least squares (``BLEND``) where that
    average is one model, the log transforms alone; the fleet's choice is the form itself, which each entity's
    own window then judges (``selection.hedged`` averages it again where the window keeps least squares)."""
    trainer = Trainer(TrainConfig(["x"], "y", algorithm="auto"), ModelStore(), fleet_retrain_every=0)
    scored = [c.name for c in trainer.options_ if not c.shrunk]
    assert scored == [f"ridge(alpha=1.0,blend={BLEND})", f"linear(halflife=0.25,blend={BLEND})", "linear/log-lin",
                      "linear/lin-log", "linear/log-log", f"quadratic(blend={BLEND})"]
    rng = np.random.default_rng(4)
    train(trainer, regime_change(rng, 60))
    _, form = trainer.fleet_choice()
    assert form is not None and form.name == "linear(halflife=0.25)"


def test_board_state_round_trips_and_a_bad_one_is_refused():
    board = FleetBoard(["a", "b"])
    for v in (-0.2, -0.1, 0.3):
        board.add({"a": v, "b": math.nan})
    restored = FleetBoard(["a", "b"])
    restored.import_state(board.export_state())
    assert restored.statistics() == board.statistics() and "b" not in board.statistics()
    with pytest.raises(ValueError, match="options"):
        FleetBoard(["a"]).import_state(board.export_state())
    with pytest.raises(ValueError, match="finite"):
        restored.import_state(dict(board.export_state(), sum=[1.0, math.inf]))


@pytest.mark.parametrize("entities", [40, 300])
def test_guard_engages_where_entities_share_coefficients_under_much_noise(entities):
    rng = np.random.default_rng(entities)
    trainer = train(Trainer(TrainConfig(["x"], "y", algorithm="linear", shrinkage="auto"), ModelStore(),
                            fleet_retrain_every=0), shared_noisy(rng, entities))
    strength, form = trainer.fleet_choice()
    assert strength is not None and form is None
    # The guard engaged: the newest windows were fitted towards the fleet, and that predicts later rows better.
    x, y = next(shared_noisy(rng, 1, rows=16))
    outcome = trainer.train_window("late", {"x": x[:8], "y": y[:8]})
    assert outcome.challenger["hyper"]["prior_rows"] == strength
    own = np.polyval(np.polyfit(x[:8], y[:8], 1), x[8:])
    assert not np.allclose(trainer.store.model("late").predict_rows(x[8:, None]), own)


def test_borrowing_predicts_better_where_the_guard_engages():
    rng = np.random.default_rng(11)
    trainer = train(Trainer(TrainConfig(["x"], "y", algorithm="linear", shrinkage="auto"), ModelStore(),
                            fleet_retrain_every=0), shared_noisy(rng, 150))
    shrunk_errors, own_errors = [], []
    for e, (x, y) in enumerate(shared_noisy(rng, 150, rows=16)):
        trainer.train_window(f"new{e}", {"x": x[:8], "y": y[:8]})
        shrunk_errors.append(np.abs(trainer.store.model(f"new{e}").predict_rows(x[8:, None]) - y[8:]).mean())
        own_errors.append(np.abs(np.polyval(np.polyfit(x[:8], y[:8], 1), x[8:]) - y[8:]).mean())
    assert np.mean(shrunk_errors) < 0.95 * np.mean(own_errors)


@pytest.mark.parametrize("entities", [40, 300])
def test_auto_lends_a_hedge_where_entities_share_coefficients_and_gains_on_later_rows(entities):
    """Where per-entity fits overfit (8 noisy rows, one shared slope), ``auto``'s guard engages, and what it
    deploys is the shrunk forecast averaged with the entity's own least squares' (``BLEND``), at the strength
    the fleet chose before the window: it predicts the entities' later rows better than their own least squares
    does."""
    rng = np.random.default_rng(entities + 1)
    trainer = train(Trainer(TrainConfig(["x"], "y", algorithm="auto"), ModelStore(), fleet_retrain_every=0),
                    shared_noisy(rng, entities))
    assert trainer.fleet_choice()[0] is not None
    borrowed_errors, own_errors = [], []
    for e, (x, y) in enumerate(shared_noisy(rng, 100, rows=16)):
        strength, form = trainer.fleet_choice()  # the board moves with every window
        doc = trainer.train_window(f"new{e}", {"x": x[:8], "y": y[:8]}).challenger
        assert form is None and doc["hyper"]["prior_rows"] == strength and doc["hyper"]["blend"] == BLEND
        borrowed_errors.append(np.abs(trainer.store.model(f"new{e}").predict_rows(x[8:, None]) - y[8:]).mean())
        own_errors.append(np.abs(np.polyval(np.polyfit(x[:8], y[:8], 1), x[8:]) - y[8:]).mean())
    assert np.mean(borrowed_errors) < 0.97 * np.mean(own_errors)


def regime_change(rng, n, rows=12):
    """Every entity's slope moved by 1.5 (up or down) at the middle of its window: its newer rows say more."""
    for _ in range(n):
        x = rng.uniform(0, 10, rows)
        slope = np.full(rows, rng.normal(2.0, 0.3))
        slope[rows // 2:] += rng.choice([-1.5, 1.5])
        yield x, 30.0 + slope * x + rng.normal(0, 0.3, rows)


def test_a_form_the_fleet_backs_reaches_entities_whose_own_window_kept_least_squares_as_an_average():
    """The one-standard-error rule on 12 rows rarely takes a form; where it kept the base, the entity deploys
    the fleet's (linear) form averaged with its own least squares, never the form alone."""
    rng = np.random.default_rng(4)
    config = TrainConfig(["x"], "y", algorithm="auto", shrinkage="off")
    trainer = train(Trainer(config, ModelStore(), fleet_retrain_every=0), regime_change(rng, 60))
    _, form = trainer.fleet_choice()
    assert form is not None and form.name == "linear(halflife=0.25)"
    hyper = [trainer.train_window(f"new{e}", {"x": x, "y": y}).challenger["hyper"]
             for e, (x, y) in enumerate(regime_change(rng, 20))]
    assert all(h.get("halflife") == 0.25 for h in hyper), hyper
    assert any(h.get("blend") == BLEND for h in hyper)
    x = np.linspace(0, 10, 12)
    y = 30.0 + 2.0 * x + rng.normal(0, 0.3, 12)
    model = Trainer(config, ModelStore(), fleet_retrain_every=0)
    model.import_state(trainer.export_state())
    model.train_window("kept", {"x": x, "y": y})
    own = np.polyval(np.polyfit(x, y, 1), x)
    recent = Candidate(LinearRegression, (("halflife", 0.25),)).fit(x[:, None], y, task="regression",
                                                                   features=("x",)).predict(x[:, None])
    deployed = model.store.model("kept").predict_rows(x[:, None])
    assert np.allclose(deployed, recent) or np.allclose(deployed, (1 - BLEND) * recent + BLEND * own)


@pytest.mark.parametrize("entities", [15, 40, 300])
@pytest.mark.parametrize("algorithm", ["linear", "auto"])
def test_guard_abstains_where_coefficients_differ_and_noise_is_small(entities, algorithm):
    rng = np.random.default_rng(entities)
    fleet = list(different_clean(rng, entities))
    trainer = train(Trainer(TrainConfig(["x"], "y", algorithm=algorithm, shrinkage="auto"), ModelStore(),
                            fleet_retrain_every=0), fleet)
    assert trainer.fleet_choice() == (None, None)
    # Every entity's own least squares stood, its level too: nothing was borrowed.
    for e, (x, y) in enumerate(fleet):
        doc = trainer.store.document(f"d{e}")
        assert "prior_rows" not in doc["hyper"] and doc["algorithm"] == "linear" and doc["transform"] == ""
        assert own_least_squares(trainer.store.model(f"d{e}"), x, y)


def test_window_ratios_pair_each_option_with_own_least_squares_on_the_same_rows():
    rng = np.random.default_rng(5)
    prior = FleetPrior(1, TRANSFORMS[""])
    for x, y in shared_noisy(rng, 5):  # too few windows for the fleet's level to count (shrinkage.MIN_WINDOWS)
        prior.add(x[:, None], y)
    x, y = next(shared_noisy(rng, 1, rows=12))
    options = [base_candidate("regression", TRANSFORMS[""], r) for r in GRID] + forms("regression", TRANSFORMS[""], True)
    ratios = window_ratios(x[:, None], y, options, TRANSFORMS[""], task="regression", metric="mae", features=("x",),
                           prior=prior.prior())
    assert set(ratios) == {c.name for c in options}
    # Levels only, with a fleet level that counts as no rows yet, is least squares itself.
    assert ratios["linear(prior_rows=0.0)"] == pytest.approx(0.0, abs=1e-9)
    # A log of a value <= 0 brings no evidence for the log forms, and no shrinkage evidence without a prior.
    y[3] = -1.0
    ratios = window_ratios(x[:, None], y, options, TRANSFORMS[""], task="regression", metric="mae", features=("x",))
    assert set(ratios) == {"ridge(alpha=1.0)", "linear(halflife=0.25)", "linear/lin-log", "quadratic"}


def exponential_growth(rng, n, rows=12):
    """Short windows of multiplicative growth: log(y) is linear in x, for every entity."""
    for _ in range(n):
        x = np.sort(rng.uniform(0, 4, rows))
        yield x, np.exp(rng.normal(1.0, 0.3) + rng.normal(0.8, 0.05) * x + rng.normal(0, 0.05, rows))


def test_the_fleet_chooses_a_form_short_windows_cannot_and_each_entity_still_judges_it():
    rng = np.random.default_rng(8)
    config = TrainConfig(["x"], "y", algorithm="auto", shrinkage="off")
    trainer = train(Trainer(config, ModelStore(), fleet_retrain_every=0), exponential_growth(rng, 40))
    _, form = trainer.fleet_choice()
    assert form is not None and form.transform.log_target  # a log of the target (log-lin or log-log)
    # Later entities deploy it where their own windows back it ...
    deployed = [trainer.train_window(f"new{e}", {"x": x, "y": y}).challenger["transform"]
                for e, (x, y) in enumerate(exponential_growth(rng, 20))]
    assert sum(t == form.transform.name for t in deployed) >= 12, deployed  # 12-row windows alone search no form
    # ... and one whose own rows are a straight line keeps least squares (one standard error towards it).
    x = np.linspace(0, 4, 12)
    y = 10.0 + 3.0 * x + np.array([0.02, -0.01, 0.0, 0.01, -0.02, 0.01, 0.0, -0.01, 0.02, 0.0, -0.02, 0.01])
    outcome = trainer.train_window("straight", {"x": x, "y": y})
    assert outcome.challenger["algorithm"] == "linear" and outcome.challenger["transform"] == ""


def test_fleet_board_survives_a_snapshot_and_an_old_snapshot_starts_it_empty():
    rng = np.random.default_rng(2)
    config = TrainConfig(["x"], "y", algorithm="auto")
    trainer = train(Trainer(config, ModelStore(), fleet_retrain_every=0), shared_noisy(rng, 30))
    state = trainer.export_state()
    restored = Trainer(config, ModelStore(), fleet_retrain_every=0)
    restored.import_state(state)
    assert restored.export_state() == state and restored.fleet_choice() == trainer.fleet_choice()
    old = {k: v for k, v in state.items() if k != "fleet_board"} | {"shrinkage_board": {"sum": [0.0] * 8, "weight": 3}}
    fresh = Trainer(config, ModelStore(), fleet_retrain_every=0)
    fresh.import_state(old)
    assert fresh.board_.statistics() == {}
    with pytest.raises(ValueError, match="fleet board"):
        fresh.import_state(dict(state, fleet_board=dict(state["fleet_board"], sum=[0.0])))


def test_a_snapshot_whose_board_weighed_other_options_restores_with_the_board_empty():
    """A snapshot from before the options changed (shrinkage unblended: ``linear(prior_rows=8.0)``) still
    restores, models and fleet prior included; only its board's evidence, about other options, is dropped."""
    rng = np.random.default_rng(2)
    config = TrainConfig(["x"], "y", algorithm="auto")
    trainer = train(Trainer(config, ModelStore(), fleet_retrain_every=0), shared_noisy(rng, 30))
    state = trainer.export_state()
    old_names = [name.replace(f",blend={BLEND}", "") for name in state["fleet_board"]["options"]]
    assert old_names != state["fleet_board"]["options"]
    restored = Trainer(config, ModelStore(), fleet_retrain_every=0)
    restored.import_state(dict(state, fleet_board=dict(state["fleet_board"], options=old_names)))
    assert restored.board_.statistics() == {} and restored.store.document("d0") == trainer.store.document("d0")
    assert restored.export_state()["fleet_prior"] == state["fleet_prior"]
