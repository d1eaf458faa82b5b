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
=================  ============================================================

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


@dataclasses.dataclass
class FaultChain:
    """The faults of one run, applied in a fixed order: onoff, drift, spikes, missing, late."""

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
