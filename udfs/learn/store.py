"""The per-entity model store: JSON documents in memory, bounded, durable on disk.

- Every ``put`` writes the document to ``directory/<quoted key>.json``
  atomically (temporary file + ``os.replace``), so a reader never sees half a
  model and a crash leaves the old model or the new one. ``fsync=True`` also
  survives power loss, at a few milliseconds per write; it is off by default
  because models are retrained every window anyway.
- At most ``max_resident`` entities are held in memory (least recently used
  first out). Since everything is already on disk, eviction just drops the
  in-memory copy; the next access loads it back.
- A train process and a predict process can open the same directory. A
  resident model is re-checked against the file (inode, mtime, size) at most
  once per ``refresh_seconds``, so the predictor picks up a newer champion
  within that delay at the cost of one ``stat`` per entity per interval.
  Keys found missing on disk are remembered for the same interval.
- ``export_state``/``import_state`` carry every model as JSON (for Kapacitor
  snapshot/restore); importing keeps, per key, the higher model version.
- Beside the champions, a bounded history per entity (``history``: every
  version deployed, every challenger kept out and why, what ``tickml models``
  did) and the pin the trainer honours. ``restore`` puts an earlier version
  (``rollback``) or an imported document back as champion, under the next
  version number: versions only go up, as ``supersedes`` and the trainer's
  numbering (champion + 1) need.
- The fleet-wide model has a namespace of its own: its key is ``FLEET_KEY``,
  an object no entity key (a string) equals, its file is ``__fleet__.json``
  and a snapshot carries it apart from the entities' models (``"fleet"``).
  The one entity whose file would be that name, a device whose id is
  ``__fleet__``, is stored as ``%5F%5Ffleet%5F%5F.json``, so a device cannot
  replace the fleet model whatever its id. Stores written before keep their
  fleet model where it was; a snapshot without ``"fleet"`` is from before,
  and its ``__fleet__`` document is the fleet model.

- ``offer`` stores a document only if it supersedes the stored one
  (``document.supersedes``: higher version, ties broken the same way
  everywhere), compared with the file itself under a lock every process
  offering to the directory takes. Two writers use it on a shard: the train
  UDF deploying (``shared.SharedModelStore``) and the materialiser applying
  the shared model topic (``materialise``); neither can put back a champion
  older than one the other has just written.

Where a UDF's store may be (inside the model root the UDF service sets) is
checked in ``paths``; ``StoreOptions`` below declares the options.

One module of more than 350 lines because the file layout, the in-memory
copies and the lock are one contract (which file holds a key, when a copy is
stale, who may replace it); split, each part would have to know the others'.

In memory an entity costs its encoded document (bytes) plus a compiled model
(one small array for linear models), about 1 KB for a 5-feature logistic model.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import quote, unquote

from udfs.entity_store import EntityStore

from .compiled import CompiledModel
from .document import SCHEMA_VERSION, decode, encode, supersedes, validate
from .fleet import FLEET_KEY, FLEET_NAME, FleetKey, document_key
from .history import FOLDER, VERSIONED, History, model_record, now_iso, write_atomic
from .paths import MODEL_ROOT

log = logging.getLogger(__name__)

STATE_KIND = "tickml.learn.store"


@dataclass(frozen=True)
class StoreOptions:
    """Where a UDF keeps its models: the options train and predict share, declared once
    (``udfs.agent.options.field_options`` makes them option rows)."""

    model_dir: str = field(default=MODEL_ROOT.path, metadata={"option": {
        "type": "string", "help": "Directory of model stores, inside the model root (TICKML_MODEL_ROOT, "
                                  "its default); a model is <model_dir>/<model>/."}})
    max_resident: int = field(default=100_000, metadata={"option": {
        "type": "int", "min": 1, "help": "Models kept in memory; the rest are read from disk."}})


_SUFFIX = ".json"
_LOCK = ".lock"  # no .json suffix: never taken for a model
_HASHED = "#"  # quote() escapes '#', so no quoted key starts with it
# The fleet model's file; the entity key that quote()s to the same name is stored with its
# underscores escaped instead (unquote() reads both back).
_FLEET_FILE = FLEET_NAME + _SUFFIX


class _Entry:
    __slots__ = ("blob", "model", "stamp", "checked")

    def __init__(self, blob: bytes | None, model: CompiledModel | None, stamp: int, checked: float):
        self.blob = blob  # None: known to be absent on disk (negative cache)
        self.model = model
        self.stamp = stamp
        self.checked = checked


class ModelStore:
    """Keyed model documents with a memory bound, a disk copy and JSON snapshots.

    Parameters
    ----------
    directory
        Folder of the JSON files; None keeps models in memory only (then
        ``max_resident`` must be None, as evicted models would be lost).
    max_resident
        Most entities kept in memory; None for no bound.
    refresh_seconds
        Longest time a resident model is used before checking the file again.
    fsync
        Flush each write to the device before renaming it into place.
    clock
        Monotonic clock (seconds), replaceable in tests.
    history
        Versions (and, apart, other records) each entity's history keeps;
        None: ``history.DEFAULT_KEEP`` (20).

    Examples
    --------
    >>> import tempfile
    >>> doc = {"schema": 1, "key": "dev-1", "version": 1, "algorithm": "linear",
    ...        "task": "regression", "target": "y", "features": ["x"], "transform": "",
    ...        "min": [0.0], "max": [1.0], "params": {"coef": [2.0], "intercept": 1.0},
    ...        "hyper": {}, "metric": {"mape": 0.01}, "rows": 30, "window_rows": 40,
    ...        "created": "2024-01-01T00:00:00.000Z"}
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     ModelStore(folder).put(doc)
    ...     other = ModelStore(folder, max_resident=10)   # e.g. the predict process
    ...     other.model("dev-1").predict_row([0.5]), other.keys()
    ...     other.offer(dict(doc, version=2)), other.offer(doc), other.model("dev-1").version
    True
    (2.0, ['dev-1'])
    (True, False, 2)
    """

    def __init__(self, directory: str | os.PathLike | None = None, *, max_resident: int | None = None,
                 refresh_seconds: float = 1.0, fsync: bool = False,
                 clock: Callable[[], float] = time.monotonic, history: int | None = None):
        if directory is None and max_resident is not None:
            raise ValueError("max_resident needs a directory: evicted models would be lost")
        if max_resident is not None and max_resident < 1:
            raise ValueError(f"max_resident must be >= 1 or None, got {max_resident!r}")
        self.directory = None if directory is None else Path(directory)
        # The same as strings, which the per-window paths are joined to (pathlib costs more than the calls).
        self._dir = None if directory is None else os.fspath(self.directory)
        self._history_dir = None if directory is None else os.path.join(self._dir, FOLDER)
        self.max_resident = max_resident
        self.refresh_seconds = refresh_seconds
        self.fsync = fsync
        self.clock = clock
        if history is not None and history < 1:
            raise ValueError(f"history must keep at least 1 version, got {history!r}")
        self.history_keep = history
        # Without a bound every model stays resident (a store without a directory cannot reload one).
        self._resident: EntityStore[_Entry] = EntityStore(lambda: None, max_entities=max_resident or sys.maxsize)
        self._offering = threading.Lock()  # flock() does not exclude threads sharing the lock file
        self._lock_file: int | None = None
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)

    # -- reading ---------------------------------------------------------------

    def model(self, key: str | FleetKey) -> CompiledModel | None:
        """The compiled model for ``key`` (an entity's, or ``FLEET_KEY``'s), loaded from disk if needed, or None."""
        entry = self._resident.peek(key)
        if entry is None:
            if self.directory is None:
                return None
            entry = self._load(key)
            self._remember(key, entry)
        elif self.directory is not None and self.clock() - entry.checked >= self.refresh_seconds:
            entry = self._revalidate(key, entry)
        else:
            self._resident.touch(key)
        return entry.model

    def document(self, key: str | FleetKey) -> dict | None:
        """The model document for ``key`` (a fresh dict), or None."""
        if self.model(key) is None:
            return None
        return decode(self._resident.peek(key).blob)

    def __contains__(self, key: str | FleetKey) -> bool:
        return self.model(key) is not None

    def keys(self) -> list[str]:
        """Every entity key with a model, resident or on disk, sorted (the fleet model is not an entity's)."""
        found = {k for k, e in self._resident.items() if e.blob is not None and k is not FLEET_KEY}
        if self.directory is not None:
            for path in self.directory.glob("*" + _SUFFIX):
                if path.name != _FLEET_FILE:
                    found.add(self._key_of(path))
        return sorted(found)

    def __len__(self) -> int:
        return len(self.keys())

    def count(self, limit: int) -> int:
        """How many entity models there are, counting no further than ``limit + 1`` (a cheap "more than limit?").

        Reads directory entries only, never a model: the answer costs the same
        with 100 models on disk or 100,000 beyond the limit.
        """
        if self.directory is None:
            return min(sum(1 for k, e in self._resident.items() if e.blob is not None and k is not FLEET_KEY),
                       limit + 1)
        n = 0
        with os.scandir(self.directory) as entries:
            for entry in entries:
                if entry.name.endswith(_SUFFIX) and not entry.name.startswith(".") and entry.name != _FLEET_FILE:
                    n += 1
                    if n > limit:
                        break
        return n

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    @property
    def resident(self) -> int:
        """Entries held in memory now (including remembered absences)."""
        return len(self._resident)

    # -- writing ---------------------------------------------------------------

    def put(self, doc: dict, key: str | FleetKey | None = None) -> bool:
        """Store ``doc`` under ``key`` (default ``doc["key"]``, an entity's), replacing any model there;
        True once stored.

        The fleet model goes under ``FLEET_KEY``; its document's key is ``FLEET_NAME``.
        """
        key, blob, model = self._checked(doc, key)
        stamp = self._write(key, blob) if self.directory is not None else 0
        self._remember(key, _Entry(blob, model, stamp, self.clock()))
        return True

    def offer(self, doc: dict, key: str | FleetKey | None = None, *,
              before_write: Callable[[str | FleetKey, bytes], None] | None = None) -> bool:
        """Store ``doc`` only if it supersedes the model stored under its key; True if it did.

        The stored model is read from its file, not from memory, under the
        directory's lock (``flock``, which every process offering here takes),
        so the comparison and the write are one step for all of them.
        ``before_write(key, encoded)`` runs under the lock once ``doc`` has
        won and before it is written: the shared home publishes it there
        first, so no shard ever holds a champion the topic lacks.
        """
        key, blob, model = self._checked(doc, key)
        with self._locked():
            current = self._load(key) if self.directory is not None else self._resident.peek(key)
            if current is not None and current.blob is not None and not supersedes(doc, decode(current.blob)):
                if self.directory is not None:
                    self._remember(key, current)
                return False
            if before_write is not None:
                before_write(key, blob)
            stamp = self._write(key, blob) if self.directory is not None else 0
            self._remember(key, _Entry(blob, model, stamp, self.clock()))
        return True

    def _checked(self, doc: dict, key: str | FleetKey | None) -> tuple[str | FleetKey, bytes, CompiledModel]:
        validate(doc)
        if key is None:
            key = doc["key"]
        if not (key is FLEET_KEY or isinstance(key, str) and key):
            raise ValueError(f"model key must be a non-empty string or FLEET_KEY, got {key!r}")
        if doc["key"] != document_key(key):
            raise ValueError(f"a model stored under {key!r} must have key {document_key(key)!r}, got {doc['key']!r}")
        return key, encode(doc), CompiledModel(doc)

    def delete(self, key: str | FleetKey) -> None:
        self._resident.pop(key, None)
        if self.directory is not None:
            try:
                self._path(key).unlink()
            except FileNotFoundError:
                pass

    # -- snapshot / restore ----------------------------------------------------

    def export_state(self, models: bool = True) -> dict:
        """All models as one JSON-able object (none with ``models=False``): the entities' under
        ``"models"``, the fleet model under ``"fleet"`` (None when there is none)."""
        return {"schema": SCHEMA_VERSION, "kind": STATE_KIND,
                "models": [doc for doc in map(self.document, self.keys()) if doc is not None] if models else [],
                "fleet": self.document(FLEET_KEY) if models else None}

    def import_state(self, state: dict) -> int:
        """Load models exported by :meth:`export_state`; returns how many were applied.

        Everything is validated before anything is stored, so a bad snapshot
        changes nothing. A model replaces the stored one only if its version
        is higher (the disk copy may be newer than the snapshot).
        """
        if not isinstance(state, dict) or state.get("kind") != STATE_KIND:
            raise ValueError(f"not a model store snapshot (kind must be {STATE_KIND!r})")
        if state.get("schema") != SCHEMA_VERSION:
            raise ValueError(f"model store snapshot has schema version {state.get('schema')!r}; "
                             f"this tickml reads version {SCHEMA_VERSION}")
        docs = state.get("models")
        if not isinstance(docs, list):
            raise ValueError("model store snapshot: 'models' must be a list")
        # A snapshot without "fleet" is from before the fleet had a namespace of
        # its own: its FLEET_NAME document is the fleet model.
        legacy = "fleet" not in state
        placed = []
        for doc in docs:
            validate(doc)
            placed.append((FLEET_KEY if legacy and doc["key"] == FLEET_NAME else doc["key"], doc))
        if not legacy and state["fleet"] is not None:
            fleet = validate(state["fleet"])
            if fleet["key"] != FLEET_NAME:
                raise ValueError(f"model store snapshot: the fleet model must have key {FLEET_NAME!r}, "
                                 f"got {fleet['key']!r}")
            placed.append((FLEET_KEY, fleet))
        for _, doc in placed:
            CompiledModel(doc)  # params that do not compile are a bad snapshot too
        applied = 0
        for key, doc in placed:
            current = self.model(key)
            if current is None or doc["version"] > current.version:
                self.put(doc, key)
                applied += 1
        return applied

    # -- history and pin (``history``) ------------------------------------------

    def history(self, key: str | FleetKey) -> History | None:
        """The entity's history folder (None for a store without a directory, which keeps none)."""
        if self.directory is None:
            return None
        return History(os.path.join(self._history_dir, self._name(key)[: -len(_SUFFIX)]), self.history_keep,
                       self.fsync)

    def records(self, key: str | FleetKey) -> list[dict]:
        """The entity's history, oldest first."""
        history = self.history(key)
        return [] if history is None else history.read()["records"]

    def pinned(self, key: str | FleetKey) -> bool:
        """Whether the entity's champion is pinned (the trainer then deploys no challenger)."""
        history = self.history(key)
        return history is not None and history.pinned

    def record(self, key: str | FleetKey, record: dict, doc: dict | None = None, *, stored: bool = False) -> None:
        """Append ``record`` (and ``doc``, the document of a deployed version) to the entity's history.

        ``stored``: ``doc`` is the champion this store has just stored under
        ``key`` (``put``); its history document is then the champion's file
        itself, linked, with the bytes it was stored as (neither encoded nor
        written again), as long as the file is still the one this store wrote.

        A history that cannot be written (disk full) is logged, never raised:
        the champion was stored, and training goes on.
        """
        history = self.history(key)
        if history is None:
            return
        blob = same_as = None
        if doc is not None:
            entry = self._resident.peek(key) if stored else None
            if entry is not None and entry.blob is not None and entry.stamp:
                stamp = entry.stamp
                blob, same_as = entry.blob, (self._file(key), lambda st: _stamp(st) == stamp)
            else:
                blob = encode(doc)
        try:
            with self._locked():
                history.add(record, blob, same_as=same_as)
        except OSError as exc:
            log.warning("history of %r not written: %s", key, exc)

    def pin(self, key: str, pinned: bool = True) -> dict:
        """Pin (or unpin) the entity's champion; the record written. KeyError when it has no champion."""
        with self._locked():
            current = self._champion(key)
            record = {"event": "pin" if pinned else "unpin", "version": current["version"], "time": now_iso()}
            self.history(key).add(record, pinned=pinned)
        return record

    def restore(self, key: str, version: int | None = None) -> dict:
        """Roll back: version ``version`` of the entity's history (default: the version deployed before the
        champion) becomes champion, under the next version number; the document stored.

        KeyError when the entity has no champion; ValueError when the history
        holds no such version (the message names the ones it holds).
        """
        with self._locked():
            current = self._champion(key)
            history = self.history(key)
            versioned = [r for r in history.read()["records"] if r.get("event") in VERSIONED]
            held = sorted({r["version"] for r in versioned})
            if version is None:
                mine = [i for i, r in enumerate(versioned) if r["version"] == current["version"]]
                earlier = versioned[:mine[-1]] if mine else [r for r in versioned if r["version"] != current["version"]]
                if not earlier:
                    raise ValueError(f"the history of {key!r} holds no version before the champion "
                                     f"(version {current['version']}); it holds {held or 'none'}")
                version = earlier[-1]["version"]
            elif version == current["version"]:
                raise ValueError(f"version {version} of {key!r} is the champion already")
            blob = history.document(version) if version in held else None
            if blob is None:
                raise ValueError(f"the history of {key!r} holds no version {version}; it holds "
                                 f"{', '.join(map(str, held)) or 'none'}")
            return self._install(key, decode(blob), "rollback", current, history)

    def install(self, key: str, doc: dict) -> dict:
        """Make ``doc`` (imported) the entity's champion, whatever its version: under the next version
        number when the entity has a champion or a history, as it is otherwise; the document stored."""
        self._checked(doc, key)
        with self._locked():
            current = self._load(key) if self.directory is not None else None
            current = decode(current.blob) if current is not None and current.blob is not None else None
            return self._install(key, doc, "imported", current, self.history(key))

    def forget(self, key: str) -> bool:
        """Delete the entity's champion and its history (its pin too); whether it had a champion."""
        with self._locked():
            if self.directory is not None:
                had = self._load(key).blob is not None
            else:
                had = getattr(self._resident.peek(key), "blob", None) is not None
            self.delete(key)
            if self.directory is not None:
                self.history(key).remove()
        return had

    def _champion(self, key: str) -> dict:
        """The champion's document read from its file (the caller holds the lock); KeyError without one."""
        if self.directory is None:
            raise KeyError(f"a store without a directory keeps no history ({key!r})")
        current = self._load(key)
        if current.blob is None:
            raise KeyError(f"no champion for {key!r} in {self.directory}")
        return decode(current.blob)

    def _install(self, key: str, doc: dict, event: str, current: dict | None, history: History | None) -> dict:
        """Store ``doc`` as champion above every version the entity had, and record ``event`` (lock held)."""
        base = max(current["version"] if current is not None else 0,
                   history.highest_version() if history is not None else 0)
        restored = dict(doc, version=doc["version"] if doc["version"] > base else base + 1)
        key, blob, model = self._checked(restored, key)
        stamp = self._write(key, blob) if self.directory is not None else 0
        self._remember(key, _Entry(blob, model, stamp, self.clock()))
        if history is not None:
            history.add(model_record(event, restored, **{"from": doc["version"]}), blob)
        return restored

    # -- internals -------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._offering:
            if self.directory is None:
                yield
                return
            if self._lock_file is None:
                self._lock_file = os.open(self.directory / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self._lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    def _path(self, key: str | FleetKey) -> Path:
        return self.directory / self._name(key)

    def _file(self, key: str | FleetKey) -> str:
        """``_path`` as a string, for the calls made every window."""
        return os.path.join(self._dir, self._name(key))

    @staticmethod
    def _name(key: str | FleetKey) -> str:
        """The champion file's name of ``key``."""
        if key is FLEET_KEY:
            return _FLEET_FILE
        name = quote(key, safe="")
        if len(name) > 200:  # file systems limit names to 255 bytes
            name = _HASHED + sha256(key.encode()).hexdigest()
        elif name == FLEET_NAME:
            name = name.replace("_", "%5F")  # the fleet's file name is not an entity's
        return name + _SUFFIX

    def _key_of(self, path: Path) -> str:
        name = path.name[: -len(_SUFFIX)]
        if name.startswith(_HASHED):
            return decode(path.read_bytes())["key"]
        return unquote(name)

    def _write(self, key: str, blob: bytes) -> int:
        # The stamp of the file written, whatever another writer renames over it next.
        return _stamp(write_atomic(self._file(key), blob, self.fsync))

    def _load(self, key: str) -> _Entry:
        path = self._file(key)
        now = self.clock()
        try:
            with open(path, "rb") as f:
                stamp = _stamp(os.fstat(f.fileno()))
                blob = f.read()
        except FileNotFoundError:
            return _Entry(None, None, 0, now)
        try:
            doc = decode(blob)
            model = CompiledModel(doc)
        except (ValueError, KeyError, TypeError) as exc:
            # A bad file must not stop predictions for the other entities.
            log.warning("ignoring unreadable model file %s: %s", path, exc)
            return _Entry(None, None, stamp, now)
        return _Entry(blob, model, stamp, now)

    def _revalidate(self, key: str, entry: _Entry) -> _Entry:
        try:
            stamp = _stamp(os.stat(self._file(key)))
        except FileNotFoundError:
            stamp = 0
        if stamp == entry.stamp:
            entry.checked = self.clock()
            self._resident.touch(key)
            return entry
        fresh = self._load(key)
        self._remember(key, fresh)
        return fresh

    def _remember(self, key: str, entry: _Entry) -> None:
        self._resident.put(key, entry)


def _stamp(st: os.stat_result) -> int:
    # One int instead of a tuple: this is kept for every resident entity.
    return hash((st.st_ino, st.st_mtime_ns, st.st_size))
