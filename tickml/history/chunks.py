"""A range of history cut into chunks that Kapacitor replays one at a time.

Why chunks: Kapacitor's replay of a query holds the whole answer in memory
before it feeds the task, so a month of readings must go in pieces; a chunk
is also the unit a stopped backfill resumes from.

Why a fixed grid: chunks are cells of a grid aligned to the epoch
(``[k*L, (k+1)*L)``, the first and last clipped to the range), so the same
range gives the same chunks in a resumed run, and a chunk finished before is
recognised by its bounds. ``L`` is the longest of a few round durations whose
fullest chunk holds at most ``target`` points, judged from counts per bucket.

Why a lead-in: a window that ends in a chunk began up to a window's length
before it, so each chunk is read from that much earlier (``lead_ns``). The
windows that end in the lead-in come out again, holding only part of their
rows; the backfill writes only what ends inside the chunk, and the train UDF
skips windows its entities were judged on already.
"""

from __future__ import annotations

import dataclasses

SECOND = 10**9
# Round chunk lengths, shortest first.
LENGTHS = [s * SECOND for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
                                43200, 86400, 2 * 86400, 7 * 86400)]


@dataclasses.dataclass(frozen=True)
class Chunk:
    start: int  # ns, inclusive: outputs from here on are this chunk's
    end: int  # ns, exclusive
    points: int  # points of the range in it (the lead-in not counted), from the bucket counts


def bucket_ns(span_ns: int, buckets: int = 2000) -> int:
    """The bucket to count points by over ``span_ns``: the shortest round length giving at most ``buckets``.

    >>> bucket_ns(7 * 86400 * SECOND) // SECOND
    600
    """
    return next((length for length in LENGTHS if span_ns / length <= buckets), LENGTHS[-1])


def chunk_ns(counts: dict[int, int], bucket: int, target: int) -> int:
    """The longest round length (a multiple of ``bucket``) whose fullest grid cell holds at most ``target`` points.

    ``counts``: points per bucket start. A bucket fuller than ``target`` alone gives ``bucket``.

    >>> h = 3600 * SECOND
    >>> chunk_ns({0: 100, h: 100, 2 * h: 100, 3 * h: 100}, h, 250) // h
    2
    """
    best = bucket
    for length in LENGTHS:
        if length < bucket or length % bucket:
            continue
        cells: dict[int, int] = {}
        for start, n in counts.items():
            cells[start // length] = cells.get(start // length, 0) + n
        if max(cells.values(), default=0) <= target:
            best = length
        else:
            break
    return best


def plan(start: int, end: int, length: int, counts: dict[int, int] | None = None) -> list[Chunk]:
    """The grid cells of ``length`` over ``[start, end)``, clipped, with their points from ``counts`` when given
    (buckets aligned with the grid, each counted in the cell it starts in).

    >>> [(c.start, c.end, c.points) for c in plan(5, 25, 10, {0: 3, 10: 4, 20: 5})]
    [(5, 10, 3), (10, 20, 4), (20, 25, 5)]
    """
    chunks = []
    cell = start - start % length
    while cell < end:
        points = sum(n for t, n in (counts or {}).items() if cell <= t < cell + length)
        chunks.append(Chunk(max(cell, start), min(cell + length, end), points))
        cell += length
    return chunks


def pending(chunks: list[Chunk], done: list[tuple[int, int]]) -> list[Chunk]:
    """The chunks not wholly inside one of the ``done`` intervals.

    >>> [c.start for c in pending([Chunk(0, 10, 0), Chunk(10, 20, 0), Chunk(20, 30, 0)], [(0, 15), (20, 30)])]
    [10]
    """
    return [c for c in chunks if not any(a <= c.start and c.end <= b for a, b in done)]
