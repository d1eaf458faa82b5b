"""The detector's options and their defaults: one set for every series, measured on NAB (bench/nab_inprocess.py)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class Params:
    # The shape: the last `window` values, plus `context_blocks` means of `block` values before, so that a
    # familiar short wiggle at an unfamiliar phase of a longer cycle still reads as new. Blocks of 4 scored
    # 64.3 on the NAB split where blocks of 8 scored 62.0 and no context 53.5 (before the floor below).
    window: int = 8
    context_blocks: int = 8
    block: int = 4
    # Past shapes remembered (a ring). At one byte a coordinate this bounds the state; 200 lost 11 points.
    memory: int = 400
    # A shape enters memory only this many points after it was seen, so that an anomaly is not its own
    # nearest neighbour a moment later.
    gap: int = 8
    # Points before any score (the memory and the calibration need a history first).
    learning: int = 150
    # Half-life, in points, of the largest novelty seen: how fast an old alarm stops masking a new one.
    half_life: float = 1000.0
    # The record never falls below `floor` times the typical novelty (a mean with `mean_half_life`): on a
    # noisy series the nearest-neighbour distance of pure noise would otherwise set a new record now and
    # then (art_noisy: 8 false alarms without it).
    floor: float = 2.0
    mean_half_life: float = 500.0
    # A value beyond the range seen so far by more than `outside` of the range, and `jump` of the range away
    # from the mean of the last `window` values, is new even where its shape is familiar (a level shift
    # keeps the shape). The jump condition is what keeps a slow drift, which sets a new extreme by a
    # little at every cycle, from reading as anomalous.
    outside: float = 0.03
    jump: float = 0.2
    # After an alarm, scores are held below the alarm level this many points: one detection per event
    # (NAB counts the first detection in a window, and every later one outside it is a false positive).
    hold: int = 100
    # >1 raises scores (earlier, more alarms), <1 lowers them; 1 is what the benchmark measured.
    sensitivity: float = 1.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{f.name} must be a finite number, not {value!r}")
            if f.type in ("int", int) and int(value) != value:
                raise ValueError(f"{f.name} must be a whole number, not {value!r}")
        for name in ("window", "memory", "block", "half_life", "mean_half_life", "sensitivity"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, not {getattr(self, name)!r}")
        for name in ("context_blocks", "gap", "learning", "floor", "outside", "jump", "hold"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, not {getattr(self, name)!r}")
        if self.memory * self.dims > 8192 or self.history > 512:
            raise ValueError("memory * (window + context_blocks) <= 8192 and context_blocks * block <= 512 keep "
                             "the state under 16 KB")

    @property
    def history(self) -> int:
        """Raw values kept: enough for the short window and the context blocks."""
        return max(self.window, self.context_blocks * self.block)

    @property
    def dims(self) -> int:
        return self.window + self.context_blocks

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict) -> "Params":
        known = {f.name for f in fields(cls)}
        unknown = set(doc) - known
        if unknown:
            raise ValueError(f"unknown detector options: {sorted(unknown)}")
        return cls(**doc)
