"""Kapacitor's users, made from the secrets before it starts with its HTTP auth on.

Kapacitor (1.8, its own user store) creates the first user only through its
API, which with ``auth-enabled`` wants a user already. So when the secrets'
Kapacitor logins are not yet in its data folder (a fresh folder, or a
rotation), the runner starts kapacitord once with ``KAPACITOR_HTTP_AUTH_ENABLED
=false`` on loopback, creates or updates the users of
``tickml.secrets.KAPACITOR_ACCOUNTS``, and stops it; a stamp in the data
folder records which logins it holds.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
import urllib.error
import urllib.request

from tickml import secrets
from tickml.paths import DATA, LOGS, ROOT
from tickml.stack.config import StackError, kapacitor_address

STAMP = DATA / "kapacitor" / ".tickml-users"


def _stamp() -> str:
    return hashlib.sha256(json.dumps(secrets.credentials()["kapacitor"], sort_keys=True).encode()).hexdigest()


def ensure_users(command: list[str], env: dict[str, str]) -> bool:
    """Make the users if the data folder lacks them; True when it did."""
    if STAMP.exists() and STAMP.read_text() == _stamp():
        return False
    host, port = kapacitor_address()
    base = f"http://{host}:{port}/kapacitor/v1"
    STAMP.parent.mkdir(parents=True, exist_ok=True)
    with (LOGS / "kapacitor.log").open("ab") as log:
        log.write(b"\n=== creating Kapacitor's users with HTTP auth off (tickml/stack/kapacitor_users.py)\n")
        log.flush()
        from tickml.stack.runner import child_env  # the runner imports this module

        # The same environment as the real start (its process UDFs run from the venv), auth off.
        proc = subprocess.Popen(command, cwd=ROOT, env=child_env({**env, "KAPACITOR_HTTP_AUTH_ENABLED": "false"}),
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not _answers(f"{base}/ping"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise StackError(f"kapacitor: could not start it to create its users; see {LOGS / 'kapacitor.log'}")
            time.sleep(0.2)
        for account, kind in secrets.KAPACITOR_ACCOUNTS.items():
            password = secrets.kapacitor_login(account)[1]
            user = {"name": account, "password": password, "type": "admin" if kind == "admin" else "normal"}
            if kind != "admin":
                user["permissions"] = [kind]
            if _call("GET", f"{base}/users/{account}") is None:
                _call("POST", f"{base}/users", user)
            else:
                _call("PATCH", f"{base}/users/{account}", {"password": password})
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    STAMP.write_text(_stamp())
    return True


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except (urllib.error.URLError, OSError):
        return False


def _call(method: str, url: str, body: dict | None = None) -> dict | None:
    """Kapacitor's answer as JSON; None for 404."""
    request = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise StackError(f"kapacitor: {method} {url}: HTTP {exc.code}: {exc.read().decode(errors='replace')}") from None
    return json.loads(raw) if raw else {}
