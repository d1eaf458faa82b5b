"""``tickml alerts list`` on the real stack: the open alerts of a topic, as Kapacitor's topic API holds them.

A task of the test's own from the shipped tick_scripts/failure_alert.tick publishes to a topic of its own; two
devices cross the threshold, one falls back under the reset. The command, run as a user runs it, lists the one
still open, and with ``--level ok`` the ended one too.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from stackutil import flush_vars, wait_until
from tickml.influx import line
from tickml.paths import ROOT

pytestmark = pytest.mark.stack


def _tickml(*args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "tickml", "alerts", "list", *args], capture_output=True, text=True,
                         timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_the_open_alerts_of_a_topic_are_listed(influx, kapacitor, run_id):
    topic, task = f"{run_id}topic", f"{run_id}listed"
    failing, recovered = f"{run_id}pm-1", f"{run_id}pm-2"
    # A model of the run's own: the task reads no failure_predict of the fleets of tests running beside it.
    model = {"type": "string", "value": f"{run_id}failure_prob"}
    kapacitor.create(task, (ROOT / "tick_scripts" / "failure_alert.tick").read_text(),
                     flush_vars(topic={"type": "string", "value": topic}, model=model), status="enabled")
    try:
        start = time.time_ns()
        # failure_prob's probabilities as failure_predict writes them: one device stays over the threshold (0.8),
        # the other falls under the reset (0.6).
        influx.write([line("predictions", {"device_id": device, "model": model["value"]}, {"Probability1": p},
                           start + k * 1_000_000)
                      for device, probabilities in ((failing, (0.1, 0.95)), (recovered, (0.2, 0.9, 0.3)))
                      for k, p in enumerate(probabilities)])
        wait_until(lambda: {e["id"]: e["state"]["level"] for e in kapacitor.topic_events(topic)}
                   == {f"failure/{failing}": "CRITICAL", f"failure/{recovered}": "OK"}, timeout=20,
                   what="both alerts in the topic, one ended")

        lines = _tickml("--topic", topic).splitlines()
        assert lines[0].split() == ["LEVEL", "SINCE", "FOR", "TOPIC", "ID", "MESSAGE"]
        assert len(lines) == 2, lines
        assert lines[1].split()[0] == "CRITICAL" and f" {topic}  failure/{failing}  " in lines[1]
        assert lines[1].endswith(f"{failing} is likely to fail: probability 0.95")

        listed = json.loads(_tickml("--topic", topic, "--json", "--level", "ok"))
        assert [(a["id"], a["level"]) for a in listed] == [(f"failure/{failing}", "CRITICAL"),
                                                           (f"failure/{recovered}", "OK")]
        began = listed[0]["since"]
        assert time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start // 10**9)) <= began, listed[0]
        assert {a["topic"] for a in listed} == {topic}

        # Every topic by default: the test's among them; at CRITICAL only, still there.
        assert f"failure/{failing}" in _tickml("--level", "critical")
        assert _tickml("--topic", topic, "--level", "critical").count(f"failure/{recovered}") == 0
    finally:
        kapacitor.delete(task)


def test_an_unknown_topic_and_a_bad_level_are_said(run_id):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "tickml", "alerts", "list", *args], capture_output=True,
                              text=True, timeout=60, cwd=ROOT)

    unknown = run("--topic", f"{run_id}no-such-topic")
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert f"error: Kapacitor has no alert topic '{run_id}no-such-topic'; its topics: " in unknown.stderr
    assert "device-alerts" in unknown.stderr, "the shipped topics are named"
    loud = run("--level", "loud")
    assert loud.returncode == 2 and "'loud' is no alert level" in loud.stderr
