"""Device messages as OpenTelemetry metrics over gRPC (OTLP), for Telegraf's OpenTelemetry input.

Built on the OpenTelemetry Python SDK's gRPC exporter (``OTLPMetricExporter``:
its channel, TLS, retries and backoff) and OpenTelemetry's protocol
definitions. The SDK's instruments are not used, because they stamp a
reading with the time it is collected; a device message carries the time it
was taken, and a replay or a late message keeps it. Nor is the SDK's data
model: building its objects and encoding them cost 9 us of CPU per message,
as much as everything else the sender does. The transport writes the
export's protobuf bytes itself (``Encoder``, field numbers read from
OpenTelemetry's own message definitions), parses them into the request
message in C, and hands that to the exporter; a test checks that the
request equals the one the SDK's encoder makes of the same messages.

A message becomes one gauge data point per reading: the metric is named after
the sensor (``temperature``; a ``{"sensor": ..., "value": ...}`` message gives
a metric ``value`` with a ``sensor`` attribute), its time is the message's,
and the attributes ``device.id`` and ``device.type`` (the message's ``tag``)
say whose it is. One export carries the readings of many devices, as a
gateway sends them, so the device's attributes are the data point's; a device
with its own SDK puts the same attributes on its resource instead, and
Telegraf reads either (telegraf/README.md).

A gauge carries numbers only. A message with nothing a gauge can carry (a
raw line that is not JSON, a reading that is a string, every reading
missing) is not sent; it is counted in ``refused`` and logged. A missing
(null) reading beside others is left out, as the JSON inputs leave it out.

While the listener is away the exporter retries the export in hand with
exponential backoff (1, 2, 4, 8, 16 s, at most 6 attempts, within its
``timeout``); the sender waits meanwhile, so the messages after it wait in
the simulator, not in memory. An export that still fails is an error naming
how many messages it held: nothing is dropped silently.
"""

from __future__ import annotations

import functools
import logging
import struct
import time
import urllib.parse
from typing import Iterable

from devices.replay import parse_time
from udfs.agent.framing import encode_varint  # protobuf's varint, one place for the UDF frames and OTLP

log = logging.getLogger(__name__)

SCOPE = "tickml.devices"
# Keys the JSON inputs read as tags (telegraf.conf's tag_keys: a reading's sensor, a session's name and
# database); over OTLP they are attributes of the reading, which arrive as the same tags.
TAG_KEYS = ("sensor", "session", "tickml_database")
# Keys of a device message that are not readings (telegraf/README.md, the device message).
NOT_READINGS = frozenset(("device_id", "timestamp", "tag", *TAG_KEYS))


@functools.lru_cache(maxsize=4096)
def _time_ns(stamp) -> int | None:
    # A fleet's messages share a tick's timestamp: parsing each text once is enough.
    return parse_time(stamp)


def _is_number(value) -> bool:
    # numpy's float64 (the faults compute with numpy) is a float; bool is an int in Python, not a reading.
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def data_points(message: dict, now_ns: int) -> list[tuple[str, dict, int, float]] | str:
    """``(metric name, attributes, time ns, value)`` per reading of ``message``, or why it cannot be sent.

    >>> data_points({"device_id": "b-1", "timestamp": "2026-01-01T00:00:00Z", "tag": "Barometer",
    ...              "pressure": 1000.5, "note": None}, 0)
    [('pressure', {'device.id': 'b-1', 'device.type': 'Barometer'}, 1767225600000000000, 1000.5)]
    >>> data_points({"device_id": 7, "sensor": "heart_rate", "value": 71, "session": "s-1"}, 5)
    [('value', {'device.id': '7', 'sensor': 'heart_rate', 'session': 's-1'}, 5, 71)]
    >>> data_points({"device_id": "t-1", "temperature": "warm"}, 0)
    'temperature is str, a gauge carries numbers only'
    >>> data_points({"device_id": "t-1", "temperature": None}, 0)
    'no reading (every reading missing)'
    >>> data_points({"device_id": "t-1", "temperature": True}, 0)
    'temperature is bool, a gauge carries numbers only'
    """
    attributes = {}
    device_id = message.get("device_id")
    if device_id is not None:
        attributes["device.id"] = str(device_id)
    tag = message.get("tag")
    if tag:
        attributes["device.type"] = str(tag)
    for key in TAG_KEYS:
        if message.get(key) is not None:
            attributes[key] = str(message[key])
    stamp = message.get("timestamp")
    time_ns = now_ns if stamp is None else _time_ns(stamp)
    if time_ns is None:
        return f"timestamp {stamp!r} is neither RFC 3339 nor an epoch number"
    points = []
    for name, value in message.items():
        if name in NOT_READINGS or value is None:
            continue
        if not _is_number(value):
            return f"{name} is {type(value).__name__}, a gauge carries numbers only"
        points.append((name, attributes, time_ns, value))
    if not points:
        return "no reading (every reading missing)"
    return points


