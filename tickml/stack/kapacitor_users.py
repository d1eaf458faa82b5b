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
import os
import shutil
import subprocess
import time
from pathlib import Path

from tickml import secrets
from tickml.paths import DATA, LOGS, ROOT
from tickml.stack import probes
from tickml.config import KAPACITOR_CONF, StackError, kapacitor_url, read_toml
from tickml.kapacitor import Kapacitor
from tickml.stack.process import child_env

STAMP_NAME = ".tickml-users"


def _stamp() -> str:
    return hashlib.sha256(json.dumps(secrets.credentials()["kapacitor"], sort_keys=True).encode()).hexdigest()


def login_env() -> dict[str, str]:
    """Kapacitor's logins from the secrets: InfluxDB's (kapacitor.conf's first [[influxdb]]) and Mosquitto's (its
    [[mqtt]], the alert handler's broker, which Kapacitor logs in to as it starts: without the password it would
    not start)."""
    return {**dict(zip(("KAPACITOR_INFLUXDB_0_USERNAME", "KAPACITOR_INFLUXDB_0_PASSWORD"),
                       secrets.influxdb_login("tickml-kapacitor"))),
            "KAPACITOR_MQTT_0_PASSWORD": secrets.mqtt_login("tickml-kapacitor")[1]}


def ensure_users_here() -> bool:
    """The users of a Kapacitor not run by the native runner (docker-compose's): the ``kapacitord`` on PATH,
    its data folder as the environment (``KAPACITOR_DATA_DIR``) or kapacitor.conf says."""
    binary = shutil.which("kapacitord")
    if binary is None:
        raise StackError("kapacitor: no kapacitord on PATH (the native stack makes its users when it starts)")
    data_dir = Path(os.environ.get("KAPACITOR_DATA_DIR") or read_toml(KAPACITOR_CONF)["data_dir"])
    return ensure_users([binary, "-config", str(KAPACITOR_CONF)], login_env(), data_dir)


def ensure_users(command: list[str], env: dict[str, str], data_dir: Path = DATA / "kapacitor", *,
                 url: str | None = None, log_file: Path | None = None) -> bool:
    """Make the users if the data folder lacks them; True when it did.

    ``url`` is where that Kapacitor listens (default kapacitor.conf's; a shard's is its own), ``log_file``
    where its output goes (default .stack/logs/kapacitor.log).
    """
    stamp = data_dir / STAMP_NAME
    if stamp.exists() and stamp.read_text() == _stamp():
        return False
    # Both import the stack's modules, which import this one.

    api = Kapacitor(url or kapacitor_url(), login=None)
    log_file = log_file or LOGS / "kapacitor.log"
    stamp.parent.mkdir(parents=True, exist_ok=True)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        log.write(b"\n=== creating Kapacitor's users with HTTP auth off (tickml/stack/kapacitor_users.py)\n")
        log.flush()
        # The same environment as the real start (its process UDFs run from the venv), auth off.
        proc = subprocess.Popen(command, cwd=ROOT, env=child_env({**env, "KAPACITOR_HTTP_AUTH_ENABLED": "false"}),
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not probes.http_ok(f"{api.url}/ping"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise StackError(f"kapacitor: could not start it to create its users; see {log_file}")
            time.sleep(0.2)
        for account, kind in secrets.KAPACITOR_ACCOUNTS.items():
            password = secrets.kapacitor_login(account)[1]
            user = {"name": account, "password": password, "type": "admin" if kind == "admin" else "normal"}
            if kind != "admin":
                user["permissions"] = [kind]
            try:
                if api.user(account) is None:
                    api._call("POST", "/users", user)
                else:
                    api._call("PATCH", f"/users/{account}", {"password": password})
            except RuntimeError as exc:
                raise StackError(f"kapacitor: cannot make user {account}: {exc}") from None
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    stamp.write_text(_stamp())
    return True

