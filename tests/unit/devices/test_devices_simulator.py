"""The simulator's pure parts: device types, the fleet, the command line, HTTP batching."""

from __future__ import annotations

import http.server
import io
import json
import re
import threading

import pytest

from devices import simulator, transports
from devices.fleet import DEVICE_TYPES, SENSORS, Fleet, type_of_tag
from devices.transports import HttpTransport, envelope

T0 = 1_700_000_000 * 10**9


def test_the_fleets_device_types_are_declared_for_telegraf_and_every_json_input_keeps_strings():
    import tomllib

    from tickml import device_types

    assert set(DEVICE_TYPES) >= {"thermostat", "barometer", "hygrometer", "heart_rate_meter", "temp_sensor",
                                 "power_meter"}  # fmt: skip
    schema = device_types.load()
    for kind in DEVICE_TYPES.values():
        assert type_of_tag(kind.tag) == kind.name
        declared = schema.type_of(kind.tag)
        # Stored under the tag lower-cased, as before the types were declared, with every sensor a number.
        assert declared is not None and declared.name == kind.tag.lower(), kind.tag
        assert {r.name: r.kind for r in declared.readings} == {s: "number" for s in kind.sensors}, kind.tag
    assert set(SENSORS) <= set(json.loads(schema.telegraf_constant())["numbers"])
    conf = tomllib.loads((simulator.ROOT / "telegraf" / "telegraf.conf").read_text())
    json_inputs = [i for kind in ("mqtt_consumer", "http_listener_v2", "kafka_consumer")
                   for i in conf["inputs"][kind] if i.get("data_format") == "json"]
    # MQTT, HTTP, the sessions listener and Kafka keep every string: the validator decides what is a reading.
    assert len(json_inputs) == 4 and all(i["json_string_fields"] == ["*"] for i in json_inputs)


def test_otlp_sends_as_attributes_what_the_json_inputs_read_as_tags():
    import tomllib

    from devices.otlp import TAG_KEYS

    conf = tomllib.loads((simulator.ROOT / "telegraf" / "telegraf.conf").read_text())
    json_inputs = [i for kind in ("mqtt_consumer", "http_listener_v2", "kafka_consumer")
                   for i in conf["inputs"][kind] if i.get("data_format") == "json"]
    # tickml_database is a tag of the sessions listener alone; the processor drops it from every other input.
    assert json_inputs and {k for i in json_inputs for k in i["tag_keys"]} == set(TAG_KEYS)
    assert all(i["tag_keys"] == ["sensor", "session"] for i in json_inputs if i.get("alias") != "sessions")


def test_a_power_meter_reports_voltage_current_and_their_power():
    fleet = Fleet.create(20, ["power_meter"], seed=5)
    for sample in fleet.samples(T0):
        r = sample.readings
        assert set(r) == {"voltage", "current", "power"}
        assert r["power"] == pytest.approx(r["voltage"] * r["current"] * 0.95, abs=1e-3)
        assert 200 < r["voltage"] < 260 and 0 < r["current"] < 12


def test_a_hundred_thousand_devices_are_created_and_tick():
    fleet = Fleet.create(100_000, list(DEVICE_TYPES), seed=0)
    samples = fleet.samples(T0)
    assert len(samples) == 100_000 and len({s.device_id for s in samples}) == 100_000


