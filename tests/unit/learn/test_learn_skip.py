"""Windows judged already are skipped: history replayed again trains no window twice."""

import numpy as np
import pytest

from udfs.learn import ModelStore, TrainConfig, Trainer

FEATURES = ("a", "b")
SECOND = 10**9


def stream(rng, seconds, noise=0.5):
    """One reading a second of an entity whose y = 3a - 2b + 7, with noise."""
    X = rng.uniform(1.0, 5.0, size=(seconds, 2))
    y = 7.0 + X @ np.array([3.0, -2.0]) + rng.normal(0, noise, seconds)
    return np.arange(seconds) * SECOND, X, y


def windows(times, X, y, period=60, every=20, since=0):
    """Kapacitor's aligned sliding windows over the rows from ``since``: (end, columns, times) each."""
    keep = times >= since * SECOND
    times, X, y = times[keep], X[keep], y[keep]
    out = []
    for end in range(every, int(times[-1] // SECOND) + 1, every):
        inside = (times >= (end - period) * SECOND) & (times < end * SECOND)
        if inside.any():
            out.append((end, {"a": X[inside, 0], "b": X[inside, 1], "y": y[inside]}, times[inside]))
    return out


def trainer(store):
    return Trainer(TrainConfig(FEATURES, "y"), store, fleet_retrain_every=0, wall_clock=lambda: 1.7e9)


def documents(store):
    return {k: {f: v for f, v in store.document(k).items() if f != "created"} for k in store.keys()}


def test_windows_in_time_order_are_never_skipped(rng=np.random.default_rng(1)):
    t = trainer(ModelStore())
    outcomes = [t.train_window("d", cols, times=ts).status for _, cols, ts in windows(*stream(rng, 600))]
    assert "skipped" not in outcomes and len(outcomes) == 29  # the window ending at 600 s stays open
    doc = t.store.document("d")
    assert doc["windows"] == 29 and doc["windows_until"] == 579 * SECOND


def test_a_window_of_rows_seen_already_changes_nothing():
    rng = np.random.default_rng(2)
    t = trainer(ModelStore())
    all_windows = windows(*stream(rng, 200))
    for _, cols, ts in all_windows:
        t.train_window("d", cols, times=ts)
    before = t.store.document("d")
    # Each window again, and a window holding only the older part of one (a chunk's lead-in).
    _, cols, ts = all_windows[-1]
    again = [t.train_window("d", c, times=s).status for _, c, s in all_windows]
    part = t.train_window("d", {k: v[:20] for k, v in cols.items()}, times=ts[:20])
    assert set(again) == {"skipped"} and part.status == "skipped"
    assert t.store.document("d") == before
    assert t.counts_["skipped"] == len(all_windows) + 1


def test_a_kept_champion_records_the_window_it_judged():
    rng = np.random.default_rng(3)
    t = trainer(ModelStore())
    times, X, y = stream(rng, 120, noise=0.01)
    first = {"a": X[:60, 0], "b": X[:60, 1], "y": y[:60]}
    t.train_window("d", first, times=times[:60])
    # Noise in the training part only: the challenger loses, the champion stays.
    y2 = y[60:].copy()
    y2[:45] += rng.normal(0, 30, 45)
    outcome = t.train_window("d", {"a": X[60:, 0], "b": X[60:, 1], "y": y2}, times=times[60:])
    assert outcome.status == "kept"
    doc = t.store.document("d")
    assert doc["version"] == 1 and doc["windows"] == 2 and doc["windows_until"] == times[-1]
    assert doc["until"] == times[59]  # the model itself is still the one fitted on the first window


def test_a_document_without_windows_until_skips_by_until():
    rng = np.random.default_rng(4)
    t = trainer(ModelStore())
    (_, cols, ts), = windows(*stream(rng, 61), period=60, every=60)
    t.train_window("d", cols, times=ts)
    old = t.store.document("d")
    del old["windows_until"], old["windows"]
    t.store.put(old)  # as a tickml before the field wrote it
    assert t.train_window("d", cols, times=ts).status == "skipped"


@pytest.mark.parametrize("stop_at", [120, 300, 460])
def test_history_replayed_in_chunks_with_lead_ins_ends_as_one_run(stop_at):
    """A backfill's chunks each start a window's length early: the windows of the lead-in come again, partly."""
    rng = np.random.default_rng(5)
    data = stream(rng, 600)
    whole = trainer(ModelStore())
    for _, cols, ts in windows(*data):
        whole.train_window("d", cols, times=ts)
    chunked = trainer(ModelStore())
    first = [w for w in windows(*data) if w[0] <= stop_at]
    # The second chunk replays from a window's length before the stop: its first windows hold part of their rows.
    second = windows(*data, since=stop_at - 60)
    statuses = [chunked.train_window("d", c, times=s).status for _, c, s in first + second]
    assert documents(chunked.store) == documents(whole.store)
    assert statuses.count("skipped") == len([w for w in second if w[0] <= stop_at])
    assert chunked.counts_["deployed"] + chunked.counts_["kept"] == whole.counts_["deployed"] + whole.counts_["kept"]
