"""The simulator's HTTP sender and a listener that refuses connections for a moment (Telegraf closes its listeners
while it rereads its configuration, as it does when a device registers): it sends again, and nothing is doubled;
a listener that stays closed is an error once devices.transports.REFUSED_FOR has passed."""

from __future__ import annotations

import http.server
import socket
import threading
import time

import pytest

from devices import transports
from devices.transports import HttpTransport


class _Collect(http.server.BaseHTTPRequestHandler):
    """Collects the bodies; answers 410 to its first ``closing`` requests without reading their bodies, as
    Telegraf's listener does while it stops."""
    bodies: list[bytes] = []
    answered = 0
    closing = 0

    def do_POST(self):
        cls = type(self)
        cls.answered += 1
        if cls.answered <= cls.closing:
            self.send_response(410)
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            return
        cls.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_listener_closed_for_a_moment_gets_each_batch_once():
    _Collect.bodies, _Collect.answered, _Collect.closing = [], 0, 0
    port = _free_port()
    servers = []

    def open_later():
        time.sleep(0.4)
        servers.append(http.server.ThreadingHTTPServer(("127.0.0.1", port), _Collect))
        servers[0].serve_forever()

    threading.Thread(target=open_later, daemon=True).start()
    transport = HttpTransport(f"http://127.0.0.1:{port}/devices", batch_size=1)
    try:
        started = time.monotonic()
        transport.send_envelopes([transports.envelope({"device_id": "d1", "value": 1.0})])
        assert time.monotonic() - started >= 0.3, "sent before the listener was there"
        transport.send_envelopes([transports.envelope({"device_id": "d1", "value": 2.0})])
        transport.flush()
    finally:
        transport.close()
        if servers:
            servers[0].shutdown()
    assert [b.count(b"device_id") for b in _Collect.bodies] == [1, 1]
    assert transport.sent == 2


def test_a_listener_that_stays_closed_is_an_error_after_the_bound(monkeypatch):
    monkeypatch.setattr(transports, "REFUSED_FOR", 0.3)
    transport = HttpTransport(f"http://127.0.0.1:{_free_port()}/devices", batch_size=1)
    started = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        transport.send_envelopes([transports.envelope({"device_id": "d1", "value": 1.0})])
    assert 0.1 <= time.monotonic() - started < 2.0


def test_a_listener_that_answers_closing_gets_the_batch_again_once():
    _Collect.bodies, _Collect.answered, _Collect.closing = [], 0, 1
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Collect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    transport = HttpTransport(f"http://127.0.0.1:{server.server_port}/devices", batch_size=1)
    try:
        transport.send_envelopes([transports.envelope({"device_id": "d1", "value": 1.0})])
        transport.flush()
    finally:
        transport.close()
        server.shutdown()
    assert _Collect.answered == 2 and len(_Collect.bodies) == 1 and transport.sent == 1
