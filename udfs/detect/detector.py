"""One entity's detector: shape novelty and level signal, calibrated into one score, with a hold."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from .params import Params
from .shapes import ShapeMemory

STATE_VERSION = 1
ALARM = 0.5  # the score at which novelty equals the (floored, decaying) record, on every series


@dataclass(frozen=True)
class Score:
    anomaly_score: float  # in [0, 1]; ALARM (0.5) and above is an alarm whatever the series
    raw: float  # the novelty before calibration: distance to the nearest familiar shape, in ranges
    expected: float | None  # the value the nearest familiar shape had at this point; None before any
    learning: bool  # True while the detector has not seen enough to score


class Detector:
    """Streaming anomaly detector of one entity's series. ``update`` takes the points in arrival order."""

    def __init__(self, params: Params | dict | None = None) -> None:
        self.params = params if isinstance(params, Params) else Params.from_dict(params or {})
        p = self.params
        self.memory = ShapeMemory(p.memory, p.dims)
        self.values: deque[float] = deque(maxlen=p.history)
        self.pending: deque[np.ndarray] = deque()
        self.seen = 0
        self.lo = math.inf
        self.hi = -math.inf
        self.record = 0.0  # the largest recent novelty, decaying
        self.typical = 0.0  # the mean novelty, decaying
        self.held_until = 0
        self.last_time: int | None = None
        self._decay = 0.5 ** (1.0 / p.half_life)
        self._rate = 1.0 - 0.5 ** (1.0 / p.mean_half_life)

    def update(self, value: float, time_ns: int) -> Score:
        """Score one point from this entity's past only. Bad input raises ValueError before anything changes."""
        if isinstance(value, bool):
            raise ValueError(f"value must be a number, not {value!r}")
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"value must be a number, not {value!r}") from None
        if not math.isfinite(v):
            raise ValueError(f"value must be finite, not {value!r}")
        if isinstance(time_ns, bool) or not isinstance(time_ns, (int, np.integer)):
            raise ValueError(f"time_ns must be an integer, not {time_ns!r}")
        # A time before the previous one is taken as it comes: points are scored in arrival order (NAB's own
        # realAdExchange files step back in time).
        self.last_time = int(time_ns)

        p = self.params
        span_before = self.hi - self.lo
        outside = max(v - self.hi, self.lo - v, 0.0) / span_before if span_before > 0 else 0.0
        self.lo, self.hi = min(self.lo, v), max(self.hi, v)
        self.values.append(v)
        self.seen += 1
        if self.seen < p.history:
            return Score(0.0, 0.0, None, True)

        span = self.hi - self.lo if self.hi > self.lo else 1.0
        hist = np.fromiter(self.values, dtype=np.float64, count=len(self.values))
        shape = self._shape(hist, span)
        d, row = self.memory.nearest(shape)
        learning = self.seen <= p.learning
        if not learning and outside > p.outside:
            before = hist[-p.window - 1:-1].mean() if len(hist) > p.window else v
            if abs(v - before) > p.jump * span:
                d = max(d, 1.5 * self.record + 1e-12)

        score = 0.0
        if learning:
            # The first shapes are all new (the memory is nearly empty): only the second half counts.
            if self.seen > p.learning // 2:
                self.record = max(self.record, d)
                self.typical = d if self.typical == 0 else self.typical + self._rate * (d - self.typical)
        else:
            kd = p.sensitivity * d
            # Novelty over the largest recent novelty: scale-free, so one alarm level fits every series.
            score = kd / (kd + self.record) if self.record > 0 else (1.0 if d > 0 else 0.0)
            # An alarm's novelty would drag the mean up for a long while: clip what one point adds.
            self.typical += self._rate * (min(d, 4 * self.typical + 1e-12) - self.typical)
            self.record = max(self.record * self._decay, d, p.floor * self.typical)
            if self.seen < self.held_until:
                score = min(score, ALARM * 0.999)
            elif score >= ALARM and p.hold:
                self.held_until = self.seen + p.hold

        self.pending.append(ShapeMemory.encode(shape))
        if len(self.pending) > p.gap:
            self.memory.add(self.pending.popleft())
        expected = None
        if row >= 0:
            expected = self.lo + float(self.memory.shapes[row, p.window - 1]) * span
        return Score(float(score), float(d), expected, learning)

    def _shape(self, hist: np.ndarray, span: float) -> np.ndarray:
        p = self.params
        recent = hist[-p.window:]
        if p.context_blocks:
            # sum then scale: numpy's mean costs several times more per call at this size
            ctx = hist[-p.context_blocks * p.block:].reshape(p.context_blocks, p.block).sum(axis=1)
            ctx *= 1.0 / p.block
            recent = np.concatenate((recent, ctx))
        return (recent - self.lo) * (1.0 / span)

    def state(self) -> dict:
        """Everything the detector knows, JSON-able; ``Detector.restore`` of it continues identically."""
        return {"version": STATE_VERSION, "params": self.params.to_dict(), "values": list(self.values),
                "pending": [c.tobytes().hex() for c in self.pending], "memory": self.memory.state(),
                "seen": self.seen, "lo": self.lo if self.seen else None, "hi": self.hi if self.seen else None,
                "record": self.record, "typical": self.typical, "held_until": self.held_until,
                "last_time": self.last_time}

    @classmethod
    def restore(cls, doc: dict) -> "Detector":
        try:
            if doc.get("version") != STATE_VERSION:
                raise ValueError(f"detector state version {doc.get('version')!r}; this code reads {STATE_VERSION}")
            det = cls(Params.from_dict(doc["params"]))
            p = det.params
            det.values.extend(float(x) for x in doc["values"][-p.history:])
            det.pending.extend(np.frombuffer(bytes.fromhex(h), dtype=np.uint8).copy() for h in doc["pending"])
            if any(c.size != p.dims for c in det.pending):
                raise ValueError("a pending shape does not match the parameters")
            det.memory = ShapeMemory.restore(doc["memory"], p.memory, p.dims)
            det.seen = int(doc["seen"])
            det.lo = math.inf if doc["lo"] is None else float(doc["lo"])
            det.hi = -math.inf if doc["hi"] is None else float(doc["hi"])
            det.record = float(doc["record"])
            det.typical = float(doc["typical"])
            det.held_until = int(doc["held_until"])
            det.last_time = None if doc["last_time"] is None else int(doc["last_time"])
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a detector state: {exc!r}") from None
        return det
