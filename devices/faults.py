"""Faults the simulator injects on request, as pure transformations of samples.

Each fault takes one tick's samples (``devices.fleet.Sample``) and returns the
samples to send; it never changes the samples it is given. Each draws from its
own generator, seeded from the run's seed and the fault's name, so a run is
reproducible and enabling one fault does not change what another one does.

=================  ============================================================
``missing``        each reading is missing (JSON null) with probability P, as
                   in the FIREMAN seed's data with missing values
``spikes``         each reading jumps by SIZE standard deviations of its sensor
                   (either sign) with probability P
``drift``          a FRACTION of the devices drift upwards by RATE standard
                   deviations per message
``onoff``          a FRACTION of the devices switch off for OFF messages after
                   every ON messages, reading 0 while off (the routine pattern
                   the seed's anomprobX-Y and outliersX-Y must not flag)
``late``           a message is held back with probability P and sent 1 to
                   TICKS ticks later with its original timestamp, after newer
                   messages of the same device: late and out of order
``incident``       one chosen device, from one chosen tick (``Incident``): a
                   ``spike`` (its message at the tick off by SIZE sd), a level
                   ``shift`` (every message from the tick off by SIZE sd), a
                   ``drift`` (SIZE sd more per message), a ``stuck`` value
                   (its readings frozen at the tick's), ``silence`` (nothing
                   sent from the tick)
=================  ============================================================

The random faults strike wherever their generator says; an incident is what a
test or a benchmark plants where it will look for it (bench/alerts.py). A
standard deviation (sd) is the sensor's in ``DEVICE_TYPES``: the spread of
levels between devices, five times a reading's own noise.

>>> from devices.fleet import Fleet
>>> fleet = Fleet.create(4, ["thermostat"], seed=1)
>>> chain = FaultChain.create(len(fleet.devices), seed=1, missing=1.0)
>>> [s.readings for s in chain.apply(0, fleet.samples(0))][:2]
[{'temperature': None}, {'temperature': None}]
"""

from __future__ import annotations

import dataclasses
import zlib

import numpy as np

from devices.fleet import DEVICE_TYPES, Sample


