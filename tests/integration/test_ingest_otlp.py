"""gRPC (OpenTelemetry) ingestion as users run it: the simulator's command
exports 10,000 messages as OTLP gauges with the OpenTelemetry SDK's gRPC
exporter to real Telegraf's OpenTelemetry input, over TLS with the sender's
client certificate; every one is counted back exactly in InfluxDB, by
(device_id, time) and value, also across a Telegraf restart, during which the
exporter retries the export Telegraf did not answer. Readings a device's own
SDK exports (its id and type on the resource) land the same way, and so does
a gauge its type does not declare (the default mode of
telegraf/device_types.toml); a reading without a device id, a histogram's,
or one without a time is rejected with its reason, and its neighbours land (a value that is not finite
is dropped by Telegraf's input before it is validated). A client without
the certificate, one not trusting the stack's CA, and plain gRPC are refused.
"""

from __future__ import annotations

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, MetricExportResult, MetricsData, NumberDataPoint,
    ResourceMetrics, ScopeMetrics,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from tickml import secrets
from tickml import config
from ingest_check import assert_exactly, count, run_with_telegraf_restart, send_and_assert_exactly, simulate
from stackutil import wait_until

pytestmark = pytest.mark.stack

T0_NS = 1767225600 * 10**9  # 2026-01-01T00:00:00Z


def endpoint(scheme: str = "https") -> str:
    host, port = config.telegraf_otlp_address()
    return f"{scheme}://{host}:{port}"


def exporter(credentials: grpc.ChannelCredentials | None = None, scheme: str = "https", timeout: float = 10):
    """The SDK's exporter as a device's SDK configures it: TLS trusting the stack's CA, the sender's certificate."""
    if credentials is None and scheme == "https":
        crt, key = secrets.client_certificate()
        credentials = grpc.ssl_channel_credentials(secrets.ca_file().read_bytes(), key.read_bytes(), crt.read_bytes())
    return OTLPMetricExporter(endpoint=endpoint(scheme), credentials=credentials, insecure=scheme == "http",
                              timeout=timeout)


def export(metrics: list[Metric], resource: dict | None = None, **options) -> MetricExportResult:
    data = MetricsData([ResourceMetrics(Resource(resource or {}),
                                        [ScopeMetrics(InstrumentationScope("a-device"), metrics, "")], "")])
    sender = exporter(**options)
    try:
        return sender.export(data)
    finally:
        sender.shutdown()


def gauge(name: str, *points: tuple[dict, int, float]) -> Metric:
    return Metric(name, None, None, Gauge([NumberDataPoint(attributes, 0, t, v) for attributes, t, v in points]))


def device(device_id: str, device_type: str = "Thermostat") -> dict:
    return {"device.id": device_id, "device.type": device_type}


def test_ten_thousand_messages_land_exactly_once(stack, influx, run_id):
    send_and_assert_exactly(stack, influx, "otlp", run_id)


@pytest.mark.serial
def test_nothing_lost_or_doubled_across_a_telegraf_restart(stack, influx, run_id):
    # 10,000 messages over about 8 s of wall time, exported 100 at a time: exports meet the stopped Telegraf.
    proc, expected = simulate(stack, "otlp", run_id, "--batch", "100", speed="12")
    err = run_with_telegraf_restart(stack, influx, proc, run_id)
    # The SDK's exporter retried what the stopped Telegraf did not take.
    assert "Transient error StatusCode.UNAVAILABLE" in err, err[-2000:]
    assert_exactly(influx, run_id, expected)


def test_a_devices_own_sdk_with_its_attributes_on_the_resource_lands(stack, influx, run_id):
    me = f"{run_id}own"
    result = export([gauge("humidity", ({}, T0_NS, 41.5)), gauge("temperature", ({}, T0_NS, 21.25)),
                     gauge("value", ({"sensor": "CO2 Level"}, T0_NS + 1, 415))],
                    resource={**device(me, "TempSensor"), "service.name": "room-7"})
    assert result is MetricExportResult.SUCCESS
    rows = wait_until(lambda: (r := influx.query(f"SELECT * FROM device_message WHERE device_id = '{me}'"))
                      and len(r) == 3 and r, what="three readings")
    assert sorted((r["sensor"], r["device_type"], r["value"], r["time"]) for r in rows) == [
        ("co2_level", "tempsensor", 415.0, T0_NS + 1), ("humidity", "tempsensor", 41.5, T0_NS),
        ("temperature", "tempsensor", 21.25, T0_NS)]


