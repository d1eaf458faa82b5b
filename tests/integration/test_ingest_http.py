"""HTTP ingestion as users run it: devices POST one JSON object or a JSON array
of them to Telegraf's listener (POST /devices); 10,000 messages from the
simulator's command are counted back exactly. A body Telegraf cannot parse is
refused with 400 and nothing of it is written, not even the valid objects it
holds; a message that parses but fails validation is rejected alone. JSON of
another shape lands through the path-mapped listener (POST /mapped).
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request

import pytest

from tickml import secrets
from tickml.paths import ROOT
from tickml import config
from ingest_check import count, send_and_assert_exactly
from stackutil import wait_until

pytestmark = pytest.mark.stack

T0 = "2026-01-01T00:00:00Z"
T0_NS = 1767225600 * 10**9


def _url(path: str = "/devices") -> str:
    host, port = config.telegraf_http_address()
    return f"https://{host}:{port}{path}"


def _mapped_url() -> str:
    conf = config.read_toml(ROOT / "telegraf" / "telegraf.conf")
    (mapped,) = [i for i in conf["inputs"]["http_listener_v2"] if i.get("alias") == "mapped"]
    host, port = config.split_address(config.expand(mapped["service_address"]))
    return f"https://{host}:{port}/mapped"


def post(url: str, body: bytes | str, method: str = "POST", login: tuple[str, str] | None = None,
         context: ssl.SSLContext | None = None) -> int:
    """POST as a sender would: HTTPS trusting the stack's CA, basic auth (the sender's login by default), sent
    again while the listener refuses the connection or answers that it is closing (Telegraf rereads its
    configuration when a test beside this one registers a device; devices.transports.REFUSED_FOR)."""
    from devices.transports import CLOSING, REFUSED_FOR

    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/json", "Authorization": secrets.basic_auth(*(login or secrets.http_login()))})
    context = context or ssl.create_default_context(cafile=str(secrets.ca_file()))
    deadline = time.monotonic() + REFUSED_FOR
    while True:
        try:
            with urllib.request.urlopen(request, timeout=10, context=context) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            if exc.code != CLOSING or time.monotonic() > deadline:
                return exc.code
        except urllib.error.URLError as exc:
            if not isinstance(exc.reason, ConnectionRefusedError) or time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def points(influx, prefix: str) -> list[dict]:
    return influx.query(f"SELECT * FROM device_message WHERE device_id =~ /^{prefix}/")


def wait_for_points(influx, prefix: str, n: int) -> list[dict]:
    def enough():
        rows = points(influx, prefix)
        return rows if len(rows) >= n else None

    return wait_until(enough, what=f"{n} points of {prefix}")


def barometer(device_id: str, pressure=1000.0, timestamp: str = T0) -> dict:
    return {"device_id": device_id, "timestamp": timestamp, "tag": "Barometer", "pressure": pressure}


def wait_for_sentinel(influx, run_id: str) -> None:
    """POST one valid message after the others and wait for it: whatever came before has been written."""
    assert post(_url(), json.dumps(barometer(f"{run_id}sentinel"))) == 204
    wait_until(lambda: count(influx, f"{run_id}sentinel") == 1, what="the sentinel message")


def test_ten_thousand_messages_land_exactly_once(stack, influx, run_id):
    send_and_assert_exactly(stack, influx, "http", run_id, "--batch", "500")


def test_a_single_object_and_an_array_both_land(stack, influx, run_id):
    single = {"device_id": f"{run_id}single", "timestamp": "2026-01-01T00:00:00.250Z", "tag": "Thermostat",
              "temperature": 21.5}  # fmt: skip
    array = [barometer(f"{run_id}array-{i}", 990.0 + i) for i in range(3)]
    assert post(_url(), json.dumps(single)) == 204
    assert post(_url(), json.dumps(array)) == 204
    rows = wait_for_points(influx, run_id, 4)
    got = {(r["device_id"], r["sensor"], r["device_type"], r["time"]): r["value"] for r in rows}
    assert got == {
        (f"{run_id}single", "temperature", "thermostat", T0_NS + 250_000_000): 21.5,
        **{(f"{run_id}array-{i}", "pressure", "barometer", T0_NS): 990.0 + i for i in range(3)},
    }


def test_the_device_message_form_with_sensor_and_value_lands(stack, influx, run_id):
    # The device-data seed's normalised DeviceMessage: one reading per message.
    message = {"device_id": f"{run_id}dm", "timestamp": T0, "sensor": "heart_rate", "value": 71}
    assert post(_url(), json.dumps([message])) == 204
    rows = wait_until(lambda: points(influx, run_id), what="the point")
    assert [(r["sensor"], r["value"], r["time"]) for r in rows] == [("heart_rate", 71.0, T0_NS)]


@pytest.mark.parametrize(
    "make_body",
    [
        pytest.param(lambda ok: f"[{ok}, {ok.replace('ok-', 'ok2-')}", id="truncated array"),
        pytest.param(lambda ok: f"[{ok}, 42]", id="array holding a number"),
        pytest.param(lambda ok: f'[{ok}, "{{}}"]', id="array holding a string"),
        pytest.param(lambda ok: f"{ok} trailing garbage", id="object and garbage"),
        pytest.param(lambda ok: "device_id=x pressure=1", id="not json"),
    ],
)
def test_a_malformed_body_gets_400_and_nothing_of_it_is_written(stack, influx, run_id, make_body):
    ok = json.dumps(barometer(f"{run_id}ok-1"))
    assert post(_url(), make_body(ok)) == 400
    wait_for_sentinel(influx, run_id)
    assert count(influx, f"{run_id}ok") == 0
    assert influx.query(f"SELECT count(count) FROM device_reject WHERE device_id =~ /^{run_id}/") == []


def test_an_invalid_message_in_an_array_is_rejected_alone(stack, influx, run_id):
    array = [barometer(f"{run_id}a"), barometer(f"{run_id}bad", "high"), {"timestamp": T0, "pressure": 1.0},
             barometer(f"{run_id}b")]  # fmt: skip
    assert post(_url(), json.dumps(array)) == 204
    wait_until(lambda: count(influx, run_id) == 2, what="the two valid messages")
    rejects = wait_until(
        lambda: influx.query(f"SELECT * FROM device_reject WHERE device_id = '{run_id}bad'"), what="the reject"
    )
    assert [(r["reason"], r["detail"]) for r in rejects] == [("not_a_number", 'pressure is string "high", want a number')]


def test_other_methods_and_paths_are_refused(stack):
    assert post(_url(), b"", method="GET") == 405
    assert post(_url("/elsewhere"), json.dumps(barometer("nobody"))) == 404


def test_json_of_another_shape_lands_through_the_path_mapping(stack, influx, run_id):
    # The TML seed's json criteria: uid:metadata.dsn, subtopic:metadata.property_name,
    # value:datapoint.value, datetime:datapoint.updated_at.
    def tml(dsn, prop, value, at):
        return {"metadata": {"dsn": dsn, "property_name": prop, "display_name": f"{prop} (mV)"},
                "datapoint": {"value": value, "updated_at": at}}  # fmt: skip

    assert post(_mapped_url(), json.dumps(tml(f"{run_id}AC1", "Voltage", 120743, "2026-01-01T00:00:01Z"))) == 204
    batch = [tml(f"{run_id}AC2", "Current", 5.5, T0), tml(f"{run_id}AC2", "Power", 7, T0)]
    assert post(_mapped_url(), json.dumps(batch)) == 204
    assert post(_mapped_url(), '[{"metadata": ') == 400
    rows = wait_for_points(influx, run_id, 3)
    assert sorted((r["device_id"], r["sensor"], r["value"], r["time"]) for r in rows) == [
        (f"{run_id}AC1", "voltage", 120743.0, T0_NS + 10**9),
        (f"{run_id}AC2", "current", 5.5, T0_NS),
        (f"{run_id}AC2", "power", 7.0, T0_NS),
    ]


def test_the_listener_refuses_no_login_a_wrong_one_plain_text_and_an_untrusting_client(stack, influx, run_id):
    message = json.dumps(barometer(f"{run_id}intruder"))
    assert post(_url(), message, login=("tickml-sender", "not-the-password")) == 401
    assert post(_url(), message, login=("nobody", "x")) == 401
    no_login = urllib.request.Request(_url(), data=message.encode(), method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(no_login, timeout=10, context=ssl.create_default_context(cafile=str(secrets.ca_file())))
    assert refused.value.code == 401
    # The system's CAs do not know the stack's: the handshake fails before any login.
    with pytest.raises(urllib.error.URLError) as untrusted:
        post(_url(), message, context=ssl.create_default_context())
    assert isinstance(untrusted.value.reason, ssl.SSLCertVerificationError)
    # Plain HTTP on the TLS port: Go's TLS server answers 400 and reads nothing.
    assert post(_url().replace("https://", "http://"), message) == 400
    wait_for_sentinel(influx, run_id)
    assert count(influx, f"{run_id}intruder") == 0
