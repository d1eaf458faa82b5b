"""rfc_classifier: a random forest trained at start from a CSV, a prediction per point.

The Edge Insights sample process UDF. At init it reads ``data_set`` (a CSV
with a header row inside the data set root), trains a random forest of
``trees`` trees on the ``features`` columns against ``label``, and then, for
every batch Kapacitor sends, answers the same batch with each point's fields
plus ``<as>`` (the predicted class) and ``<as>_probability`` (the forest's
probability of that class).

With ``impute`` set to ``mean`` or ``median`` it is also the FIREMAN seed's
imputer + classifier: a feature that is missing (or NaN) is replaced by that
statistic of the training column before the forest predicts, as
scikit-learn's SimpleImputer does, and ``<as>_imputed`` counts the features
imputed for the point. ``missing_value`` (default -9999) is a sentinel that
also counts as missing: what a TICKscript join's ``fill`` puts where a side is
absent (``tick_scripts/imputer_task.tick``).

Contract: wants batch, provides batch; options ``features`` (string, comma
separated), ``label`` (string), ``data_set`` (string, path relative to the
working directory, inside the data set root), ``trees`` (int), ``seed`` (int), ``as`` (string),
``impute`` (``none``, ``mean`` or ``median``), ``columns`` (the data set's
columns for the features, in order, when they are named differently),
``check_every`` (duration). The model lives in memory only, rebuilt from the
data set at each start (the same seed gives the same forest), so snapshots
carry no state. Every ``check_every`` the data set is looked at again: when
its content changed (its SHA-256, read only when its size or modification
time moved) the forest is retrained and its version goes up by one; every
answered point says which version answered (``<as>_model_version``). A data
set that no longer trains (a column gone, a row that is not a number) keeps
the forest that answers, and the error names the file and what is wrong. A point missing a
feature, or with a non-numeric or NaN one, is logged and left out of the
answer (unless imputed); the rest of its batch is answered.

The data set root (issue 13) is where ``data_set`` may point, set by the
UDF service and never by a task: the environment variable
``TICKML_DATA_SET_ROOT`` when the process starts, else ``training_data_sets``
(relative to the working directory; ``udfs.confine``). A ``data_set`` that
resolves outside it (an absolute path elsewhere, ``..``, a symlink out) fails
``init`` before the file is opened, so nothing of another file is read or
quoted. The default ``data_set`` is ``room_climate.csv`` in the root.

Run as a process UDF (``kapacitor.conf``: ``prog = "python3"``,
``args = ["-m", "udfs.rfc_classifier"]``) or with ``--socket PATH``.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import logging
import os
import time
from pathlib import Path

import numpy as np
from sklearn.ensemble import RandomForestClassifier

from udfs.agent import BadPoint, Handler, Option, new_point
from udfs.confine import Root

log = logging.getLogger(__name__)

DATA_SET_ROOT_VARIABLE = "TICKML_DATA_SET_ROOT"
# Read once, when the process starts: the service's configuration, never a task's.
DATA_SET_ROOT = Root.from_environment("data set root", DATA_SET_ROOT_VARIABLE, "training_data_sets")


def digest(data_set: str) -> str:
    """The data set's content, as the SHA-256 of its bytes (what tells one version of the file from another)."""
    with open(data_set, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


# ``content`` (the data set's digest) is part of every cache key: a changed file is read and trained anew.
@functools.lru_cache(maxsize=4)
def read_data_set(data_set: str, features: tuple[str, ...], label: str,
                  content: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Features (NaN where a cell is empty) and labels of the CSV; errors name the file and the column."""
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
        x = np.array([[float(r[f]) if r[f] not in ("", None) else np.nan for f in features] for r in rows])
    except ValueError as exc:
        raise ValueError(f"{path}: a feature value is not a number ({exc})") from None
    return x, np.array([r[label] for r in rows])


def column_fill(data_set: str, features: tuple[str, ...], label: str, impute: str, content: str = "") -> np.ndarray:
    """The value that replaces a missing feature: the training column's mean or median."""
    x, _ = read_data_set(data_set, features, label, content)
    return np.nanmean(x, axis=0) if impute == "mean" else np.nanmedian(x, axis=0)


@functools.lru_cache(maxsize=4)
def train_forest(data_set: str, features: tuple[str, ...], label: str, trees: int, seed: int,
                 impute: str = "none", content: str = "") -> RandomForestClassifier:
    """Fit the forest on the CSV's columns (missing cells imputed as at prediction time)."""
    x, y = read_data_set(data_set, features, label, content)
    if impute != "none":
        x = np.where(np.isnan(x), column_fill(data_set, features, label, impute, content), x)
    elif np.isnan(x).any():
        raise ValueError(f"{data_set}: the data set has missing feature values; set impute to mean or median")
    forest = RandomForestClassifier(n_estimators=trees, random_state=seed, n_jobs=1)
    forest.fit(x, y)
    log.info("trained %d trees on %d rows of %s (features %s)", trees, len(y), data_set, ", ".join(features))
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
        Option("columns", "string", "", help="The data set's columns for the features; default the same names."),
        Option("label", "string", "label", help="Class column of the data set."),
        Option("data_set", "string", os.path.join(DATA_SET_ROOT.path, "room_climate.csv"),
               help="CSV to train from, inside the data set root (TICKML_DATA_SET_ROOT)."),
        Option("trees", "int", 50, min=1, max=2000, help="Number of trees."),
        Option("seed", "int", 0, help="Random seed of the forest."),
        Option("as", "string", "prediction", help="Name of the output field."),
        Option("impute", "string", "none", choices=("none", "mean", "median"),
               help="Replace missing features by the training column's mean or median."),
        Option("missing_value", "double", -9999.0, help="With impute: a sentinel that also means missing."),
        Option("check_every", "duration", "1m", min=0,
               help="How often the data set is looked at again; the forest is retrained when its content "
                    "changed (0: never)."),
    )

    @staticmethod
    def _names(text: str) -> tuple[str, ...]:
        return tuple(f.strip() for f in text.split(",") if f.strip())

    def check_options(self, opts):
        features, columns = self._names(opts.features), self._names(opts.columns)
        problems = []
        outside = DATA_SET_ROOT.problem("data_set", opts.data_set, "file")
        if outside:
            problems.append(outside)
        if not features:
            problems.append(f"option 'features' must name at least one field, got {opts.features!r}")
        elif columns and len(columns) != len(features):
            problems.append(f"option 'columns' must name one column per feature ({len(features)}), "
                            f"got {opts.columns!r}")
        if problems:
            return problems  # the data set is opened only when it is one this task may read
        try:
            train_forest(opts.data_set, columns or features, opts.label, opts.trees, opts.seed, opts.impute,
                         digest(opts.data_set))
        except (OSError, ValueError) as exc:
            return [f"cannot train from option 'data_set' {opts.data_set!r}: {exc}"]
        return ()

    def setup(self):
        opts = self.opts
        self.features = self._names(opts.features)
        self.columns = self._names(opts.columns) or self.features
        self.output = getattr(self.opts, "as")  # `as` is a keyword in Python, an option name in TICKscript
        self.version = 0
        self._train(digest(opts.data_set))
        self._checked, self._stat = time.monotonic(), self._file_stat()

    def _train(self, content: str) -> None:
        opts = self.opts
        self.forest = train_forest(opts.data_set, self.columns, opts.label, opts.trees, opts.seed, opts.impute,
                                   content)
        self.fill = None if opts.impute == "none" else column_fill(opts.data_set, self.columns, opts.label,
                                                                   opts.impute, content)
        self.classes = [_label_value(c) for c in self.forest.classes_]
        self.content, self.version = content, self.version + 1

    def _file_stat(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.opts.data_set)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def _retrain_if_changed(self) -> None:
        """Retrain when the data set's content changed since the forest was trained; at most every check_every."""
        now = time.monotonic()
        if not self.opts.check_every or now - self._checked < self.opts.check_every / 1e9:
            return
        self._checked, stat = now, self._file_stat()
        if stat == self._stat:
            return
        self._stat = stat
        try:
            content = digest(self.opts.data_set)
            if content != self.content:
                self._train(content)
                log.info("%s changed: forest retrained, version %d (sha256 %s)", self.opts.data_set, self.version,
                         content[:12])
        except (OSError, ValueError) as exc:
            log.error("cannot retrain from %s, version %d answers on: %s", self.opts.data_set, self.version, exc)

    def batch(self, b):
        self._retrain_if_changed()
        if not len(b):
            self.emit_batch(b, [])
            return
        x = np.column_stack([b.column(f) for f in self.features])
        imputed = np.zeros(len(x), dtype=int)
        if self.fill is not None:
            # b.column gives NaN for a missing, non-numeric or NaN value.
            missing = np.isnan(x) | (x == self.opts.missing_value)
            imputed = missing.sum(axis=1)
            x = np.where(missing, self.fill, x)
        usable = np.isfinite(x).all(axis=1)
        out = []
        if usable.any():
            proba = self.forest.predict_proba(x[usable])
            best = proba.argmax(axis=1)
            rows = (i for i, ok in enumerate(usable) if ok)
            for i, k, row in zip(rows, best, proba):
                p = b.points[i]
                fields = dict(p.fields)
                fields[self.output] = self.classes[k]
                fields[f"{self.output}_probability"] = float(row[k])
                fields[f"{self.output}_model_version"] = self.version
                if self.fill is not None:
                    fields[f"{self.output}_imputed"] = int(imputed[i])
                out.append(new_point(p, fields))
        self.emit_batch(b, out)
        if not usable.all():
            # Raised after the answer is buffered: the agent logs and counts
            # it, and the rest of the batch has gone out.
            first = b.points[int(np.flatnonzero(~usable)[0])]
            raise BadPoint(f"{int((~usable).sum())} point(s) of the batch left out, features "
                           f"{', '.join(self.features)} not all numbers; first: {first!r}")

