"""A small Kapacitor stand-in for the agent's protocol tests.

The client speaks the UDF protocol over a real unix socket or real pipes
to a UDF running in a real subprocess. Its varint framing is written here
independently of ``udfs.agent.framing`` so that a bug there cannot hide
behind the same bug in the test.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import time
from pathlib import Path

from udfs.agent import udf_pb2

REPO = Path(__file__).resolve().parents[3]
TEST_HANDLERS = Path(__file__).with_name("agent_test_handlers.py")


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def frame(msg) -> bytes:
    data = msg if isinstance(msg, bytes) else msg.SerializeToString()
    return varint(len(data)) + data


def opt(name, *values):
    """An InitRequest option from Python values (durations as ('dur', ns))."""
    o = udf_pb2.Option(name=name)
    for v in values:
        ov = o.values.add()
        if isinstance(v, tuple) and v[0] == "dur":
            ov.type, ov.durationValue = udf_pb2.DURATION, v[1]
        elif isinstance(v, bool):
            ov.type, ov.boolValue = udf_pb2.BOOL, v
        elif isinstance(v, int):
            ov.type, ov.intValue = udf_pb2.INT, v
        elif isinstance(v, float):
            ov.type, ov.doubleValue = udf_pb2.DOUBLE, v
        else:
            ov.type, ov.stringValue = udf_pb2.STRING, v
    return o


def init_req(*options, task="t1", node="udf1"):
    return udf_pb2.Request(init=udf_pb2.InitRequest(options=list(options), taskID=task, nodeID=node))


def point_req(time_ns=1, group="device_id=d1,", tags=None, **fields):
    p = udf_pb2.Point(time=time_ns, name="point_data", group=group, database="db", retentionPolicy="autogen",
                      dimensions=["device_id"], tags=tags if tags is not None else {"device_id": "d1"})
    for k, v in fields.items():
        if isinstance(v, bool):
            p.fieldsBool[k] = v
        elif isinstance(v, int):
            p.fieldsInt[k] = v
        elif isinstance(v, float):
            p.fieldsDouble[k] = v
        else:
            p.fieldsString[k] = v
    return udf_pb2.Request(point=p)


INFO = udf_pb2.Request(info=udf_pb2.InfoRequest())


class Client:
    """Kapacitor's side of one connection: send requests, read responses."""

    def __init__(self, read, write, close_write, close):
        self._read, self._write = read, write
        self._close_write, self._close = close_write, close
        self._buf = bytearray()
        self.eof = False

    @classmethod
    def connect(cls, path: str) -> "Client":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)

        def read(timeout):
            sock.settimeout(timeout)
            try:
                return sock.recv(65536)
            except socket.timeout:
                return None

        return cls(read, sock.sendall, lambda: sock.shutdown(socket.SHUT_WR), sock.close)

    @classmethod
    def over_pipes(cls, proc: subprocess.Popen) -> "Client":
        rfd = proc.stdout.fileno()

        def read(timeout):
            ready, _, _ = select.select([rfd], [], [], timeout)
            return os.read(rfd, 65536) if ready else None

        def write(data):
            proc.stdin.write(data)
            proc.stdin.flush()

        return cls(read, write, proc.stdin.close, lambda: None)

    def send(self, *requests) -> None:
        self._write(b"".join(frame(r) for r in requests))

    def send_raw(self, data: bytes) -> None:
        self._write(data)

    def close_write(self) -> None:
        self._close_write()

    def close(self) -> None:
        self._close()

    def _take(self):
        buf = self._buf
        n = shift = i = 0
        while i < len(buf):
            b = buf[i]
            n |= (b & 0x7F) << shift
            i += 1
            if b < 0x80:
                if len(buf) - i >= n:
                    resp = udf_pb2.Response()
                    resp.ParseFromString(bytes(buf[i:i + n]))
                    del buf[:i + n]
                    return resp
                return None
            shift += 7
        return None

    def recv(self, timeout: float = 5.0) -> udf_pb2.Response:
        """The next response; fails the test after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            resp = self._take()
            if resp is not None:
                return resp
            left = deadline - time.monotonic()
            if left <= 0 or self.eof:
                raise AssertionError(f"no response within {timeout}s (eof={self.eof}, {len(self._buf)} bytes held)")
            data = self._read(left)
            if data == b"":
                self.eof = True
            elif data:
                self._buf += data

    def recv_kind(self, kind: str, timeout: float = 5.0) -> udf_pb2.Response:
        resp = self.recv(timeout)
        assert resp.WhichOneof("message") == kind, f"expected {kind}, got {resp}"
        return resp

    def recv_all(self, timeout: float = 5.0) -> list[udf_pb2.Response]:
        """Every response until the UDF closes its side."""
        out = []
        deadline = time.monotonic() + timeout
        while True:
            resp = self._take()
            if resp is not None:
                out.append(resp)
                continue
            if self.eof:
                return out
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"UDF did not close within {timeout}s; got {len(out)} responses")
            data = self._read(left)
            if data == b"":
                self.eof = True
            elif data:
                self._buf += data

    def init_ok(self, *options) -> None:
        self.send(init_req(*options))
        resp = self.recv_kind("init")
        assert resp.init.success, resp.init.error


def udf_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


class SocketUdf:
    """A UDF served on a unix socket by a real subprocess."""

    def __init__(self, argv, path: Path, stderr_path: Path, env: dict | None = None):
        self.path = str(path)
        self.stderr_path = stderr_path
        self._stderr = open(stderr_path, "wb")
        self.proc = subprocess.Popen(argv + ["--socket", self.path, "--log-level", "DEBUG"],
                                     cwd=REPO, env={**udf_env(), **(env or {})}, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self._stderr)
        # Wait until it accepts: the path alone may be a stale file. The bound is for a server that hangs; on a
        # loaded machine (the whole suite side by side) importing scikit-learn alone has taken more than 15 s.
        deadline = time.monotonic() + 60
        while True:
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(self.path)
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"UDF did not start: {self.stderr()}")
                time.sleep(0.02)
            finally:
                probe.close()

    def connect(self) -> Client:
        return Client.connect(self.path)

    def stderr(self) -> str:
        if not self._stderr.closed:
            self._stderr.flush()
        return self.stderr_path.read_text(errors="replace")

    def wait_log(self, text: str, timeout: float = 5.0) -> str:
        """The log once it contains ``text`` (log lines may trail the last response)."""
        deadline = time.monotonic() + timeout
        while text not in (err := self.stderr()):
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not logged within {timeout}s:\n{err}")
            time.sleep(0.02)
        return err

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stderr.close()


def run_process_udf(module: str, stdin: bytes, cwd, timeout: float = 120,
                    args: tuple[str, ...] = ()) -> tuple[list[udf_pb2.Response], str]:
    """Run ``python -m <module> [args]`` as Kapacitor runs a process UDF: all of ``stdin``
    in, then end of input; the decoded responses and the UDF's log."""
    import sys

    from udfs.agent import FrameDecoder

    proc = subprocess.run([sys.executable, "-m", module, *args], input=stdin, capture_output=True, cwd=cwd,
                          timeout=timeout, env=udf_env())
    assert proc.returncode == 0, proc.stderr.decode()
    responses = []
    for frame_bytes in FrameDecoder().feed(proc.stdout):
        response = udf_pb2.Response()
        response.ParseFromString(frame_bytes)
        responses.append(response)
    return responses, proc.stderr.decode()