def test_the_same_seed_gives_the_same_messages():
    options = dict(devices=30, types=["thermostat", "power_meter"], seed=9, messages=100, start_ns=T0)
    assert simulator.fleet_messages(**options) == simulator.fleet_messages(**options)
    assert simulator.fleet_messages(**options) != simulator.fleet_messages(**{**options, "seed": 10})


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--devices", "0"], "devices must be between 1 and 100000, got 0"),
        (["--devices", "100001"], "devices must be between 1 and 100000"),
        (["--types", "toaster"], r"unknown device type\(s\) \['toaster'\]"),
        (["--rate", "10", "--interval", "1"], "give --rate or --interval, not both"),
        (["--speed", "-1"], "--speed must be 0 or positive"),
        (["--missing", "2"], "argument --missing: P must be between 0 and 1, got 2.0"),
        (["--start", "soonish"], "--start wants now"),
        (["--messages", "0"], "--messages must be at least 1"),
    ],
)
def test_bad_command_lines_say_what_is_wrong(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        simulator.main(["--protocol", "stdout", *argv])
    assert exit_info.value.code == 2
    import re

    assert re.search(message, capsys.readouterr().err)


def test_stdout_protocol_prints_the_messages_of_the_library(capsysbinary):
    argv = ["--protocol", "stdout", "--devices", "5", "--types", "temp_sensor,barometer", "--messages", "12",
            "--start", "2026-01-01T00:00:00Z", "--speed", "0", "--seed", "4", "--missing", "0.2", "-q"]  # fmt: skip
    assert simulator.main(argv) == 0
    lines = capsysbinary.readouterr().out.decode().splitlines()
    expected = simulator.fleet_messages(devices=5, types=["temp_sensor", "barometer"], seed=4, messages=12,
                                        start_ns=1767225600 * 10**9, missing=0.2)  # fmt: skip
    assert [json.loads(line) for line in lines] == expected
    assert expected[5]["timestamp"] == "2026-01-01T00:00:01.000Z"


def test_rate_sets_the_interval_and_start_defaults_to_end_now(capsysbinary, monkeypatch):
    monkeypatch.setattr(simulator.time, "time_ns", lambda: 1767225600 * 10**9)
    simulator.main(["--protocol", "stdout", "--devices", "4", "--rate", "8", "--ticks", "3", "--speed", "0", "-q"])
    stamps = [json.loads(line)["timestamp"] for line in capsysbinary.readouterr().out.decode().splitlines()]
    # 8 messages/s from 4 devices: one per device every 0.5 s, the last tick at "now".
    assert stamps[::4] == ["2025-12-31T23:59:59.000Z", "2025-12-31T23:59:59.500Z", "2026-01-01T00:00:00.000Z"]


def test_parse_start():
    now = 1767225600 * 10**9
    assert simulator.parse_start("now", now) == now
    assert simulator.parse_start("now-1.5h", now) == now - 5400 * 10**9
    assert simulator.parse_start("1767225600", now) == now


class _Listener(http.server.BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            json.loads(body)
            status = 204
        except ValueError:
            status = 400
        self.bodies.append(body)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_http_batches_arrays_and_sends_raw_lines_alone():
    _Listener.bodies = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Listener)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        transport = HttpTransport(f"http://127.0.0.1:{server.server_port}/devices", batch_size=2)
        messages = [{"device_id": f"d-{i}", "tag": "Barometer", "pressure": float(i)} for i in range(5)]
        transport.send_envelopes([envelope(m) for m in messages[:3]] + [envelope(b"oops")] +
                                 [envelope(m) for m in messages[3:]])  # fmt: skip
        transport.close()
    finally:
        server.shutdown()
    assert [json.loads(b) if b != b"oops" else b for b in _Listener.bodies] == [
        messages[0:2], messages[2:3], b"oops", messages[3:5]
    ]
    assert (transport.sent, transport.refused) == (5, 1)


def test_stdout_transport_writes_json_lines():
    out = io.BytesIO()
    transport = transports.StdoutTransport(out)
    transport.send_envelopes([envelope({"device_id": "a", "tag": "Thermostat", "temperature": None})])
    assert out.getvalue() == b'{"device_id":"a","tag":"Thermostat","temperature":null}\n'


def test_sigterm_stops_a_run_as_ctrl_c_does_with_its_counts():
    """supervisord, systemd and docker stop with SIGTERM: the run ends cleanly, every message it counts
    as sent was handed over (here: printed), and it exits 130 as after Ctrl-C."""
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "devices.simulator", "--protocol", "stdout", "--devices", "3",
                             "--interval", "0.1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    # The first message out says the run is sending (its handlers are set before it sends): a fixed wait was
    # shorter than the simulator's import on a loaded machine, and SIGTERM then killed it before the run began.
    # Unbuffered, so that the line read here is all that communicate() does not see.
    first = proc.stdout.readline()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err.decode()
    summary = re.search(rb"interrupted: sent (\d+) messages", err)
    assert summary, err.decode()
    # A signal between two messages of one round (3 devices) leaves that round's printed messages uncounted.
    counted, printed = int(summary.group(1)), len((first + out).splitlines())
    assert counted <= printed <= counted + 3 and printed > 0, (counted, printed)
