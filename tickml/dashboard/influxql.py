"""The panels' InfluxQL: filled in for one page's range and choices, and what each query reads.

A query is written once, in Grafana's dialect (panels.py); ``render``
replaces Grafana's macros and the page's variables with values, quoting a
value that lands in a string literal, and refuses a query left with a
variable it does not know.
"""

from __future__ import annotations

import re

from .panels import MEASUREMENTS, PREPROCESSED_STATS
from .timerange import Range, influx_duration

_FROM = re.compile(r'FROM "([^"]+)"')
_QUOTED = re.compile(r'"([^"]+)"')
_ALIAS = re.compile(r'AS "([^"]+)"')
_FIELD_REGEX = re.compile(r"/\^(\w+)\(\$stats\)\$/")
_VARIABLE = re.compile(r"\$\{?(\w+)\}?")


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


def quote_literal(value: str) -> str:
    r"""A value inside an InfluxQL string literal ('...'): backslashes and quotes escaped.

    >>> quote_literal("it's\\here")
    "it\\'s\\\\here"
    """
    return value.replace("\\", "\\\\").replace("'", "\\'")


def regex_alternatives(names) -> str:
    """``names`` as one group of a regex literal, each matched as written (as Grafana formats a multi-value
    variable in a regex).

    >>> regex_alternatives(["a.b", "c/d"])
    '(a\\\\.b|c\\\\/d)'
    """
    return "(" + "|".join(re.escape(name).replace("/", r"\/") for name in names) + ")"


def render(text: str, when: Range, bucket_seconds: int, variables: dict[str, str | int | float]) -> str:
    """``text`` with Grafana's macros for ``when`` and the page's ``variables`` filled in.

    String variables are quoted for the literal they stand in; ``stats`` must be
    alternatives of the preprocessed statistics and ``udfs`` of words (each lands in a regex).

    >>> from tickml.dashboard.timerange import Range
    >>> render("SELECT x FROM \\"m\\" WHERE $timeFilter AND \\"device_id\\" = '$device' GROUP BY time($__interval)",
    ...        Range(10**9, 2 * 10**9), 5, {"device": "a'b"})
    'SELECT x FROM "m" WHERE time >= 1000000000 AND time < 2000000000 AND "device_id" = \\'a\\\\\\'b\\' GROUP BY time(5s)'
    >>> render("SELECT $nope", Range(0, 1), 1, {})
    Traceback (most recent call last):
    ...
    tickml.dashboard.influxql.QueryError: the query needs $nope, which the page does not set
    """
    values = {"timeFilter": f"time >= {when.start} AND time < {when.end}", "__interval": influx_duration(bucket_seconds),
              "__to": str(when.end // 1_000_000)}
    for name, value in variables.items():
        if name == "stats":
            chosen = str(value).split("|")
            if not chosen or any(stat not in PREPROCESSED_STATS for stat in chosen):
                raise QueryError(f"statistics must be among {', '.join(PREPROCESSED_STATS)}, got {value!r}")
        if name == "udfs" and not re.fullmatch(r"\w+(\|\w+)*", str(value)):
            raise QueryError(f"UDF names are words separated by |, got {value!r}")
        if name == "tasks":
            values[name] = regex_alternatives(value)
            continue
        values[name] = quote_literal(value) if isinstance(value, str) else repr(value)

    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise QueryError(f"the query needs ${name}, which the page does not set")
        return values[name]

    return _VARIABLE.sub(fill, text)
