"""What the dashboard asks InfluxDB, and how a failure is said in words.

Every read goes through ``tickml.influx.Influx`` (its URL, TLS and login
from one place) as the read-only account of dashboards/dashboard.toml. A
query that cannot be answered raises :class:`Unavailable` with a sentence
for the page: InfluxDB down, a login refused, or InfluxDB's own error.
Every value a query needs travels as a bound parameter (``influxql.render``),
never inside its text.
"""

from __future__ import annotations

import dataclasses
import time

from tickml import secrets
from tickml.influx import Influx, InfluxError
from tickml import config

from . import influxql
from .panels import TASKS_NOW, Panel
from .schema import MEASUREMENTS
from .settings import Settings
from .timerange import Range, bucket


def udf_names() -> str:
    """The UDFs of kapacitor.conf as regex alternatives: Kapacitor's statistics name a UDF node's kind after
    its UDF."""
    return "|".join(sorted(config.read_toml(config.KAPACITOR_CONF).get("udf", {}).get("functions", {})))


class Unavailable(RuntimeError):
    """InfluxDB did not answer a query; the message says why, for a person."""


@dataclasses.dataclass
class Result:
    series: list[dict]
    text: str       # the InfluxQL that was run
    seconds: float
    params: dict = dataclasses.field(default_factory=dict)  # the values its $parameters were bound to

    @property
    def points(self) -> int:
        """Rows InfluxDB returned: what the query fetched."""
        return sum(len(s["values"]) for s in self.series)


class Source:
    """InfluxDB as the dashboard reads it."""

    def __init__(self, settings: Settings, url: str | None = None):
        self.settings = settings
        username, password = secrets.influxdb_login(settings.account)
        self.influx = Influx(url, username=username, password=password, timeout=settings.timeout)

    @property
    def url(self) -> str:
        return self.influx.url

    def _run(self, query: influxql.Rendered | str, database: str) -> Result:
        text, params = (query, {}) if isinstance(query, str) else (query.text, query.params)
        started = time.perf_counter()
        try:
            series = self.influx.series(text, database=self.settings.databases[database], params=params)
        except InfluxError as exc:
            message = str(exc)
            if "HTTP 401" in message:
                raise Unavailable(f"InfluxDB at {self.url} refused the login of {self.settings.account} "
                                  f"(HTTP 401): is the stack's secret the one InfluxDB has?") from None
            if "HTTP 403" in message:
                raise Unavailable(f"InfluxDB does not let {self.settings.account} read the database "
                                  f"{self.settings.databases[database]!r} (HTTP 403); the stack grants it at "
                                  f"start (tickml stack init-influxdb)") from None
            if "database not found" in message:
                # A database no one has written to yet (Kapacitor's statistics before their first copy).
                return Result([], text, time.perf_counter() - started, params)
            raise Unavailable(f"InfluxDB answered with an error: {message}") from None
        except OSError as exc:  # refused, reset, timed out, TLS: requests' errors are OSErrors
            reason = getattr(exc, "reason", exc)
            raise Unavailable(f"InfluxDB at {self.url} does not answer ({reason})") from None
        return Result(series, text, time.perf_counter() - started, params)

    def panel(self, panel: Panel, when: Range, variables: dict, listed_tasks: list[str] = ()) -> list[Result]:
        """Every query of ``panel`` for the range ``when`` and the page's ``variables``; ``$tasks``, where a
        query splits by task, from the task list (``listed_tasks``) and the tasks Kapacitor reports now."""
        seconds = bucket(when.seconds, self.settings.max_points, panel.min_interval)
        bounds = {"top": self.settings.top, "slimit": self.settings.max_series, "limit": self.settings.max_events,
                  "threshold": self.settings.anomaly_threshold, "udfs": udf_names()}
        if any("$tasks" in q.text for q in panel.queries):
            bounds["tasks"] = self.tasks_shown(when, listed_tasks)
        return [self._run(influxql.render(q.text, when, seconds, {**bounds, **variables}), panel.database)
                for q in panel.queries]

    def tasks_now(self, when: Range) -> list[str]:
        """The tasks Kapacitor reports statistics for in the last minute of ``when``."""
        query = influxql.render(TASKS_NOW.text, when, 10, {})
        return sorted({s.get("tags", {}).get("task", "") for s in self._run(query, "kapacitor").series} - {""})

    def tasks_shown(self, when: Range, listed: list[str]) -> list[str]:
        """``$tasks``: the task list's (``listed``) and those Kapacitor reports now; tasks deleted since the
        range began (tests', replays') would only crowd the panels."""
        return sorted(set(listed) | set(self.tasks_now(when)))

    def ping(self) -> None:
        """Raise :class:`Unavailable` unless InfluxDB answers a query of this account."""
        self._run("SHOW DATABASES", "telemetry")

    def devices_like(self, text: str, limit: int = 50) -> list[str]:
        """Device ids containing ``text`` (case-insensitive), at most ``limit``, in order."""
        result = self._run(influxql.devices_like(text, limit), MEASUREMENTS["device_message"].database)
        return [row[1] for series in result.series for row in series["values"]]

    def device_sensors(self, device: str) -> list[str]:
        """The sensors ``device`` has reported; empty for a device that never wrote a reading."""
        result = self._run(influxql.device_sensors(device), MEASUREMENTS["device_message"].database)
        return sorted(row[1] for series in result.series for row in series["values"])
