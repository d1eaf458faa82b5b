"""An open device schema (telegraf/device_types.toml), tried on the real Telegraf.

The validator's rules run in Telegraf's Starlark, which Python cannot run, so
the first tests hand messages to the real binary (.stack/bin/telegraf) in its
test mode: the shipped processor and the /devices listener's JSON parser from
telegraf.conf, on a free port, without the stack, its TLS or its logins; what
Telegraf prints is what it would write. The rest run on the stack: a type
declared only in the shipped file (the sample `tracker`: a string, a number
and a position) published over MQTT by a registered device with its own login
lands in InfluxDB and feeds the task device_text_geo (countstr, uniquestr,
consistency, geodiff), and a device bringing 40 sensor names of its own is
stopped at 32 while its first readings stay.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
import urllib.request

import numpy as np
import pytest

from devices.fleet import encode, format_timestamp
from stackutil import wait_for_rows, wait_until
from tickml import device_types
from tickml.paths import BIN, ROOT
from tickml import config
from tickml.stack import telegraf
from udfs.windowstats import Plan, compute_many

SECOND = 10**9
T0 = "2026-01-01T00:00:00Z"
T0_NS = 1767225600 * SECOND


# ---------------------------------------------------------------------------
# The validator on the real binary, without the stack


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _harness_config() -> str:
    """The shipped processor, and the /devices listener without TLS, a login or a sender (the senders' processor
    is not here; the test mode writes nothing)."""
    sections = telegraf.sections(config.TELEGRAF_CONF.read_text())
    (processor,) = [text for header, text in sections if header == "[[processors.starlark]]"]
    (listener,) = [text for header, text in sections if header == "[[inputs.http_listener_v2]]" and '"/devices"' in text]
    listener = "".join(line for line in listener.splitlines(keepends=True)
                       if not re.match(r"\s*(tls_|basic_|tickml_sender)", line))
    return "[agent]\n  omit_hostname = true\n  skip_processors_after_aggregators = true\n\n" + processor + listener


def _parse_line(line: str) -> tuple[str, dict, dict]:
    """One line of line protocol as Telegraf's test mode prints it (``> name,tags fields time``)."""
    head, rest = re.match(r"> ((?:[^ \\]|\\.)+) (.*) \d+$", line).group(1, 2)
    name, *pairs = re.split(r"(?<!\\),", head)
    tags = dict(re.sub(r"\\(.)", r"\1", p).split("=", 1) for p in pairs)
    fields = {}
    for key, value in re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|[^,]+)', rest):
        if value.startswith('"'):
            fields[key] = re.sub(r"\\(.)", r"\1", value[1:-1])
        elif value.endswith("i"):
            fields[key] = int(value[:-1])
        else:
            fields[key] = float(value)
    return name, tags, fields


