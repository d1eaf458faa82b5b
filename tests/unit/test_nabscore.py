"""NAB's scoring (bench/nabscore.py): hand-made cases, and the published scores of the development split."""

from __future__ import annotations

import datetime as dt

import pytest

import nabscore
from nabscore import PROFILES, scaled_sigmoid, score_set

T0 = dt.datetime(2026, 1, 1)
STANDARD = PROFILES["standard"]


def series(scores: list[float]):
    return [T0 + dt.timedelta(minutes=5 * i) for i in range(len(scores))], scores


def one_window(scores: list[float], profile=STANDARD) -> dict:
    times, _ = series(scores)
    return score_set({"f": (times, scores)}, {"f": [(times[50], times[59])]}, profile)


def test_nothing_detected_scores_0_and_every_window_at_its_left_edge_100():
    assert one_window([0.0] * 100)["score"] == 0.0
    assert one_window([1.0 if i == 50 else 0.0 for i in range(100)])["score"] == pytest.approx(100.0)


def test_a_late_detection_is_worth_less_and_a_false_one_costs_the_fp_weight():
    late = one_window([1.0 if i == 57 else 0.0 for i in range(100)])
    assert late["score"] == pytest.approx(100 * (1 + scaled_sigmoid(-3 / 10) / scaled_sigmoid(-1)) / 2)
    # A false detection right after the window costs nearly nothing; far after it, the whole FP weight.
    near = one_window([1.0 if i in (50, 60) else 0.0 for i in range(100)])
    far = one_window([1.0 if i in (50, 99) else 0.0 for i in range(100)])
    assert near["score"] > far["score"] == pytest.approx(100 * (2 - STANDARD.fp) / 2)
    # Probationary rows (the first 15) are not scored: a detection there costs nothing.
    early = one_window([1.0 if i in (3, 50) else 0.0 for i in range(100)])
    assert early["score"] == pytest.approx(100.0)


def test_the_threshold_is_one_for_the_set_and_the_profiles_weigh_misses_and_false_alarms():
    noisy = [0.9 if i % 10 == 0 else 0.0 for i in range(100)]
    noisy[50] = 0.95
    got = one_window(noisy)
    assert got["threshold"] == 0.95  # lower would add false detections at every tenth row
    assert one_window(noisy, PROFILES["reward_low_FN_rate"])["score"] == pytest.approx(100.0)
    assert one_window(noisy, PROFILES["reward_low_FP_rate"])["threshold"] == 0.95


@pytest.mark.skipif(not (nabscore.nab_dev_folder() / "combined_windows.json").exists(),
                    reason="no NAB development split here (../shared/nab-dev or TICKML_NAB_DEV)")
@pytest.mark.parametrize("detector", ["numenta", "windowedGaussian"])
def test_the_published_detectors_score_as_nab_published_them(detector):
    folder = nabscore.nab_dev_folder()
    got = score_set(nabscore.published(folder, detector), nabscore.load_windows(folder), STANDARD)
    assert round(got["score"], 1) == nabscore.PUBLISHED[detector]
    assert got["windows"] == 39
