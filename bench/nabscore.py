"""The Numenta Anomaly Benchmark's scoring, as NAB v1.1 publishes it, in our own code.

A detector gives every point of every series an anomaly score in [0, 1]. A
detection is a point whose score is at or above one threshold, chosen for the
whole set of series to maximise the total. In each series:

- the first 15 % of the rows (at most 750) are probationary, not scored;
- inside an anomaly window a point is worth ``TP * sigmoid(position) /
  sigmoid(left edge)``: the window's left edge 1, its right edge about 0; a
  window counts only its best (earliest) detection;
- a window without a detection costs ``FN``;
- a detection outside every window costs ``FP * sigmoid(distance past the
  previous window's right edge, in window widths)``, which is -FP far from
  any window and with no window before it.

The total is normalised so that detecting nothing scores 0 and detecting
every window at its left edge, with nothing else, scores 100. The profiles
differ in their weights only (:data:`PROFILES`).

``python bench/nabscore.py [NAB_DEV]`` rescores the published results shipped
with the development split (``published_scores/``): numenta (HTM) must come
out 64.9 and windowedGaussian 28.2 on the standard profile.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import os
import sys
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBATION = 0.15
PROBATION_ROWS = 750  # NAB: 0.15 of 5,000 rows at most


@dataclass(frozen=True)
class Profile:
    tp: float
    fp: float
    fn: float


PROFILES = {
    "standard": Profile(tp=1.0, fp=0.11, fn=1.0),
    "reward_low_FP_rate": Profile(tp=1.0, fp=0.22, fn=1.0),
    "reward_low_FN_rate": Profile(tp=1.0, fp=0.11, fn=2.0),
}
# NAB's published standard scores on the development split (its README).
PUBLISHED = {"ARTime": 68.8, "numenta": 64.9, "htmjava": 63.6, "contextOSE": 57.5, "randomCutForest": 55.7,
             "knncad": 53.5, "windowedGaussian": 28.2}


def nab_dev_folder() -> Path:
    """The development split: ``TICKML_NAB_DEV``, else ``../shared/nab-dev`` beside the repository."""
    return Path(os.environ.get("TICKML_NAB_DEV") or ROOT.parent / "shared" / "nab-dev")


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.strip())


def scaled_sigmoid(position: float) -> float:
    """NAB's weight of a point ``position`` window widths from a window's right edge: -1 (left edge) gives
    about 0.987, 0 gives 0, far past (> 3) gives -1.

    >>> round(scaled_sigmoid(-1.0), 4), scaled_sigmoid(0.0), scaled_sigmoid(4.0)
    (0.9866, 0.0, -1.0)
    """
    if position > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def probation_rows(rows: int) -> int:
    """
    >>> probation_rows(4032), probation_rows(22695)
    (604, 750)
    """
    return min(math.floor(PROBATION * rows), int(PROBATION * 5000))


@dataclass(frozen=True)
class Point:
    score: float  # the detector's anomaly score
    weight: float  # what detecting it is worth (positive in a window, negative outside)
    window: int | None  # the window it lies in (an id unique in the whole set), None outside


def sweep(times: list[dt.datetime], scores: list[float], windows: list[tuple[dt.datetime, dt.datetime]],
          profile: Profile, first_window_id: int = 0) -> list[Point]:
    """The scorable points of one series (the probationary rows left out), each with its worth."""
    if len(times) != len(scores):
        raise ValueError(f"{len(times)} times but {len(scores)} scores")
    bounds = []  # (left index, right index) of each window, in time order
    for start, end in sorted(windows):
        left, right = bisect_left(times, start), bisect_right(times, end) - 1
        if left <= right:
            bounds.append((left, right))
    max_tp = scaled_sigmoid(-1.0)
    probation = probation_rows(len(times))
    out, k = [], 0
    previous: tuple[int, int] | None = None  # the last window passed: (right index, width)
    for i, score in enumerate(scores):
        while k < len(bounds) and bounds[k][1] < i:
            previous = (bounds[k][1], bounds[k][1] - bounds[k][0] + 1)
            k += 1
        inside = k < len(bounds) and bounds[k][0] <= i
        if inside:
            left, right = bounds[k]
            width = right - left + 1
            weight = scaled_sigmoid(-(right - i + 1) / width) * profile.tp / max_tp
        elif previous is None:
            weight = -1.0 * profile.fp
        else:
            right, width = previous
            # NAB divides by width - 1 (a one-row window would divide by zero: treated as far past).
            past = abs(i - right) / (width - 1) if width > 1 else math.inf
            weight = scaled_sigmoid(past) * profile.fp
        if i >= probation:
            out.append(Point(score, weight, first_window_id + k if inside else None))
    return out


def best_total(points: list[Point], profile: Profile) -> tuple[float, float]:
    """``(threshold, total)`` with the highest total over every threshold a score sets (and above them all:
    no detection)."""
    windows = {p.window for p in points if p.window is not None}
    best_in = {}  # window -> the best worth among its detected points
    tp_sum, fp_sum = 0.0, 0.0
    no_detection = -profile.fn * len(windows)
    best = (math.inf, no_detection)
    ordered = sorted(points, key=lambda p: -p.score)
    for j, p in enumerate(ordered):
        if p.window is None:
            fp_sum += p.weight
        elif p.weight > best_in.get(p.window, -math.inf):
            tp_sum += p.weight - best_in.get(p.window, 0.0)
            best_in[p.window] = p.weight
        # A threshold detects every point scoring at or above it: count a total only after the last point of
        # a score.
        if j + 1 == len(ordered) or ordered[j + 1].score != p.score:
            total = tp_sum + fp_sum - profile.fn * (len(windows) - len(best_in))
            if total > best[1]:
                best = (p.score, total)
    return best


def score_set(series: dict[str, tuple[list[dt.datetime], list[float]]],
              windows: dict[str, list[tuple[dt.datetime, dt.datetime]]], profile: Profile) -> dict:
    """One detector's NAB score on a set of series (name -> (times, scores)), normalised: 0 detects nothing,
    100 every window at its left edge."""
    points, next_id, n_windows = [], 0, 0
    for name, (times, scores) in sorted(series.items()):
        found = sweep(times, scores, windows.get(name, []), profile, next_id)
        ids = {p.window for p in found if p.window is not None}
        n_windows += len(ids)
        next_id += len(windows.get(name, [])) + 1
        points += found
    threshold, raw = best_total(points, profile)
    null, perfect = -profile.fn * n_windows, profile.tp * n_windows
    # Without a window there is nothing to normalise by: the raw total (false detections only) says it all.
    score = 100.0 * (raw - null) / (perfect - null) if n_windows else None
    return {"threshold": threshold, "raw": raw, "score": score, "windows": n_windows}


def load_windows(folder: Path) -> dict[str, list[tuple[dt.datetime, dt.datetime]]]:
    doc = json.loads((folder / "combined_windows.json").read_text())
    return {name: [(parse_time(a), parse_time(b)) for a, b in spans] for name, spans in doc.items()}


def read_scores(path: Path, column: str) -> tuple[list[dt.datetime], list[float]]:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [parse_time(r["timestamp"]) for r in rows], [float(r[column]) for r in rows]


def published(folder: Path, detector: str) -> dict[str, tuple[list[dt.datetime], list[float]]]:
    """A published detector's scores on every file of the split, keyed ``category/file.csv``."""
    base = folder / "published_scores" / detector
    return {str(p.relative_to(base)): read_scores(p, "anomaly_score") for p in sorted(base.rglob("*.csv"))}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0]) if args else nab_dev_folder()
    if not (folder / "combined_windows.json").exists():
        print(f"no NAB development split at {folder}: give its folder, or set TICKML_NAB_DEV", file=sys.stderr)
        return 2
    windows = load_windows(folder)
    print(f"{'detector':18s} " + " ".join(f"{name:>18s}" for name in PROFILES) + "   published (standard)")
    for detector in ("numenta", "windowedGaussian"):
        scores = published(folder, detector)
        row = [score_set(scores, windows, profile)["score"] for profile in PROFILES.values()]
        print(f"{detector:18s} " + " ".join(f"{s:18.1f}" for s in row) + f"   {PUBLISHED[detector]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
