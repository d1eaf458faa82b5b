"""Replay a file of device messages (the TML seed's LOCALFILE ingest).

Two formats, chosen by the file's extension:

- JSON lines (``.jsonl``, ``.json``, ``.ndjson``): one JSON object per line.
  A line that is not a JSON object is replayed as it is, so that Telegraf's
  validation sees (and counts) it exactly as a device would have sent it.
- CSV (``.csv``): a header row naming the keys of the message schema
  (``device_id``, ``timestamp``, ``tag``, sensors, or ``sensor`` and
  ``value``); an empty cell is a missing value (JSON null), a number is a
  number, anything else stays a string.

Keys named otherwise are renamed with ``id_key`` and ``time_key``. A timestamp
may be RFC 3339 or a Unix epoch number (seconds, milliseconds, microseconds or
nanoseconds, told apart by magnitude); it is sent as RFC 3339.

Pacing: a record is sent when ``(its time - the first record's time) / speed``
seconds have passed since the start (``speed`` 0: as fast as possible).
``restamp`` shifts every timestamp by the same amount so that the first one is
that instant, keeping the file's spacing.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import decimal
import io
import json
import math
from pathlib import Path
from typing import Iterable, Iterator

from devices.fleet import format_timestamp

JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")


@dataclasses.dataclass(frozen=True)
class Record:
    """One line of the file: a message (dict) or, if it is not one, its raw bytes."""

    line: int
    message: dict | None
    raw: bytes | None = None
    time_ns: int | None = None


def parse_time(value) -> int | None:
    """Nanoseconds since the epoch from RFC 3339 or an epoch number; None if neither.

    >>> parse_time("2023-03-28T20:04:22Z")
    1680033862000000000
    >>> parse_time("2023-03-28T20:04:22.5+00:00"), parse_time(1680033862), parse_time(1680033862500)
    (1680033862500000000, 1680033862000000000, 1680033862500000000)
    >>> parse_time("yesterday") is None
    True
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            return None
        magnitude = abs(value)
        scale = 10**9 if magnitude < 1e11 else 10**6 if magnitude < 1e14 else 10**3 if magnitude < 1e17 else 1
        # Through the decimal text: a float's 53 bits cannot hold epoch nanoseconds.
        return int(decimal.Decimal(repr(value)) * scale) if isinstance(value, float) else value * scale
    if isinstance(value, str):
        text = value.strip()
        try:
            return parse_time(float(text)) if text and text.lstrip("+-").replace(".", "", 1).isdigit() else _rfc3339(text)
        except ValueError:
            return None
    return None


def _rfc3339(text: str) -> int:
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Keep the fraction apart: fromisoformat takes at most 6 digits of it.
    head, dot, rest = text.partition(".")
    nanos = 0
    if dot:
        n = len(rest) - len(rest.lstrip("0123456789"))
        nanos = int(rest[:n][:9].ljust(9, "0")) if n else 0
        text = head + rest[n:]
    stamp = dt.datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.timezone.utc)
    return int(stamp.timestamp()) * 10**9 + nanos


def _cell(text: str):
    """A CSV cell as JSON would have it: empty -> None, a finite number -> float/int, else the text."""
    if text == "":
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        return text
    return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number


def read_jsonl(lines: Iterable[str]) -> Iterator[tuple[int, dict | None, bytes | None]]:
    """``(line number, message, raw)`` for each non-empty line.

    >>> list(read_jsonl(['{"device_id": "a"}', '', 'oops']))
    [(1, {'device_id': 'a'}, None), (3, None, b'oops')]
    """
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if isinstance(message, dict):
            yield number, message, None
        else:
            yield number, None, line.encode()


