"""rfc_classifier: a random forest trained at start from a CSV, a prediction per point.

The Edge Insights sample process UDF. At init it reads ``data_set`` (a CSV
under ``training_data_sets/`` with a header row), trains a random forest of
``trees`` trees on the ``features`` columns against ``label``, and then, for
every batch Kapacitor sends, answers the same batch with each point's fields
plus ``<as>`` (the predicted class) and ``<as>_probability`` (the forest's
probability of that class).

Contract: wants batch, provides batch; options ``features`` (string, comma
separated), ``label`` (string), ``data_set`` (string, path relative to the
working directory), ``trees`` (int), ``seed`` (int), ``as`` (string). The
model lives in memory only, rebuilt from the data set at each start (the same
seed gives the same forest), so snapshots carry no state. A point missing a
feature, or with a non-numeric or NaN one, is logged and left out of the
answer; the rest of its batch is answered.

Run as a process UDF (``kapacitor.conf``: ``prog = "python3"``,
``args = ["-m", "udfs.rfc_classifier"]``) or with ``--socket PATH``.
"""

from __future__ import annotations

import csv
import functools
import logging
import sys
from pathlib import Path

import numpy as np
from sklearn.ensemble import RandomForestClassifier

from udfs.agent import BadPoint, Handler, Option, main, new_point

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=4)
def train_forest(data_set: str, features: tuple[str, ...], label: str, trees: int, seed: int) -> RandomForestClassifier:
    """Fit the forest on the CSV's columns; errors name the file and the column."""
    path = Path(data_set)
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in (*features, label) if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: no column(s) {missing}; columns are {reader.fieldnames}")
        rows = list(reader)
    if not rows:
        raise ValueError(f"{path}: no rows to train on")
    try:
        x = np.array([[float(r[f]) for f in features] for r in rows])
    except ValueError as exc:
        raise ValueError(f"{path}: a feature value is not a number ({exc})") from None
    y = np.array([r[label] for r in rows])
    forest = RandomForestClassifier(n_estimators=trees, random_state=seed, n_jobs=1)
    forest.fit(x, y)
    log.info("trained %d trees on %d rows of %s (features %s)", trees, len(rows), path, ", ".join(features))
    return forest


def _label_value(label: str):
    """Class labels come from CSV text; send integers as integers."""
    try:
        return int(label)
    except ValueError:
        return label


class RfcClassifier(Handler):
    """Predict each point's class with a random forest trained from a CSV."""

    name = "rfc_classifier"
    wants = "batch"
    provides = "batch"
    options = (
        Option("features", "string", "temperature,humidity", help="Comma-separated feature fields."),
        Option("label", "string", "label", help="Class column of the data set."),
        Option("data_set", "string", "training_data_sets/room_climate.csv", help="CSV to train from."),
        Option("trees", "int", 50, min=1, max=2000, help="Number of trees."),
        Option("seed", "int", 0, help="Random seed of the forest."),
        Option("as", "string", "prediction", help="Name of the output field."),
    )

    def check_options(self, opts):
        features = tuple(f.strip() for f in opts.features.split(",") if f.strip())
        if not features:
            return [f"option 'features' must name at least one field, got {opts.features!r}"]
        try:
            train_forest(opts.data_set, features, opts.label, opts.trees, opts.seed)
        except (OSError, ValueError) as exc:
            return [f"cannot train from option 'data_set' {opts.data_set!r}: {exc}"]
        return ()

    def setup(self):
        self.features = tuple(f.strip() for f in self.opts.features.split(",") if f.strip())
        self.forest = train_forest(self.opts.data_set, self.features, self.opts.label, self.opts.trees, self.opts.seed)
        self.classes = [_label_value(c) for c in self.forest.classes_]
        self.output = getattr(self.opts, "as")  # `as` is a keyword in Python, an option name in TICKscript

    def batch(self, b):
        if not len(b):
            self.emit_batch(b, [])
            return
        x = np.column_stack([b.column(f) for f in self.features])
        usable = np.isfinite(x).all(axis=1)
        out = []
        if usable.any():
            proba = self.forest.predict_proba(x[usable])
            best = proba.argmax(axis=1)
            for p, k, row in zip((p for p, ok in zip(b.points, usable) if ok), best, proba):
                fields = dict(p.fields)
                fields[self.output] = self.classes[k]
                fields[f"{self.output}_probability"] = float(row[k])
                out.append(new_point(p, fields))
        self.emit_batch(b, out)
        if not usable.all():
            # Raised after the answer is buffered: the agent logs and counts
            # it, and the rest of the batch has gone out.
            first = b.points[int(np.flatnonzero(~usable)[0])]
            raise BadPoint(f"{int((~usable).sum())} point(s) of the batch left out, features "
                           f"{', '.join(self.features)} not all numbers; first: {first!r}")


if __name__ == "__main__":
    sys.exit(main(RfcClassifier))
