"""Device types of the simulated fleet and the JSON messages they send.

Every message follows one schema (telegraf/README.md)::

    {"device_id": "thermostat-7", "timestamp": "2026-11-23T10:00:00.250Z",
     "tag": "Thermostat", "temperature": 21.4}

``device_id`` names the entity, ``tag`` the device type (the device-data seed's
naming), ``timestamp`` is RFC 3339 in UTC, and each sensor reading is a number
under the sensor's name, or null when the value is missing. Telegraf turns each
reading into a ``device_message`` point tagged with ``device_id``, ``sensor``
and ``device_type``.

This module is the one place that defines the simulated fleet's device types
(``DEVICE_TYPES``: their sensors' typical levels); what Telegraf takes from a
device of each type is declared in telegraf/device_types.toml, which declares
these too (a unit test checks they agree).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import math
from typing import Callable

import numpy as np


@dataclasses.dataclass(frozen=True)
class DeviceType:
    """A kind of device: its type tag and the sensors it reports with their typical level."""

    name: str
    tag: str
    sensors: dict[str, tuple[float, float]]  # sensor -> (mean, standard deviation)
    # Readings computed from the others after the noise (e.g. power = V * I).
    derive: Callable[[dict[str, float]], dict[str, float]] | None = None


def _power(readings: dict[str, float]) -> dict[str, float]:
    """A power meter's active power: voltage x current x a power factor of 0.95."""
    return {"power": round(readings["voltage"] * readings["current"] * 0.95, 3)}


DEVICE_TYPES: dict[str, DeviceType] = {
    t.name: t
    for t in (
        DeviceType("thermostat", "Thermostat", {"temperature": (22.0, 3.0)}),
        DeviceType("barometer", "Barometer", {"pressure": (1013.0, 8.0)}),
        DeviceType("hygrometer", "Hygrometer", {"humidity": (45.0, 12.0)}),
        DeviceType("heart_rate_meter", "HeartRateMeter", {"heart_rate": (72.0, 9.0)}),
        # The Edge Insights seed's mqtt-temp-sensor reports both in one message.
        DeviceType("temp_sensor", "TempSensor", {"temperature": (22.5, 4.0), "humidity": (30.0, 10.0)}),
        # Voltage (V), current (A) and power (W) for the failure-prediction
        # tasks (the TML seed's Voltage/Current/Power streams); the
        # power_readings task joins the three back into one row.
        DeviceType(
            "power_meter",
            "PowerMeter",
            {"voltage": (230.0, 4.0), "current": (5.0, 1.2), "power": (1092.5, 300.0)},
            derive=_power,
        ),
    )
}

SENSORS: tuple[str, ...] = tuple(dict.fromkeys(s for t in DEVICE_TYPES.values() for s in t.sensors))
"""Every sensor name of every device type, in definition order (telegraf/device_types.toml declares each a number)."""


def type_of_tag(tag: str) -> str:
    """The device type name of a ``tag`` value; unknown tags map to their lower-case form.

    >>> type_of_tag("HeartRateMeter"), type_of_tag("Lamp")
    ('heart_rate_meter', 'lamp')
    """
    for kind in DEVICE_TYPES.values():
        if kind.tag == tag:
            return kind.name
    return tag.lower() or "unknown"


@dataclasses.dataclass(frozen=True)
class Sample:
    """One message before it is encoded: who, when, and the readings (None = missing)."""

    index: int  # the device's position in the fleet
    device_id: str
    device_type: str
    time_ns: int
    readings: dict[str, float | None]

    def message(self) -> dict:
        return message(self.device_id, self.device_type, self.time_ns, self.readings)


