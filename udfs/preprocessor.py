"""preprocess: window statistics per entity, named ``<field>_preprocessed_<Type>``.

Batch in: the TICKscript groups by the entity tag and slides a window; each
batch is one entity's window. For every requested field and type the
library (``udfs.preprocess``) computes one value, and one point comes out
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

The Kapacitor function is ``@preprocess()`` (``kapacitor.conf``); this module
is ``udfs.preprocessor`` so that it does not shadow the library package.

>>> Preprocess.info_response().info.wants, Preprocess.info_response().info.provides
(1, 0)
"""

from __future__ import annotations

import logging
import sys

from udfs.agent import Handler, Option, main, new_point
from udfs.preprocess import Plan, parse_type

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
        out["WindowStartUnixTime"] = int(times.min())
        out["WindowEndUnixTime"] = int(times.max())
        out["Numberofmessages"] = len(b)
        out["Skippedvalues"] = int(skipped)
        self.emit(new_point(b, out, time=b.tmax))


if __name__ == "__main__":
    sys.exit(main(Preprocess))
