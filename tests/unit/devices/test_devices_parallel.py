"""Sending from several processes (devices/parallel.py) to a real HTTP listener on loopback: every message
arrives once, each device's in order; a worker that cannot open its transport, or fails, is an error that
says so."""

from __future__ import annotations

import functools
import http.server
import json
import threading
import time

import pytest

from devices.pacing import send_scheduled
from devices.parallel import ParallelTransport, WorkerError
from devices.simulator import fleet_messages
from devices.transports import HttpTransport, envelope


class _Listener(http.server.BaseHTTPRequestHandler):
    bodies: list[bytes] = []
    arrived: list[float] = []  # time.monotonic() of each body
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.lock:
            self.bodies.append(body)
            self.arrived.append(time.monotonic())
        self.send_response(204 if self.path == "/devices" else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def listener():
    _Listener.bodies, _Listener.arrived = [], []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Listener)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_every_message_arrives_once_and_each_devices_in_order(listener):
    messages = fleet_messages(devices=50, types=["thermostat", "power_meter"], seed=3, messages=5000, start_ns=0,
                              late=(0.05, 3))  # fmt: skip
    transport = ParallelTransport(functools.partial(HttpTransport, f"{listener}/devices", batch_size=200), 3)
    try:
        for i in range(0, len(messages), 700):
            transport.send_envelopes([envelope(m) for m in messages[i:i + 700]])
        transport.flush()
        assert (transport.sent, transport.refused) == (5000, 0)
    finally:
        transport.close()
    assert transport.cpu_seconds > 0
    received = [m for body in _Listener.bodies for m in json.loads(body)]
    assert sorted(received, key=json.dumps) == sorted(messages, key=json.dumps)

    def per_device(ms):
        out = {}
        for m in ms:
            out.setdefault(m["device_id"], []).append(m)
        return out

    # Late messages included: a device's messages arrive in the order the simulator made them.
    assert per_device(received) == per_device(messages)


def test_a_worker_that_cannot_open_its_transport_says_why():
    with pytest.raises(WorkerError, match=r"sender process \d: cannot open the transport: ValueError: HTTP URL"):
        ParallelTransport(functools.partial(HttpTransport, "ftp://nowhere/devices"), 2)


def test_a_worker_failing_while_sending_is_an_error_naming_the_cause(listener):
    transport = ParallelTransport(functools.partial(HttpTransport, f"{listener}/broken", batch_size=10), 2)
    try:
        with pytest.raises(WorkerError, match="HTTP 503"):
            transport.send_envelopes([envelope({"device_id": f"d-{i}", "tag": "Barometer", "pressure": 1.0})
                                      for i in range(100)])
            transport.flush()
    finally:
        transport.close()  # the failed workers' errors were raised once; the others close cleanly
    assert transport.sent == 0


def test_the_simulator_stops_with_an_error_when_its_sending_processes_fail(listener):
    import subprocess
    import sys

    # Enough messages that some are still queued for the failed workers when the simulator gives up.
    command = [sys.executable, "-m", "devices.simulator", "--protocol", "http", "--http", f"{listener}/broken",
               "--devices", "1000", "--messages", "100000", "--speed", "0", "--processes", "2", "--batch", "50"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "sending failed: sender process" in done.stderr and "HTTP 503" in done.stderr


def test_tickml_devices_simulate_sends_from_several_processes(listener):
    import subprocess
    import sys

    # tickml's commands keep their parser and functions among the options: what reaches the workers is plain.
    command = [sys.executable, "-m", "tickml", "devices", "simulate", "--protocol", "http", "--http",
               f"{listener}/devices", "--devices", "30", "--messages", "300", "--speed", "0", "--processes", "2",
               "--batch", "25"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "sent 300 messages, 0 refused" in done.stderr and "in 3 processes" in done.stderr
    assert len({json.dumps(m) for body in _Listener.bodies for m in json.loads(body)}) == 300


@pytest.mark.parametrize("processes", [1, 2])
def test_a_paced_runs_ticks_go_when_due_not_once_a_request_is_full(listener, processes):
    # 3 devices a tick, requests of up to 1,000 messages: without sending what it holds before each wait, the
    # transport would post everything at the end.
    make = functools.partial(HttpTransport, f"{listener}/devices", batch_size=1000)
    transport = make() if processes == 1 else ParallelTransport(make, processes)
    ticks = [(0.4 * k, [{"device_id": f"d{d}", "tick": k} for d in range(3)]) for k in range(5)]
    try:
        started = time.monotonic()
        send_scheduled(ticks, transport, speed=1.0)
    finally:
        transport.close()
    first_seen = {}
    for body, at in zip(_Listener.bodies, _Listener.arrived):
        for m in json.loads(body):
            first_seen.setdefault(m["tick"], at - started)
    assert sorted(first_seen) == [0, 1, 2, 3, 4]
    for tick, seen in first_seen.items():
        # Posted when the run waits for the next tick: within the 0.4 s before it (a loaded machine: 0.3 more).
        assert seen < 0.4 * tick + 0.7, (tick, seen)
