"""The tools' one HTTP client: connections kept alive, the stack's CA trusted for ``https``, a login sent.

InfluxDB's client (``tickml.influx``), Kapacitor's (``tickml.kapacitor``) and the health probes
(``tickml.stack.probes``) stand on it. A test run or a backfill makes thousands of calls; a new TLS handshake
for each cost more than the call (requests' connection pool keeps them open).
"""

from __future__ import annotations

import os
import threading

import requests

from tickml import secrets

_local = threading.local()


class HttpError(RuntimeError):
    """A service answered with an error status; ``status`` and ``text`` hold its answer."""

    def __init__(self, message: str, status: int, text: str):
        super().__init__(message)
        self.status = status
        self.text = text


def session() -> requests.Session:
    """This thread's session (one per thread and process: a forked child never shares its parent's sockets).

    ``trust_env`` is off: the stack is on loopback or named in its own files, and a ``.netrc`` entry would
    otherwise replace the login the caller sends.
    """
    held = getattr(_local, "held", None)
    if held is None or held[0] != os.getpid():
        s = requests.Session()
        s.trust_env = False
        held = _local.held = (os.getpid(), s)
    return held[1]


def verify(url: str) -> str | bool:
    """What requests verifies a server by: the stack's CA (and nothing else) for ``https``."""
    return str(secrets.ca_file()) if url.startswith("https:") else True


class Api:
    """Requests under one base URL with one login; an error status raises ``HttpError`` naming ``service``."""

    def __init__(self, service: str, base_url: str, authorization: str | None = None, timeout: float = 30.0):
        self.service = service
        self.url = base_url.rstrip("/")
        self.timeout = timeout
        self._headers = {"Authorization": authorization} if authorization else {}
        self._verify = verify(self.url)

    def request(self, method: str, path: str, params: dict | None = None, data: bytes | None = None,
                headers: dict | None = None, timeout: float | None = None) -> bytes:
        """The answer's body; ``HttpError`` for a status outside 2xx, ``OSError`` (requests' errors are) when
        the service cannot be reached."""
        response = session().request(method, self.url + path, params=params, data=data,
                                     headers={**self._headers, **(headers or {})}, verify=self._verify,
                                     timeout=timeout or self.timeout)
        if not response.ok:
            raise HttpError(f"{self.service} {method} {path}: HTTP {response.status_code}: {self.detail(response)}",
                            response.status_code, response.text)
        return response.content

    @staticmethod
    def detail(response: requests.Response) -> str:
        """The error an answer carries: its JSON ``error`` where it has one, else its text."""
        try:
            body = response.json()
        except ValueError:
            return response.text
        return body.get("error", response.text) if isinstance(body, dict) else response.text
