"""Kapacitor with our patches (stack/go/kapacitor/patches/) against the two panics of 1.8.3 they fix.

A kapacitord of its own (``bench/private_kapacitor.py``, no shared service involved) knows one socket
UDF, ``flaky``: a null_stream server of the test's own (``kapacitord_rig``), up when kapacitord starts
(it asks every UDF for its Info then) and killed before a task that calls it is enabled. Kapacitor then connects to the
socket with retries for up to five minutes, and meanwhile the released 1.8.3

- snapshots the task, calling Snapshot on the UDF's server, which does not exist until it connects:
  a nil ``udf.(*Server)``, a panic that ends kapacitord and every task;
- stops the task (a disable here; a replay that ends stops its task the same way) and calls Abort on
  that same nil server: the same panic. In a disable's HTTP handler, net/http recovers it, drops the
  request and leaves the task half-stopped for good; in a replay's goroutine it ends kapacitord.

Patched (0002), the snapshot fails with an error and the task keeps its last one, the stop ends the
connecting, and the task, enabled again once its UDF is back, handles points.

The binary is the stack's (``.stack/bin/kapacitord``, as stack/install.sh builds it); the environment
variable TICKML_KAPACITORD names another. With the release as published
(``stack/go/kapacitor/build.sh --stock DIR``) both tests fail with the panic's trace or its dropped request.
"""

from __future__ import annotations

import time

import pytest

from kapacitord_rig import KAPACITORD, needs_kapacitord, null_stream_server
from private_kapacitor import private_kapacitor
from stackutil import wait_until

SCRIPT = """
dbrp "telemetry"."autogen"
stream
    |from()
        .measurement('patch_check')
    @flaky()
    |httpOut('out')
"""

pytestmark = needs_kapacitord


@pytest.fixture
def flaky():
    """A null_stream socket UDF server that the test kills and starts again."""
    with null_stream_server("flaky") as udf:
        yield udf


def _died(kapacitord) -> str:
    return f"kapacitord ({kapacitord.binary}) died:\n{kapacitord.log_text()[-4000:]}"


def test_a_task_whose_socket_udf_is_down_is_snapshotted_without_a_panic(flaky):
    """Its snapshotter runs every second: each snapshot fails with an error, and kapacitord lives on."""
    with private_kapacitor(KAPACITORD, {"flaky": flaky.path}, snapshot_interval="1s") as kapacitord:
        kapacitor = kapacitord.client()
        flaky.kill()
        kapacitor._call("POST", "/tasks", {"id": "snapshotted", "type": "stream", "status": "enabled",
                                           "script": SCRIPT})
        wait_until(lambda: not kapacitord.alive() or kapacitord.log_text().count("failed to snapshot task") >= 2,
                   timeout=30, interval=0.2, what="two snapshots of the task (or kapacitord's end)")
        assert kapacitord.alive(), _died(kapacitord)
        assert "UDF not connected yet" in kapacitord.log_text()
        assert kapacitor.task("snapshotted")["status"] == "enabled"


def test_a_task_whose_socket_udf_is_down_stops_without_a_panic_and_runs_once_it_is_back(flaky):
    """Disabled while Kapacitor connects to its UDF, the task stops at once; enabled again, it handles points."""
    # No snapshot during the test: only the stop calls into the UDF.
    with private_kapacitor(KAPACITORD, {"flaky": flaky.path}, snapshot_interval="100000h") as kapacitord:
        kapacitor = kapacitord.client()
        flaky.kill()
        kapacitor._call("POST", "/tasks", {"id": "stopped", "type": "stream", "status": "enabled", "script": SCRIPT})
        wait_until(lambda: kapacitor.task("stopped")["executing"], timeout=10, interval=0.1,
                   what="the task executing (connecting to its UDF)")
        start = time.monotonic()
        # Released 1.8.3 panics in this request's handler: net/http drops the connection (an OSError here) and
        # the task is left half-stopped, its httpOut still registered, so it can never run again.
        kapacitor.set_status("stopped", "disabled")
        took = time.monotonic() - start
        assert kapacitord.alive(), _died(kapacitord)
        assert took < 10, f"disabling took {took:.1f} s"
        assert kapacitor.task("stopped")["status"] == "disabled"

        flaky.start()
        kapacitor.set_status("stopped", "enabled")
        now = time.time_ns()
        kapacitor.write([f"patch_check value={k}.0 {now + k}" for k in range(5)])
        emitted = lambda: int(kapacitor.task("stopped")["stats"]["node-stats"].get("flaky2", {}).get("emitted", 0))  # noqa: E731
        wait_until(lambda: emitted() >= 5, timeout=30, interval=0.2, what="the UDF node emitting the 5 points")
        assert kapacitord.alive(), _died(kapacitord)
