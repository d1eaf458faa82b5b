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
import signal
import socket
import stat
import sys
import threading
from typing import Sequence

from .connection import Connection, PipeTransport, SocketTransport
from .framing import DEFAULT_MAX_MESSAGE_SIZE
from .handler import Handler

__all__ = ["SocketServer", "main", "run_process", "serve_socket"]

log = logging.getLogger(__name__)


class _Stop(BaseException):
    """Raised by the SIGTERM/SIGINT handler to unwind the main thread."""


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop(signal.Signals(signum).name)


def _install_signal_handlers() -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _raise_stop)


def run_process(
    handler_cls: type[Handler],
    read_fd: int = 0,
    write_fd: int = 1,
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
) -> None:
    """Speak the protocol on a pair of file descriptors (stdin/stdout by default).

    When ``write_fd`` is 1, the protocol moves to a duplicate of stdout and
    fd 1 (and ``sys.stdout``) are pointed at stderr, so a stray ``print``
    in handler or library code lands in Kapacitor's log instead of
    corrupting the protocol stream.
    """
    if write_fd == 1:
        write_fd = os.dup(1)
        sys.stdout.flush()
        os.dup2(2, 1)
        sys.stdout = sys.stderr
    conn = Connection(handler_cls, PipeTransport(read_fd, write_fd), max_message_size)
    if threading.current_thread() is threading.main_thread():
        _install_signal_handlers()
    try:
        conn.serve()
    except _Stop as stop:
        log.info("%s stopping on %s", handler_cls.name, stop)


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

    def __init__(self, handler_cls: type[Handler], path: str, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE):
        self.handler_cls = handler_cls
        self.path = path
        self.max_message_size = max_message_size
        self.connections: set[Connection] = set()
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

    def serve_forever(self) -> None:
        """Accept connections until :meth:`close` (or a signal) stops it."""
        try:
            while not self._closing:
                try:
                    sock, _ = self.sock.accept()
                except OSError:
                    if self._closing:
                        break
                    raise
                conn = Connection(self.handler_cls, SocketTransport(sock), self.max_message_size)
                with self._lock:
                    self.connections.add(conn)
                threading.Thread(target=self._serve_one, args=(conn,), name=f"udf-conn-{conn.id}",
                                 daemon=True).start()
        finally:
            self.close()

    def _serve_one(self, conn: Connection) -> None:
        try:
            conn.serve()
        except Exception:
            log.exception("%s connection failed", conn.label)
        finally:
            with self._lock:
                self.connections.discard(conn)

    def close(self) -> None:
        """Stop accepting, end open connections, remove the socket file."""
        self._closing = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        try:
            # Only our own file: a new server may already own the path.
            if os.stat(self.path).st_ino == self._inode:
                os.unlink(self.path)
        except FileNotFoundError:
            pass
        with self._lock:
            conns = list(self.connections)
        for conn in conns:
            if isinstance(conn.transport, SocketTransport):
                try:
                    conn.transport.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def serve_socket(handler_cls: type[Handler], path: str, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
    """Serve ``handler_cls`` on the unix socket ``path`` until SIGTERM/SIGINT."""
    server = SocketServer(handler_cls, path, max_message_size)
    if threading.current_thread() is threading.main_thread():
        _install_signal_handlers()
    try:
        server.serve_forever()
    except _Stop as stop:
        log.info("%s stopping on %s", handler_cls.name, stop)
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
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.socket:
            serve_socket(handler_cls, args.socket, args.max_message_size)
        else:
            run_process(handler_cls, max_message_size=args.max_message_size)
    except OSError as exc:
        log.error("%s: %s", handler_cls.name, exc)
        return 1
    return 0