def rejects(influx, prefix: str) -> list[tuple[str, str, str]]:
    rows = influx.query(f"SELECT * FROM device_reject WHERE device_id =~ /^{prefix}/")
    return sorted((r["device_id"], r["reason"], r["detail"]) for r in rows)


def test_readings_without_what_the_schema_needs_are_rejected_with_a_reason_and_their_neighbours_land(
        stack, influx, run_id):
    from stackutil import telegraf_log_since, telegraf_log_size

    histogram = Metric("temperature", None, None, Histogram(
        [HistogramDataPoint(device(f"{run_id}hist"), 0, T0_NS, 2, 43.0, [1, 1], [21.0], 20.0, 23.0)],
        AggregationTemporality.CUMULATIVE))
    log_offset = telegraf_log_size()
    result = export([
        gauge("temperature", (device(f"{run_id}ok-1"), T0_NS, 20.5), ({"device.type": "Thermostat"}, T0_NS, 1.0),
              (device(f"{run_id}nan"), T0_NS, float("nan")), (device(f"{run_id}no-time"), 0, 22.0)),
        gauge("battery", (device(f"{run_id}battery"), T0_NS, 0.93)),
        histogram,
        gauge("temperature", (device(f"{run_id}ok-2"), T0_NS, 19.5)),
    ])
    assert result is MetricExportResult.SUCCESS
    wait_until(lambda: len(rejects(influx, run_id)) >= 2, what="two rejects")
    wait_until(lambda: count(influx, run_id) >= 3, what="the three valid readings")
    assert {(r["device_id"], r["sensor"]): r["value"] for r in influx.query(
        f"SELECT value, device_id, sensor FROM device_message WHERE device_id =~ /^{run_id}/")} == {
        (f"{run_id}ok-1", "temperature"): 20.5, (f"{run_id}ok-2", "temperature"): 19.5,
        (f"{run_id}battery", "battery"): 0.93}  # fmt: skip
    got = {(device_id, reason): detail for device_id, reason, detail in rejects(influx, run_id)}
    assert set(got) == {(f"{run_id}hist", "no_reading"), (f"{run_id}no-time", "no_time")}
    assert got[(f"{run_id}no-time", "no_time")] == "the reading has no time (time_unix_nano is 0)"
    # A histogram's count, sum and buckets are no reading, even in the default mode (three rejects of one
    # time: one point).
    assert got[(f"{run_id}hist", "no_reading")].startswith("no sensor reading among temperature (got: temperature_")
    # The reading without a device id is rejected too; its reject has no device_id tag, its log line says it.
    log = wait_until(lambda: (text := telegraf_log_since(log_offset)).count(f"{run_id}") >= 4 and text,
                     what="the rejects in Telegraf's log")
    assert 'rejected device message from device_id="": missing_device_id' in log
    # A value that is not finite never reaches the validator: Telegraf keeps no non-finite field, and a
    # metric left without fields is dropped by the input itself.
    assert f"{run_id}nan" not in log


def test_the_listener_refuses_no_certificate_an_untrusting_client_and_plain_grpc(stack, influx, run_id):
    ca = secrets.ca_file().read_bytes()
    crt, key = secrets.client_certificate()
    refused = [
        ("no client certificate", dict(credentials=grpc.ssl_channel_credentials(ca))),
        # The system's CAs do not know the stack's.
        ("not trusting the stack's CA", dict(credentials=grpc.ssl_channel_credentials(
            None, key.read_bytes(), crt.read_bytes()))),
        ("plain gRPC", dict(scheme="http")),
    ]
    for i, (what, options) in enumerate(refused):
        result = export([gauge("temperature", (device(f"{run_id}intruder-{i}"), T0_NS, 20.0))], timeout=2,
                        **options)
        assert result is MetricExportResult.FAILURE, what
    assert export([gauge("temperature", (device(f"{run_id}sentinel"), T0_NS, 20.0))]) is MetricExportResult.SUCCESS
    wait_until(lambda: count(influx, f"{run_id}sentinel") == 1, what="the sentinel")
    assert count(influx, f"{run_id}intruder") == 0
