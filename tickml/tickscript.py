"""What a stream task reads and writes, read off its TICKscript and its vars.

The task watcher (a gap) and ``tickml history`` (a backfill, a repair) feed a
task what InfluxDB holds of its input, and look at what it wrote. Both need
the same few facts from the script: its ``dbrp``, the measurements its
``from()`` nodes read, its longest window, and where its ``influxDBOut()``
nodes write. A property may name a var (``.measurement(measurement)``), so
each value is resolved the way Kapacitor does: the task's own vars (as its
API gives them) first, then the script's ``var`` declarations.

This reads the shapes the project's scripts use (one property call per line
or several on one, string and duration literals, vars); it is not a
TICKscript parser, and says so (``ScriptError``) when a value is neither a
literal nor a declared var.

>>> script = '''dbrp "telemetry"."autogen"
... var measurement = 'power_readings'
... var period = 60s
... stream
...     |from()
...         .measurement(measurement)
...     |window()
...         .period(period)
...         .every(20s)
...     |influxDBOut()
...         .database('telemetry')
...         .measurement('trained_models')
...         .tag('model', 'power')
... '''
>>> read(script).measurements, read(script).window_ns, read(script).dbrp
(('power_readings',), 60000000000, ('telemetry', 'autogen'))
>>> read(script, {"measurement": {"type": "string", "value": "m2"}}).measurements
('m2',)
>>> read(script).outputs
(Output(database='telemetry', retention_policy='autogen', measurement='trained_models', tags=(('model', 'power'),)),)
"""

from __future__ import annotations

import dataclasses
import re

from udfs.agent.durations import parse_duration

_DBRP = re.compile(r'^\s*dbrp\s+"([^"]+)"\s*\.\s*"([^"]+)"', re.MULTILINE)
_VAR = re.compile(r"^\s*var\s+(\w+)\s*=\s*(.+?)\s*$", re.MULTILINE)
# A node (|name( or @name() and the property calls chained after it, up to the next node.
_NODE = re.compile(r"([|@])\s*(\w+)\s*\(([^)]*)\)((?:\s*\.\s*\w+\s*\([^)]*\))*)")
_PROPERTY = re.compile(r"\.\s*(\w+)\s*\(([^)]*)\)")


class ScriptError(ValueError):
    """A value of the script that this reader cannot resolve; the message names it."""


@dataclasses.dataclass(frozen=True)
class Output:
    database: str
    retention_policy: str
    measurement: str
    tags: tuple[tuple[str, str], ...] = ()


@dataclasses.dataclass(frozen=True)
class Script:
    """The facts of one task's script: ``measurements`` None when a ``from()`` reads every measurement."""

    dbrp: tuple[str, str]
    measurements: tuple[str, ...] | None
    window_ns: int
    outputs: tuple[Output, ...]


def read(script: str, task_vars: dict | None = None) -> Script:
    """The facts of ``script`` with ``task_vars`` (``{"name": {"type": ..., "value": ...}}``, as Kapacitor's API
    gives a task's vars) in force."""
    dbrps = _DBRP.findall(script)
    if len(dbrps) != 1:
        raise ScriptError(f"the script declares {len(dbrps)} dbrp statements; one is needed to know what it reads")
    values = _Values(script, task_vars or {})
    measurements: set[str] = set()
    every_measurement = False
    window_ns = 0
    outputs = []
    for kind, name, args, chain in _NODE.findall(_code(script)):
        props = [(p, a) for p, a in _PROPERTY.findall(chain)]
        if kind == "|" and name == "from":
            named = [values.text(a) for p, a in props if p == "measurement"]
            measurements.update(named)
            every_measurement |= not named
        elif kind == "|" and name == "window":
            for p, a in props:
                if p in ("period", "every"):
                    window_ns = max(window_ns, values.duration(a))
        elif kind == "|" and name == "influxDBOut":
            found = {"database": None, "retentionPolicy": "autogen", "measurement": None}
            tags = []
            for p, a in props:
                if p in found:
                    found[p] = values.text(a)
                elif p == "tag":
                    key, _, value = a.partition(",")
                    tags.append((values.text(key), values.text(value)))
            outputs.append(Output(found["database"] or dbrps[0][0], found["retentionPolicy"],
                                  found["measurement"] or "", tuple(tags)))
    return Script(dbrps[0], None if every_measurement else tuple(sorted(measurements)), window_ns, tuple(outputs))


def _code(script: str) -> str:
    """The script without its comments."""
    return re.sub(r"//[^\n]*", "", script)


class _Values:
    def __init__(self, script: str, task_vars: dict):
        self.declared = dict(_VAR.findall(_code(script)))
        self.task_vars = task_vars

    def _raw(self, token: str):
        token = token.strip()
        if token in self.task_vars:
            return self.task_vars[token].get("value")
        if re.fullmatch(r"\w+", token) and token in self.declared:
            return self._raw(self.declared[token])
        return token

    def text(self, token: str) -> str:
        value = self._raw(token)
        if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            return value[1:-1]
        if isinstance(value, str) and token.strip() in self.task_vars:
            return value  # a task var's string value comes unquoted
        raise ScriptError(f"cannot read {token.strip()!r} as a string: not a quoted literal or a declared var")

    def duration(self, token: str) -> int:
        value = self._raw(token)
        if isinstance(value, int):  # a duration var from the API: nanoseconds
            return value
        try:
            return parse_duration(str(value))
        except ValueError:
            raise ScriptError(f"cannot read {token.strip()!r} as a duration") from None


def query(script: Script, since_ns: int, until_ns: int, where: str = "") -> str:
    """The InfluxQL that gives a stream task its input over ``[since_ns, until_ns)``, tags as tags.

    Kapacitor's replay of a query takes one source (a regex for several measurements) and
    turns the columns of a result into fields, so the query groups by every tag.

    >>> s = Script(("db", "rp"), ("a", "b.c"), 0, ())
    >>> query(s, 1, 5, "device_id =~ /^x-/")
    'SELECT * FROM "db"."rp"./^(a|b\\\\.c)$/ WHERE time >= 1 AND time < 5 AND (device_id =~ /^x-/) GROUP BY *'
    >>> query(Script(("db", "rp"), ("m",), 0, ()), 1, 5)
    'SELECT * FROM "db"."rp"."m" WHERE time >= 1 AND time < 5 GROUP BY *'
    """
    db, rp = script.dbrp
    if script.measurements is None:
        source = f'"{db}"."{rp}"./.*/'
    elif len(script.measurements) == 1:
        source = f'"{db}"."{rp}"."{script.measurements[0]}"'
    else:
        names = "|".join(re.escape(m).replace("/", "\\/") for m in script.measurements)
        source = f'"{db}"."{rp}"./^({names})$/'
    condition = f"time >= {since_ns} AND time < {until_ns}" + (f" AND ({where})" if where else "")
    return f"SELECT * FROM {source} WHERE {condition} GROUP BY *"
