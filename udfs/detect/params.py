"""The detector's options and their defaults: one set for every series, measured on NAB (bench/nab_inprocess.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields


MAX_MEMORY_BYTES = 7680  # 480 shapes of 16 coordinates (the defaults: 400)
MAX_HISTORY = 64
MAX_GAP = 32


@dataclass(frozen=True)
class Params:
    # The shape: the last `window` values, plus `context_blocks` means of `block` values before, so that a
    # familiar short wiggle at an unfamiliar phase of a longer cycle still reads as new. Blocks of 4 scored
    # 64.3 on the NAB split where blocks of 8 scored 62.0 and no context 53.5 (before the floor below).
    window: int = 8
    context_blocks: int = 8
    block: int = 4
    # Past shapes remembered (a ring). At one byte a coordinate this bounds the state; 200 lost 11 points.
    # memory * dims is at most 7,680 (480 shapes at the default 16 coordinates; 8,192 before the profile).
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
    # ... and beyond it by more than `outside_steps` typical steps (the running median of the steps between
    # neighbouring values, which moves by a factor of 1 + `step_rate` a point). Without it every new extreme
    # of a noisy healthy series alarmed: on the simulated fleet (bench/anomaly_fleet.py) all 27 healthy
    # series, 101 alarms in 2 hours, against 1 with it. Chosen on the fleet, not on NAB: on NAB 1.0 scores
    # 71.2 and 1.25 to 2 score 68.8 (one window of exchange-2_cpm, 0.9 steps beyond its range), while on the
    # fleet 1.0 raises three times the false alarms of 1.5 (24 against 8 over 3 seeds).
    outside_steps: float = 1.5
    step_rate: float = 0.02
    # A value repeated `stuck` times in a row is a stuck sensor (a run of repeats is no new shape, and no level
    # beyond the range), unless the series has had runs of repeats before: then the run must be `stuck_margin`
    # times its longest (a plateau of a daily cycle, a quantised reading). 0 turns it off.
    stuck: int = 10
    stuck_margin: float = 2.0
    # After an alarm, scores are held below the alarm level this many points: one detection per event
    # (NAB counts the first detection in a window, and every later one outside it is a false positive).
    hold: int = 100
    # >1 raises scores (earlier, more alarms), <1 lowers them; 1 is what the benchmark measured.
    sensitivity: float = 1.0
    # The hour-of-day profile, a second signal independent of the shape (in the spirit of HTM's time-of-day
    # encoding): the mean of the last `profile_smooth` values against the mean such values have had at this
    # hour of the day (UTC, from time_ns), less the offset all hours share (a drift of the whole level,
    # followed with a half-life of `profile_offset_half_life` points), in ranges. It is new when it beats
    # both the largest deviation this hour has had (a record per hour, halving every `profile_half_life`
    # visits of that hour: a deviation an hour always has, such as a daily edge, is not new) and the largest
    # recent one of any hour (halving every `profile_record_half_life` points, floored at `floor` times the
    # typical deviation and at `profile_min` of the range). An hour speaks only once it has been seen on more
    # than `profile_days` days. NAB split, standard profile: 63.6 without it, 70.9 with it.
    # Around the defaults (one NAB window is worth 2.4 points, so single flips show): profile_smooth 20, 24,
    # 28: 66.2, 70.9, 68.8 (12 and 16 were 67.7 and 66.0 in an earlier version).
    profile_smooth: int = 24
    # Each hour's mean follows its values at this rate per visit (1/n over the first visits): 0.002 and
    # 0.01 score the same 70.9 (the 1/n start dominates on these series' lengths).
    profile_rate: float = 0.005
    # 1,000 visits: 70.7.
    profile_half_life: float = 2000.0
    # 5,000, 10,000, 20,000 points: 70.8, 70.9, 68.6; 3,000: 65.7.
    profile_record_half_life: float = 10000.0
    # 0 (no offset), 70, 100, 150 points: 68.3, 67.8, 70.9, 67.4. Without it a slowly drifting healthy level
    # reads as new at every hour in turn.
    profile_offset_half_life: float = 100.0
    # 0, 1, 2, 3 days: 70.9, 70.9, 70.9, 71.1 on NAB; below 2 a healthy 100-minute cycle sampled each minute
    # alarms on its second day (the hours see new phases of it; a unit test).
    profile_days: int = 2
    # 0 or 0.05: the same on NAB; a floor for series whose hours barely differ.
    profile_min: float = 0.05
    # What the profile's deviation is multiplied by; 0 turns the profile off (the shape alone, 63.6 on NAB).
    # Other values act as a sensitivity of this signal alone: 0.8 scored 67.4, 1.25 47.4 (it floods).
    profile_weight: float = 1.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{f.name} must be a finite number, not {value!r}")
            if f.type in ("int", int) and int(value) != value:
                raise ValueError(f"{f.name} must be a whole number, not {value!r}")
        for name in ("window", "memory", "block", "half_life", "mean_half_life", "sensitivity", "profile_smooth",
                     "profile_rate", "profile_half_life", "profile_record_half_life", "step_rate"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, not {getattr(self, name)!r}")
        for name in ("context_blocks", "gap", "learning", "floor", "outside", "jump", "outside_steps", "stuck", "stuck_margin", "hold",
                     "profile_min", "profile_weight", "profile_days", "profile_offset_half_life"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, not {getattr(self, name)!r}")
        if self.profile_rate > 1:
            raise ValueError(f"profile_rate must be <= 1, not {self.profile_rate!r}")
        # The state's worst case (every float at full length, every hour in use) stays under 16 KB with these
        # (a unit test): the memory is 4/3 of its bytes in base64, the values and the profile about 3.5 KB.
        if self.memory * self.dims > MAX_MEMORY_BYTES or self.history > MAX_HISTORY or self.gap > MAX_GAP:
            raise ValueError(f"memory * (window + context_blocks) <= {MAX_MEMORY_BYTES}, window, context_blocks * "
                             f"block and profile_smooth <= {MAX_HISTORY}, gap <= {MAX_GAP} keep the state under 16 KB")

    @property
    def history(self) -> int:
        """Raw values kept: enough for the short window, the context blocks and the profile's mean."""
        return max(self.window, self.context_blocks * self.block, self.profile_smooth)

    @property
    def dims(self) -> int:
        return self.window + self.context_blocks

    def to_dict(self) -> dict:
        # Every field is a number, so a shallow dict is asdict()'s answer, without its deep copy of each value:
        # 3 us instead of 30, paid per entity in every snapshot of the anomaly UDF (10 s apart, 10,000 entities).
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, doc: dict) -> "Params":
        known = {f.name for f in fields(cls)}
        unknown = set(doc) - known
        if unknown:
            raise ValueError(f"unknown detector options: {sorted(unknown)}")
        return cls(**doc)
