"""Per-entity learning judged through the real stack: bench/ml_quality.py's replay, checked.

The replay writes each entity's training rows to Kapacitor, a stream task
windows them into ``@train()``, later rows go through ``@predict()`` and the
predictions are read back from InfluxDB (see ``bench/ml_quality.py``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import ml_datasets
import ml_quality

pytestmark = pytest.mark.stack


def _small(dataset: ml_datasets.DataSet, entities: int) -> ml_datasets.DataSet:
    return dataclasses.replace(dataset, entities=dataset.entities[:entities])


def test_deployed_model_is_least_squares_on_the_whole_window(stack):
    dataset = _small(ml_datasets.clean_slopes(), 6)
    result = ml_quality.through_stack(dataset, {"linear": {"algorithm": "linear"}})["linear"]
    whole = ml_quality.per_entity_ls(dataset)
    first_part = ml_quality.first_part_ls(dataset)
    for e, predicted, expected, before in zip(dataset.entities, result.predicted, whole, first_part):
        np.testing.assert_allclose(predicted, expected, rtol=1e-9, err_msg=e.key)
        assert not np.allclose(predicted, before, rtol=1e-6)  # not the fit on the first 75 % any more
        trained = result.trained[e.key]
        assert trained["Status"] == "deployed" and trained["Trainingrows"] == dataset.train_rows
        assert trained["Holdoutrows"] == dataset.train_rows // 4


def test_auto_on_a_small_window_fleet_picks_plain_least_squares(stack):
    # 12-row windows of devices whose truth is a line with noise: nothing more flexible is taken.
    dataset = _small(ml_datasets.alike(), 40)
    result = ml_quality.through_stack(dataset, {"auto": {"algorithm": "auto", "shrinkage": "off"}})["auto"]
    assert len(result.trained) == 40
    assert {(t["MachineLearningAlgorithm"], t["Transformtype"]) for t in result.trained.values()} == \
        {("Linear Regression", "")}
    for predicted, expected in zip(result.predicted, ml_quality.per_entity_ls(dataset)):
        np.testing.assert_allclose(predicted, expected, rtol=1e-9)


def test_stack_and_in_process_replays_give_the_same_predictions(stack):
    # Shrinkage on: the fleet's prior and its evidence depend on the order
    # windows arrive in, so this also checks Kapacitor keeps that order. 60 entities: on 30 the fleet's
    # evidence of a gain is too thin for the no-harm guard (udfs/learn/evidence.py), and nothing borrows.
    dataset = _small(ml_datasets.noisy_slopes(), 60)
    configs = {"auto": {"algorithm": "auto"}, "linear": {"algorithm": "linear"}}
    t0 = ml_quality.base_time(dataset)
    stacked = ml_quality.through_stack(dataset, configs, t0)
    for name, options in configs.items():
        local = ml_quality.in_process(dataset, options, t0)
        for e, a, b in zip(dataset.entities, stacked[name].predicted, local.predicted):
            np.testing.assert_allclose(a, b, rtol=1e-9, err_msg=f"{name} {e.key}")
        assert ml_quality.mae(dataset, stacked[name].predicted) == pytest.approx(
            ml_quality.mae(dataset, local.predicted), rel=1e-12)
    shrunk = [t for t in stacked["auto"].trained.values() if (t["Shrinkage"] or 0) > 0 or (t["Levelshrinkage"] or 0) > 0]
    assert shrunk, "no window borrowed from the fleet"
