"""bench/soak.py at its smoke size (the demo's fleet for two buckets of 10 s, the whole one read back): every
device-sensor pair landed every reading it sent and device_preprocess closed its window for each, none was
silent, and the memory of kapacitord and the UDF servers was read at start and end, so that the bench cannot rot
(it ran the bare simulator, which knows no stack logins: a second sending process found no MQTT login free)."""

from __future__ import annotations

import pytest

import soak

pytestmark = pytest.mark.stack


def test_every_pair_lands_every_reading_and_window_of_the_smoke_run(stack):
    figures = soak.main(["--smoke"])
    assert figures["simulator"] == 0 and not figures["failed"], figures
    assert len(figures["rows"]) == 1
    for row in figures["rows"]:
        assert row["raw"] == row["sent"] > 0 and row["fewest_raw"] > 0, row
        assert row["windows"] == row["expected"] > 0 and row["fewest_windows"] > 0, row
        assert row["silent"] == [], row
    assert "kapacitord heap" in figures["memory"] and "udf-preprocess" in figures["memory"], figures["memory"]
