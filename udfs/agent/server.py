"""Entry points: a process UDF on stdin/stdout, or a socket UDF server.

Both run the same :class:`~udfs.agent.connection.Connection`; only the
transport differs. Each UDF module ends with::

    if __name__ == "__main__":
        sys.exit(main(MyHandler))

so that ``python -m udfs.my_udf`` is a process UDF and
``python -m udfs.my_udf --socket /tmp/my_udf.sock`` a socket UDF.
"""

from __future__ import annotations

import argparse
import logging
import os
import select
import signal
import socket
import stat
import sys
import threading
import time
from typing import Sequence

from .connection import DEFAULT_HANG_LIMIT, DEFAULT_MAX_QUEUED_BYTES, Connection
from .framing import DEFAULT_MAX_MESSAGE_SIZE
from .handler import Handler
from .transports import PipeTransport, SocketTransport

__all__ = ["SocketServer", "main", "run_process", "serve_socket"]

log = logging.getLogger(__name__)

DRAIN_SECONDS = 10.0  # longest a stopping server waits for its handlers to finish what they hold


class _StopSignal:
    """SIGTERM/SIGINT as a file descriptor that becomes readable, never as an exception.

    An exception raised from a signal handler lands wherever the main thread
    happens to be, inside a queue's lock or the logging module's, and can
    leave the worker waiting for ever. Instead the handler only records the
    signal, and ``signal.set_wakeup_fd`` makes the self-pipe readable; the
    blocking waits of the main thread select on it and end cleanly.
    """

    def __init__(self):
        self.name: str | None = None
        self.read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._record)

    def _record(self, signum: int, frame: object) -> None:
        self.name = signal.Signals(signum).name

    def wait(self, fd: int) -> bool:
        """Block until ``fd`` is readable (True) or a stop signal came (False)."""
        while self.name is None:
            ready, _, _ = select.select([fd, self.read_fd], [], [])
            if fd in ready and self.name is None:
                return True
        return False


def _stop_signal() -> _StopSignal | None:
    # Signals can only be handled on the main thread (tests run servers on others).
    return _StopSignal() if threading.current_thread() is threading.main_thread() else None


class _Interruptible(PipeTransport):
    """A pipe transport whose read ends (as end of input) when a stop signal arrives."""

    def __init__(self, read_fd: int, write_fd: int, stop: _StopSignal):
        super().__init__(read_fd, write_fd)
        self.stop = stop

    def recv(self, n: int) -> bytes:
        return os.read(self.read_fd, n) if self.stop.wait(self.read_fd) else b""


def run_process(
    handler_cls: type[Handler],
    read_fd: int = 0,
    write_fd: int = 1,
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    **limits: float,
) -> None:
    """Speak the protocol on a pair of file descriptors (stdin/stdout by default).

    When ``write_fd`` is 1, the protocol moves to a duplicate of stdout and
    fd 1 (and ``sys.stdout``) are pointed at stderr, so a stray ``print``
    in handler or library code lands in Kapacitor's log instead of
    corrupting the protocol stream. On SIGTERM/SIGINT the input is taken as
    ended: the points already read are handled and answered, then it exits.
    ``limits`` (``max_queued_bytes``, ``hang_limit``) go to the ``Connection``.
    """
    if write_fd == 1:
        write_fd = os.dup(1)
        sys.stdout.flush()
        os.dup2(2, 1)
        sys.stdout = sys.stderr
    stop = _stop_signal()
    transport = PipeTransport(read_fd, write_fd) if stop is None else _Interruptible(read_fd, write_fd, stop)
    Connection(handler_cls, transport, max_message_size, **limits).serve()
    if stop is not None and stop.name:
        log.info("%s stopping on %s", handler_cls.name, stop.name)


