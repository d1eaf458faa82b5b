"""History through the real stack: backfill with Kapacitor's replay, stop and resume, record and replay, sessions.

Seven days of readings for 100 power meters with known relations are
written to InfluxDB (one every 10 minutes, in a measurement of the test's
own, so that no live task reads them). Tasks are defined from the shipped
TICKscripts with vars of the test's own (that measurement, 6 h windows, a
model of its own), so the backfill runs the shipped script and the real
train UDF server, only over less data.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from stackutil import flush_vars, wait_until
from tickml.history.backfill import HISTORY_SUFFIX, Backfill
from tickml.paths import DATA, ROOT
from udfs.learn import ModelStore

pytestmark = pytest.mark.stack

SECOND = 10**9
DAY = 86400 * SECOND
STEP = 600 * SECOND  # one reading every 10 minutes
DEVICES = 100
TRAIN = (ROOT / "tick_scripts" / "power_train.tick").read_text()
PREDICT = (ROOT / "tick_scripts" / "power_predict.tick").read_text()
PREPROCESS = (ROOT / "tick_scripts" / "power_preprocess.tick").read_text()


def relation(k: int) -> tuple[float, float, float]:
    """Device k's power = a * voltage + b * current + c."""
    return 1.0 + 0.5 * (k % 5), 20.0 + 10.0 * (k % 7), 100.0 * (k % 3)


def _vars(**values) -> dict:
    """Task vars as Kapacitor's API takes them: ``6h`` a duration, any other text a string; and the tests' flush
    interval."""
    kind = lambda v: "duration" if re.fullmatch(r"\d+[smhd]", v) else "string"  # noqa: E731
    return flush_vars(**{name: {"type": kind(v), "value": v} for name, v in values.items()})


def _emitted(kapacitor, task: str, node: str) -> int:
    """Points the task's nodes of a kind (``from``: those of its measurement) passed on, by Kapacitor's statistics."""
    stats = kapacitor.task(task)["stats"]["node-stats"]
    return sum(v.get("emitted", 0) for name, v in stats.items() if name.rstrip("0123456789") == node)


def _written(kapacitor, task: str, udf: str) -> int | None:
    """Points the task's influxDBOut wrote, once all its ``from`` passed on has gone through (by Kapacitor's
    statistics): the window node took every point, the UDF answered every window it emitted (one point each),
    and every answer is written. None while some are on their way."""
    stats = kapacitor.task(task)["stats"]["node-stats"]

    def stat(node: str, key: str) -> int:
        return sum(v.get(key, 0) for name, v in stats.items() if name.rstrip("0123456789") == node)

    written = stat("influxdb_out", "points_written")
    through = (stat("window", "collected") == stat("from", "emitted")
               and stat("window", "emitted") == stat(udf, "collected") == stat(udf, "emitted")
               == stat("influxdb_out", "collected") == written)
    return written if through else None


def _delete(kapacitor, *tasks):
    for task in tasks:
        try:
            kapacitor.delete(task)
        except RuntimeError:
            pass