def validate(messages: list[dict], schema: str | None = None) -> list[tuple[str, dict, dict]]:
    """What Telegraf makes of ``messages`` (one POST): every point its processor emits, in order."""
    binary = BIN / "telegraf"
    if not binary.exists():
        pytest.skip(f"{binary} is missing: run stack/install.sh")
    port = _free_port()
    conf = ROOT / ".stack" / "run" / f"schema-test-{port}.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(_harness_config())
    env = {**os.environ, "TICKML_TELEGRAF_DIR": str(ROOT / "telegraf"), "TICKML_HTTP_LISTEN": f"127.0.0.1:{port}",
           device_types.ENVIRONMENT_VARIABLE: schema or device_types.load().telegraf_constant()}
    proc = subprocess.Popen([str(binary), "--config", str(conf), "--test", "--test-wait", "3"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def listening():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return True
            except OSError:
                return proc.poll() is not None  # gone: its stderr says why

        wait_until(listening, timeout=20, interval=0.05, what="the test-mode Telegraf's listener")
        request = urllib.request.Request(f"http://127.0.0.1:{port}/devices", data=json.dumps(messages).encode(),
                                         method="POST")
        assert urllib.request.urlopen(request, timeout=10).status == 204
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        conf.unlink(missing_ok=True)
    assert proc.returncode == 0 and " E! " not in err, err
    return [_parse_line(line) for line in out.splitlines() if line.startswith("> ")]


def by_device(points) -> dict[str, list[tuple[str, dict, dict]]]:
    out: dict = {}
    for name, tags, fields in points:
        out.setdefault(tags.get("device_id"), []).append((name, tags, fields))
    return out


def msg(device: str, **readings) -> dict:
    return {"device_id": device, "timestamp": T0, **readings}


def readings_of(points) -> dict[str, dict]:
    """sensor -> fields of the device_message points; a reject as {"reason": ..., "detail": ...}."""
    out = {}
    for name, tags, fields in points:
        if name == "device_reject":
            out["reject"] = {"reason": tags["reason"], "detail": fields["detail"]}
        else:
            out[tags["sensor"]] = {**fields, "device_type": tags.get("device_type")}
    return out


def test_the_validator_takes_each_kind_where_it_belongs_and_rejects_what_the_schema_refuses():
    got = by_device(validate([
        msg("tr-1", tag="Tracker", status="moving", battery=87.5, lat=48.2082, lon=16.3738, note="hi", rssi=-70),
        msg("tr-2", tag="tracker", status=5),  # a tag of any case; a number where a string belongs
        msg("tr-3", tag="Tracker", lat=91.0, lon=16.0),
        msg("tr-4", tag="Tracker", lat=48.0),
        msg("tr-5", tag="Tracker", lat="north", lon=16.0),
        msg("tr-6", tag="Tracker", status="x" * 1025),
        msg("tr-7", tag="Tracker", battery=None, lon=-180.0, lat=-90.0),  # the ends of the ranges
        {"device_id": "tr-8", "timestamp": T0, "tag": "Tracker", "sensor": "status", "value": "parked"},
        {"device_id": "tr-9", "timestamp": T0, "tag": "Tracker", "sensor": "position", "value": 1.0},
        msg("th-1", tag="Thermostat", temperature="warm"),  # as before the schema: a declared number
        msg("th-2", tag="Thermostat", temperature=21.5, status="ok", on=True),
        msg("lamp-1", tag="Lamp", level=3, on=True, name="desk", temperature=20),  # no type declared
        msg("lamp-2", tag="Lamp", on=True, name="desk"),
        msg("lamp-3", tag="Lamp", temperature=True),
        {"device_id": "one-1", "timestamp": T0, "sensor": "CO2 Level", "value": 415},
        {"device_id": "one-2", "timestamp": T0, "sensor": "status", "value": "on"},
        msg("never-1", tag="Lamp", value=3, tickml_database="other", session_x="s"),
    ]))
    tr1 = readings_of(got["tr-1"])
    assert tr1 == {
        "status": {"text": "moving", "device_type": "tracker"},
        "battery": {"value": 87.5, "device_type": "tracker"},
        "position": {"latitude": 48.2082, "longitude": 16.3738, "device_type": "tracker"},
        "rssi": {"value": -70.0, "device_type": "tracker"},  # the default mode: a number the type does not list
    }, "a string the type does not list (note) is left out"
    reject = {d: readings_of(got[d])["reject"] for d in ("tr-2", "tr-3", "tr-4", "tr-5", "tr-6", "th-1", "lamp-2",
                                                           "lamp-3", "one-2", "tr-9")}
    assert reject["tr-2"] == {"reason": "not_a_string", "detail": "status is float 5.0, want a string"}
    assert reject["tr-3"] == {"reason": "bad_position", "detail": "position is (91.0, 16.0), want a latitude "
                                                                  "within [-90, 90] and a longitude within [-180, 180]"}
    assert reject["tr-4"] == {"reason": "bad_position", "detail": "position has lat but no lon"}
    assert reject["tr-5"] == {"reason": "not_a_number", "detail": 'lat is string "north", want a number'}
    assert reject["tr-6"] == {"reason": "string_too_long", "detail": "status holds 1025 characters, at most 1024"}
    assert reject["tr-9"]["reason"] == "bad_position"
    assert readings_of(got["tr-7"]) == {"position": {"latitude": -90.0, "longitude": -180.0,
                                                     "device_type": "tracker"}}
    assert readings_of(got["tr-8"]) == {"status": {"text": "parked", "device_type": "tracker"}}
    assert reject["th-1"] == {"reason": "not_a_number", "detail": 'temperature is string "warm", want a number'}
    # Another type's string reading and a boolean are no readings of a thermostat.
    assert readings_of(got["th-2"]) == {"temperature": {"value": 21.5, "device_type": "thermostat"}}
    assert readings_of(got["lamp-1"]) == {"level": {"value": 3.0, "device_type": "lamp"},
                                          "temperature": {"value": 20.0, "device_type": "lamp"}}
    assert reject["lamp-2"] == {"reason": "no_reading",
                                "detail": "no sensor reading and no number for the default mode (got: name, on)"}
    assert reject["lamp-3"]["reason"] == "not_a_number"  # a declared number from any type
    assert readings_of(got["one-1"]) == {"co2_level": {"value": 415.0, "device_type": None}}
    assert reject["one-2"]["reason"] == "no_reading"  # another type's string reading
    # Keys that are never readings, whatever they hold.
    assert readings_of(got["never-1"])["reject"]["reason"] == "no_reading"


def test_a_device_brings_at_most_the_cap_of_names_of_its_own_and_keeps_the_ones_it_has():
    schema = json.loads(device_types.load().telegraf_constant())
    schema.update(max_sensors=3, max_devices=2)
    got = by_device(validate([
        msg("c-1", a=1, b=2),
        msg("c-1", a=1, c=3, temperature=20.0),  # a declared name is never counted
        msg("c-1", d=4, e=5),
        msg("c-1", a=6, c=7),
        msg("c-2", x=1),
        msg("c-3", x=1),  # a third device: the table is full
        msg("c-3", temperature=1.0),
    ], schema=json.dumps(schema)))
    c1 = [(n, t.get("sensor") or t["reason"], f) for n, t, f in got["c-1"]]
    assert sorted(s for n, s, _ in c1 if n == "device_message") == ["a", "a", "a", "b", "c", "c", "temperature"]
    (rejected,) = [f for n, _, f in c1 if n == "device_reject"]
    assert rejected["detail"] == "the device has 3 sensor names of its own, at most 3; this message brings d, e"
    assert [t["sensor"] for _, t, _ in got["c-2"]] == ["x"]
    assert [(n, t.get("reason") or t.get("sensor")) for n, t, _ in got["c-3"]] == [
        ("device_reject", "too_many_sensors"), ("device_message", "temperature")]
    assert got["c-3"][0][2]["detail"].startswith("Telegraf keeps count of 2 devices' own sensor names already")


def test_the_default_mode_off_takes_only_declared_readings():
    schema = json.loads(device_types.load().telegraf_constant())
    schema.update(default_mode=False)
    got = by_device(validate([msg("off-1", tag="Tracker", battery=50.0, rssi=-70),
                              msg("off-2", tag="Lamp", level=3, temperature=20.0),
                              {"device_id": "off-3", "timestamp": T0, "sensor": "co2", "value": 415}],
                             schema=json.dumps(schema)))
    assert readings_of(got["off-1"]) == {"battery": {"value": 50.0, "device_type": "tracker"}}
    assert readings_of(got["off-2"]) == {"temperature": {"value": 20.0, "device_type": "lamp"}}
    assert readings_of(got["off-3"])["reject"] == {
        "reason": "no_reading", "detail": 'sensor "co2" is no reading of a message without a type'}


def test_without_the_schema_telegraf_refuses_to_start_and_says_why():
    binary = BIN / "telegraf"
    if not binary.exists():
        pytest.skip(f"{binary} is missing: run stack/install.sh")
    conf = ROOT / ".stack" / "run" / "schema-missing-test.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(_harness_config())
    env = {k: v for k, v in os.environ.items() if k != device_types.ENVIRONMENT_VARIABLE}
    env.update(TICKML_TELEGRAF_DIR=str(ROOT / "telegraf"), TICKML_HTTP_LISTEN=f"127.0.0.1:{_free_port()}")
    try:
        run = subprocess.run([str(binary), "--config", str(conf), "--test"], env=env, capture_output=True, text=True,
                             timeout=30)
    finally:
        conf.unlink(missing_ok=True)
    assert run.returncode != 0
    assert "the device types are missing: TICKML_DEVICE_SCHEMA is not set" in run.stderr, run.stderr[-2000:]


# ---------------------------------------------------------------------------
# On the stack: a registered device of a type declared only in the shipped file


def _device_transport(device: str):
    from devices.transports import MqttTransport
    from tickml import secrets

    host, port = config.mosquitto_tls_port()
    return MqttTransport(f"mqtts://{host}:{port}", client_id=device, username=device,
                         password=secrets.device_password(device), ca_file=str(secrets.ca_file()))


def _register(*devices: str) -> None:
    from tickml import secrets

    secrets.register_devices(list(devices))


@pytest.mark.stack
def test_a_tracker_lands_over_mqtt_with_its_own_login_and_is_preprocessed(stack, influx, run_id):
    device = f"{run_id}tracker-1"
    _register(device)
    rng = np.random.default_rng(23)
    base = (time.time_ns() // (30 * SECOND)) * 30 * SECOND - 5 * 60 * SECOND
    sent = []  # (time, status, battery, lat, lon)
    lat, lon = 48.2082, 16.3738
    for k in range(60):
        t = base + k * SECOND + SECOND // 2  # never on a window boundary
        lat, lon = round(lat + float(rng.normal(0, 0.001)), 6), round(lon + float(rng.normal(0, 0.001)), 6)
        sent.append((t, str(rng.choice(["parked", "moving", "moving", "stopped"])), round(90 - k * 0.25, 2), lat, lon))
    closing = (base + 75 * SECOND + SECOND // 2, "parked", 70.0, lat, lon)
    topic = f"devices/tracker/{device}"

    def body(t, status, battery, la, lo, **more):
        return encode({"device_id": device, "timestamp": format_timestamp(t), "tag": "Tracker", "status": status,
                       "battery": battery, "lat": la, "lon": lo, **more})

    bad = [  # rejected whole, each with its reason; the others land
        (topic, encode({"device_id": device, "timestamp": format_timestamp(base - SECOND), "tag": "Tracker",
                        "status": 3, "battery": 1.0})),
        (topic, encode({"device_id": device, "timestamp": format_timestamp(base - 2 * SECOND), "tag": "Tracker",
                        "lat": 95.0, "lon": 0.0})),
    ]
    transport = _device_transport(device)
    try:
        transport.send_many(bad + [(topic, body(*r)) for r in sent + [closing]])
    finally:
        transport.close()

    # What lands: a string in text, the battery in value, the position as one point, all typed tracker.
    rows = wait_for_rows(influx, f"SELECT * FROM device_message WHERE device_id = '{device}'", 3 * 61)
    assert {r["device_type"] for r in rows} == {"tracker"}
    by_sensor = {}
    for r in rows:
        by_sensor.setdefault(r["sensor"], []).append(r)
    assert set(by_sensor) == {"status", "battery", "position"}
    assert [(r["time"], r["text"]) for r in by_sensor["status"]] == [(t, s) for t, s, *_ in sent + [closing]]
    assert [(r["time"], r["value"]) for r in by_sensor["battery"]] == [(t, b) for t, _, b, *_ in sent + [closing]]
    assert [(r["time"], r["latitude"], r["longitude"]) for r in by_sensor["position"]] == [
        (t, la, lo) for t, _, _, la, lo in sent + [closing]]
    assert all(r["value"] is None for r in by_sensor["status"] + by_sensor["position"])
    rejects = wait_for_rows(influx, f"SELECT * FROM device_reject WHERE device_id = '{device}'", 2)
    assert sorted(r["reason"] for r in rejects) == ["bad_position", "not_a_string"]

    # The task device_text_geo: windows of 30 s every 10 s, stamped with their end (as test_preprocess_udf
    # explains: 6 windows per sensor, the last closed by the closing message).
    out = wait_for_rows(influx, f"SELECT * FROM device_text_geo WHERE device_id = '{device}' ORDER BY time", 12,
                        timeout=90)
    ends = [base + k * 10 * SECOND for k in range(1, 7)]
    text_rows = [r for r in out if r["sensor"] == "status"]
    geo_rows = [r for r in out if r["sensor"] == "position"]
    assert [r["time"] for r in text_rows] == ends and [r["time"] for r in geo_rows] == ends
    repeats = 0
    for row in text_rows:
        window = [r for r in sent if row["time"] - 30 * SECOND <= r[0] < row["time"]]
        expected = compute_many(["countstr", "uniquestr", "consistency"], [r[1] for r in window],
                                np.array([r[0] for r in window])).fields("text")
        assert {k: row[k] for k in expected} == expected
        assert row["Numberofmessages"] == len(window)
        repeats += row["text_preprocessed_UniqueStr"] == 0
    assert repeats, "no window repeated a status: uniquestr saw only ones"
    for row in geo_rows:
        window = [r for r in sent if row["time"] - 30 * SECOND <= r[0] < row["time"]]
        expected = Plan(["geodiff"]).compute([(r[3], r[4]) for r in window],
                                             np.array([r[0] for r in window])).fields("latitude_longitude")
        assert row["latitude_longitude_preprocessed_GeoDiff"] == pytest.approx(
            expected["latitude_longitude_preprocessed_GeoDiff"], rel=1e-9)
        assert row["latitude_longitude_preprocessed_GeoDiff"] > 0
    # The tasks that read numbers leave strings and positions alone: the battery is aggregated, nothing else.
    aggregated = wait_for_rows(influx, f"SELECT * FROM device_aggregates WHERE device_id = '{device}'", 1)
    assert {r["sensor"] for r in aggregated} == {"battery"}


@pytest.mark.stack
def test_a_device_bringing_forty_names_of_its_own_is_stopped_at_the_cap_and_its_first_readings_stay(
        stack, influx, run_id):
    device = f"{run_id}gadget-1"
    _register(device)
    cap = device_types.load().max_sensors_per_device
    names = [f"reading_{k:02d}" for k in range(40)]
    topic = f"devices/gadget/{device}"
    t0 = time.time_ns() // SECOND * SECOND - 60 * SECOND
    transport = _device_transport(device)
    try:
        # The first names in one message, landed before the others come: the count is the order they land in.
        transport.send(topic, encode({"device_id": device, "timestamp": format_timestamp(t0), "tag": "Gadget",
                                      **{name: float(k) for k, name in enumerate(names[:cap])}}))
        wait_for_rows(influx, f"SELECT value FROM device_message WHERE device_id = '{device}'", cap)
        transport.send_many((topic, encode({"device_id": device, "timestamp": format_timestamp(t0 + (k + 1) * SECOND),
                                            "tag": "Gadget", name: 1.0}))
                            for k, name in enumerate(names[cap:]))
        # Names already counted go on landing.
        transport.send(topic, encode({"device_id": device, "timestamp": format_timestamp(t0 + 50 * SECOND),
                                      "tag": "Gadget", names[0]: 99.0, names[cap - 1]: 98.0}))
    finally:
        transport.close()
    rejects = wait_for_rows(influx, f"SELECT * FROM device_reject WHERE device_id = '{device}'", 40 - cap)
    assert {r["reason"] for r in rejects} == {"too_many_sensors"}
    assert sorted(r["detail"] for r in rejects) == [
        f"the device has {cap} sensor names of its own, at most {cap}; this message brings {name}"
        for name in names[cap:]]
    rows = wait_for_rows(influx, f"SELECT * FROM device_message WHERE device_id = '{device}'", cap + 2)
    assert {r["sensor"] for r in rows} == set(names[:cap])
    assert {r["device_type"] for r in rows} == {"gadget"}
    assert sorted(r["value"] for r in rows if r["time"] == t0 + 50 * SECOND) == [98.0, 99.0]
