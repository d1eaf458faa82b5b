"""One entity's detector: shape novelty, level signal and hour-of-day profile, calibrated into one score, with a hold."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from .params import Params
from .shapes import ShapeMemory

STATE_VERSION = 3  # 2 added the hour-of-day profile, 3 the median step and the runs of repeats
ALARM = 0.5  # the score at which novelty equals the (floored, decaying) record, on every series
HOUR_NS = 3_600_000_000_000
HOURS = 24
COUNT_CAP = 1_000_000  # visits counted per hour: beyond 1 / profile_rate the count no longer matters


@dataclass(frozen=True)
class Score:
    anomaly_score: float  # in [0, 1]; ALARM (0.5) and above is an alarm whatever the series
    raw: float  # the novelty before calibration: distance to the nearest familiar shape, in ranges
    expected: float | None  # the value the nearest familiar shape had at this point; None before any
    learning: bool  # True while the detector has not seen enough to score
    # What made an alarm (score >= ALARM): "shape" (a new shape), "level" (beyond the range seen, far from the
    # last values), "profile" (unusual for the hour of day); "" below the alarm level
    cause: str = ""


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
        self.step = 0.0  # the median step between neighbouring values (a running estimate)
        self.run = 0  # values in a row equal to the one before
        self.longest = 0  # the longest such run seen before this one
        # The hour-of-day profile: per hour (UTC), the mean of the smoothed value, its visits, the largest
        # deviation from that mean it has had, and the days it was seen on (counted once the calibration has
        # started) with the last of them; the offset all hours share (a drift of the whole level); a record and
        # a typical deviation over all hours.
        self.hour_mean = [0.0] * HOURS
        self.hour_count = [0] * HOURS
        self.hour_record = [0.0] * HOURS
        self.hour_days = [0] * HOURS
        self.hour_last_day: list[int | None] = [None] * HOURS
        self.offset: float | None = None
        self.profile_record = 0.0
        self.profile_typical = 0.0
        self._decay = 0.5 ** (1.0 / p.half_life)
        self._step_up, self._step_down = 1.0 + p.step_rate, 1.0 / (1.0 + p.step_rate)
        self._rate = 1.0 - 0.5 ** (1.0 / p.mean_half_life)
        self._hour_decay = 0.5 ** (1.0 / p.profile_half_life)
        self._inv_smooth = 1.0 / p.profile_smooth
        self._profile_decay = 0.5 ** (1.0 / p.profile_record_half_life)
        self._offset_rate = 1.0 - 0.5 ** (1.0 / p.profile_offset_half_life) if p.profile_offset_half_life else 0.0

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

        p = self.params
        span_before = self.hi - self.lo
        excess = max(v - self.hi, self.lo - v, 0.0)
        outside = excess / span_before if span_before > 0 else 0.0
        if self.values:
            step = abs(v - self.values[-1])
            if self.seen <= p.learning // 2 or self.step <= 0:
                self.step += (step - self.step) / self.seen  # the mean, until the median has a start
            else:
                # The median by small multiplicative steps: a spike or a level shift moves it by one step only.
                self.step *= self._step_up if step > self.step else self._step_down
            if step == 0.0:
                self.run += 1
            else:
                self.longest, self.run = max(self.longest, self.run), 0
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
        cause = "shape"
        # A stuck reading and a level beyond the range are new whatever their shape: they count as half again
        # the largest recent novelty (a score of 0.6 at sensitivity 1).
        forced = 1.5 * self.record + 1e-12
        if not learning and p.stuck and self.run == max(p.stuck, p.stuck_margin * self.longest + 1):
            d, cause = max(d, forced), "stuck"
        if not learning and outside > p.outside and excess > p.outside_steps * self.step:
            before = hist[-p.window - 1:-1].mean() if len(hist) > p.window else v
            if abs(v - before) > p.jump * span and d < forced:
                d, cause = forced, "level"

        hour, dp, ready = self._profile(hist, span, int(time_ns)) if p.profile_weight else (0, 0.0, False)

        score = 0.0
        if learning:
            # The first shapes are all new (the memory is nearly empty): only the second half counts.
            if self.seen > p.learning // 2:
                self.record = max(self.record, d)
                self.typical = d if self.typical == 0 else self.typical + self._rate * (d - self.typical)
                if p.profile_weight:
                    self.profile_record = max(self.profile_record, dp, p.profile_min)
                    self.hour_record[hour] = max(self.hour_record[hour], dp)
                    self.profile_typical = dp if self.profile_typical == 0 else \
                        self.profile_typical + self._rate * (dp - self.profile_typical)
        else:
            kd = p.sensitivity * d
            # Novelty over the largest recent novelty: scale-free, so one alarm level fits every series.
            score = kd / (kd + self.record) if self.record > 0 else (1.0 if d > 0 else 0.0)
            # An alarm's novelty would drag the mean up for a long while: clip what one point adds.
            self.typical += self._rate * (min(d, 4 * self.typical + 1e-12) - self.typical)
            self.record = max(self.record * self._decay, d, p.floor * self.typical)
            if p.profile_weight:
                # The same calibration for the profile's deviation, against the larger of this hour's record and
                # the recent record of any hour: a deviation this hour always has (a daily edge) is not new.
                bar = max(self.profile_record, self.hour_record[hour])
                if bar > 0 and ready:
                    kp = p.sensitivity * p.profile_weight * dp
                    if kp / (kp + bar) > score:
                        score, cause = kp / (kp + bar), "profile"
                self.hour_record[hour] = max(self.hour_record[hour] * self._hour_decay, dp)
                self.profile_typical += self._rate * (min(dp, 4 * self.profile_typical + 1e-12)
                                                      - self.profile_typical)
                self.profile_record = max(self.profile_record * self._profile_decay, dp,
                                          p.floor * self.profile_typical, p.profile_min)
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
        return Score(float(score), float(d), expected, learning, cause if score >= ALARM else "")

    def _profile(self, hist: np.ndarray, span: float, time_ns: int) -> tuple[int, float, bool]:
        """(hour, deviation, ready): the deviation of the smoothed value from this hour's mean, less the offset
        all hours share, in ranges (0 until the hour has been seen three times); ready once the hour has been
        seen on more than `profile_days` days since the calibration started."""
        p = self.params
        day, hour = divmod(time_ns // HOUR_NS, HOURS)
        level = float(hist[-p.profile_smooth:].sum()) * self._inv_smooth
        if self.hour_last_day[hour] != day and self.seen > p.learning // 2:
            self.hour_last_day[hour] = day
            self.hour_days[hour] += 1
        n = self.hour_count[hour]
        mean = self.hour_mean[hour]
        dp = 0.0
        if n >= 3:
            r = level - mean
            if self._offset_rate:
                # A drift of the whole level moves every hour alike: what all hours share is not the profile's
                # concern (the shape and the level signal see a sudden shift).
                self.offset = r if self.offset is None else self.offset + self._offset_rate * (r - self.offset)
                r -= self.offset
            dp = abs(r) / span
        if n < COUNT_CAP:
            n += 1
            self.hour_count[hour] = n
        self.hour_mean[hour] = mean + max(1.0 / n, p.profile_rate) * (level - mean)
        return hour, dp, self.hour_days[hour] > p.profile_days

    def _shape(self, hist: np.ndarray, span: float) -> np.ndarray:
        p = self.params
        out = np.empty(p.dims)  # a fresh array: the shape outlives this call (it waits in `pending`)
        out[:p.window] = hist[-p.window:]
        if p.context_blocks:
            # sum then scale: numpy's mean costs several times more per call at this size
            ctx = out[p.window:]
            np.add.reduce(hist[-p.context_blocks * p.block:].reshape(p.context_blocks, p.block), axis=1, out=ctx)
            ctx *= 1.0 / p.block
        out -= self.lo
        out *= 1.0 / span
        return out

    def state(self) -> dict:
        """Everything the detector knows, JSON-able; ``Detector.restore`` of it continues identically."""
        return {"version": STATE_VERSION, "params": self.params.to_dict(), "values": list(self.values),
                "pending": [c.tobytes().hex() for c in self.pending], "memory": self.memory.state(),
                "seen": self.seen, "lo": self.lo if self.seen else None, "hi": self.hi if self.seen else None,
                "record": self.record, "typical": self.typical, "held_until": self.held_until,
                "step": self.step, "run": self.run, "longest": self.longest,
                "hour_mean": list(self.hour_mean),
                "hour_count": list(self.hour_count), "hour_record": list(self.hour_record),
                "hour_days": list(self.hour_days), "hour_last_day": list(self.hour_last_day),
                "offset": self.offset, "profile_record": self.profile_record,
                "profile_typical": self.profile_typical}

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
            det.step = float(doc["step"])
            det.run = int(doc["run"])
            det.longest = int(doc["longest"])
            det.hour_mean = [float(x) for x in doc["hour_mean"]]
            det.hour_count = [int(x) for x in doc["hour_count"]]
            det.hour_record = [float(x) for x in doc["hour_record"]]
            det.hour_days = [int(x) for x in doc["hour_days"]]
            det.hour_last_day = [None if x is None else int(x) for x in doc["hour_last_day"]]
            if any(len(x) != HOURS for x in (det.hour_mean, det.hour_count, det.hour_record, det.hour_days,
                                             det.hour_last_day)):
                raise ValueError(f"the hour-of-day profile must have {HOURS} hours")
            det.offset = None if doc["offset"] is None else float(doc["offset"])
            det.profile_record = float(doc["profile_record"])
            det.profile_typical = float(doc["profile_typical"])
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a detector state: {exc!r}") from None
        return det
