"""Who may read the dashboard: the Host a request names, and a login (HTTP basic auth), checked in front of the app.

Every request passes here before Dash sees it: the pages, Dash's ``_dash-*``
callbacks, its scripts and the assets. A Host outside the allowlist is
answered 400, whatever the login: a page of another site whose name was
pointed at this machine (DNS rebinding) names its own host, so it never gets
a dashboard page to read. Then the login: the stack's ``dashboard`` account
(``tickml secrets login dashboard``); without it, or with another, 401 and a
``WWW-Authenticate`` challenge, so that the browser asks for it once and sends
it with every request after.

Basic auth rather than a form and a session cookie: the browser's own prompt
is the form, each request carries the login so nothing is kept on the server
(no session secret, no expiry, no logout to get wrong, no form to protect
from cross-site posts), and the tools that read the dashboard (the stack's
health probe, Playwright) send it as they send InfluxDB's. It travels in
every request, so the app listens on loopback, as the stack's other HTTP
services without TLS.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Iterable

from tickml import secrets

REALM = "tickml dashboard"


class Guard:
    """A WSGI app that answers ``app``'s requests only for an allowed Host and the right login."""

    def __init__(self, app, username: str, password: str, hosts: Iterable[str]):
        self.app = app
        self._username = username.encode()
        self._password = password.encode()
        self.hosts = frozenset(host.lower() for host in hosts)

    def __call__(self, environ, start_response):
        host = environ.get("HTTP_HOST", "").lower()
        if host not in self.hosts:
            return _answer(start_response, "400 Bad Request",
                           f"This dashboard answers requests for {', '.join(sorted(self.hosts))}, not for "
                           f"{host or 'a request without a Host'} (dashboards/dashboard.toml: allowed-hosts).\n")
        if not self.logged_in(environ.get("HTTP_AUTHORIZATION", "")):
            return _answer(start_response, "401 Unauthorized",
                           "Log in: the password is printed by `tickml secrets login dashboard`.\n",
                           [("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"')])
        return self.app(environ, start_response)

    def logged_in(self, authorization: str) -> bool:
        """Whether an ``Authorization`` header carries the login; the comparison takes as long whatever it holds."""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            username, colon, password = base64.b64decode(token.strip(), validate=True).partition(b":")
        except (binascii.Error, ValueError):
            return False
        # Both compared every time (& rather than and): how long it takes says nothing of which was wrong.
        return bool(colon) & hmac.compare_digest(username, self._username) & hmac.compare_digest(password,
                                                                                               self._password)


def _answer(start_response, status: str, text: str, headers: list | None = None) -> list[bytes]:
    body = text.encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
                            ("Cache-Control", "no-store"), *(headers or [])])
    return [body]


def authorization() -> str:
    """The ``Authorization`` header the stack's tools send the dashboard (its health probe, the browser tests)."""
    return secrets.basic_auth(*secrets.dashboard_login())
