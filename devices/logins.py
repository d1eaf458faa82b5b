"""One login per MQTT connection, for a gateway that sends from several processes.

The stack's broker takes a client's user name as its client id on the devices'
listener (mosquitto.conf ``use_username_as_clientid``), so two connections
with one login disconnect each other. A gateway declared with ``logins = N``
(mosquitto/gateways.toml) has the logins ``<account>``, ``<account>.1``, ...,
``<account>.<N-1>``; each sending process claims a free one here, with an
exclusive lock on a file per login that the system drops when the process
ends, however it ends.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

from devices.transports import MqttTransport


class NoFreeLogin(RuntimeError):
    """Every login of the account is held by a running process."""


def login_names(account: str, count: int) -> list[str]:
    """
    >>> login_names("gw", 3)
    ['gw', 'gw.1', 'gw.2']
    """
    return [account] + [f"{account}.{k}" for k in range(1, count)]


def _folder() -> Path:
    folder = Path(tempfile.gettempdir()) / f"tickml-mqtt-logins-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def claim(account: str, count: int, folder: Path | None = None) -> tuple[str, int]:
    """A login of ``account`` no other process holds, and the descriptor holding it (close it to give it back)."""
    folder = folder or _folder()
    for login in login_names(account, count):
        fd = os.open(folder / f"{login}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return login, fd
    raise NoFreeLogin(f"all {count} MQTT logins of {account} are in use by running processes; declare more "
                      f"(logins in mosquitto/gateways.toml) or run fewer sending processes")


def gateway_transport(url: str, account: str, count: int, password: str | None,
                      ca_file: str | None = None) -> MqttTransport:
    """An MQTT transport logged in as a free login of ``account``, held while the transport lives (the system
    drops the lock with the process)."""
    login, held = claim(account, count)
    try:
        transport = MqttTransport(url, client_id=login, username=login, password=password, ca_file=ca_file)
    except BaseException:
        os.close(held)
        raise
    transport.login_lock = held
    return transport