@functools.lru_cache(maxsize=4096)  # a tick's messages share their time: formatted once, not per message
def format_timestamp(ns: int) -> str:
    """RFC 3339 in UTC with millisecond precision.

    >>> format_timestamp(1_700_000_000_123_000_000)
    '2023-11-14T22:13:20.123Z'
    """
    seconds, rest = divmod(ns, 1_000_000_000)
    stamp = dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{rest // 1_000_000:03d}Z"


def message(device_id: str, device_type: str, time_ns: int, readings: dict[str, float]) -> dict:
    """One device message in the fleet's schema.

    >>> message("thermostat-1", "thermostat", 1_700_000_000_000_000_000, {"temperature": 21.5})
    {'device_id': 'thermostat-1', 'timestamp': '2023-11-14T22:13:20.000Z', 'tag': 'Thermostat', 'temperature': 21.5}
    """
    out = {"device_id": device_id, "timestamp": format_timestamp(time_ns), "tag": DEVICE_TYPES[device_type].tag}
    out.update(readings)
    return out


# json.dumps builds an encoder at every call when given options; one is enough.
_COMPACT = json.JSONEncoder(separators=(",", ":"))


def encode(msg: dict) -> bytes:
    """Compact JSON; non-finite floats are refused (JSON has none), None is null."""
    for value in msg.values():
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"device message {msg.get('device_id')!r} carries a non-finite reading {value!r}")
    return _COMPACT.encode(msg).encode()


def topic(device_type: str, device_id: str) -> str:
    """The MQTT topic a device publishes to: devices/<type>/<id>."""
    return f"devices/{device_type}/{device_id}"


@dataclasses.dataclass
class Fleet:
    """N devices spread over the chosen device types, reproducible from a seed.

    Each device has its own level (its mean drawn around the type's mean), so
    per-device statistics differ from device to device.

    >>> fleet = Fleet.create(4, ["thermostat", "barometer"], seed=1)
    >>> [d for d, _ in fleet.devices]
    ['thermostat-0', 'barometer-1', 'thermostat-2', 'barometer-3']
    >>> len(list(fleet.tick(1_700_000_000_000_000_000)))
    4
    """

    devices: list[tuple[str, str]]  # (device_id, device_type)
    levels: np.ndarray  # one row per device: mean per sensor slot
    rng: np.random.Generator

    @classmethod
    def create(cls, n: int, types: list[str], seed: int = 0, prefix: str = "") -> "Fleet":
        unknown = [t for t in types if t not in DEVICE_TYPES]
        if unknown:
            raise ValueError(f"unknown device type(s) {unknown}; known: {sorted(DEVICE_TYPES)}")
        rng = np.random.default_rng(seed)
        devices = [(f"{prefix}{types[i % len(types)]}-{i}", types[i % len(types)]) for i in range(n)]
        width = max(len(DEVICE_TYPES[t].sensors) for t in types)
        levels = np.zeros((n, width))
        for i, (_, kind) in enumerate(devices):
            for j, (mean, sd) in enumerate(DEVICE_TYPES[kind].sensors.values()):
                levels[i, j] = mean + rng.normal(0.0, sd)
        return cls(devices, levels, rng)

    def samples(self, time_ns: int, count: int | None = None) -> list[Sample]:
        """One sample per device (the first ``count`` devices only, if given) at ``time_ns``.

        Every call draws the noise of the whole fleet, so a partial last tick
        leaves the generator where a full one would.
        """
        noise = self.rng.normal(0.0, 1.0, self.levels.shape)
        out = []
        for i, (device_id, kind) in enumerate(self.devices[:count]):
            device_type = DEVICE_TYPES[kind]
            readings = {
                name: round(float(self.levels[i, j] + noise[i, j] * sd * 0.2), 3)
                for j, (name, (_, sd)) in enumerate(device_type.sensors.items())
            }
            if device_type.derive is not None:
                readings.update(device_type.derive(readings))
            out.append(Sample(i, device_id, kind, time_ns, readings))
        return out

    def tick(self, time_ns: int):
        """One message per device at ``time_ns``: ``(topic, message dict)``."""
        for sample in self.samples(time_ns):
            yield topic(sample.device_type, sample.device_id), sample.message()
