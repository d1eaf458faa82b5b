"""Helpers shared by the tests on the real stack."""

from __future__ import annotations

import time

from tickml.paths import LOGS

# How often the tasks the tests define write to InfluxDB (influxDBOut's flushInterval): tests/conftest.py defines the
# task list with it, and a test's own task takes it through flush_vars(). A result is in InfluxDB about this long
# after a task emits it, so a test waits on it for seconds, not for Kapacitor's default 10 s.
FLUSH_INTERVAL = "1s"


def flush_vars(**task_vars) -> dict:
    """Task vars (Kapacitor's API form) with ``flush_interval`` as the task list's (:data:`FLUSH_INTERVAL` unless
    ``TICKML_FLUSH_INTERVAL`` says otherwise), for a script that declares it."""
    import os

    from tickml.tasks import FLUSH_INTERVAL_ENV
    from udfs.agent.durations import parse_duration

    interval = parse_duration(os.environ.get(FLUSH_INTERVAL_ENV) or FLUSH_INTERVAL)
    return {"flush_interval": {"type": "duration", "value": interval}, **task_vars}


def wait_until(predicate, timeout: float = 60.0, interval: float = 0.5, what: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value; that value is returned."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last value: {last!r}")


def wait_for_rows(influx, query: str, n: int, timeout: float = 60.0) -> list[dict]:
    """Run ``query`` until it returns at least ``n`` rows; those rows."""

    def enough():
        rows = influx.query(query)
        return rows if len(rows) >= n else None

    return wait_until(enough, timeout=timeout, what=f"{n} rows of {query!r}")


def telegraf_log_size() -> int:
    """Bytes in Telegraf's log now: read what comes after with :func:`telegraf_log_since`."""
    path = LOGS / "telegraf.log"
    return path.stat().st_size if path.exists() else 0


def telegraf_log_since(offset: int) -> str:
    with open(LOGS / "telegraf.log", "rb") as fh:
        fh.seek(offset)
        return fh.read().decode(errors="replace")


def operator_mqtt(client_id: str, **options):
    """An MQTT connection to the stack's broker as the operator account (may publish anywhere), on the loopback
    tools' listener, where client ids are the client's own (on the devices' TLS listener the login is the
    client id, and two operator connections would disconnect each other)."""
    from devices.transports import MqttTransport
    from tickml import secrets
    from tickml import config

    host, port = config.mosquitto_port()
    user, password = secrets.mqtt_login("tickml-operator")
    return MqttTransport(f"tcp://{host}:{port}", client_id=client_id, username=user, password=password, **options)


def mqtt_publish(stack, messages, client_id: str) -> None:
    """Publish ``(topic, payload bytes)`` pairs to the stack's broker with QoS 1; returns once all are acknowledged."""

    transport = operator_mqtt(client_id)
    try:
        transport.send_many(messages)
    finally:
        transport.close()


def assert_tls_only(url: str) -> None:
    """``url`` (https) refuses a client that does not trust the stack's CA, and plain HTTP on its port.

    Both refusals are the server's own: the TLS handshake fails on the client's
    check of the certificate, and Go's HTTP server answers plain text with 400.
    """
    import ssl
    import urllib.error
    import urllib.request

    assert url.startswith("https://"), url
    try:
        urllib.request.urlopen(url, timeout=10, context=ssl.create_default_context())  # the system's CAs only
    except urllib.error.URLError as exc:
        assert isinstance(exc.reason, ssl.SSLCertVerificationError), exc
    else:
        raise AssertionError(f"{url} was trusted without the stack's CA")
    try:
        urllib.request.urlopen("http://" + url.removeprefix("https://"), timeout=10)
    except urllib.error.HTTPError as exc:
        assert exc.code == 400 and b"HTTP request to an HTTPS server" in exc.read(), exc
    else:
        raise AssertionError(f"{url} answered plain HTTP")
