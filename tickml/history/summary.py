"""What a task replayed over history wrote, read back from InfluxDB chunk by chunk.

A train task writes a point per window with ``Status`` (deployed, kept,
bad) and, for a bad one, ``Reason``; any other task's points are counted.
Windows the train UDF skipped (judged before) write nothing and are not
counted here.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

from tickml.tickscript import Output, Script


@dataclasses.dataclass
class Summary:
    statuses: Counter = dataclasses.field(default_factory=Counter)
    reasons: Counter = dataclasses.field(default_factory=Counter)
    entities: set = dataclasses.field(default_factory=set)  # trained or judged: a deployed or kept window
    written: Counter = dataclasses.field(default_factory=Counter)  # output measurement -> points
    points_read: int = 0
    chunks: int = 0
    chunks_left: int = 0
    chunks_before: int = 0  # replayed by an earlier run of the same backfill
    seconds: float = 0.0
    tally_seconds: float = 0.0  # of ``seconds``, reading back what was written

    @property
    def windows(self) -> int:
        return sum(self.statuses.values())

    def lines(self) -> list[str]:
        rate = self.points_read / self.seconds if self.seconds else 0.0
        out = [f"{self.chunks} chunks replayed ({self.chunks_before} before, {self.chunks_left} left), "
               f"{self.points_read:,} points read in {self.seconds:.1f} s ({rate:,.0f} points/s)"]
        for measurement, n in sorted(self.written.items()):
            out.append(f"{measurement}: {n:,} points written")
        if self.statuses:
            out.append(f"windows: {self.windows:,} ({', '.join(f'{s} {n:,}' for s, n in sorted(self.statuses.items()))}"
                       f"; {self.windows / self.seconds if self.seconds else 0:,.1f} windows/s)")
            out.append(f"entities with a model trained or judged here: {len(self.entities):,}")
            for reason, n in self.reasons.most_common():
                out.append(f"bad windows, {reason}: {n:,}")
        return out


def _where(output: Output, start: int, end: int, where: str) -> str:
    tags = "".join(f" AND \"{k}\" = '{v}'" for k, v in output.tags)
    return f"time >= {start} AND time < {end}{tags}" + (f" AND ({where})" if where else "")


def tally(influx, script: Script, start: int, end: int, where: str, into: Summary) -> None:
    """Add what ``script``'s outputs hold in ``[start, end)`` (restricted by ``where``, on tags) to ``into``."""
    for output in script.outputs:
        if not output.measurement:
            continue
        source = f'"{output.database}"."{output.retention_policy}"."{output.measurement}"'
        condition = _where(output, start, end, where)
        counts = influx.query(f"SELECT count(*) FROM {source} WHERE {condition}", database=output.database)
        into.written[output.measurement] += max((v for r in counts for k, v in r.items()
                                                 if k != "time" and isinstance(v, int)), default=0)
        static = {k for k, _ in output.tags}
        for row in influx.query(f'SELECT "Status", "Reason" FROM {source} WHERE {condition} GROUP BY *',
                                database=output.database):
            status = row.get("Status")
            if status is None:
                continue
            into.statuses[status] += 1
            if status == "bad":
                into.reasons[row.get("Reason") or "?"] += 1
            else:
                into.entities.add(tuple(sorted((k, v) for k, v in row.items()
                                               if k not in ("time", "Status", "Reason") and k not in static)))
