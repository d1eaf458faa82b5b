"""A small InfluxDB 1.x HTTP client for the stack runner, tests and benchmarks.

InfluxQL over ``/query`` and line protocol over ``/write``: the two calls the
project's tooling needs, on the tools' one HTTP client (``tickml.http``).
"""

from __future__ import annotations

import json

from tickml import secrets
from tickml.config import influxdb_url
from tickml.http import Api, HttpError


class InfluxError(RuntimeError):
    """InfluxDB answered with an error; the message carries its text."""


_ADMIN = object()  # the default login: the stack's admin account, when this machine has the secrets


class Influx:
    """InfluxQL and line protocol over InfluxDB's HTTP API, logged in (basic auth) as ``username``.

    By default as the stack's admin account (``tickml.secrets``); ``username=None`` sends no login.
    """

    def __init__(self, url: str | None = None, database: str = "telemetry", username=_ADMIN,
                 password: str | None = None, timeout: float = 60.0):
        self.url = (url or influxdb_url()).rstrip("/")
        self.database = database
        if username is _ADMIN:
            try:
                username, password = secrets.influxdb_login("tickml-admin")
            except secrets.SecretsError:
                username = None  # no secrets here: an InfluxDB without auth, or the caller's error
        self._api = Api("InfluxDB", self.url, None if username is None else secrets.basic_auth(username, password or ""),
                        timeout)

    def _request(self, path: str, params: dict, data: bytes | None = None) -> bytes:
        try:
            return self._api.request("POST" if data is not None else "GET", path, params, data)
        except HttpError as exc:
            raise InfluxError(str(exc)) from None

    def series(self, q: str, database: str | None = None, params: dict | None = None) -> list[dict]:
        """Run InfluxQL; InfluxDB's series as it answers them (``name``, ``tags``, ``columns``, ``values``;
        ``time`` in ns), those of every statement concatenated.

        ``params``: the values of the query's bound parameters (``$name``), which InfluxDB takes as JSON beside
        the text and never parses as InfluxQL: a string, a number, or ``{"regex": ...}``, ``{"duration": ...}``.
        """
        request = {"db": database or self.database, "q": q, "epoch": "ns"}
        if params:
            request["params"] = json.dumps(params)
        body = json.loads(self._request("/query", request))
        out: list[dict] = []
        for result in body.get("results", []):
            if "error" in result:
                raise InfluxError(f"InfluxQL error for {q!r}: {result['error']}")
            out += result.get("series", [])
        return out

    def query(self, q: str, database: str | None = None) -> list[dict]:
        """Run InfluxQL; rows as dicts (``time`` in ns, tags included), all series concatenated."""
        rows: list[dict] = []
        for series in self.series(q, database):
            tags = series.get("tags", {})
            for values in series["values"]:
                row = dict(zip(series["columns"], values))
                row.update(tags)
                rows.append(row)
        return rows

    def points(self, q: str, database: str | None = None) -> list[tuple[str, dict, dict, int]]:
        """Run a ``SELECT ... GROUP BY *``: ``(measurement, tags, fields, time ns)`` per point, nulls left out."""
        body = json.loads(self._request("/query", {"db": database or self.database, "q": q, "epoch": "ns"}))
        out = []
        for result in body.get("results", []):
            if "error" in result:
                raise InfluxError(f"InfluxQL error for {q!r}: {result['error']}")
            for series in result.get("series", []):
                tags = series.get("tags", {})
                columns = series["columns"]
                for values in series["values"]:
                    fields = {c: v for c, v in zip(columns[1:], values[1:]) if v is not None and c not in tags}
                    if fields:
                        out.append((series["name"], {k: v for k, v in tags.items() if v != ""}, fields, values[0]))
        # JSON writes a float that is a whole number as one (21.0 as 21): written back as it reads, it would be
        # an integer, which the measurement's float field refuses. The field's type says what it is.
        floats = {m: self.float_fields(m, database) for m in {p[0] for p in out}}
        for measurement, _, fields, _ in out:
            for name in floats[measurement] & fields.keys():
                if isinstance(fields[name], int) and not isinstance(fields[name], bool):
                    fields[name] = float(fields[name])
        return out

    def float_fields(self, measurement: str, database: str | None = None) -> set[str]:
        """The fields of ``measurement`` that InfluxDB holds as floats."""
        rows = self.query(f'SHOW FIELD KEYS FROM "{measurement}"', database)
        return {r["fieldKey"] for r in rows if r.get("fieldType") == "float"}

    def execute(self, q: str, database: str | None = None) -> None:
        """Run a statement that returns no rows (CREATE DATABASE; DROP SERIES with ``database``)."""
        params = {"q": q}
        if database:
            params["db"] = database
        self._request("/query", params, data=b"")

    def write(self, lines: list[str] | str, database: str | None = None, precision: str = "ns") -> None:
        payload = lines if isinstance(lines, str) else "\n".join(lines)
        self._request("/write", {"db": database or self.database, "precision": precision}, data=payload.encode())


def line(measurement: str, tags: dict, fields: dict, time_ns: int) -> str:
    r"""One point as line protocol, escaped as InfluxDB's reference says.

    >>> print(line("m x", {"d": "a,b"}, {"v": 1.5, "n": 3, "s": 'say "hi"', "ok": True}, 7))
    m\ x,d=a\,b v=1.5,n=3i,s="say \"hi\"",ok=true 7
    """
    def key(text: str) -> str:
        return text.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")

    def value(v) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return f"{v}i"
        if isinstance(v, float):
            return repr(v)
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    head = measurement.replace("\\", "\\\\").replace(",", "\\,").replace(" ", "\\ ")
    head += "".join(f",{key(k)}={key(str(v))}" for k, v in sorted(tags.items()))
    return f"{head} {','.join(f'{key(k)}={value(v)}' for k, v in fields.items())} {time_ns}"
