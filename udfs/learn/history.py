"""A bounded history per entity, beside its champion in the store's folder, and the pin the trainer honours.

Layout: ``<store>/.history/<the champion file's name less .json>/`` holds
``records.jsonl`` (one record per line, oldest first), ``v<N>.json`` for
every version kept that carries a document (the document as the champion's
file held it, byte for byte) and, while the champion is pinned, ``pinned``.
A folder of its own per entity: the store folder's listing
(``ModelStore.keys`` and ``count``) does not change, since ``.history``
starts with a dot and has no ``.json`` suffix.

A record is a JSON object; ``event`` says what happened:

- ``deployed``: a challenger became champion; ``reason`` ``first`` (no
  champion), ``better`` (it scored strictly better) or ``unjudged`` (the
  champion could not be judged on this window's hold-out rows);
- ``kept``: a challenger was kept out; ``reason`` ``not_better``,
  ``below_accuracythreshold`` or ``pinned``; ``version`` is the champion's
  that stayed (null when there was none), ``metric`` and ``value`` the
  challenger's score;
- ``rollback`` and ``imported``: a document put back as champion by
  ``tickml models``; ``from`` is the version it had, ``version`` the one it
  has now;
- ``pin`` and ``unpin``.

Model records also carry ``time`` (when recorded, UTC), ``metric`` and
``value`` (the hold-out score that judged it), and ``window`` (its rows and
the time of its newest one).

Bounded: a reader sees at most ``keep`` records with a document (deployed,
rollback, imported) and ``keep`` others, the newest; the documents of older
versions are deleted when a version is added (versions only go up, so the
newest ``keep`` are the highest), and the records file is rewritten to its
bound when it has grown to ``COMPACT_FACTOR`` times it.

Why appended, not rewritten per record: the trainer records every window,
and a whole-file rewrite (temporary file, rename) costs about as much as the
rest of a window's training on a virtual disk (0.8 ms of 3.1 ms for a
2-feature linear model of 80 rows), an append of one line some tens of
microseconds. Each record is one ``write`` of one
line to a file opened ``O_APPEND``, so lines never interleave; a line a
crash cut short is skipped by readers and ended before the next append.
Everything else (documents, the pin, a compaction) is written whole
(``write_atomic``: a temporary file renamed into place), so a reader sees
the old file or the new one. A deployed version's document is the file the
store has just written as champion, linked into the history under its
``v<N>.json`` name (``add``'s ``same_as``), not a second copy: creating a
file costs this disk tens to hundreds of microseconds, a link a few. Both
names then share one file, which nothing changes in place (every write
above is a new file renamed over the old name), so replacing the champion
later leaves the history's document as it was. Changes happen under the
store folder's lock (``ModelStore._locked``), which the train UDF and
``tickml models`` both take, so a compaction never drops a record appended
meanwhile.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

FOLDER = ".history"
RECORDS = "records.jsonl"
PINNED = "pinned"
DEFAULT_KEEP = 20
# The records file is rewritten to its bound once it holds about this many times as many records.
COMPACT_FACTOR = 4
_RECORD_BYTES = 512  # a generous size of one record, for the byte size that stands for COMPACT_FACTOR
# Events whose record keeps the document (v<N>.json): what a rollback can return to.
VERSIONED = ("deployed", "rollback", "imported")
EVENTS = (*VERSIONED, "kept", "pin", "unpin")


def write_atomic(path: Path | str, blob: bytes, fsync: bool = False) -> os.stat_result:
    """Write ``blob`` to ``path`` whole: a reader sees the old file or the new one, never a part.

    Returns the written file's ``stat``, taken before it is renamed into
    place (a rename changes neither its inode, size nor modification time),
    so it describes this write even if another writer replaces ``path``
    right after. The temporary name is unique per process and thread (two
    writers may race for one path), and removed when the write fails (disk
    full, read-only).
    """
    path = os.fspath(path)
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        # os-level calls, no buffered file object: this runs for every window the trainer judges.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
        try:
            view = memoryview(blob)
            while view:
                view = view[os.write(fd, view):]
            if fsync:
                os.fsync(fd)
            stat = os.fstat(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError:
        _unlink(tmp)
        raise
    return stat


def now_iso(seconds: float | None = None) -> str:
    """UTC time as the documents write it (``created``)."""
    at = datetime.now(timezone.utc) if seconds is None else datetime.fromtimestamp(seconds, timezone.utc)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def model_record(event: str, doc: dict, reason: str = "", **extra) -> dict:
    """A record of ``doc`` (deployed, kept out, restored): its version, score and window.

    >>> r = model_record("kept", {"version": 3, "metric": {"mape": 0.05}, "primary_metric": "mape",
    ...                           "rows": 30, "window_rows": 40, "holdout_rows": 10, "task": "regression"},
    ...                  "pinned", time="2026-01-01T00:00:00.000Z")
    >>> r["event"], r["version"], r["metric"], r["value"], r["reason"], r["window"]["window_rows"]
    ('kept', 3, 'mape', 0.05, 'pinned', 40)
    """
    metric = doc.get("primary_metric") or ("accuracy" if doc.get("task") == "classification" else "mape")
    if metric not in doc.get("metric", {}) and doc.get("metric"):
        metric = next(iter(doc["metric"]))
    window = {name: doc[name] for name in ("rows", "window_rows", "holdout_rows", "until", "windows_until")
              if doc.get(name) is not None}
    record = {"event": event, "version": doc["version"], "time": extra.pop("time", None) or now_iso(),
              "metric": metric, "value": doc.get("metric", {}).get(metric), "window": window}
    if reason:
        record["reason"] = reason
    record.update(extra)
    return record


class History:
    """One entity's history folder. Not locked here: callers hold the store folder's lock to change it."""

    def __init__(self, folder: Path | str, keep: int | None = None, fsync: bool = False):
        if keep is not None and keep < 1:
            raise ValueError(f"history must keep at least 1 version, got {keep!r}")
        # A string, joined with os.path: the trainer writes a record every window, and pathlib's joins and
        # conversions cost more than the system calls they name.
        self._dir = os.fspath(folder)
        self.keep = keep or DEFAULT_KEEP
        self.fsync = fsync

    @property
    def folder(self) -> Path:
        return Path(self._dir)

    def read(self) -> dict:
        """``{"keep", "pinned", "records"}``, the records within the bound; empty when there are none (or
        they cannot be read: a history is a record, never a reason to stop training)."""
        return {"keep": self.keep, "pinned": self.pinned, "records": _bounded(self._lines(), self.keep)[0]}

    @property
    def pinned(self) -> bool:
        return os.path.exists(os.path.join(self._dir, PINNED))  # one stat: the trainer asks every window

    def document(self, version: int) -> bytes | None:
        """Version ``version``'s document as it was stored, or None when the history holds it no more."""
        try:
            return (self.folder / f"v{int(version)}.json").read_bytes()
        except OSError:
            return None

    def add(self, record: dict, blob: bytes | None = None, *, pinned: bool | None = None,
            same_as: tuple[str, Callable[[os.stat_result], bool]] | None = None) -> None:
        """Append ``record`` (with ``blob``, the document, for a versioned one), pin or unpin if asked,
        keep the bound.

        ``same_as``: ``(path, check)``, a file that holds ``blob`` already (the
        champion's, just written): it is linked as the version's document if
        ``check`` accepts the linked file's ``stat`` (it is still the file the
        caller wrote, not one another writer put there since); otherwise, or
        where links fail, ``blob`` is written.
        """
        created = False
        if blob is not None or pinned is not None:
            created = _mkdir(self._dir)
        if blob is not None:
            document = os.path.join(self._dir, f"v{record['version']}.json")
            if same_as is None or not _linked(same_as, document):
                write_atomic(document, blob, self.fsync)
        if pinned:
            write_atomic(os.path.join(self._dir, PINNED), json.dumps(record).encode(), self.fsync)
        elif pinned is not None:
            _unlink(os.path.join(self._dir, PINNED))
        size = self._append(json.dumps(record, separators=(",", ":")).encode() + b"\n")
        if size > COMPACT_FACTOR * 2 * self.keep * _RECORD_BYTES:
            kept, _ = _bounded(self._lines(), self.keep)
            write_atomic(os.path.join(self._dir, RECORDS),
                         b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in kept), self.fsync)
        if blob is not None and not created:  # a folder made just now holds this one version only
            # The names Path.glob("v*.json") finds, listed without pathlib's cost.
            versions = sorted(int(name[1:-5]) for name in os.listdir(self._dir)
                              if name[:1] == "v" and name[-5:] == ".json" and name[1:-5].isdigit())
            for version in versions[:-self.keep]:
                _unlink(os.path.join(self._dir, f"v{version}.json"))

    def highest_version(self) -> int:
        """The highest version any record names (0 without records)."""
        return max((r["version"] for r in self._lines() if type(r.get("version")) is int), default=0)

    def remove(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)

    def _append(self, line: bytes) -> int:
        """Append one line in one write; the file's size after it."""
        path, flags = os.path.join(self._dir, RECORDS), os.O_RDWR | os.O_APPEND | os.O_CREAT
        try:
            fd = os.open(path, flags, 0o644)
        except FileNotFoundError:  # the entity's first record (one syscall less for every other)
            _mkdir(self._dir)
            fd = os.open(path, flags, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # a line a crash cut short: ended here, skipped by readers
            os.write(fd, line)
            if self.fsync:
                os.fsync(fd)
            return size + len(line)
        finally:
            os.close(fd)

    def _lines(self) -> list[dict]:
        try:
            data = (self.folder / RECORDS).read_bytes()
        except OSError:
            return []
        records = []
        for line in data.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # cut short by a crash
            if isinstance(record, dict):
                records.append(record)
        return records


def _mkdir(folder: str) -> bool:
    """``Path(folder).mkdir(parents=True, exist_ok=True)``, in the same system calls, without pathlib; whether
    it made the folder."""
    try:
        os.mkdir(folder)
    except FileNotFoundError:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        if not os.path.isdir(folder):
            raise
        return False
    return True


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _linked(same_as: tuple[str, Callable[[os.stat_result], bool]], document: str) -> bool:
    """Whether ``document`` is now a link to the file ``same_as`` names, checked; False leaves no link."""
    source, check = same_as
    try:
        os.link(source, document)
    except OSError:  # one there already (a version number met again), or a file system without links
        return False
    try:
        if check(os.stat(document)):
            return True
    except OSError:
        pass
    try:
        os.unlink(document)
    except OSError:
        pass
    return False


def _bounded(records: list[dict], keep: int) -> tuple[list[dict], list[dict]]:
    """The newest ``keep`` versioned records and the newest ``keep`` others, in their order; and the rest.

    >>> rs = [{"event": "deployed", "version": v} for v in range(1, 5)] + [{"event": "kept", "version": 5}]
    >>> [r["version"] for r in _bounded(rs, 2)[0]], [r["version"] for r in _bounded(rs, 2)[1]]
    ([3, 4, 5], [1, 2])
    """
    versioned = [i for i, r in enumerate(records) if r.get("event") in VERSIONED][-keep:]
    others = [i for i, r in enumerate(records) if r.get("event") not in VERSIONED][-keep:]
    stay = set(versioned) | set(others)
    return [r for i, r in enumerate(records) if i in stay], [r for i, r in enumerate(records) if i not in stay]
