"""The dashboard's settings, read once from dashboards/dashboard.toml and checked, each error naming the setting."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tickml.stack.config import DASHBOARD_CONF, StackError, read_toml, split_address

from .timerange import parse_duration


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

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)


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
    )