class Encoder:
    """Protobuf bytes of an ``ExportMetricsServiceRequest`` of gauges, written directly.

    Field numbers and wire types come from OpenTelemetry's message
    definitions (``opentelemetry.proto``), not from this file. A data point's
    attributes (a device's id and type) are encoded once per distinct set and
    kept: memory per device, not per message.
    """

    def __init__(self, resource: dict[str, str], scope: str, cache_size: int = 200_000):
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
        from opentelemetry.proto.common.v1 import common_pb2
        from opentelemetry.proto.metrics.v1 import metrics_pb2
        from opentelemetry.proto.resource.v1 import resource_pb2

        def tag(message, field: str, wire: int) -> bytes:
            return encode_varint(message.DESCRIPTOR.fields_by_name[field].number << 3 | wire)

        length, fixed64 = 2, 1
        self._key = tag(common_pb2.KeyValue, "key", length)
        self._value = tag(common_pb2.KeyValue, "value", length)
        self._string = tag(common_pb2.AnyValue, "string_value", length)
        self._attribute = tag(metrics_pb2.NumberDataPoint, "attributes", length)
        self._time = tag(metrics_pb2.NumberDataPoint, "time_unix_nano", fixed64)
        self._double = tag(metrics_pb2.NumberDataPoint, "as_double", fixed64)
        self._int = tag(metrics_pb2.NumberDataPoint, "as_int", fixed64)
        self._point = tag(metrics_pb2.Gauge, "data_points", length)
        self._name = tag(metrics_pb2.Metric, "name", length)
        self._gauge = tag(metrics_pb2.Metric, "gauge", length)
        self._metric = tag(metrics_pb2.ScopeMetrics, "metrics", length)
        self._scope_metrics = tag(metrics_pb2.ResourceMetrics, "scope_metrics", length)
        self._resource_metrics = tag(ExportMetricsServiceRequest, "resource_metrics", length)
        resource_bytes = b"".join(self._field(tag(resource_pb2.Resource, "attributes", length), self._key_value(k, v))
                                  for k, v in resource.items())
        scope_bytes = self._field(tag(common_pb2.InstrumentationScope, "name", length), scope.encode())
        self._resource = self._field(tag(metrics_pb2.ResourceMetrics, "resource", length), resource_bytes)
        self._scope = self._field(tag(metrics_pb2.ScopeMetrics, "scope", length), scope_bytes)
        self._attributes = functools.lru_cache(maxsize=cache_size)(self._encode_attributes)

    @staticmethod
    def _field(tag: bytes, data: bytes) -> bytes:
        return tag + encode_varint(len(data)) + data

    def _key_value(self, key: str, value: str) -> bytes:
        return (self._field(self._key, key.encode())
                + self._field(self._value, self._field(self._string, value.encode())))

    def _encode_attributes(self, attributes: tuple[tuple[str, str], ...]) -> bytes:
        return b"".join(self._field(self._attribute, self._key_value(k, v)) for k, v in attributes)

    def point(self, attributes: dict[str, str], time_ns: int, value) -> bytes:
        """One ``NumberDataPoint``, framed as a gauge's data point: an int as ``as_int``, else ``as_double``."""
        if isinstance(value, int) and -(2**63) <= value < 2**63:
            number = self._int + _INT64.pack(value)
        else:
            number = self._double + _DOUBLE.pack(value)
        body = self._attributes(tuple(attributes.items())) + self._time + _UINT64.pack(time_ns) + number
        return self._point + encode_varint(len(body)) + body

    def request(self, points: dict[str, list[bytes]]) -> bytes:
        """The request: one resource, one scope, a gauge per metric name with its framed data points."""
        field = self._field
        metrics = b"".join(
            field(self._metric, field(self._name, name.encode()) + field(self._gauge, b"".join(framed)))
            for name, framed in points.items())
        return field(self._resource_metrics, self._resource + field(self._scope_metrics, self._scope + metrics))


