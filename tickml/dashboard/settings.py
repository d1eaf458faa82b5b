"""The dashboard's settings, read once from dashboards/dashboard.toml and checked, each error naming the setting."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from tickml.config import DASHBOARD_CONF, StackError, read_toml, split_address

from .timerange import parse_duration


# A Host header as a browser sends it for an address with its port: a name, an IPv4 or a bracketed IPv6 address.
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}")


@dataclasses.dataclass(frozen=True)
class Settings:
    host: str
    port: int
    threads: int
    account: str
    databases: dict  # panel database key ("telemetry", "telegraf", "kapacitor") -> InfluxDB database
    timeout: float
    default_range: str
    refresh: int
    max_points: int
    max_series: int
    max_events: int
    top: int
    anomaly_threshold: float
    task_stale_seconds: int
    allowed_hosts: tuple[str, ...] = ()  # [http] allowed-hosts; empty: the defaults of ``hosts``

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)

    @property
    def hosts(self) -> tuple[str, ...]:
        """The Host headers the app answers: ``allowed-hosts``, or by default its loopback names on the port it
        listens on (and the address it listens on, when that is one machine's address, not all of them).

        >>> load().replace(host="127.0.0.1", port=8050, allowed_hosts=()).hosts
        ('127.0.0.1:8050', 'localhost:8050')
        >>> load().replace(host="192.0.2.7", port=8050, allowed_hosts=()).hosts
        ('127.0.0.1:8050', 'localhost:8050', '192.0.2.7:8050')
        """
        if self.allowed_hosts:
            return self.allowed_hosts
        names = ["127.0.0.1", "localhost"]
        if self.host not in (*names, "0.0.0.0", "::", "[::]", ""):
            names.append(self.host)
        return tuple(f"{name}:{self.port}" for name in names)


def load(path: Path = DASHBOARD_CONF) -> Settings:
    """The settings of ``path``; a missing or bad setting is a StackError naming it and what it must be."""
    try:
        conf = read_toml(path)
    except (OSError, ValueError) as exc:
        raise StackError(f"{path}: {exc}") from None

    def get(section: str, key: str, kind: type, check=None, must: str = ""):
        try:
            value = conf[section][key]
        except KeyError:
            raise StackError(f"{path}: [{section}] {key} is missing") from None
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or isinstance(value, bool) or (check and not check(value)):
            raise StackError(f"{path}: [{section}] {key} must be {must or kind.__name__}, got {value!r}")
        return value

    positive = (lambda v: v > 0), "a positive number"
    hosts = conf.get("http", {}).get("allowed-hosts", [])
    if not isinstance(hosts, list) or not all(isinstance(h, str) and _HOST.fullmatch(h) for h in hosts):
        raise StackError(f"{path}: [http] allowed-hosts must be a list of HOST:PORT (\"localhost:18050\"), "
                         f"got {hosts!r}")
    bind = get("http", "bind-address", str)
    try:
        host, port = split_address(bind)
    except ValueError:
        raise StackError(f"{path}: [http] bind-address must be HOST:PORT, got {bind!r}") from None
    default_range = get("pages", "default-range", str)
    try:
        parse_duration(default_range)
    except ValueError as exc:
        raise StackError(f"{path}: [pages] default-range: {exc}") from None
    return Settings(
        host=host, port=port,
        threads=get("http", "threads", int, *positive),
        account=get("influxdb", "account", str),
        databases={"telemetry": get("influxdb", "database", str),
                   "telegraf": get("influxdb", "telegraf-database", str),
                   "kapacitor": get("influxdb", "kapacitor-database", str)},
        timeout=get("influxdb", "timeout", float, *positive),
        default_range=default_range,
        refresh=get("pages", "refresh", int, lambda v: v >= 0, "0 or more seconds"),
        max_points=get("pages", "max-points-per-series", int, *positive),
        max_series=get("pages", "max-series", int, *positive),
        max_events=get("pages", "max-events", int, *positive),
        top=get("pages", "top", int, *positive),
        anomaly_threshold=get("pages", "anomaly-threshold", float),
        task_stale_seconds=get("pages", "task-stale-seconds", int, *positive),
        allowed_hosts=tuple(h.lower() for h in hosts),
    )
