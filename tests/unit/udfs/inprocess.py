"""A UDF served in this process: the agent's Connection on one end of a socket pair, the test on the other.

The same reader and worker threads, queue and handler code as under
Kapacitor, without a subprocess per check: the conformance suite runs
dozens of connections per UDF, and only in-process can it read the
connection's counters (``Connection.stats``: bad points, handler errors)
directly. Kapacitor's side is ``tests/unit/agent/udf_client.Client``,
whose framing is written independently of the agent's.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

from unit.agent.udf_client import Client

from udfs import registry
from udfs.agent import udf_pb2
from udfs.agent.connection import Connection
from udfs.agent.transports import SocketTransport

import golden


class InProcessUdf:
    """One Kapacitor connection to a fresh instance of ``handler_cls``, served on a thread of this process."""

    def __init__(self, handler_cls: type):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.conn = Connection(handler_cls, SocketTransport(theirs))
        self.thread = threading.Thread(target=self.conn.serve, name=f"inprocess-{handler_cls.name}", daemon=True)
        self.thread.start()
        self._sock = ours

        def read(timeout):
            ours.settimeout(timeout)
            try:
                return ours.recv(65536)
            except socket.timeout:
                return None

        self.client = Client(read, ours.sendall, lambda: ours.shutdown(socket.SHUT_WR), ours.close)

    @property
    def stats(self):
        return self.conn.stats

    def init(self, options: dict[str, Any]) -> udf_pb2.InitResponse:
        self.client.send(udf_pb2.Request(init=udf_pb2.InitRequest(
            options=golden.option_messages(options), taskID="conformance", nodeID=self.conn.handler_cls.name)))
        return self.client.recv_kind("init", timeout=60).init

    def send(self, requests: list[udf_pb2.Request]) -> None:
        self.client.send(*requests)

    def request(self, request: udf_pb2.Request, kind: str, timeout: float = 60) -> list[udf_pb2.Response]:
        """Send ``request`` and read until its answer of ``kind``; every response read, the answer last."""
        self.client.send(request)
        out = []
        while True:
            out.append(self.client.recv(timeout))
            if out[-1].WhichOneof("message") == kind:
                return out

    def finish(self, timeout: float = 60) -> list[udf_pb2.Response]:
        """End the input as Kapacitor does when a task stops; every response until the UDF closes its side."""
        self.client.close_write()
        try:
            return self.client.recv_all(timeout)
        finally:
            self.thread.join(timeout)
            self.client.close()
            assert not self.thread.is_alive(), "the connection did not end after its input did"


def run(handler_cls: type, options: dict[str, Any], items: list[dict]) -> tuple[list[udf_pb2.Response], InProcessUdf]:
    """Init with ``options`` (which must succeed), send ``items``, end the input: the responses after init."""
    udf = InProcessUdf(handler_cls)
    answer = udf.init(options)
    assert answer.success, answer.error
    udf.send(golden.requests(items))
    return udf.finish(), udf


def with_model_dir(handler_cls: type, options: dict[str, Any], model_root) -> dict[str, Any]:
    """``options`` with the test's model root as ``model_dir``, for a handler that keeps models on disk."""
    if any(o.name == "model_dir" for o in handler_cls.options) and "model_dir" not in options:
        return {**options, "model_dir": str(model_root)}
    return options


def run_case(udf, case: dict, model_root) -> tuple[list[dict], InProcessUdf]:
    """A golden case's output ITEMs, its ``before`` runs done first; and the connection, for its counters."""
    for step in case["before"]:
        cls = registry.get(step["udf"]).handler_class()
        run(cls, with_model_dir(cls, step["options"], model_root), step["input"])
    cls = udf.handler_class()
    responses, conn = run(cls, with_model_dir(cls, case["options"], model_root), case["input"])
    return golden.items(responses), conn