@pytest.fixture(scope="module")
def history(stack, influx, kapacitor):
    """7 days of readings for 100 devices, up to the last 12 h boundary (so 6 h windows and 12 h chunks align)."""
    run = f"h{int(time.time()) % 100000}"
    measurement = f"history_{run}"
    rng = np.random.default_rng(15)
    end = (time.time_ns() // (12 * 3600 * SECOND)) * 12 * 3600 * SECOND
    start = end - 7 * DAY
    devices = [f"{run}-pm-{k}" for k in range(DEVICES)]
    lines = []
    for t in range(start, end, STEP):
        for k, device in enumerate(devices):
            a, b, c = relation(k)
            v, i = rng.uniform(220, 240), rng.uniform(5, 15)
            lines.append(f"{measurement},device_id={device} voltage={v!r},current={i!r},"
                         f"power={a * v + b * i + c + rng.normal(0, 0.5)!r} {t}")
    for j in range(0, len(lines), 10_000):
        influx.write(lines[j:j + 10_000])
    yield {"run": run, "measurement": measurement, "start": start, "end": end, "devices": devices,
           "points": len(lines), "where": f"device_id =~ /^{run}-/"}
    influx.execute(f'DROP MEASUREMENT "{measurement}"', database="telemetry")


def _train_task(kapacitor, name, measurement, model):
    _delete(kapacitor, name, name + HISTORY_SUFFIX)
    kapacitor.create(name, TRAIN, _vars(measurement=measurement, period="6h", every="6h", model=model))


@pytest.fixture(scope="module")
def backfilled(history, influx, kapacitor):
    """One uninterrupted backfill of the train task over the 7 days."""
    run = history["run"]
    task, model = f"{run}_train", f"history-{run}"
    _train_task(kapacitor, task, history["measurement"], model)
    began = time.monotonic()
    summary = Backfill(kapacitor, influx, task, history["start"], history["end"], where=history["where"],
                       target_points=30_000, progress=False).run()
    seconds = time.monotonic() - began
    print(f"\nbackfill of {history['points']:,} points in {seconds:.1f} s: " + "; ".join(summary.lines()))
    yield {"task": task, "model": model, "summary": summary, "store": ModelStore(DATA / "models" / model)}
    _delete(kapacitor, task, task + HISTORY_SUFFIX)


def _relation_of(store: ModelStore, device: str) -> tuple[float, float, float]:
    """The model's slopes a and b and its power at 230 V, 10 A, read off its predictions (independent of how
    it stores them; the intercept itself lies far outside the data, 220 to 240 V)."""
    model = store.model(device)
    base = model.predict_row([230.0, 10.0])
    return model.predict_row([231.0, 10.0]) - base, model.predict_row([230.0, 11.0]) - base, base


def test_backfill_trains_every_device_and_the_live_task_takes_over(history, backfilled, influx, kapacitor):
    summary, store, model = backfilled["summary"], backfilled["store"], backfilled["model"]
    # 28 windows of 6 h in 7 days per device; the last stays open (no point past it), as it would live.
    assert summary.chunks >= 3 and summary.chunks_left == 0
    assert summary.statuses["deployed"] + summary.statuses["kept"] == DEVICES * 27
    assert not summary.reasons and len(summary.entities) == DEVICES
    assert kapacitor.task(backfilled["task"] + HISTORY_SUFFIX) is None, "the copy is deleted once done"
    for k, device in enumerate(history["devices"]):
        doc = store.document(device)
        assert doc["windows"] == 27 and doc["windows_until"] == history["end"] - 6 * 3600 * SECOND - STEP
        # A champion is fitted on one window (36 readings, noise 0.5 W): the standard errors of its slopes are
        # about 0.015 (voltage, 220 to 240 V) and 0.03 (current, 5 to 15 A), of its power at the centre 0.08 W;
        # each within 5 of them.
        a, b, c = relation(k)
        got = np.array(_relation_of(store, device))
        assert (np.abs(got - (a, b, a * 230 + b * 10 + c)) < (0.08, 0.15, 0.45)).all(), (device, got, (a, b, c))
    versions = {d: store.document(d)["version"] for d in history["devices"]}

    # The live task takes over: the first live reading of each device is answered by its own model.
    predict = f"{history['run']}_predict"
    _delete(kapacitor, predict)
    kapacitor.create(predict, PREDICT, _vars(measurement=history["measurement"], model=model), status="enabled")
    try:
        live = history["end"] + 60 * SECOND
        influx.write([f"{history['measurement']},device_id={d} voltage=230.0,current=10.0 {live}"
                      for d in history["devices"]])
        query = f"SELECT * FROM predictions WHERE model = '{model}' AND time = {live}"
        rows = wait_until(lambda: (lambda r: r if len(r) == DEVICES else None)(influx.query(query)),
                          timeout=60, what="a prediction for every device's first live reading")
        assert {r["Answeredby"] for r in rows} == {"entity"}
        assert {r["device_id"]: r["Modelversion"] for r in rows} == versions
        for row in rows:
            a, b, c = relation(int(row["device_id"].rsplit("-", 1)[1]))
            assert row["Hyperprediction"] == pytest.approx(a * 230 + b * 10 + c, rel=0.01)
    finally:
        _delete(kapacitor, predict)


def test_a_backfill_stopped_halfway_and_resumed_ends_as_one_run(history, backfilled, influx, kapacitor):
    run = history["run"]
    task, model = f"{run}_resumed", f"history-{run}-resumed"
    _train_task(kapacitor, task, history["measurement"], model)
    # A fifth of the devices (pm-0 to pm-19): each device's windows are its own, so these end as in the
    # uninterrupted run of all of them, or not.
    devices = [d for d in history["devices"] if int(d.rsplit("-", 1)[1]) < 20]
    command = [sys.executable, "-m", "tickml", "history", "backfill", task, "--from", str(history["start"]),
               "--to", str(history["end"]), "--where", f"device_id =~ /^{run}-pm-1?[0-9]$/", "--chunk", "12h", "-q"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    pattern = f"history-{task}-*"
    finished = lambda: len([r for r in kapacitor.replays(pattern) if r["status"] == "finished"])  # noqa: E731
    try:
        # 14 chunks of 12 h (other chunks than the uninterrupted run's); Ctrl-C once half of them are replayed.
        first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_until(lambda: finished() >= 7, timeout=180, interval=0.05, what="half the chunks replayed")
        first.send_signal(signal.SIGINT)
        out, _ = first.communicate(timeout=120)
        assert first.returncode == 130, out
        assert "chunks left" in out and "run the same command again" in out
        done = finished()
        assert 7 <= done < 14, out
        again = subprocess.run(command, env=env, timeout=300, capture_output=True, text=True)
        assert again.returncode == 0, again.stderr
        assert f"{done} of 14 chunks were replayed before" in again.stdout + again.stderr
        resumed = ModelStore(DATA / "models" / model)
        assert backfilled["store"].keys() == sorted(history["devices"]) and resumed.keys() == sorted(devices)
        for device in devices:
            a, b = backfilled["store"].document(device), resumed.document(device)
            del a["created"], b["created"]
            # The same champion, judged on the same windows, each window once (``windows`` counts them).
            assert a == b and a["windows"] == 27
        counts = [influx.query(f"SELECT count(Status) FROM trained_models WHERE model = '{m}'")[0]["count"]
                  for m in (backfilled["model"], model)]
        assert counts == [DEVICES * 27, len(devices) * 27]
    finally:
        _delete(kapacitor, task, task + HISTORY_SUFFIX)


def _by_point(rows: list[dict], leave_out=("Created", "Model", "model")) -> dict:
    """Rows by device and time, without what differs by design and without the columns a row lacks (InfluxDB
    answers with every column of the measurement, other tasks' included)."""
    return {(r["device_id"], r["time"]): {k: v for k, v in r.items() if k not in leave_out and v is not None}
            for r in rows}


def test_a_recording_replayed_into_the_tasks_gives_what_the_live_run_gave(stack, influx, kapacitor, run_id):
    """A live run of the shipped preprocess and train scripts is recorded (kapacitor record stream), then the
    recording is replayed into tasks of the same scripts that write into a database of their own."""
    run = run_id.strip("-")
    measurement, database = f"recorded_{run}", f"replayed_{run}"
    live = {"pre": f"{run}_live_pre", "train": f"{run}_live_train"}
    again = {"pre": f"{run}_again_pre", "train": f"{run}_again_train"}
    influx.execute(f'CREATE DATABASE "{database}"')
    kapacitor.create(live["pre"], PREPROCESS, _vars(measurement=measurement), status="enabled")
    kapacitor.create(live["train"], TRAIN, _vars(measurement=measurement, model=f"{run}-live"), status="enabled")
    kapacitor.create(again["pre"], PREPROCESS, _vars(measurement=measurement, database=database))
    kapacitor.create(again["train"], TRAIN, _vars(measurement=measurement, model=f"{run}-again", database=database))
    recording = f"{run}-fleet"
    try:
        stop_s = int(time.time()) + 12
        kapacitor.record_stream(live["pre"], time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stop_s)), recording)
        # The demo fleet's power meters, with faults, three minutes of readings sent as fast as they go.
        from devices.simulator import fleet_messages

        base = (time.time_ns() // (60 * SECOND)) * 60 * SECOND - 10 * 60 * SECOND
        messages = fleet_messages(devices=6, types=["power_meter"], seed=3, prefix=run_id, start_ns=base, ticks=181,
                                  spikes=(0.02, 8.0), missing=0.0)
        from devices.replay import parse_time

        lines = [f"{measurement},device_id={m['device_id']} voltage={float(m['voltage'])!r},current={float(m['current'])!r},"
                 f"power={float(m['power'])!r} {parse_time(m['timestamp'])}" for m in messages]
        influx.write(lines)
        # A stream recording ends at the first point of its measurements stamped after its stop (these readings
        # are stamped in the past). Once the live task has them all, so has the recording: a point stamped past
        # the stop ends it, of a device of its own, so that no window of the fleet's closes by it.
        wait_until(lambda: _emitted(kapacitor, live["pre"], "from") >= len(lines), timeout=30,
                   what="the readings in Kapacitor's stream")
        influx.write(f"{measurement},device_id={run_id}closer voltage=1.0,current=1.0,power=1.0 "
                     f"{(stop_s + 1) * SECOND}")
        wait_until(lambda: (kapacitor.recording(recording) or {}).get("status") == "finished", timeout=60,
                   what="the recording to end")
        assert kapacitor.recording(recording)["size"] > 0

        def written(task, udf, query):
            """The live task's results, once all it will write of the readings is in InfluxDB."""
            n = _written(kapacitor, task, udf)
            rows = influx.query(query) if n else []
            return rows if n and len(rows) == n else None

        pre_q = f"SELECT * FROM power_preprocessed WHERE device_id =~ /^{run_id}/"
        train_q = f"SELECT * FROM trained_models WHERE device_id =~ /^{run_id}/"
        live_pre = wait_until(lambda: written(live["pre"], "preprocess", pre_q), timeout=60, interval=0.2,
                              what="the live preprocess task's results")
        live_train = wait_until(lambda: written(live["train"], "train", train_q + f" AND model = '{run}-live'"),
                                timeout=60, interval=0.2, what="the live train task's results")

        def replayed(query):
            """A replay is finished once its task has stopped, its influxDBOut flushed: what it wrote is in."""
            return influx.query(query, database=database)

        # Replay: one with the kapacitor CLI as a user would, one through the same HTTP call.
        env = {**os.environ, **dict(line.removeprefix("export ").split("=", 1) for line in subprocess.run(
            [sys.executable, "-m", "tickml", "secrets", "env"], capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout.splitlines())}
        env = {k: v.strip("'") for k, v in env.items()}
        out = subprocess.run([str(stack.BIN / "kapacitor"), "replay", "-task", again["pre"], "-recording", recording,
                              "-rec-time"], env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        replay = kapacitor.replay_recording(again["train"], recording, f"{run}-again-train")
        wait_until(lambda: kapacitor.replay(replay["id"])["status"] != "running", what="the replay")
        assert kapacitor.replay(replay["id"])["status"] == "finished", kapacitor.replay(replay["id"])
        replayed_pre, replayed_train = replayed(pre_q), replayed(train_q)

        assert len(live_pre) >= 6 * 15 and len(live_train) >= 6 * 7
        # The same windows with the same fields; numbers equal to the last bits or nearly. The preprocess UDF
        # computes the windows that reach it together as one 2-D array (udfs/windowstats/batch.py), whose row
        # sums round differently in the last bit from a window's own, and a replay hands it more windows at
        # once than the live run did; least squares (LAPACK) may round differently with the arrays' alignment.
        for replayed, original in ((replayed_pre, live_pre), (replayed_train, live_train)):
            got, want = _by_point(replayed), _by_point(original)
            assert got.keys() == want.keys()
            for key in want:
                assert got[key].keys() == want[key].keys(), key
                for field, value in want[key].items():
                    if isinstance(value, (int, float)) and not isinstance(value, bool):  # JSON gives 100.0 as 100
                        assert got[key][field] == pytest.approx(value, rel=1e-12, abs=1e-12), (key, field)
                    else:
                        assert got[key][field] == value, (key, field)
        assert {r["Status"] for r in live_train} <= {"deployed", "kept"}
    finally:
        _delete(kapacitor, *live.values(), *again.values())
        for call in (lambda: kapacitor.delete_recording(recording), lambda: influx.execute(f'DROP DATABASE "{database}"')):
            try:
                call()
            except Exception:
                pass


def _campaign(path: Path, run_id: str, ticks: int) -> int:
    """A recorded campaign: four power meters, one message a second; the messages in it."""
    from devices.simulator import fleet_messages

    messages = fleet_messages(devices=4, types=["power_meter"], seed=8, prefix=run_id,
                              start_ns=(time.time_ns() // SECOND - 600) * SECOND, ticks=ticks)
    import json

    path.write_text("".join(json.dumps(m) + "\n" for m in messages))
    return len(messages)


def _publish(name: str, path: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tickml", "history", "session", "publish", name, str(path),
                           "--protocol", "http", "-q", *options], env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120)


def test_a_session_replayed_ten_times_faster_lands_whole_with_its_tag_and_state(stack, influx, run_id, tmp_path):
    from tickml.history.sessions import states

    name = f"{run_id}campaign"
    sent = _campaign(tmp_path / "campaign.jsonl", run_id, ticks=30)  # 30 s of readings: 3 s at x10
    began = time.monotonic()
    out = _publish(name, tmp_path / "campaign.jsonl", "--speed", "10")
    took = time.monotonic() - began
    assert out.returncode == 0, out.stderr
    assert f"session {name}: closed" in out.stdout
    assert 2.5 < took < 30, took  # paced: 29 s of campaign at x10 (plus the command's start)
    query = f"SELECT count(value) FROM device_message WHERE session = '{name}'"
    rows = wait_until(lambda: (lambda r: r if r and r[0]["count"] == 3 * sent else None)(influx.query(query)),
                      timeout=60, what="every reading of the session")
    assert rows[0]["count"] == 3 * sent  # voltage, current and power of each message, each with the tag
    (state,) = states(influx, "telemetry", name)
    assert (state["state"], state["messages"], state["sent"]) == ("closed", sent, sent)


def test_a_session_cut_short_is_truncated_and_one_into_a_database_of_its_own_stays_there(stack, influx, run_id,
                                                                                          tmp_path):
    from tickml.history.sessions import states

    total = _campaign(tmp_path / "long.jsonl", run_id, ticks=60)
    cut = f"{run_id}cut"
    out = _publish(cut, tmp_path / "long.jsonl", "--speed", "10", "--duration", "2")
    assert out.returncode == 3 and f"session {cut}: truncated" in out.stdout, out.stderr
    (state,) = states(influx, "telemetry", cut)
    assert state["state"] == "truncated" and 0 < state["sent"] < total
    query = f"SELECT count(value) FROM device_message WHERE session = '{cut}'"
    wait_until(lambda: (lambda r: r and r[0]["count"] == 3 * state["sent"])(influx.query(query)), timeout=60,
               what="every reading sent before the cut")

    database = f"sessions_{run_id.strip('-')}"
    apart = f"{run_id}apart"
    try:
        short = _campaign(tmp_path / "short.jsonl", run_id + "x", ticks=5)
        out = _publish(apart, tmp_path / "short.jsonl", "--speed", "0", "--database", database)
        assert out.returncode == 0, out.stderr
        query = f"SELECT count(value) FROM device_message WHERE session = '{apart}'"
        wait_until(lambda: (lambda r: r and r[0]["count"] == 3 * short)(influx.query(query, database=database)),
                   timeout=60, what="the session in its own database")
        assert influx.query(query) == []  # nothing of it in telemetry, where the live tasks run
        assert states(influx, database, apart)[0]["state"] == "closed"
    finally:
        influx.execute(f'DROP DATABASE "{database}"')
