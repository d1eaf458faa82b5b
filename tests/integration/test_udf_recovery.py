"""A UDF server that dies comes back, and so do the tasks that call it.

With a simulated fleet publishing over MQTT, each socket UDF server is killed
(SIGKILL, as the kernel's OOM killer would): supervisord starts it again, the
task watcher re-enables every task that calls it (Kapacitor itself never
reconnects), and the tasks handle data again. A UDF that is stopped is never
enabled into: Kapacitor 1.8.3 would panic.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from stackutil import flush_vars, wait_until
from tickml.kapacitor import UdfNotAnswering
from tickml import tasks

# Kills UDF servers and fills Kapacitor's gaps: alone on the stack.
pytestmark = [pytest.mark.stack, pytest.mark.serial]

RECOVERY_SECONDS = 15
UNFED = {"device_text_geo"}  # tasks of readings the simulated fleet does not send (strings, positions)
# Tasks whose UDF gets nothing within the test's wait, however fed: a batch task that runs hourly and a training
# window that closes every 2 minutes. They are still checked re-enabled and executing.
SLOW = {"power_retrain", "power_forecast_train"}
SECOND = 10**9


@pytest.fixture(scope="module")
def fleet(stack, influx, tmp_path_factory):
    """Every device type publishing twice a second for the whole module."""
    log = tmp_path_factory.mktemp("fleet") / "simulator.log"
    prefix = f"rec{int(time.time()) % 100000}-"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tickml", "devices", "simulate", "--devices", "12", "--interval", "0.5",
                                 "--types", "thermostat,barometer,hygrometer,heart_rate_meter,temp_sensor,power_meter",
                                 "--prefix", prefix, "--quiet"], cwd=stack.ROOT,
                                stdout=subprocess.DEVNULL, stderr=out)
    proc.prefix = prefix
    wait_until(lambda: proc.poll() is not None or influx.query(f"SELECT count(value) FROM device_message "
                                                                 f"WHERE device_id =~ /^{prefix}/ AND time > now() - 5m"),
               timeout=30, what="the fleet's first readings in InfluxDB")
    assert proc.poll() is None, log.read_text()
    yield proc
    assert proc.poll() is None, f"the simulator stopped: {log.read_text()}"
    proc.terminate()
    proc.wait(10)


def _udfs():
    """(module, function) of every socket UDF a task of the task list calls."""
    from tickml import tasks
    from tickml.config import udf_sockets
    from tickml import udfcheck

    by_path = {path: module for module, path in udf_sockets().items()}
    called = {u for task in tasks.load_tasks() for u in task.udfs}
    return sorted((by_path[path], function) for function, path in udfcheck.socket_udfs().items() if function in called)


def _users(kapacitor, function: str) -> list[str]:
    from tickml import udfcheck

    # The task list's tasks: the watcher recovers those (others' tasks, a gap fill's, come and go meanwhile).
    listed = {t.name for t in tasks.load_tasks()}
    return sorted(t["id"] for t in kapacitor.tasks() if t["id"] in listed and t["status"] == "enabled"
                  and function in udfcheck.udfs_called(kapacitor.task(t["id"])["script"]))


def _udf_nodes_collected(kapacitor, task: str, function: str) -> int:
    stats = kapacitor.task(task)["stats"]["node-stats"]
    return sum(v.get("collected", 0) for node, v in stats.items() if node.rstrip("0123456789") == function)


@pytest.mark.parametrize("module,function", _udfs())
def test_a_killed_udf_server_and_its_tasks_come_back(stack, kapacitor, influx, fleet, module, function):
    from tickml import udfcheck

    service = f"udf-{module}"
    users = _users(kapacitor, function)
    assert users, f"no shipped task calls @{function}()"
    # The tasks the fleet feeds: device_text_geo waits for string and position readings the simulator never sends.
    fed = [u for u in users if u not in UNFED | SLOW]
    assert fed, f"the fleet feeds none of {users}"
    old = stack.supervised_process(service)["pid"]
    killed_at = time.time_ns()
    started = time.monotonic()
    os.kill(old, signal.SIGKILL)

    wait_until(lambda: (stack.supervised_process(service) or {}).get("pid") not in (None, old)
               and udfcheck.answers(udfcheck.socket_udfs()[function]), timeout=10, what=f"{service} restarted")

    def recovered():
        rows = influx.query(f"SELECT down_seconds FROM task_recoveries WHERE time >= {killed_at} GROUP BY task")
        tasks = {t["id"]: t for t in kapacitor.tasks()}
        return {r["task"] for r in rows} >= set(users) and all(tasks[u]["executing"] for u in users)

    wait_until(recovered, timeout=RECOVERY_SECONDS, interval=0.25, what=f"tasks {users} re-enabled")
    print(f"\n{service}: {len(users)} task(s) running again {time.monotonic() - started:.1f} s after the kill")
    # And those the fleet fed handle data again (windowed tasks close a window every 10 to 20 s).
    before = {u: _udf_nodes_collected(kapacitor, u, function) for u in fed}
    wait_until(lambda: all(_udf_nodes_collected(kapacitor, u, function) > before[u] for u in fed), timeout=45,
               what=f"@{function}() of {fed} receiving data again")


def test_no_task_is_enabled_while_its_udf_is_down(stack, kapacitor):
    from tickml import tasks
    from tickml import udfcheck

    users = _users(kapacitor, "humidity_classifier")
    stack.stop(["udf-humidity_classifier"])
    try:
        script = kapacitor.task(users[0])["script"]
        probe = tasks.Task("recovery_probe", stack.ROOT / "tick_scripts" / "humidity_classifier.tick", "stream",
                           "telemetry.autogen", ("humidity_classifier",), True)
        with pytest.raises(UdfNotAnswering, match="humidity_classifier .* does not answer"):
            kapacitor.define(probe)
        assert "humidity_classifier" in script
        # The tasks that call it break at their next point; the watcher waits instead of enabling them
        # into a dead socket, which would crash Kapacitor within its snapshot interval (10 s).
        time.sleep(12)
        assert stack.services()[[s.name for s in stack.services()].index("kapacitor")].healthy()
        assert kapacitor.tasks()
    finally:
        stack.start(["udf-humidity_classifier"])
        if kapacitor.task("recovery_probe") is not None:
            kapacitor.delete("recovery_probe")
    wait_until(lambda: udfcheck.answers(udfcheck.socket_udfs()["humidity_classifier"]), timeout=10)
    wait_until(lambda: all(t["executing"] for t in kapacitor.tasks() if t["id"] in users), timeout=RECOVERY_SECONDS,
               what=f"{users} running again")


# The gap test's windows: device_preprocess's shape (a period of three everys) in seconds, not its 30 s every 10 s.
GAP_PERIOD, GAP_EVERY = 6 * SECOND, 2 * SECOND


def _short_window_script(root, out: str) -> str:
    """device_preprocess.tick in GAP_PERIOD windows every GAP_EVERY, writing measurement ``out``: the script
    declares no vars for its windows, so they are replaced in its text."""
    script = (root / "tick_scripts" / "device_preprocess.tick").read_text()
    for old, new in ((".period(30s)", f".period({GAP_PERIOD // SECOND}s)"),
                     (".every(10s)", f".every({GAP_EVERY // SECOND}s)"),
                     (".measurement('device_preprocessed')", f".measurement('{out}')")):
        assert script.count(old) == 1, f"device_preprocess.tick no longer has {old}"
        script = script.replace(old, new)
    return script


def _device_message_copies_done(kapacitor, influx):
    """A predicate: no gap copy of a task that reads device_message alive, and none due. Every copy listens on the
    watcher's one retention policy: one fed alongside the test's copy would be fed the test's points too, and the
    test's copy its own (a kill of preprocess earlier in the module schedules device_preprocess's a window's
    length, 30 s, after its re-enable)."""
    from tickml import tickscript
    from tickml.task_watcher import GAP_SUFFIX, window_length

    windows = {}
    for t in kapacitor.tasks():
        task = kapacitor.task(t["id"]) if GAP_SUFFIX not in t["id"] else None
        try:
            if task and "device_message" in (tickscript.read(task["script"], task.get("vars")).measurements or ()):
                windows[t["id"]] = window_length(task["script"], task.get("vars"))
        except tickscript.ScriptError:
            pass

    def last(measurement: str, field: str) -> dict[str, int]:
        rows = influx.query(f"SELECT last({field}) FROM {measurement} WHERE time > now() - 5m GROUP BY task")
        return {r["task"]: r["time"] for r in rows}

    def done():
        if any(t["id"].partition(GAP_SUFFIX)[0] in windows for t in kapacitor.tasks() if GAP_SUFFIX in t["id"]):
            return False
        recovered, filled = last("task_recoveries", "down_seconds"), last("task_gap_fills", "seconds")
        now = time.time_ns()
        # The watcher feeds a copy a window's length and 2 s after the re-enable; one not fed by then has no points.
        return not [task for task, at in recovered.items() if task in windows and at > filled.get(task, 0)
                    and now < at + windows[task] + 10 * SECOND]

    return done


def test_the_windows_of_the_gap_are_written_whole(stack, kapacitor, influx, fleet):
    """A task of device_preprocess.tick (in 6 s windows every 2 s; 30 s every 10 s as shipped): across a kill of
    its UDF, every window is there, with every reading of its period, whether the task's own restart or the
    watcher's gap copy wrote it."""
    from tickml import udfcheck
    from tickml.task_watcher import GAP_SUFFIX

    prefix = fleet.prefix
    period, every = GAP_PERIOD, GAP_EVERY
    run = prefix.rstrip("-")
    task, out = f"{run}_gap_preprocess", f"{run}_gap_preprocessed"
    kapacitor.create(task, _short_window_script(stack.ROOT, out), flush_vars())
    try:
        kapacitor.enable(task)
        started = time.time_ns()
        wait_until(lambda: influx.query(f'SELECT count(value_preprocessed_Count) FROM "{out}" '
                                        f"WHERE device_id =~ /^{prefix}/"), timeout=30,
                   what="preprocessed windows of the fleet")
        # The windows checked begin up to two periods before the kill; the task saw every reading from its start.
        time.sleep(max(0.0, (started + 2 * period + SECOND - time.time_ns()) / SECOND))
        wait_until(_device_message_copies_done(kapacitor, influx), timeout=60,
                   what="the gap copies of earlier kills retired")
        killed = time.time_ns()
        os.kill(stack.supervised_process("udf-preprocess")["pid"], signal.SIGKILL)
        wait_until(lambda: influx.query(f"SELECT seconds FROM task_gap_fills WHERE task = '{task}' "
                                        f"AND time >= {killed}"), timeout=60, what="the gap fed to a copy of the task")
        wait_until(lambda: not [t for t in kapacitor.tasks() if t["id"].startswith(task + GAP_SUFFIX)], timeout=30,
                   what="the gap copy retired")
        assert udfcheck.answers(udfcheck.socket_udfs()["preprocess"])
        recovered = influx.query(f"SELECT down_seconds FROM task_recoveries WHERE task = '{task}' "
                                 f"AND time >= {killed}")[0]["time"]
        # From the windows that may have been in flight at the kill to one past those the re-enabled task began
        # without their earlier readings (the copy rewrites those, up to a period after the re-enable).
        first, last = (killed - period) // every + 1, (recovered + period + every) // every
        ends = [k * every for k in range(first, last + 1)]
        raw_query = (f"SELECT value FROM device_message WHERE device_id =~ /^{prefix}/ "
                     f"AND time >= {ends[0] - period} AND time < {ends[-1]} GROUP BY device_id, sensor")
        out_query = (f'SELECT value_preprocessed_Count FROM "{out}" WHERE device_id =~ /^{prefix}/ '
                     f"AND time >= {ends[0]} AND time <= {ends[-1]} GROUP BY device_id, sensor")

        def closed():
            # The task writes a series' last window checked at its first reading after it, and the earlier ones before.
            series = {(r["device_id"], r["sensor"]) for r in influx.query(raw_query)}
            done = {(r["device_id"], r["sensor"]) for r in influx.query(out_query) if r["time"] == ends[-1]}
            return series and series <= done

        wait_until(closed, timeout=20, what=f"the window ending {(ends[-1] - killed) / SECOND:+.1f} s after the kill "
                                            f"of every series (a device gone silent has none)")
        raw = influx.query(raw_query)
        by_series: dict[tuple, list[int]] = {}
        for r in raw:
            by_series.setdefault((r["device_id"], r["sensor"]), []).append(r["time"])
        assert len(by_series) >= 12
        # Kapacitor closes a window at a device's first reading after it: a device gone silent has none.
        silent = sorted(f"{device} {sensor} (last reading {(max(times) - killed) / SECOND:+.1f} s)"
                        for (device, sensor), times in by_series.items() if max(times) < ends[-1] - every)
        assert not silent, f"the simulated fleet stopped sending, not the task: {silent}"
        written = {(r["device_id"], r["sensor"], r["time"]): r["value_preprocessed_Count"]
                   for r in influx.query(out_query)}
        wrong = []
        for (device, sensor), times in sorted(by_series.items()):
            for end in ends:
                expected = sum(1 for t in times if end - period <= t < end)
                got = written.get((device, sensor, end))
                if got != expected:
                    wrong.append(f"{device} {sensor} window ending {(end - killed) / SECOND:+.1f} s: "
                                 f"{got} readings, {expected} expected")
        assert not wrong, "\n".join([f"{len(wrong)} of {len(by_series) * len(ends)} windows wrong:", *wrong,
                                      *_gap_evidence(stack, influx, killed)])
    finally:
        if kapacitor.task(task) is not None:
            kapacitor.delete(task)
        influx.execute(f'DROP MEASUREMENT "{out}"', database="telemetry")


