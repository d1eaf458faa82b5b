"""The OTLP transport's own protobuf encoding gives the very request the OpenTelemetry SDK's encoder gives.

The transport writes the export's bytes itself (devices/otlp.py, Encoder);
the reference is the SDK: its metric data model, encoded by the exporter's
``encode_metrics``, as the transport sent it before. Both requests are
compared as parsed protobuf messages, field by field.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.sdk.metrics.export import Gauge, Metric, MetricsData, NumberDataPoint, ResourceMetrics, ScopeMetrics
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from devices.otlp import SCOPE, Encoder, data_points

RESOURCE = {"service.name": "tickml-simulator"}


def sdk_request(messages: list[dict], now_ns: int) -> ExportMetricsServiceRequest:
    """What the SDK's encoder makes of the messages (one gauge per metric name, in order of appearance)."""
    points: dict[str, list] = {}
    for message in messages:
        for name, attributes, time_ns, value in data_points(message, now_ns):
            points.setdefault(name, []).append(NumberDataPoint(attributes, 0, time_ns, value))
    metrics = [Metric(name, None, None, Gauge(p)) for name, p in points.items()]
    data = MetricsData([ResourceMetrics(Resource(RESOURCE), [ScopeMetrics(InstrumentationScope(SCOPE), metrics, "")],
                                        "")])
    return encode_metrics(data)


def own_request(messages: list[dict], now_ns: int) -> ExportMetricsServiceRequest:
    encoder = Encoder(RESOURCE, SCOPE)
    points: dict[str, list[bytes]] = {}
    for message in messages:
        for name, attributes, time_ns, value in data_points(message, now_ns):
            points.setdefault(name, []).append(encoder.point(attributes, time_ns, value))
    return ExportMetricsServiceRequest.FromString(encoder.request(points))


def test_a_fleets_messages_encode_as_the_sdk_encodes_them():
    messages = [
        {"device_id": "thermostat-1", "timestamp": "2026-01-01T00:00:00Z", "tag": "Thermostat", "temperature": 21.5},
        {"device_id": "barometer-2", "timestamp": "2026-01-01T00:00:01.5Z", "tag": "Barometer",
         "pressure": np.float64(1013.25)},
        {"device_id": "pm-3", "timestamp": 1767225600, "tag": "PowerMeter", "voltage": 230, "current": None,
         "power": -1.0e300},
        {"device_id": 7, "sensor": "heart_rate", "value": 71, "session": "s-1", "tickml_database": "history"},
        {"device_id": "ü-" + "x" * 300, "tag": "T" * 200, "temperature": 2**62},  # varints of two bytes
        {"device_id": "thermostat-1", "timestamp": "2026-01-01T00:00:02Z", "tag": "Thermostat", "temperature": -0.0},
    ]
    assert own_request(messages, 5) == sdk_request(messages, 5)


readings = st.one_of(st.floats(allow_nan=False), st.integers(min_value=-(2**63), max_value=2**63 - 1))
message = st.fixed_dictionaries(
    {"device_id": st.text(min_size=1, max_size=40), "tag": st.sampled_from(["Thermostat", "Barometer", ""]),
     "timestamp": st.integers(min_value=0, max_value=2**34)},  # epoch seconds, to 2514
    optional={"temperature": readings, "pressure": readings, "sensor": st.text(max_size=10)},
).filter(lambda m: any(k in m for k in ("temperature", "pressure")))


@settings(max_examples=200, deadline=None)
@given(st.lists(message, min_size=1, max_size=20))
def test_any_messages_encode_as_the_sdk_encodes_them(messages):
    assert own_request(messages, 0) == sdk_request(messages, 0)


def test_a_devices_attributes_are_encoded_once():
    encoder = Encoder(RESOURCE, SCOPE)
    for t in range(100):
        encoder.point({"device.id": "thermostat-1", "device.type": "Thermostat"}, t, 20.0 + t)
    assert encoder._attributes.cache_info().misses == 1
