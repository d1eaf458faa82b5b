"""What the ingestion tests (test_ingest_*.py) share: run the simulator's
command, and count back exactly what landed in InfluxDB."""

from __future__ import annotations

import subprocess
import sys
import time

from devices.replay import parse_time
from devices.simulator import fleet_messages
from stackutil import wait_until

TYPES = ["thermostat", "barometer"]  # one reading per message: one point per message
DEVICES = 100
MESSAGES = 10_000
READING_KEYS = ("device_id", "timestamp", "tag")


def simulate(stack, protocol: str, run_id: str, *extra: str, seed: int = 1, speed: str = "0"):
    """Start ``tickml devices simulate`` (the stack's addresses and logins) for 10,000 messages of 100 devices, stamped an hour ago.

    Returns the running process and the messages it sends, in order (computed
    by the simulator's library from the same options).
    """
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    command = [
        sys.executable, "-m", "tickml", "devices", "simulate", "--protocol", protocol, "--devices", str(DEVICES),
        "--types", ",".join(TYPES), "--messages", str(MESSAGES), "--seed", str(seed), "--prefix", run_id,
        "--start", start, "--speed", speed, "-q", *extra,
    ]  # fmt: skip
    proc = subprocess.Popen(command, cwd=stack.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    expected = fleet_messages(
        devices=DEVICES, types=TYPES, seed=seed, prefix=run_id, messages=MESSAGES,
        start_ns=parse_time(start), interval=1.0,
    )  # fmt: skip
    return proc, expected


def landed(influx, prefix: str) -> dict[tuple[str, int], float]:
    """(device_id, time) -> value of every device_message point of devices named ``prefix``...; duplicates fail."""
    out = {}
    for row in influx.query(f"SELECT value, device_id FROM device_message WHERE device_id =~ /^{prefix}/"):
        key = (row["device_id"], row["time"])
        assert key not in out, f"two points for {key}"
        out[key] = row["value"]
    return out


def count(influx, prefix: str) -> int:
    rows = influx.query(f"SELECT count(value) FROM device_message WHERE device_id =~ /^{prefix}/")
    return rows[0]["count"] if rows else 0


def expected_points(messages: list[dict]) -> dict[tuple[str, int], float]:
    """(device_id, time) -> value of single-reading messages."""
    want = {}
    for m in messages:
        (value,) = [v for k, v in m.items() if k not in READING_KEYS]
        want[(m["device_id"], parse_time(m["timestamp"]))] = value
    return want


def assert_exactly(influx, prefix: str, expected: list[dict], timeout: float = 45) -> None:
    """Every expected message landed once, with its value, and nothing else of this run."""
    want = expected_points(expected)
    assert len(want) == len(expected), "the simulator's (device_id, time) pairs are distinct"
    wait_until(lambda: count(influx, prefix) >= len(want), timeout=timeout, what=f"{len(want)} points of {prefix}")
    time.sleep(1.5)  # one more flush interval: anything extra would show now
    got = landed(influx, prefix)
    missing = want.keys() - got.keys()
    extra = got.keys() - want.keys()
    assert not missing and not extra, f"{len(missing)} missing, e.g. {sorted(missing)[:3]}; {len(extra)} extra"
    assert len(got) == len(want) and got == want


def send_and_assert_exactly(stack, influx, protocol: str, run_id: str, *extra: str) -> None:
    """The simulator's 10,000 messages over ``protocol``, sent to the end, every one landed exactly once."""
    proc, expected = simulate(stack, protocol, run_id, *extra)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert_exactly(influx, run_id, expected)


def gather_errors(stack, influx, input_name: str) -> tuple[int, int]:
    """(time, errors) of the latest internal_gather point of a Telegraf input since this Telegraf started.

    Telegraf's counters start from 0 at each start; points of an earlier
    instance are ignored, and (0, 0) stands for none yet.
    """
    telegraf = next(s for s in stack.services() if s.name == "telegraf")
    started_ns = int(telegraf.pid_file.stat().st_mtime * 1e9) - 10**9
    rows = influx.query(
        f"SELECT last(errors) AS errors FROM internal_gather WHERE input = '{input_name}' AND alias = '' "
        f"AND time >= {started_ns}",
        database="telegraf",
    )
    return (rows[0]["time"], rows[0]["errors"]) if rows else (0, 0)


def wait_for_more_gather_errors(stack, influx, input_name: str, before: tuple[int, int], more: int) -> None:
    """Wait for an internal_gather point newer than ``before`` with at least ``more`` more errors."""

    def grown():
        now = gather_errors(stack, influx, input_name)
        return now[0] > before[0] and now[1] - before[1] >= more

    wait_until(grown, timeout=30, what=f"internal_gather errors of {input_name} to grow by {more}")


def run_with_telegraf_restart(stack, influx, proc, prefix: str, after: int = 1000, down: float = 1.0) -> str:
    """Wait for ``proc`` (the simulator) while Telegraf is stopped and started again in the middle; its log.

    Telegraf stops once ``after`` points of the run have landed, stays down
    ``down`` seconds while the simulator goes on sending, and starts again.
    Fails if the simulator had finished before Telegraf stopped.
    """
    import threading

    telegraf = next(s for s in stack.services() if s.name == "telegraf")
    old_pid = telegraf.pid()
    assert old_pid is not None, "Telegraf is not running"
    events: list[str] = []

    def restart():
        try:
            wait_until(lambda: count(influx, prefix) > after, timeout=30, interval=0.2, what="the first messages")
            stack.stop_service(telegraf)
            events.append("stopped while sending" if proc.poll() is None else "stopped after sending")
            time.sleep(down)
        finally:
            stack.start_service(telegraf)
            events.append("started")

    worker = threading.Thread(target=restart)
    worker.start()
    try:
        _, err = proc.communicate(timeout=90)
    finally:
        worker.join(timeout=90)
    assert proc.returncode == 0, err
    assert events == ["stopped while sending", "started"], events
    assert telegraf.pid() not in (None, old_pid)
    return err


def private_telegraf_config(stack, path, client_id: str) -> None:
    """The stack's telegraf.conf for a second Telegraf: same Kafka consumer group, its own MQTT
    client id and topics, HTTP listeners on free ports (set by the caller's environment)."""
    from tickml.stack.telegraf import derived_config

    path.write_text(derived_config(mqtt_topics=["private-test/#"], mqtt_client_id=client_id))
