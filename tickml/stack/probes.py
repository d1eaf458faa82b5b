"""Is it up? The health probes the runner waits on, and the port-in-use check."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from tickml import http


def tcp_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def http_ok(url: str, authorization: str | None = None) -> bool:
    """A 2xx answer; an ``https`` URL must present a certificate of the stack's CA."""
    try:
        response = http.session().get(url, headers={"Authorization": authorization} if authorization else {},
                                      timeout=2, verify=http.verify(url))
    except OSError:  # refused, reset, timed out, TLS refused: requests' errors are OSErrors
        return False
    return 200 <= response.status_code < 300


def fresh(path: Path, seconds: float) -> bool:
    """Whether ``path`` was touched in the last ``seconds`` (a heartbeat file)."""
    try:
        return time.time() - path.stat().st_mtime < seconds
    except FileNotFoundError:
        return False


def unix_open(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(0.5)
        try:
            s.connect(str(path))
        except OSError:
            return False
        return True


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
        return False


def said_since_start(path: Path, text: str) -> bool:
    """Whether a service's log holds ``text`` after the runner's last ``=== ... starting`` line."""
    try:
        log = path.read_bytes()[-1_000_000:].decode(errors="replace")
    except FileNotFoundError:
        return False
    return text in log.rpartition("\n=== ")[2]
