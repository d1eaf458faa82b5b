"""bench/dashboard_load.py at its smoke size (the synthetic fleet only: 12 devices over 2 minutes, one load after
the warm-up): a real Chromium loads the fleet, device and tasks pages of a dashboard of the bench's own until
every panel answered, each page fetched points, the same as its queries return from InfluxDB alone over the same
range, and the reference row (a line per device) is there, so that the bench cannot rot."""

from __future__ import annotations

import pytest

import dashboard_load

pytestmark = pytest.mark.stack


def test_every_page_loads_and_fetches_what_its_queries_return(stack):
    rows = dashboard_load.main(["--smoke"])
    assert [(row["fleet"], row["page"]) for row in rows] == [
        ("12 devices", page) for page in ("fleet", "device", "tasks", "a line per device (reference)")]
    *pages, reference = rows
    for row in pages:
        drawn, panels = map(int, row["drawn"].split("/"))
        assert row["load_s"] > 0 and 0 < drawn <= panels, row
        assert row["points"] > 0 and row["points"] == row["influx_points"], row
    assert reference["influx_points"] > 0, reference