def read_csv(lines: Iterable[str]) -> Iterator[tuple[int, dict | None, bytes | None]]:
    """``(line number, message, None)`` for each data row; ids and tags stay strings.

    >>> rows = ["device_id,timestamp,tag,temperature", "1,2023-03-28T20:04:22Z,Thermostat,25.2", "2,2023-03-28T20:04:23Z,Thermostat,"]
    >>> [m for _, m, _ in read_csv(rows)]
    [{'device_id': '1', 'timestamp': '2023-03-28T20:04:22Z', 'tag': 'Thermostat', 'temperature': 25.2}, {'device_id': '2', 'timestamp': '2023-03-28T20:04:23Z', 'tag': 'Thermostat', 'temperature': None}]
    """
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        return
    header = [h.strip() for h in header]
    text_keys = {"device_id", "tag", "sensor", "timestamp"}
    for number, row in enumerate(reader, 2):
        if not any(cell.strip() for cell in row):
            continue
        message = {}
        for key, cell in zip(header, row):
            cell = cell.strip()
            message[key] = (cell or None) if key in text_keys else _cell(cell)
        yield number, message, None


def normalise(message: dict, id_key: str = "device_id", time_key: str = "timestamp") -> tuple[dict, int | None]:
    """Rename the id and time keys to the schema's, and the time to RFC 3339; returns (message, time_ns).

    >>> normalise({"uid": 7, "ts": 1680033862, "temperature": 20.0}, id_key="uid", time_key="ts")
    ({'temperature': 20.0, 'device_id': '7', 'timestamp': '2023-03-28T20:04:22.000Z'}, 1680033862000000000)
    """
    out = dict(message)
    if id_key != "device_id" and id_key in out:
        out["device_id"] = out.pop(id_key)
    if out.get("device_id") is not None and not isinstance(out["device_id"], str):
        out["device_id"] = str(out["device_id"])
    time_ns = None
    if time_key in out:
        raw = out.pop(time_key)
        time_ns = parse_time(raw)
        out["timestamp"] = format_timestamp(time_ns) if time_ns is not None else raw
    return out, time_ns


def read_records(path: str | Path, id_key: str = "device_id", time_key: str = "timestamp") -> Iterator[Record]:
    """The records of a CSV or JSON-lines file, normalised to the message schema."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        reader = read_csv
    elif suffix in JSONL_SUFFIXES:
        reader = read_jsonl
    else:
        raise ValueError(f"{path}: want a .csv or JSON-lines ({', '.join(JSONL_SUFFIXES)}) file")
    with path.open(newline="", encoding="utf-8") as fh:
        text = io.StringIO(fh.read())
    for number, message, raw in reader(text):
        if message is None:
            yield Record(number, None, raw)
            continue
        message, time_ns = normalise(message, id_key, time_key)
        yield Record(number, message, None, time_ns)


def schedule(records: Iterable[Record], speed: float, restamp_at_ns: int | None = None) -> Iterator[tuple[float, Record]]:
    """``(seconds after the start to send at, record)``, records restamped if asked.

    A record without a time is sent with the one before it.

    >>> recs = [Record(1, {"device_id": "a"}, None, 10**9), Record(2, None, b"x"), Record(3, {"device_id": "a"}, None, 3 * 10**9)]
    >>> [due for due, _ in schedule(recs, speed=2.0)]
    [0.0, 0.0, 1.0]
    >>> [r.message["timestamp"] for _, r in schedule(recs[:1], speed=0, restamp_at_ns=0)]
    ['1970-01-01T00:00:00.000Z']
    """
    if speed < 0:
        raise ValueError(f"speed must be 0 (as fast as possible) or positive, got {speed}")
    first: int | None = None
    due = 0.0
    for record in records:
        if record.time_ns is not None:
            if first is None:
                first = record.time_ns
            if speed > 0:
                due = max(due, (record.time_ns - first) / 1e9 / speed)
            if restamp_at_ns is not None:
                time_ns = record.time_ns - first + restamp_at_ns
                message = {**record.message, "timestamp": format_timestamp(time_ns)}
                record = dataclasses.replace(record, message=message, time_ns=time_ns)
        yield due, record