def _rng(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def _sd(sample: Sample, sensor: str) -> float:
    return DEVICE_TYPES[sample.device_type].sensors[sensor][1]


def _chosen(n_devices: int, fraction: float, rng: np.random.Generator) -> frozenset[int]:
    """Exactly round(fraction * n) device indices, drawn without replacement."""
    return frozenset(int(i) for i in rng.permutation(n_devices)[: round(fraction * n_devices)])


class Fault:
    """One kind of fault: ``apply`` transforms a tick's samples, ``drain`` releases what is held."""

    name = "fault"

    def apply(self, tick: int, samples: list[Sample]) -> list[Sample]:
        raise NotImplementedError

    def drain(self) -> list[Sample]:
        return []


class MissingValues(Fault):
    """Each reading becomes None (a missing value) with probability ``p``.

    >>> from devices.fleet import Sample
    >>> s = Sample(0, "t-0", "temp_sensor", 0, {"temperature": 20.0, "humidity": 30.0})
    >>> MissingValues(0.0, seed=0).apply(0, [s])[0].readings
    {'temperature': 20.0, 'humidity': 30.0}
    """

    name = "missing"

    def __init__(self, p: float, seed: int):
        self.p = p
        self._rng = _rng(seed, self.name)

    def apply(self, tick, samples):
        out = []
        for sample in samples:
            hits = self._rng.random(len(sample.readings)) < self.p
            if hits.any():
                readings = {k: (None if hit else v) for (k, v), hit in zip(sample.readings.items(), hits)}
                sample = dataclasses.replace(sample, readings=readings)
            out.append(sample)
        return out


class Spikes(Fault):
    """Each reading jumps by ``size`` standard deviations (random sign) with probability ``p``."""

    name = "spikes"

    def __init__(self, p: float, size: float, seed: int):
        self.p, self.size = p, size
        self._rng = _rng(seed, self.name)

    def apply(self, tick, samples):
        out = []
        for sample in samples:
            hits = self._rng.random(len(sample.readings)) < self.p
            if hits.any():
                signs = self._rng.choice((-1.0, 1.0), len(sample.readings))
                readings = {
                    k: (round(v + sign * self.size * _sd(sample, k), 3) if hit and v is not None else v)
                    for (k, v), hit, sign in zip(sample.readings.items(), hits, signs)
                }
                sample = dataclasses.replace(sample, readings=readings)
            out.append(sample)
        return out


class Drift(Fault):
    """A ``fraction`` of the devices drift by ``rate`` standard deviations per tick (tick 0: none)."""

    name = "drift"

    def __init__(self, fraction: float, rate: float, n_devices: int, seed: int):
        self.rate = rate
        self.devices = _chosen(n_devices, fraction, _rng(seed, self.name))

    def apply(self, tick, samples):
        out = []
        for sample in samples:
            if sample.index in self.devices and tick:
                readings = {
                    k: (None if v is None else round(v + self.rate * tick * _sd(sample, k), 3))
                    for k, v in sample.readings.items()
                }
                sample = dataclasses.replace(sample, readings=readings)
            out.append(sample)
        return out


class OnOff(Fault):
    """A ``fraction`` of the devices read 0 for ``off`` ticks after every ``on`` ticks.

    Each chosen device starts at its own phase of the pattern.

    >>> f = OnOff(1.0, on=2, off=1, n_devices=1, seed=0)
    >>> f.phase = {0: 0}
    >>> from devices.fleet import Sample
    >>> [f.apply(t, [Sample(0, "b-0", "barometer", t, {"pressure": 1000.0})])[0].readings["pressure"] for t in range(6)]
    [1000.0, 1000.0, 0.0, 1000.0, 1000.0, 0.0]
    """

    name = "onoff"

    def __init__(self, fraction: float, on: int, off: int, n_devices: int, seed: int):
        rng = _rng(seed, self.name)
        self.on, self.off = on, off
        chosen = sorted(_chosen(n_devices, fraction, rng))
        self.phase = {i: int(p) for i, p in zip(chosen, rng.integers(0, on + off, len(chosen)))}

    def is_off(self, index: int, tick: int) -> bool:
        phase = self.phase.get(index)
        return phase is not None and (tick + phase) % (self.on + self.off) >= self.on

    def apply(self, tick, samples):
        return [
            dataclasses.replace(s, readings={k: (None if v is None else 0.0) for k, v in s.readings.items()})
            if self.is_off(s.index, tick)
            else s
            for s in samples
        ]


class Late(Fault):
    """Hold a message back with probability ``p``; send it 1 to ``max_ticks`` ticks later.

    Held messages keep their timestamps and go out after the newer messages of
    the tick they are released in.
    """

    name = "late"

    def __init__(self, p: float, max_ticks: int, seed: int):
        self.p, self.max_ticks = p, max_ticks
        self._rng = _rng(seed, self.name)
        self._held: dict[int, list[Sample]] = {}  # release tick -> samples

    def apply(self, tick, samples):
        hits = self._rng.random(len(samples)) < self.p
        delays = self._rng.integers(1, self.max_ticks + 1, len(samples))
        out = []
        for sample, hit, delay in zip(samples, hits, delays):
            if hit:
                self._held.setdefault(tick + int(delay), []).append(sample)
            else:
                out.append(sample)
        return out + self._held.pop(tick, [])

    def drain(self):
        out = [s for release in sorted(self._held) for s in self._held[release]]
        self._held.clear()
        return out


INCIDENT_KINDS = ("spike", "shift", "drift", "stuck", "silence")
# SIZE when the specification leaves it out: sd for a spike and a shift, sd per message for a drift.
INCIDENT_SIZES = {"spike": 8.0, "shift": 4.0, "drift": 0.05, "stuck": 0.0, "silence": 0.0}


@dataclasses.dataclass(frozen=True)
class Incident:
    """A fault planted on one device (its index in the fleet) from one tick on; ``size`` as ``INCIDENT_SIZES``."""

    kind: str
    device: int
    tick: int
    size: float = 0.0

    def __post_init__(self):
        if self.kind not in INCIDENT_KINDS:
            raise ValueError(f"an incident is one of {', '.join(INCIDENT_KINDS)}, got {self.kind!r}")
        if self.device < 0 or self.tick < 0:
            raise ValueError(f"an incident's device and tick are 0 or more, got {self.device} and {self.tick}")

    def spec(self) -> str:
        """The ``--incident`` specification that gives this incident back (``parse_incident``)."""
        return f"{self.kind}:{self.device}:{self.tick}" + (f":{self.size:g}" if INCIDENT_SIZES[self.kind] else "")


class Incidents(Fault):
    """The planted incidents, each on its device from its tick; other devices and earlier ticks pass untouched.

    The offsets are in each reading's own sd; a stuck device repeats the readings of its first message at or
    after the tick (as the faults before this one left them); a silent device's samples are dropped.

    >>> from devices.fleet import Sample
    >>> f = Incidents([Incident("shift", 0, 2, 1.0), Incident("stuck", 1, 1), Incident("silence", 2, 3)])
    >>> def tick(t):
    ...     batch = [Sample(i, f"b-{i}", "barometer", t, {"pressure": 1000.0 + t}) for i in range(3)]
    ...     return [(s.device_id, s.readings["pressure"]) for s in f.apply(t, batch)]
    >>> [tick(t) for t in range(4)][2:]
    [[('b-0', 1010.0), ('b-1', 1001.0), ('b-2', 1002.0)], [('b-0', 1011.0), ('b-1', 1001.0)]]
    """

    name = "incident"

    def __init__(self, incidents: list[Incident]):
        by_device: dict[int, Incident] = {}
        for incident in incidents:
            if incident.device in by_device:
                raise ValueError(f"device {incident.device} has two incidents; one incident per device")
            by_device[incident.device] = incident
        self.incidents = by_device
        self._frozen: dict[int, dict[str, float | None]] = {}  # stuck device -> the readings it repeats

    def _offset(self, incident: Incident, tick: int) -> float:
        """sd added to each reading at ``tick``."""
        if incident.kind == "spike":
            return incident.size if tick == incident.tick else 0.0
        if incident.kind == "shift":
            return incident.size
        if incident.kind == "drift":
            return incident.size * (tick - incident.tick + 1)
        return 0.0

    def apply(self, tick, samples):
        out = []
        for sample in samples:
            incident = self.incidents.get(sample.index)
            if incident is None or tick < incident.tick:
                out.append(sample)
            elif incident.kind == "silence":
                continue
            elif incident.kind == "stuck":
                frozen = self._frozen.setdefault(sample.index, dict(sample.readings))
                out.append(dataclasses.replace(sample, readings=dict(frozen)))
            else:
                offset = self._offset(incident, tick)
                readings = {k: (None if v is None else round(v + offset * _sd(sample, k), 3))
                            for k, v in sample.readings.items()}
                out.append(dataclasses.replace(sample, readings=readings) if offset else sample)
        return out


@dataclasses.dataclass
class FaultChain:
    """The faults of one run, applied in a fixed order: onoff, drift, spikes, missing, incidents, late."""

    faults: list[Fault]

    @classmethod
    def create(
        cls,
        n_devices: int,
        seed: int = 0,
        missing: float = 0.0,
        spikes: tuple[float, float] | None = None,
        drift: tuple[float, float] | None = None,
        onoff: tuple[float, int, int] | None = None,
        late: tuple[float, int] | None = None,
        incidents: list[Incident] | None = None,
    ) -> "FaultChain":
        faults: list[Fault] = []
        if onoff:
            faults.append(OnOff(onoff[0], onoff[1], onoff[2], n_devices, seed))
        if drift:
            faults.append(Drift(drift[0], drift[1], n_devices, seed))
        if spikes:
            faults.append(Spikes(spikes[0], spikes[1], seed))
        if missing:
            faults.append(MissingValues(missing, seed))
        if incidents:
            beyond = [i for i in incidents if i.device >= n_devices]
            if beyond:
                raise ValueError(f"incident on device {beyond[0].device}, but the fleet has devices 0 to "
                                 f"{n_devices - 1}")
            faults.append(Incidents(incidents))
        if late:
            faults.append(Late(late[0], late[1], seed))
        return cls(faults)

    def apply(self, tick: int, samples: list[Sample]) -> list[Sample]:
        for fault in self.faults:
            samples = fault.apply(tick, samples)
        return samples

    def drain(self) -> list[Sample]:
        """What is still held back at the end of a run (late messages), in release order.

        Only the last fault holds samples back, so what it releases has been
        through every other fault already.
        """
        return [s for fault in self.faults for s in fault.drain()]


# --- parsing of the command line's fault specifications ----------------------


def _numbers(spec: str, name: str, fields: list[tuple[str, type, float | None]]) -> list:
    """Split ``a:b:c`` into typed numbers; missing trailing parts take their defaults."""
    parts = spec.split(":") if spec else []
    if len(parts) > len(fields) or (len(parts) < sum(d is None for _, _, d in fields)):
        shape = ":".join(f"[{n}]" if d is not None else n for n, _, d in fields)
        raise ValueError(f"--{name} wants {shape}, got {spec!r}")
    out = []
    for i, (field, kind, default) in enumerate(fields):
        if i >= len(parts):
            out.append(default)
            continue
        try:
            out.append(kind(parts[i]))
        except ValueError:
            raise ValueError(f"--{name}: {field} must be a {kind.__name__}, got {parts[i]!r}") from None
    return out


def _probability(value: float, name: str, field: str) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"--{name}: {field} must be between 0 and 1, got {value}")
    return value


