"""bench/ml_quality.py --orders at a tiny size (12 entities of one generated set): every order has its row and the
summary its panel-orders, and the trainer sees order 1's windows in another order than order 0's, through the
in-process path and through what the stack path is handed (a stand-in for ``through_stack``: no stack here)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import ml_datasets
import ml_quality
from udfs.learn import Trainer


@pytest.fixture
def tiny(monkeypatch):
    """One real-named panel of 12 entities, in place of every set; and the order each trainer saw its windows."""
    dataset = dataclasses.replace(ml_datasets.noisy_slopes(), name="tiny")
    dataset = dataclasses.replace(dataset, entities=dataset.entities[:12])
    monkeypatch.setattr(ml_datasets, "all_sets", lambda: [dataset])
    seen: dict[int, list[str]] = {}
    train_window = Trainer.train_window

    def recorded(trainer, key, *args, **kwargs):
        seen.setdefault(id(trainer), []).append(key)
        return train_window(trainer, key, *args, **kwargs)
    monkeypatch.setattr(Trainer, "train_window", recorded)
    return dataset, seen


def _stored_and_permuted(dataset, seen):
    stored = [e.key for e in dataset.entities]
    orders = list(seen.values())
    assert orders[0] == stored
    assert orders[1] != stored and sorted(orders[1]) == sorted(stored)
    assert orders[1] == [stored[i] for i in np.random.default_rng(1).permutation(len(stored))]


def test_two_orders_in_process_print_each_order_and_train_in_each(tiny, capsys):
    dataset, seen = tiny
    assert ml_quality.main(["--in-process", "--configs", "auto", "--orders", "2"]) == 0
    out = capsys.readouterr().out
    assert len(seen) == 2  # one trainer per order
    _stored_and_permuted(dataset, seen)
    for row in ("  order 0", "  order 1", "  ratio", "  worst order", "worst set-order"):
        assert any(line.startswith(row) for line in out.splitlines()), row
    assert "(orders: " in out and "over 1.0 in" in out and "of 2 panel-orders" in out


def test_the_stack_path_is_handed_the_same_orders(tiny, monkeypatch, capsys):
    dataset, seen = tiny
    handed = []

    def through_stack(d, configs, t0=None):
        handed.append([e.key for e in d.entities])
        return {name: ml_quality.in_process(d, options, t0) for name, options in configs.items()}
    monkeypatch.setattr(ml_quality, "through_stack", through_stack)
    assert ml_quality.main(["--configs", "auto", "--orders", "2"]) == 0
    _stored_and_permuted(dataset, seen)
    assert handed == list(seen.values())


def test_one_order_prints_no_order_rows(tiny, capsys):
    assert ml_quality.main(["--in-process", "--configs", "auto"]) == 0
    out = capsys.readouterr().out
    assert "  order " not in out and "worst order" not in out and "panel-orders" not in out
