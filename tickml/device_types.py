"""Device types: the readings each kind of device sends (``telegraf/device_types.toml``).

The one place the project reads that file. :func:`load` checks it whole and
raises :class:`DeviceTypesError` naming every problem, each with its type and
key; :meth:`Schema.telegraf_constant` is what Telegraf's validator
(``telegraf/device_message.star``) gets, as JSON in the environment variable
``TICKML_DEVICE_SCHEMA`` (Telegraf's Starlark cannot read files, but takes
constants, and Telegraf fills ``${VAR}`` in its configuration);
:func:`describe` is the listing of ``tickml devices types``.

A reading is a ``number`` (stored as the float field ``value``), a ``string``
(the string field ``text``: InfluxDB 1.x refuses a string in a field that is
a float elsewhere in the measurement) or a ``position`` (two keys of the
message, stored as one point with the float fields ``latitude`` and
``longitude``, the fields the preprocess UDF's ``geodiff`` reads by default).
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from tickml.paths import ROOT

DEVICE_TYPES_FILE = ROOT / "telegraf" / "device_types.toml"
ENVIRONMENT_VARIABLE = "TICKML_DEVICE_SCHEMA"
KINDS = ("number", "string", "position")
# Keys of a message that are never a reading: who, when and which type, the one-reading form's two keys, the
# recorded session, and the database only the sessions listener may name.
NEVER_READINGS = ("device_id", "tag", "timestamp", "sensor", "session", "value", "tickml_database")
# A sensor name is a tag value of every point of its series; the validator takes no longer name in the default
# mode, so that what it keeps count of per device stays small.
MAX_NAME = 64
# A type's name is the device_type tag as it was stored before types were declared (the tag lower-cased).
_TYPE_NAME = re.compile(r"[a-z0-9_]+")
# JSON keys as Telegraf's JSON parser names them (a nested key's parts joined by _); nothing a line-protocol
# tag or an InfluxQL query would need to escape beyond - and .
_READING_NAME = re.compile(r"[A-Za-z0-9_.-]+")
# Linux refuses an environment variable longer than 128 KiB (MAX_ARG_STRLEN); Telegraf gets the schema as one.
MAX_CONSTANT = 100_000
_SETTINGS = {
    "default_mode": {"enabled": (bool, None), "max_sensors_per_device": (int, (1, 1000)),
                     "max_devices": (int, (1, 10_000_000))},
    # InfluxDB 1.x keeps a string field of up to 64 KiB.
    "strings": {"max_length": (int, (1, 65_536))},
}


class DeviceTypesError(ValueError):
    """telegraf/device_types.toml declares something that cannot be; the message names each type and key."""


@dataclass(frozen=True)
class Reading:
    """One reading of a type: its sensor name, kind and unit; a position also names its two message keys."""

    name: str
    kind: str
    unit: str
    latitude: str | None = None
    longitude: str | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        """The message keys it is read from."""
        return (self.latitude, self.longitude) if self.kind == "position" else (self.name,)


@dataclass(frozen=True)
class DeviceType:
    name: str
    tags: tuple[str, ...]
    readings: tuple[Reading, ...]


@dataclass(frozen=True)
class Schema:
    types: dict[str, DeviceType]
    default_mode: bool
    max_sensors_per_device: int
    max_devices: int
    max_string_length: int

    def type_of(self, tag: str) -> DeviceType | None:
        """The declared type a message's ``tag`` (or topic type) means, matched without regard to case.

        >>> parse(_EXAMPLE).type_of("THERMOSTAT").name, parse(_EXAMPLE).type_of("lamp")
        ('thermostat', None)
        """
        return self.types.get(self._lookup().get(tag.lower(), ""))

    def _lookup(self) -> dict[str, str]:
        out = {}
        for kind in self.types.values():
            out[kind.name] = kind.name
            out.update((tag.lower(), kind.name) for tag in kind.tags)
        return out

    def telegraf_constant(self) -> str:
        """The schema as the validator reads it: compact JSON on one line, without a ``'``, so that it may
        stand in a TOML literal string even where Telegraf substitutes variables before parsing
        (``--non-strict-env-handling``).

        >>> json.loads(parse(_EXAMPLE).telegraf_constant())["types"]["thermostat"]
        {'readings': {'temperature': 'number'}, 'positions': {}}
        """
        numbers = sorted({r.name for t in self.types.values() for r in t.readings if r.kind == "number"})
        declared = sorted({key for t in self.types.values() for r in t.readings for key in (r.name, *r.keys)})
        doc = {
            "default_mode": self.default_mode, "max_sensors": self.max_sensors_per_device,
            "max_devices": self.max_devices, "max_string": self.max_string_length, "max_name": MAX_NAME,
            "never": list(NEVER_READINGS), "numbers": numbers, "declared": declared, "lookup": self._lookup(),
            "types": {t.name: {"readings": {r.name: r.kind for r in t.readings if r.kind != "position"},
                               "positions": {r.name: [r.latitude, r.longitude] for r in t.readings
                                             if r.kind == "position"}}
                      for t in self.types.values()},
        }
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=True).replace("'", "\\u0027")


def parse(doc: dict, where: str = "device_types.toml") -> Schema:
    """The schema a parsed file declares, checked; every problem in one message.

    >>> parse({**_EXAMPLE, "types": {"Lamp": {"tags": [], "fields": {"on": {"kind": "bool"}}}}})
    Traceback (most recent call last):
    ...
    tickml.device_types.DeviceTypesError: device_types.toml: [types.Lamp] is not a type name (lower-case letters, digits and _); [types.Lamp] tags must be a list of at least one non-empty string, got []; [types.Lamp] fields.on: kind must be one of number, string, position, got 'bool'; [types.Lamp] fields.on: unit is missing (write unit = "" for a reading without one)
    """
    problems: list[str] = []
    unknown = sorted(set(doc) - {"default_mode", "strings", "types"})
    if unknown:
        problems.append(f"unknown tables {unknown}; the tables are [default_mode], [strings] and [types.<name>]")
    settings = {}
    for table, keys in _SETTINGS.items():
        spec = doc.get(table)
        if not isinstance(spec, dict):
            problems.append(f"[{table}] is missing or not a table (keys: {', '.join(keys)})")
            continue
        extra = sorted(set(spec) - set(keys))
        if extra:
            problems.append(f"[{table}] has unknown keys {extra}; the keys are {', '.join(keys)}")
        for key, (kind, bounds) in keys.items():
            value = spec.get(key)
            # bool is an int to Python: a true where a count belongs is refused.
            if not isinstance(value, kind) or kind is int and isinstance(value, bool):
                problems.append(f"[{table}] {key} must be {'true or false' if kind is bool else 'an integer'}, "
                                f"got {value!r}")
            elif bounds and not bounds[0] <= value <= bounds[1]:
                problems.append(f"[{table}] {key} must be from {bounds[0]:,} to {bounds[1]:,}, got {value!r}")
            else:
                settings[(table, key)] = value
    tables = doc.get("types")
    types: dict[str, DeviceType] = {}
    if not isinstance(tables, dict) or not tables:
        problems.append("[types] must hold at least one [types.<name>] table")
        tables = {}
    for name, spec in tables.items():
        kind = _device_type(name, spec, problems)
        if kind is not None:
            types[name] = kind
    _across_types(types, problems)
    if problems:
        raise DeviceTypesError(f"{where}: " + "; ".join(problems))
    schema = Schema(types, settings[("default_mode", "enabled")], settings[("default_mode", "max_sensors_per_device")],
                    settings[("default_mode", "max_devices")], settings[("strings", "max_length")])
    if len(schema.telegraf_constant()) > MAX_CONSTANT:
        raise DeviceTypesError(f"{where}: declares more than Telegraf can be handed in one environment variable "
                               f"({len(schema.telegraf_constant()):,} characters of JSON, at most {MAX_CONSTANT:,})")
    return schema


def _device_type(name: str, spec, problems: list[str]) -> DeviceType | None:
    head = f"[types.{name}]"
    before = len(problems)
    if not _TYPE_NAME.fullmatch(name):
        problems.append(f"{head} is not a type name (lower-case letters, digits and _)")
    if not isinstance(spec, dict):
        problems.append(f"{head} must be a table with tags and fields")
        return None
    unknown = sorted(set(spec) - {"tags", "fields"})
    if unknown:
        problems.append(f"{head} has unknown keys {unknown}; the keys are tags and fields")
    tags = spec.get("tags")
    if not isinstance(tags, list) or not tags or not all(isinstance(t, str) and t.strip() for t in tags):
        problems.append(f"{head} tags must be a list of at least one non-empty string, got {tags!r}")
        tags = []
    elif any(len(t) > MAX_NAME or "\n" in t for t in tags):
        problems.append(f"{head} tags must be at most {MAX_NAME} characters without a line break")
    fields = spec.get("fields")
    readings = []
    if not isinstance(fields, dict) or not fields:
        problems.append(f"{head} fields must hold at least one reading, e.g. fields.temperature = "
                        f"{{ kind = \"number\", unit = \"°C\" }}")
        fields = {}
    for key, field in fields.items():
        reading = _reading(f"{head} fields.{key}", key, field, problems)
        if reading is not None:
            readings.append(reading)
    keys: dict[str, str] = {}
    for reading in readings:
        for key in reading.keys:
            if key in keys and keys[key] != reading.name:
                problems.append(f"{head} fields.{reading.name}: the message key {key!r} is already "
                                f"fields.{keys[key]}'s")
            keys[key] = reading.name
    for reading in readings:
        if reading.kind == "position" and reading.name in keys and keys[reading.name] != reading.name:
            problems.append(f"{head} fields.{reading.name}: a position's name may not be a message key of "
                            f"fields.{keys[reading.name]}")
    if len(problems) > before:
        return None
    return DeviceType(name, tuple(tags), tuple(readings))


def _reading(head: str, name: str, spec, problems: list[str]) -> Reading | None:
    before = len(problems)
    _check_name(head, "the name", name, problems)
    if not isinstance(spec, dict):
        problems.append(f"{head} must be a table: {{ kind = \"number\", unit = \"°C\" }}")
        return None
    kind, unit = spec.get("kind"), spec.get("unit")
    allowed = {"kind", "unit"} | ({"latitude", "longitude"} if kind == "position" else set())
    unknown = sorted(set(spec) - allowed)
    if unknown:
        problems.append(f"{head} has unknown keys {unknown}; the keys are {', '.join(sorted(allowed))}"
                        + ("" if kind == "position" else " (latitude and longitude are a position's)"))
    if kind not in KINDS:
        problems.append(f"{head}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if unit is None:
        problems.append(f"{head}: unit is missing (write unit = \"\" for a reading without one)")
    elif not isinstance(unit, str) or len(unit) > MAX_NAME or "\n" in unit:
        problems.append(f"{head}: unit must be a string of at most {MAX_NAME} characters, got {unit!r}")
    latitude = longitude = None
    if kind == "position":
        latitude, longitude = spec.get("latitude"), spec.get("longitude")
        for key, value in (("latitude", latitude), ("longitude", longitude)):
            if value is None:
                problems.append(f"{head}: a position names its message keys, {key} = \"...\" is missing")
            else:
                _check_name(head, key, value, problems)
        if latitude is not None and latitude == longitude:
            problems.append(f"{head}: latitude and longitude are the same key {latitude!r}")
    if len(problems) > before:
        return None
    return Reading(name, kind, unit, latitude, longitude)


def _check_name(head: str, what: str, name, problems: list[str]) -> None:
    if not isinstance(name, str) or not _READING_NAME.fullmatch(name) or len(name) > MAX_NAME:
        problems.append(f"{head}: {what} {name!r} is not a reading's key (at most {MAX_NAME} letters, digits, "
                        f"_ . -)")
    elif name in NEVER_READINGS:
        problems.append(f"{head}: {what} {name!r} is never a reading (reserved: {', '.join(NEVER_READINGS)})")


def _across_types(types: dict[str, DeviceType], problems: list[str]) -> None:
    """A tag means one type, and a name one kind, in the whole file."""
    owner: dict[str, str] = {}
    for kind in types.values():
        for tag in {kind.name, *(t.lower() for t in kind.tags)}:
            if tag in owner and owner[tag] != kind.name:
                problems.append(f"[types.{kind.name}] tags: {tag!r} (case aside) already means "
                                f"[types.{owner[tag]}]")
            owner.setdefault(tag, kind.name)
    meaning: dict[str, tuple[str, str]] = {}  # name -> (what it is, the type that said so first)
    for kind in types.values():
        for reading in kind.readings:
            said = [(reading.name, reading.kind)]
            if reading.kind == "position":
                said += [(reading.latitude, f"half of position {reading.name}"),
                         (reading.longitude, f"half of position {reading.name}")]
            for name, what in said:
                first = meaning.setdefault(name, (what, kind.name))
                if first[0] != what:
                    problems.append(f"[types.{kind.name}] fields.{reading.name}: {name!r} is a {what} here and "
                                    f"a {first[0]} in [types.{first[1]}] (a name means one thing in every type)")


def load(path: Path | None = None) -> Schema:
    path = path or DEVICE_TYPES_FILE  # read when called, so that tests may point it elsewhere
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        raise DeviceTypesError(f"{path}: no such file (the device types Telegraf validates messages by)") from None
    except tomllib.TOMLDecodeError as exc:
        raise DeviceTypesError(f"{path}: {exc}") from None
    return parse(doc, str(path))


def describe(schema: Schema) -> str:
    """The listing of ``tickml devices types``: a row per reading, then the default mode."""
    rows = [("type", "tags", "reading", "kind", "unit", "message keys")]
    for kind in schema.types.values():
        for i, reading in enumerate(kind.readings):
            rows.append((kind.name if i == 0 else "", ", ".join(kind.tags) if i == 0 else "", reading.name,
                         reading.kind, reading.unit or "-", ", ".join(reading.keys)))
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    if schema.default_mode:
        lines.append(f"default mode on: any other numeric key is a reading too, at most "
                     f"{schema.max_sensors_per_device} names of its own per device (kept for "
                     f"{schema.max_devices:,} devices)")
    else:
        lines.append("default mode off: only the declared readings land")
    lines.append(f"strings: at most {schema.max_string_length:,} characters")
    return "\n".join(lines)


_EXAMPLE = {"default_mode": {"enabled": True, "max_sensors_per_device": 32, "max_devices": 1000},
            "strings": {"max_length": 1024},
            "types": {"thermostat": {"tags": ["Thermostat"],
                                     "fields": {"temperature": {"kind": "number", "unit": "°C"}}}}}