def parse_missing(spec: str) -> float:
    """``P``: probability that a reading is missing.

    >>> parse_missing("0.05")
    0.05
    """
    (p,) = _numbers(spec, "missing", [("P", float, None)])
    return _probability(p, "missing", "P")


def parse_spikes(spec: str) -> tuple[float, float]:
    """``P[:SIZE]``: probability of a spike per reading, its size in standard deviations (8).

    >>> parse_spikes("0.01"), parse_spikes("0.01:5")
    ((0.01, 8.0), (0.01, 5.0))
    """
    p, size = _numbers(spec, "spikes", [("P", float, None), ("SIZE", float, 8.0)])
    return _probability(p, "spikes", "P"), size


def parse_drift(spec: str) -> tuple[float, float]:
    """``FRACTION[:RATE]``: share of drifting devices, standard deviations per message (0.05).

    >>> parse_drift("0.1")
    (0.1, 0.05)
    """
    fraction, rate = _numbers(spec, "drift", [("FRACTION", float, None), ("RATE", float, 0.05)])
    return _probability(fraction, "drift", "FRACTION"), rate


def parse_onoff(spec: str) -> tuple[float, int, int]:
    """``FRACTION[:ON:OFF]``: share of devices switching, messages on and off (30:10).

    >>> parse_onoff("0.2:5:2")
    (0.2, 5, 2)
    >>> parse_onoff("0.2:0:2")
    Traceback (most recent call last):
    ...
    ValueError: --onoff: ON and OFF must be at least 1, got 0 and 2
    """
    fraction, on, off = _numbers(spec, "onoff", [("FRACTION", float, None), ("ON", int, 30), ("OFF", int, 10)])
    if on < 1 or off < 1:
        raise ValueError(f"--onoff: ON and OFF must be at least 1, got {on} and {off}")
    return _probability(fraction, "onoff", "FRACTION"), on, off


