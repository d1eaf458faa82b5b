"""The two byte pipes a connection speaks over: a unix socket, or a pair of file descriptors.

Separate from :mod:`~udfs.agent.connection` because they are the only part
that knows what the bytes travel through: the reader and the worker call
``recv``, ``send_all``, ``close_write`` and ``close`` and nothing else, so
socket mode and process mode run the same connection code (and
:mod:`~udfs.agent.server` adds its signal-aware pipe on top of
:class:`PipeTransport`).
"""

from __future__ import annotations

import os
import socket

__all__ = ["PipeTransport", "SocketTransport"]


class SocketTransport:
    """A connected unix socket."""

    def __init__(self, sock: socket.socket):
        self.sock = sock

    def recv(self, n: int) -> bytes:
        data = self.sock.recv(n)
        if len(data) < n // 2 and data:
            # Take what else has arrived meanwhile, without waiting: Kapacitor
            # writes a message at a time, and every read handed to the worker
            # costs a thread wake-up, so fewer, larger reads cost less per point.
            parts = [data]
            got = len(data)
            try:
                while got < n:
                    more = self.sock.recv(n - got, socket.MSG_DONTWAIT)
                    if not more:
                        break
                    parts.append(more)
                    got += len(more)
            except (BlockingIOError, InterruptedError):
                pass
            data = b"".join(parts) if len(parts) > 1 else data
        return data

    def send_all(self, data: bytes | bytearray) -> None:
        self.sock.sendall(data)

    def close_write(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        self.sock.close()


class PipeTransport:
    """A pair of file descriptors, e.g. stdin and stdout of a process UDF."""

    def __init__(self, read_fd: int, write_fd: int):
        self.read_fd = read_fd
        self.write_fd = write_fd
        self._write_closed = False

    def recv(self, n: int) -> bytes:
        return os.read(self.read_fd, n)

    def send_all(self, data: bytes | bytearray) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self.write_fd, view)
            view = view[written:]

    def close_write(self) -> None:
        if not self._write_closed:
            self._write_closed = True
            os.close(self.write_fd)

    def close(self) -> None:
        self.close_write()
