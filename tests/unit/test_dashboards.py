"""The shipped Grafana dashboard reads measurements the stack writes."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def written_measurements() -> set[str]:
    """Measurements the TICKscripts write (influxDBOut) and Telegraf's normaliser emits."""
    names = set()
    for script in (ROOT / "tick_scripts").glob("*.tick"):
        text = script.read_text()
        for out in re.finditer(r"\|influxDBOut\(\)(.*?)(?=\n\S|\Z)", text, re.S):
            names.update(re.findall(r"\.measurement\('([^']+)'\)", out.group(1)))
    names.update(re.findall(r'Metric\("([a-z_]+)"\)', (ROOT / "telegraf" / "device_message.star").read_text()))
    return names


def test_every_panel_queries_a_measurement_the_stack_writes():
    dashboard = json.loads((ROOT / "dashboards" / "grafana" / "tickml.json").read_text())
    written = written_measurements()
    assert {"device_message", "device_aggregates", "predictions", "trained_models"} <= written
    assert dashboard["panels"]
    for panel in dashboard["panels"]:
        (target,) = panel["targets"]
        measurements = re.findall(r'FROM "([^"]+)"', target["query"])
        assert measurements, panel["title"]
        assert set(measurements) <= written, (panel["title"], measurements)
        assert panel["datasource"]["uid"] == "tickml-influxdb"