def parse_late(spec: str) -> tuple[float, int]:
    """``P[:TICKS]``: probability a message is held back, for at most TICKS ticks (3).

    >>> parse_late("0.02:5")
    (0.02, 5)
    """
    p, ticks = _numbers(spec, "late", [("P", float, None), ("TICKS", int, 3)])
    if ticks < 1:
        raise ValueError(f"--late: TICKS must be at least 1, got {ticks}")
    return _probability(p, "late", "P"), ticks


def parse_incident(spec: str) -> Incident:
    """``KIND:DEVICE:TICK[:SIZE]``: a fault of KIND on the device numbered DEVICE (thermostat-3 is 3) from its
    message number TICK (0: the first), SIZE as ``INCIDENT_SIZES``.

    >>> parse_incident("shift:3:200:6")
    Incident(kind='shift', device=3, tick=200, size=6.0)
    >>> parse_incident("silence:0:10").spec(), parse_incident("spike:1:5").spec()
    ('silence:0:10', 'spike:1:5:8')
    >>> parse_incident("melt:1:5")
    Traceback (most recent call last):
    ...
    ValueError: --incident: KIND must be one of spike, shift, drift, stuck, silence, got 'melt'
    """
    kind, _, rest = spec.partition(":")
    if kind not in INCIDENT_KINDS:
        raise ValueError(f"--incident: KIND must be one of {', '.join(INCIDENT_KINDS)}, got {kind!r}")
    if not 2 <= len(rest.split(":")) <= 3:
        raise ValueError(f"--incident wants KIND:DEVICE:TICK[:SIZE], got {spec!r}")
    device, tick, size = _numbers(rest, "incident", [("DEVICE", int, None), ("TICK", int, None),
                                                     ("SIZE", float, INCIDENT_SIZES[kind])])
    if device < 0 or tick < 0:
        raise ValueError(f"--incident: DEVICE and TICK must be 0 or more, got {device} and {tick}")
    return Incident(kind, device, tick, size)