def _gap_evidence(stack, influx, killed: int) -> list[str]:
    """What the watcher and Kapacitor did about the kill, to tell a lost output from a range left out."""
    fills = influx.query(f"SELECT * FROM task_gap_fills WHERE time >= {killed - 120 * SECOND}")
    lines = [f"gap fill at {(r['time'] - killed) / SECOND:+.1f} s: {r['task']} rewrote "
             f"({(r['rewrote_from'] - killed) / SECOND:+.1f}, {(r['rewrote_to'] - killed) / SECOND:+.1f}] s"
             for r in fills if r.get("rewrote_from") is not None]
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(killed / SECOND - 60))
    for log in ("task-watcher.log", "kapacitor.log"):
        for line in (stack.LOGS / log).read_text(errors="replace").splitlines():
            stamp = re.search(r"(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)", line)
            if stamp and " ".join(stamp.groups()) >= since and "preprocess" in line and "http request" not in line:
                lines.append(f"{log}: {line[:300]}")
    return lines


def test_a_gap_copy_left_over_is_deleted(kapacitor, run_id):
    """A task named as a gap copy that no thread of the watcher runs (its delete failed while Kapacitor
    restarted, or the watcher died while it ran) is deleted at the watcher's next pass."""
    from tickml.task_watcher import GAP_SUFFIX

    copy = f"{run_id.rstrip('-')}{GAP_SUFFIX}1"
    kapacitor.create(copy, "dbrp \"telemetry\".\"autogen\"\nstream\n    |from()\n        .measurement('nowhere')\n")
    try:
        wait_until(lambda: kapacitor.task(copy) is None, timeout=RECOVERY_SECONDS, what=f"{copy} deleted")
    finally:
        if kapacitor.task(copy) is not None:
            kapacitor.delete(copy)