def _remove_stale_socket(path: str) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise FileExistsError(f"{path} exists and is not a socket; refusing to replace it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        log.info("removing stale socket %s", path)
        os.unlink(path)
        return
    finally:
        probe.close()
    raise OSError(f"another UDF server is already listening on {path}")


class SocketServer:
    """Serve a handler on a unix socket, one thread pair per connection.

    Parameters
    ----------
    handler_cls
        The UDF's handler class; each connection gets its own instance.
    path
        Socket path, as in kapacitor.conf's ``[udf.functions.<name>] socket``.
    max_message_size
        Largest accepted request, in bytes.

    Notes
    -----
    The socket file is created with mode 0660 (umask set around ``bind``,
    so it is never more open, even briefly) and removed by :meth:`close`.
    A stale socket file left by a killed server is removed first; a live
    one is an error.
    """

    def __init__(self, handler_cls: type[Handler], path: str, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
                 **limits: float):
        self.handler_cls = handler_cls
        self.path = path
        self.max_message_size = max_message_size
        self.limits = limits
        self.connections: dict[Connection, threading.Thread] = {}
        self._lock = threading.Lock()
        self._closing = False
        _remove_stale_socket(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o117)
        try:
            self.sock.bind(path)
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o660)
        self._inode = os.stat(path).st_ino
        self.sock.listen(128)
        log.info("%s listening on %s", handler_cls.name, path)

    def serve_forever(self, stop: "_StopSignal | None" = None) -> None:
        """Accept connections until :meth:`close`, or a stop signal (then drain and close)."""
        try:
            while not self._closing:
                if stop is not None and not stop.wait(self.sock.fileno()):
                    log.info("%s stopping on %s", self.handler_cls.name, stop.name)
                    self.drain()
                    break
                try:
                    sock, _ = self.sock.accept()
                except OSError:
                    if self._closing:
                        break
                    raise
                conn = Connection(self.handler_cls, SocketTransport(sock), self.max_message_size, **self.limits)
                thread = threading.Thread(target=self._serve_one, args=(conn,), name=f"udf-conn-{conn.id}",
                                          daemon=True)
                with self._lock:
                    self.connections[conn] = thread
                thread.start()
        finally:
            self.close()

    def _serve_one(self, conn: Connection) -> None:
        try:
            conn.serve()
        except Exception:
            log.exception("%s connection failed", conn.label)
        finally:
            with self._lock:
                self.connections.pop(conn, None)

    def drain(self, timeout: float = DRAIN_SECONDS) -> None:
        """Stop reading every connection, let the handlers finish what they hold and answer it."""
        self._stop_accepting()
        open_connections = self._shut_connections(socket.SHUT_RD)
        deadline = time.monotonic() + timeout
        for conn, thread in open_connections.items():
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("%s still busy after %.0f s; closing it", conn.label, timeout)

    def _shut_connections(self, how: int) -> dict[Connection, threading.Thread]:
        """``shutdown(how)`` on every open connection's socket; the connections and their threads."""
        with self._lock:
            open_connections = dict(self.connections)
        for conn in open_connections:
            _shutdown(conn.transport.sock, how)
        return open_connections

    def _stop_accepting(self) -> None:
        self._closing = True
        _shutdown(self.sock, socket.SHUT_RDWR)
        self.sock.close()
        try:
            # Only our own file: a new server may already own the path.
            if os.stat(self.path).st_ino == self._inode:
                os.unlink(self.path)
        except FileNotFoundError:
            pass

    def close(self) -> None:
        """Stop accepting, end open connections, remove the socket file."""
        self._stop_accepting()
        self._shut_connections(socket.SHUT_RDWR)


def _shutdown(sock: socket.socket, how: int) -> None:
    """``sock.shutdown(how)``; a socket already closed or never connected is no error."""
    try:
        sock.shutdown(how)
    except OSError:
        pass


def serve_socket(handler_cls: type[Handler], path: str, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
                 **limits: float) -> None:
    """Serve ``handler_cls`` on the unix socket ``path`` until SIGTERM/SIGINT, then drain."""
    server = SocketServer(handler_cls, path, max_message_size, **limits)
    try:
        server.serve_forever(_stop_signal())
    finally:
        server.close()


def main(handler_cls: type[Handler], argv: Sequence[str] | None = None) -> int:
    """Command line of every UDF module: process UDF, or ``--socket PATH``.

    Parameters
    ----------
    handler_cls
        The UDF's handler class.
    argv
        Arguments without the program name; ``sys.argv[1:]`` by default.

    Returns
    -------
    int
        Exit status for ``sys.exit``.
    """
    doc = (handler_cls.__doc__ or "").strip().split("\n\n")[0]
    parser = argparse.ArgumentParser(
        description=f"Kapacitor UDF {handler_cls.name}: {doc}",
        epilog="Without --socket, speaks the UDF protocol on stdin/stdout (a process UDF).",
    )
    parser.add_argument("--socket", metavar="PATH", help="serve on this unix socket (a socket UDF)")
    parser.add_argument("--log-level", default="INFO",
                        choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
                        help="log level; logs go to stderr (default: %(default)s)")
    parser.add_argument("--max-message-size", type=int, default=DEFAULT_MAX_MESSAGE_SIZE, metavar="BYTES",
                        help="largest request accepted (default: %(default)s)")
    parser.add_argument("--max-queued-bytes", type=int, default=DEFAULT_MAX_QUEUED_BYTES, metavar="BYTES",
                        help="requests read but not yet handled, per connection, before reading pauses "
                             "(default: %(default)s)")
    parser.add_argument("--hang-limit", type=float, default=DEFAULT_HANG_LIMIT, metavar="SECONDS",
                        help="a busy handler that finishes nothing for this long stops answering keepalives, "
                             "so Kapacitor stops the task (default: %(default)s)")
    args = parser.parse_args(argv)
    limits = {"max_queued_bytes": args.max_queued_bytes, "hang_limit": args.hang_limit}
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.socket:
            serve_socket(handler_cls, args.socket, args.max_message_size, **limits)
        else:
            run_process(handler_cls, max_message_size=args.max_message_size, **limits)
    except OSError as exc:
        log.error("%s: %s", handler_cls.name, exc)
        return 1
    return 0
