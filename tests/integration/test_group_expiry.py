"""Devices that fall silent are forgotten: every shipped stream task frees a device's groups once it has been
idle for ``idle`` (a barrier node that deletes the group), so Kapacitor's memory follows the devices reporting,
not every device that ever reported (a fleet with churn, test fleets, renamed devices).

The shipped device_aggregates.tick runs as a task of the test's own, on a measurement of its own, with
``idle`` shortened through the task's vars as a user would."""

from __future__ import annotations

import time

import pytest

from stackutil import flush_vars, wait_until
from tickml.paths import ROOT

pytestmark = pytest.mark.stack

DEVICES = 150


def _working(kapacitor, task: str) -> dict[str, int]:
    stats = kapacitor.task(task)["stats"]["node-stats"]
    return {node: v["working_cardinality"] for node, v in stats.items() if "working_cardinality" in v}


def _all_in_window(kapacitor, task: str) -> bool:
    # Kapacitor's /write returns once the points are queued, and the task's edges queue about a thousand
    # points each: the window node may not have seen every device yet. Poll often: 2 s after the last
    # point the barrier frees the groups again.
    return wait_until(lambda: _working(kapacitor, task)["window3"] == DEVICES, timeout=30, interval=0.1,
                      what=f"window3 holding all {DEVICES} devices")


def test_a_silent_devices_groups_are_freed_and_it_is_taken_back_when_it_returns(kapacitor, influx, run_id):
    measurement, out = f"{run_id}expiry_message".replace("-", "_"), f"{run_id}expiry_aggregates".replace("-", "_")
    script = (ROOT / "tick_scripts" / "device_aggregates.tick").read_text()
    script = script.replace(".measurement('device_message')", f".measurement('{measurement}')")
    script = script.replace(".measurement('device_aggregates')", f".measurement('{out}')")
    task = f"{run_id}expiry".replace("-", "_")
    kapacitor.create(task, script, flush_vars(idle={"type": "duration", "value": 2 * 10**9}), status="enabled")
    try:
        start = (time.time_ns() // 10**10) * 10**10 - 3600 * 10**9  # an hour ago, on a window's edge

        def write(first: int, seconds: int) -> None:
            kapacitor.write([f"{measurement},device_id=d{d},sensor=s value={t}.0 {start + t * 10**9}"
                             for t in range(first, first + seconds) for d in range(DEVICES)])

        write(0, 25)  # two windows closed, the third open
        _all_in_window(kapacitor, task)
        freed = wait_until(lambda: (lambda w: w if not any(w.values()) else None)(_working(kapacitor, task)),
                           timeout=30, what="every group freed after 2 s of silence")
        assert set(freed) >= {"barrier2", "window3", "join11"}
        # Back, still an hour late: the device is a new group, nothing of it dropped.
        write(25, 20)
        _all_in_window(kapacitor, task)
        def d0_windows():
            rows = influx.query(f'SELECT "count" FROM "{out}" WHERE "device_id" = \'d0\'')
            return rows if len(rows) >= 4 else None

        rows = wait_until(d0_windows, timeout=30, what="d0's windows written")
        # [0,10) and [10,20) whole; [20,30) emitted at the barrier with 5 rows, then again with the 5 after it
        # (the same time and tags: InfluxDB keeps the second); [30,40) whole.
        assert [r["count"] for r in rows] == [10, 10, 5, 10]
    finally:
        kapacitor.delete(task)
