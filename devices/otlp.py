"""Device messages as OpenTelemetry metrics over gRPC (OTLP), for Telegraf's OpenTelemetry input.

Built on the OpenTelemetry Python SDK: its metric data model
(``opentelemetry.sdk.metrics.export``) and its gRPC exporter
(``OTLPMetricExporter``). The SDK's instruments are not used, because they
stamp a reading with the time it is collected; a device message carries the
time it was taken, and a replay or a late message keeps it. So the transport
builds the export's data itself and hands it to the exporter.

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
import time
import urllib.parse
from typing import Iterable

from devices.replay import parse_time

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
        from opentelemetry.sdk.metrics.export import (
            Gauge, Metric, MetricExportResult, MetricsData, NumberDataPoint, ResourceMetrics, ScopeMetrics,
        )
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

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
        self._exporter = OTLPMetricExporter(endpoint=endpoint, insecure=parsed.scheme == "http",
                                            credentials=credentials, timeout=timeout)
        self._model = (Gauge, Metric, MetricsData, NumberDataPoint, ResourceMetrics, ScopeMetrics)
        self._success = MetricExportResult.SUCCESS
        # The sender is the resource; the devices are in each data point's attributes.
        self._resource = Resource({"service.name": "tickml-simulator"})
        self._scope = InstrumentationScope(SCOPE)
        self.batch_size = batch_size
        self._points: dict[str, list] = {}  # metric name -> data points of the batch being built
        self._messages = 0  # in that batch
        self.sent = 0
        self.refused = 0
        self.refusals: dict[str, int] = {}  # why a message could not be sent -> how many

    def send_envelopes(self, envelopes: Iterable) -> None:
        number_point = self._model[3]
        now_ns = time.time_ns()
        for e in envelopes:
            points = data_points(e.message, now_ns) if e.message is not None else "not a JSON object"
            if isinstance(points, str):
                self._refuse(points, e)
                continue
            for name, attributes, time_ns, value in points:
                point = number_point(attributes, 0, time_ns, value)
                self._points.setdefault(name, []).append(point)
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
        gauge, metric, metrics_data, _, resource_metrics, scope_metrics = self._model
        metrics = [metric(name, None, None, gauge(points)) for name, points in self._points.items()]
        data = metrics_data([resource_metrics(self._resource, [scope_metrics(self._scope, metrics, "")], "")])
        count, self._points, self._messages = self._messages, {}, 0
        if self._exporter.export(data) is not self._success:
            raise ConnectionError(f"OTLP export of {count} messages to {self.endpoint} failed after the "
                                  f"exporter's retries (its log above says why)")
        self.sent += count

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
