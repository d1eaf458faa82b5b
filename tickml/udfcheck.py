"""Which socket UDFs a TICKscript calls, and whether each answers on its socket.

Kapacitor 1.8.3 accepts enabling a task whose socket UDF server is not
listening, then panics in its snapshotter within seconds, taking every task
down (``udf.(*Server).Snapshot``, a nil pointer). So nothing in the project
enables a task before each socket UDF it calls has answered an ``Info``
request: ``stack/tasks.py`` and the task watcher both ask here first.
"""

from __future__ import annotations

import re
import socket
import struct
from pathlib import Path

from tickml.config import socket_udfs

_CALL = re.compile(r"@(\w+)\s*\(")



def udfs_called(script: str) -> set[str]:
    """UDF function names a TICKscript calls (``@name()``).

    >>> sorted(udfs_called("stream |from() @train().model('x') @predict()"))
    ['predict', 'train']
    """
    return set(_CALL.findall(script))


def answers(path: Path, timeout: float = 2.0) -> bool:
    """Whether a UDF server on ``path`` answers an Info request within ``timeout`` seconds."""
    return server(path, timeout) is not None


def server(path: Path, timeout: float = 2.0) -> tuple[int, str] | None:
    """The identity of the UDF server answering on ``path`` (its pid and start time), or None.

    The socket file cannot tell one server from the next: a restarted server
    unlinks the stale file and binds a new one, which may get the same inode.
    The peer's credentials name the process.
    """
    from udfs.agent import FrameDecoder, encode_frame, udf_pb2

    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(path))
            pid, _, _ = struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
            s.sendall(encode_frame(udf_pb2.Request(info=udf_pb2.InfoRequest()).SerializeToString()))
            decoder = FrameDecoder()
            while True:
                data = s.recv(65536)
                if not data:
                    return None
                for frame in decoder.feed(data):
                    response = udf_pb2.Response()
                    response.ParseFromString(frame)
                    if response.WhichOneof("message") != "info":
                        return None
                    return pid, _start_time(pid)
    except (OSError, ValueError):
        return None


def _start_time(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def silent_udfs(script: str, conf: Path | None = None) -> list[str]:
    """The socket UDFs ``script`` calls that do not answer now, as ``name (path)``; their sockets as
    ``conf`` (a Kapacitor configuration, default the stack's) says."""
    sockets = socket_udfs(conf)
    return [f"{name} ({sockets[name]})" for name in sorted(udfs_called(script) & sockets.keys())
            if not answers(sockets[name])]
