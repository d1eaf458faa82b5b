"""The panels' InfluxQL: filled in for one page's range and choices, and what each query reads.

A query is written once, in Grafana's dialect (panels.py); ``render``
turns Grafana's macros and the page's variables into InfluxDB's bound
parameters (``$name`` in the text, the values beside it in ``params``), so
that no value, whatever the browser sent, is ever parsed as InfluxQL; what
cannot be a value (the statistics and UDFs a regex chooses between) is
checked against fixed names, and a query left with a variable it does not
know is refused.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re

from .schema import MEASUREMENTS, PREPROCESSED_STATS
from .timerange import Range, influx_duration

_FROM = re.compile(r'FROM "([^"]+)"')
_QUOTED = re.compile(r'"([^"]+)"')
_ALIAS = re.compile(r'AS "([^"]+)"')
_FIELD_REGEX = re.compile(r"/\^(\w+)\(\$stats\)\$/")


class QueryError(ValueError):
    """A query cannot be filled in; the message names what is missing."""


def measurements_read(text: str) -> list[str]:
    """
    >>> measurements_read('SELECT top("x", "device_id", 3) FROM (SELECT max("v") AS "x" FROM "m" GROUP BY "device_id")')
    ['m']
    """
    return _FROM.findall(text)


def fields_read(text: str) -> set[str]:
    """The fields a query reads: what it quotes, less measurements, their tags and its aliases.

    A field chosen by regex (``/^value_preprocessed_($stats)$/``) counts as every choice.

    >>> sorted(fields_read('SELECT mean("avg") AS "a" FROM "device_aggregates" WHERE "device_id" = \\'x\\''))
    ['avg']
    >>> len(fields_read('SELECT mean(/^value_preprocessed_($stats)$/) FROM "device_preprocessed"'))
    5
    """
    measurements = measurements_read(text)
    tags = {tag for m in measurements for tag in MEASUREMENTS[m].tags}
    fields = set(_QUOTED.findall(text)) - set(measurements) - tags - set(_ALIAS.findall(text))
    for prefix in _FIELD_REGEX.findall(text):
        fields |= {f"{prefix}{stat}" for stat in PREPROCESSED_STATS}
    return fields


@dataclasses.dataclass(frozen=True)
class Rendered:
    """A query as InfluxDB's /query takes it: text that names each value as a bound parameter (``$name``), and
    the values (``params``, sent as JSON beside the text). The text depends on the query alone, never on a
    value, so nothing the browser sends can change what InfluxDB parses."""

    text: str
    params: dict


# The parts of a panel's text a variable may stand in, as InfluxQL's scanner reads them: a string literal, an
# identifier, a regex literal where InfluxQL reads one (after =~ or !~, or as a function's argument; elsewhere a
# slash divides), and the variables themselves.
_TOKEN = re.compile(r"""
    (?P<string>'(?:\\.|[^'\\])*')
  | (?P<identifier>"(?:\\.|[^"\\])*")
  | (?P<lead>(?:[=!]~|[(,])\s*)(?P<regex>/(?:\\.|[^/\\\n])*/)
  | (?P<to_ms>\$\{__to\}ms)
  | \$(?:\{(?P<braced>[A-Za-z_]\w*)\}|(?P<bare>[A-Za-z_]\w*))
""", re.VERBOSE | re.ASCII)
_IN_LITERAL = re.compile(r"\$(?:\{([A-Za-z_]\w*)\}|([A-Za-z_]\w*))", re.ASCII)
_STRING_ESCAPES = {"n": "\n", "\\": "\\", "'": "'", '"': '"'}  # the escapes InfluxQL's strings take


def regex_alternatives(names) -> str:
    """``names`` as one group of a regex, each matched as written (as Grafana formats a multi-value variable in a
    regex).

    >>> regex_alternatives(["a.b", "c/d"])
    '(a\\\\.b|c/d)'
    """
    return "(" + "|".join(re.escape(name) for name in names) + ")"


def _check(name: str, value):
    """``value`` of the page's variable ``name``, or QueryError: what the page may set is checked here, once."""
    if name == "stats":
        chosen = value.split("|") if isinstance(value, str) else []
        if not chosen or any(stat not in PREPROCESSED_STATS for stat in chosen):
            raise QueryError(f"statistics must be among {', '.join(PREPROCESSED_STATS)}, got {value!r}")
    elif name == "udfs" and not (isinstance(value, str) and re.fullmatch(r"\w+(\|\w+)*", value, re.ASCII)):
        raise QueryError(f"UDF names are words separated by |, got {value!r}")
    elif isinstance(value, (list, tuple)):
        if not all(isinstance(item, str) for item in value):
            raise QueryError(f"${name} must be a list of names, got {value!r}")
    elif isinstance(value, float):
        # InfluxDB reads a JSON number without a point as an integer, and refuses 1e-05.
        if not math.isfinite(value) or "." not in json.dumps(value):
            raise QueryError(f"${name} must be a number written with a point, got {value!r}")
    elif isinstance(value, bool) or not isinstance(value, (str, int)):
        raise QueryError(f"${name} must be text or a number, got {value!r}")
    return value


def render(text: str, when: Range, bucket_seconds: int, variables: dict) -> Rendered:
    """``text``, a query in Grafana's dialect, with Grafana's macros for ``when`` and the page's ``variables`` as
    bound parameters.

    A string literal that holds variables (``'$device'``) becomes one parameter holding the string; a regex
    literal that holds variables (``/^$tasks$/``), one holding the regex, each variable in it matched as written
    (a list as alternatives, as Grafana does) but ``stats`` and ``udfs``, alternatives of fixed names;
    a variable on its own must be a number. ``$timeFilter``, ``$__interval`` and ``${__to}ms`` are parameters
    too. A variable the page does not set, or one inside an identifier, is refused.

    >>> from tickml.dashboard.timerange import Range
    >>> q = render("SELECT x FROM \\"m\\" WHERE $timeFilter AND \\"device_id\\" = '$device' GROUP BY time($__interval)",
    ...            Range(10**9, 2 * 10**9), 5, {"device": "a'b"})
    >>> q.text
    'SELECT x FROM "m" WHERE time >= $__start AND time < $__end AND "device_id" = $device GROUP BY time($__interval)'
    >>> q.params
    {'__start': 1000000000, '__end': 2000000000, 'device': "a'b", '__interval': {'duration': '5s'}}
    >>> render("SELECT $nope", Range(0, 1), 1, {})
    Traceback (most recent call last):
    ...
    tickml.dashboard.influxql.QueryError: the query needs $nope, which the page does not set
    """
    if type(when.start) is not int or type(when.end) is not int:
        raise QueryError(f"a range is two instants in whole nanoseconds, got {when.start!r} and {when.end!r}")
    params: dict = {}
    names: dict = {}  # what a parameter stands for -> its name; the same thing twice is one parameter

    def bind(key, base: str, value) -> str:
        if key not in names:
            name, n = base, 1
            while name in params:
                n += 1
                name = f"{base}_{n}"
            names[key] = name
            params[name] = value
        return "$" + names[key]

    def value_of(name: str):
        if name not in variables:
            raise QueryError(f"the query needs ${name}, which the page does not set")
        return _check(name, variables[name])

    def literal(body: str, fixed, one) -> tuple[str, list[str]] | None:
        """``body`` with each variable's value (``one``) between its fixed parts (``fixed``); None without
        variables."""
        pieces, used, at = [], [], 0
        for match in _IN_LITERAL.finditer(body):
            name = match.group(1) or match.group(2)
            pieces += [fixed(body[at:match.start()]), one(name, value_of(name))]
            used.append(name)
            at = match.end()
        if not used:
            return None
        return "".join(pieces) + fixed(body[at:]), used

    def in_string(name: str, value) -> str:
        if not isinstance(value, str):
            raise QueryError(f"${name} stands in a string, so it must be text, got {value!r}")
        return value

    def in_regex(name: str, value) -> str:
        if name in ("stats", "udfs"):
            return value
        if isinstance(value, (list, tuple)):
            return regex_alternatives(value)
        return re.escape(str(value))

    def fill(match: re.Match) -> str:
        token = match.group(0)
        if match.group("string"):
            found = literal(match.group("string")[1:-1], _unquote, in_string)
            return token if found is None else bind(("string", token), "_".join(found[1]), found[0])
        if match.group("identifier"):
            if _IN_LITERAL.search(token):
                raise QueryError(f"a variable cannot stand in an identifier: {token}")
            return token
        if match.group("regex"):
            found = literal(match.group("regex")[1:-1], lambda part: part.replace("\\/", "/"), in_regex)
            if found is None:
                return token
            return match.group("lead") + bind(("regex", match.group("regex")), "_".join(found[1]),
                                              {"regex": found[0]})
        if match.group("to_ms"):
            return bind("__to", "__to", {"duration": f"{when.end // 1_000_000}ms"})
        name = match.group("braced") or match.group("bare")
        if match.group("braced") and text[match.end():match.end() + 1].isalnum():
            raise QueryError(f"${{{name}}} is followed by {text[match.end():][:8]!r}: a parameter is a token")
        if name == "timeFilter":
            return f"time >= {bind('__start', '__start', when.start)} AND time < {bind('__end', '__end', when.end)}"
        if name == "__interval":
            return bind(name, name, {"duration": influx_duration(bucket_seconds)})
        value = value_of(name)
        if isinstance(value, str) or isinstance(value, (list, tuple)):
            raise QueryError(f"${name} stands on its own, where only a number may: put it in a string or regex "
                             f"literal")
        return bind(("variable", name), name, value)

    return Rendered(_TOKEN.sub(fill, text), params)


def _unquote(part: str) -> str:
    r"""A piece of an InfluxQL string literal as the string it stands for.

    >>> _unquote(r"it\'s \\ a\nb")
    "it's \\ a\nb"
    """
    def escape(match: re.Match) -> str:
        if match.group(1) not in _STRING_ESCAPES:
            raise QueryError(f"InfluxQL strings have no escape \\{match.group(1)}")
        return _STRING_ESCAPES[match.group(1)]

    return re.sub(r"\\(.)", escape, part, flags=re.DOTALL)


def devices_like(text: str, limit: int) -> Rendered:
    """The device ids containing ``text`` (case-insensitive), at most ``limit``: InfluxDB's tag index, not the
    points.

    >>> devices_like("a.b", 5).params
    {'pattern': {'regex': '(?i)a\\\\.b'}, 'limit': 5}
    """
    pattern = re.escape(text.strip())
    where = 'WHERE "device_id" =~ $pattern ' if pattern else ""
    params = {"pattern": {"regex": f"(?i){pattern}"}} if pattern else {}
    return Rendered(f'SHOW TAG VALUES FROM "device_message" WITH KEY = "device_id" {where}LIMIT $limit',
                    {**params, "limit": _count(limit)})


def device_sensors(device: str) -> Rendered:
    """The sensors ``device`` has reported (a tag of its readings)."""
    if not isinstance(device, str):
        raise QueryError(f"a device id is text, got {device!r}")
    return Rendered('SHOW TAG VALUES FROM "device_message" WITH KEY = "sensor" WHERE "device_id" = $device',
                    {"device": device})


def _count(value) -> int:
    if type(value) is not int or value < 0:
        raise QueryError(f"a limit is a whole number, got {value!r}")
    return value
