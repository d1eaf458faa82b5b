"""preprocess: window statistics per entity, named ``<field>_preprocessed_<Type>``.

Batch in: the TICKscript groups by the entity tag and slides a window; each
batch is one entity's window. For every requested field and type the
library (``udfs.windowstats``) computes one value, and one point comes out
per entity and window with every ``<field>_preprocessed_<Type>`` that has a
value (a window too short for a type leaves that type out: no NaN or
infinity is ever written), plus ``WindowStartUnixTime`` and
``WindowEndUnixTime`` (first and last message, ns), ``Numberofmessages``
and ``Skippedvalues`` (values the numeric types could not use: strings,
missing values). The point is stamped with the window's end.

Preprocessing a preprocessed field chains: ``.fields('Current_preprocessed_AnomProb').types('avg')``
gives ``Current_preprocessed_AnomProb_preprocessed_Avg``, as in the TML seed.

Options: ``fields`` and ``types`` (comma separated, several of each; types as
the seed names them: ``avg``, ``anomprob``, ``anomprob3-5``,
``dataage_-5_minute`` ...), ``latitude`` and ``longitude`` (the fields
``geodiff`` reads). Stateless: each window is computed on its own.

The Kapacitor function is ``@preprocess()`` (``kapacitor.conf``), served by
``python -m udfs.preprocess``; the statistics themselves are the library
``udfs.windowstats``.

>>> Preprocess.info_response().info.wants, Preprocess.info_response().info.provides
(1, 0)
"""

from __future__ import annotations

import logging

from collections import defaultdict

import numpy as np

from udfs.agent import Handler, Option, new_point
from udfs.windowstats import Plan, WindowResult, compute_batch, parse_type

log = logging.getLogger(__name__)


def _split(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


class Preprocess(Handler):
    """Every requested statistic of every requested field, per entity window."""

    name = "preprocess"
    wants = "batch"
    provides = "stream"
    options = (
        Option("fields", "string", help="Comma-separated fields to preprocess."),
        Option("types", "string", help="Comma-separated preprocessing types, e.g. 'avg,max,anomprob'."),
        Option("latitude", "string", "latitude", help="Latitude field, for geodiff."),
        Option("longitude", "string", "longitude", help="Longitude field, for geodiff."),
    )

    def check_options(self, opts):
        problems = []
        if not _split(opts.fields):
            problems.append(f"option 'fields' must name at least one field, got {opts.fields!r}")
        types = _split(opts.types)
        if not types:
            problems.append(f"option 'types' must name at least one type, got {opts.types!r}")
        for name in types:
            try:
                parse_type(name)
            except ValueError as exc:
                problems.append(f"option 'types': {exc}")
        return problems

    def setup(self):
        self.fields = _split(self.opts.fields)
        types = _split(self.opts.types)
        geo = [t for t in types if parse_type(t).type.reads == "positions"]
        values = [t for t in types if t not in geo]
        self.plan = Plan(values) if values else None
        self.geo_plan = Plan(geo) if geo else None
        # Types that read strings need the raw values; numbers-only plans can
        # take the window as one float column, decoded without Python objects.
        reads = {parse_type(t).type.reads for t in values}
        self.raw_values = bool(reads - {"numbers", "times"})
        self.reads_times = "times" in reads
        # Windows that close together are computed in one vectorised call per
        # field and length (``batches``) when every value is a number.
        self.vectorised = self.plan is not None and self.geo_plan is None and not self.raw_values

    def batch(self, b):
        if not len(b):
            return
        times = b.times()
        out: dict = {}
        skipped = 0
        if self.plan is not None:
            for field in self.fields:
                values = [p.fields.get(field) for p in b.points] if self.raw_values else b.column(field)
                result = self.plan.compute(values, times)
                out.update(result.fields(field))
                skipped += result.skipped
        if self.geo_plan is not None:
            lat, lon = b.column(self.opts.latitude), b.column(self.opts.longitude)
            result = self.geo_plan.compute(list(zip(lat.tolist(), lon.tolist())), times)
            out.update(result.fields(f"{self.opts.latitude}_{self.opts.longitude}"))
            skipped += result.skipped
        self._emit(b, out, skipped, times)

    def batches(self, batches):
        if not self.vectorised or len(batches) < MIN_VECTORISED:
            return super().batches(batches)
        outs = [{} for _ in batches]
        skipped = np.zeros(len(batches), dtype=np.int64)
        times = [b.times() for b in batches]
        by_length: dict[int, list[int]] = defaultdict(list)
        for i, b in enumerate(batches):
            if len(b):
                by_length[len(b)].append(i)
        specs = self.plan.specs
        for idx in by_length.values():
            stacked_times = np.vstack([times[i] for i in idx]) if self.reads_times else None
            for field in self.fields:
                result = compute_batch([spec for _, spec in specs], np.vstack([batches[i].column(field) for i in idx]),
                                       stacked_times)
                for row, i in enumerate(idx):
                    values = {key: _row(result.values[spec.text], row) for key, spec in specs}
                    outs[i].update(WindowResult(values, 0, specs).fields(field))
                skipped[idx] += result.skipped
        for b, out, n, t in zip(batches, outs, skipped.tolist(), times):
            if len(b):
                self._emit(b, out, n, t)

    def _emit(self, b, out: dict, skipped: int, times) -> None:
        out["WindowStartUnixTime"] = int(times.min())
        out["WindowEndUnixTime"] = int(times.max())
        out["Numberofmessages"] = len(b)
        out["Skippedvalues"] = int(skipped)
        self.emit(new_point(b, out, time=b.tmax))


# Fewer windows than this go one by one: stacking costs more than it saves.
MIN_VECTORISED = 4


def _row(value, row: int):
    """One row of ``compute_batch``'s arrays as the per-window path gives it: a float, a dict, or None."""
    if isinstance(value, dict):
        picked = {k: float(a[row]) for k, a in value.items()}
        return None if any(v != v for v in picked.values()) else picked
    v = float(value[row])
    return None if v != v else v