_INT64, _UINT64, _DOUBLE = struct.Struct("<q"), struct.Struct("<Q"), struct.Struct("<d")


class _Encoded:
    """An export's request, already built, and how many data points it holds (what the exporter counts)."""

    def __init__(self, request, points: int):
        self.request, self.points = request, points


class OtlpTransport:
    """Export device messages to an OTLP/gRPC listener in batches of ``batch_size`` messages.

    ``endpoint`` is ``https://host:port`` (TLS: the listener's certificate
    must chain to ``ca_file``; ``client_cert``/``client_key`` are the
    sender's login) or ``http://host:port`` (plain gRPC). ``timeout`` bounds
    one export with its retries.
    """

    def __init__(self, endpoint: str, ca_file: str | None = None, client_cert: str | None = None,
                 client_key: str | None = None, batch_size: int = 1000, timeout: float = 60.0):
        import grpc
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
        from opentelemetry.sdk.metrics.export import MetricExportResult

        parsed = urllib.parse.urlparse(endpoint)
        if parsed.scheme not in ("https", "http") or not parsed.hostname or not parsed.port:
            raise ValueError(f"OTLP endpoint must look like https://host:port (TLS) or http://host:port, "
                             f"got {endpoint!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        credentials = None
        if parsed.scheme == "https":
            files = {"ca_file": ca_file, "client_cert": client_cert, "client_key": client_key}
            read = {name: _read(path, name) for name, path in files.items()}
            credentials = grpc.ssl_channel_credentials(root_certificates=read["ca_file"],
                                                       private_key=read["client_key"],
                                                       certificate_chain=read["client_cert"])
        self.endpoint = endpoint

        class Exporter(OTLPMetricExporter):
            """The SDK's exporter, given the request built already (its two hooks for what it exports)."""

            def _translate_data(self, data: _Encoded):
                return data.request

            def _count_data(self, data: _Encoded) -> int:
                return data.points

        self._exporter = Exporter(endpoint=endpoint, insecure=parsed.scheme == "http", credentials=credentials,
                                  timeout=timeout)
        self._parse = ExportMetricsServiceRequest.FromString
        self._success = MetricExportResult.SUCCESS
        # The sender is the resource; the devices are in each data point's attributes.
        self._encoder = Encoder({"service.name": "tickml-simulator"}, SCOPE)
        self.batch_size = batch_size
        self._points: dict[str, list] = {}  # metric name -> data points of the batch being built
        self._messages = 0  # in that batch
        self._count = 0  # its data points
        self.sent = 0
        self.refused = 0
        self.refusals: dict[str, int] = {}  # why a message could not be sent -> how many

    def send_envelopes(self, envelopes: Iterable) -> None:
        encode = self._encoder.point
        now_ns = time.time_ns()
        for e in envelopes:
            points = data_points(e.message, now_ns) if e.message is not None else "not a JSON object"
            if isinstance(points, str):
                self._refuse(points, e)
                continue
            for name, attributes, time_ns, value in points:
                self._points.setdefault(name, []).append(encode(attributes, time_ns, value))
            self._count += len(points)
            self._messages += 1
            if self._messages >= self.batch_size:
                self._export()

    def _refuse(self, why: str, e) -> None:
        if why not in self.refusals:
            log.warning("not sent over OTLP: %s (device %s); further messages refused for this reason are "
                        "counted, not logged", why, e.device_id)
        self.refusals[why] = self.refusals.get(why, 0) + 1
        self.refused += 1

    def _export(self) -> None:
        if not self._messages:
            return
        data = _Encoded(self._parse(self._encoder.request(self._points)), self._count)
        count, self._points, self._messages, self._count = self._messages, {}, 0, 0
        if self._exporter.export(data) is not self._success:
            raise ConnectionError(f"OTLP export of {count} messages to {self.endpoint} failed after the "
                                  f"exporter's retries (its log above says why)")
        self.sent += count

    def release(self) -> None:
        """Export the messages gathered so far now (a paced run's tick), not once the batch is full."""
        self._export()

    def flush(self) -> None:
        self._export()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._exporter.shutdown()


def _read(path: str | None, name: str) -> bytes:
    if not path:
        raise ValueError(f"an https:// OTLP endpoint wants {name} (the stack's: tickml secrets ensure)")
    with open(path, "rb") as fh:
        return fh.read()
