"""Per-entity state with a bound: the one least-recently-used map of the UDFs and their libraries.

Every UDF that remembers something per entity keeps it in one
:class:`EntityStore` keyed by Kapacitor's group ID, so that memory stays
bounded (least recently used entities are evicted past ``max_entities``,
and entities silent for ``idle_ns`` of stream time expire) and snapshots
work the same everywhere. The model store's resident models
(udfs/learn/store.py) are one too. It knows nothing of Kapacitor's protocol.

Examples
--------
>>> store = EntityStore(dict, max_entities=2)
>>> store.get("device_id=a,", 1)["n"] = 1
>>> store.get("device_id=b,", 2)["n"] = 2
>>> store.get("device_id=a,", 3)["n"] += 1   # a becomes the most recent
>>> store.get("device_id=c,", 4)["n"] = 3    # evicts b, the least recent
>>> list(store), store.evicted
(['device_id=a,', 'device_id=c,'], 1)
>>> restored = EntityStore.from_json(store.to_json(), dict, max_entities=2)
>>> restored.peek("device_id=a,")
{'n': 2}
>>> dropped = []
>>> def decode(state):
...     if "n" not in state:
...         raise ValueError("no n")
...     return state
>>> kept = EntityStore.from_json({"entities": [["a", 1, {"n": 1}], ["b", 2, {}]]}, dict, decode, dropped)
>>> list(kept), dropped
(['a'], ['b: no n'])
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Generic, Iterator, TypeVar

__all__ = ["EntityStore"]

S = TypeVar("S")


class EntityStore(Generic[S]):
    """A bounded map from entity key to state, least recently used first.

    Parameters
    ----------
    factory
        Called with no arguments to create the state of a new entity.
    max_entities
        At most this many entities are kept; using one more evicts the least
        recently used.
    idle_ns
        Entities not seen for this long in *stream* time (point timestamps,
        nanoseconds) are dropped; ``None`` keeps them until evicted. Stream
        time rather than wall-clock time so that replays behave like live
        runs.

    Attributes
    ----------
    evicted, expired
        How many entities were dropped for each reason since creation.
    """

    def __init__(self, factory: Callable[[], S], max_entities: int = 10_000, idle_ns: int | None = None):
        if max_entities < 1:
            raise ValueError(f"max_entities must be >= 1, got {max_entities}")
        if idle_ns is not None and idle_ns <= 0:
            raise ValueError(f"idle_ns must be positive or None, got {idle_ns}")
        self.factory = factory
        self.max_entities = max_entities
        self.idle_ns = idle_ns
        self.evicted = 0
        self.expired = 0
        # key -> [state, last_seen_ns]; order is recency of use.
        self._items: OrderedDict[str, list] = OrderedDict()

    def get(self, key: str, now: int = 0) -> S:
        """The state of ``key``, created if new, marked as used at ``now`` (ns)."""
        items = self._items
        entry = items.get(key)
        if entry is None:
            if self.idle_ns is not None:
                self._expire(now)
            entry = items[key] = [self.factory(), now]
            if len(items) > self.max_entities:
                items.popitem(last=False)
                self.evicted += 1
        else:
            items.move_to_end(key)
            if now > entry[1]:
                entry[1] = now
            if self.idle_ns is not None:
                self._expire(now)
        return entry[0]

    def _expire(self, now: int) -> None:
        # The least recently used entries are at the front, so stop at the
        # first one still fresh: amortised O(1) per call.
        limit = now - self.idle_ns
        items = self._items
        while items:
            key, entry = next(iter(items.items()))
            if entry[1] >= limit:
                break
            del items[key]
            self.expired += 1

    def put(self, key: str, state: S, now: int = 0) -> None:
        """Hold ``state`` for ``key`` (replacing what it held), marked as used at ``now``; past the bound the
        least recently used entity goes.

        >>> store = EntityStore(dict, max_entities=1)
        >>> store.put("a", {"n": 1}); store.put("b", {"n": 2})
        >>> list(store), store.evicted
        (['b'], 1)
        """
        items = self._items
        items[key] = [state, now]
        items.move_to_end(key)
        while len(items) > self.max_entities:
            items.popitem(last=False)
            self.evicted += 1

    def touch(self, key: str) -> None:
        """Mark ``key`` as the most recently used, without creating it or moving its stream time."""
        if key in self._items:
            self._items.move_to_end(key)

    def peek(self, key: str, default: Any = None) -> S | Any:
        """The state of ``key`` without creating it or marking it used."""
        entry = self._items.get(key)
        return default if entry is None else entry[0]

    def pop(self, key: str, default: Any = None) -> S | Any:
        """Remove ``key`` and return its state."""
        entry = self._items.pop(key, None)
        return default if entry is None else entry[0]

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def items(self) -> Iterator[tuple[str, S]]:
        """``(key, state)`` pairs, least recently used first."""
        return ((k, e[0]) for k, e in self._items.items())

    def clear(self) -> None:
        """Forget every entity."""
        self._items.clear()

    def to_json(self, encode: Callable[[S], Any] = lambda s: s) -> dict:
        """A JSON-able dict of all entities, in recency order.

        Parameters
        ----------
        encode
            Turns one entity's state into JSON-able data; identity by default.
        """
        return {"entities": [[k, e[1], encode(e[0])] for k, e in self._items.items()]}

    @classmethod
    def from_json(
        cls,
        data: dict,
        factory: Callable[[], S],
        decode: Callable[[Any], S] = lambda s: s,
        dropped: list[str] | None = None,
        **bounds: Any,
    ) -> "EntityStore[S]":
        """Rebuild a store from :meth:`to_json` output.

        Builds a new store and leaves any existing one alone, so a failed
        restore changes nothing. With a ``dropped`` list, an entity whose
        state ``decode`` refuses (ValueError, TypeError) is left out, and
        ``"key: why"`` appended to the list, rather than failing the whole
        restore: that entity starts afresh.

        Raises
        ------
        ValueError
            If ``data`` does not have the shape :meth:`to_json` writes.
        """
        store = cls(factory, **bounds)
        try:
            entries = data["entities"]
            for key, last_seen, state in entries:
                if not isinstance(key, str) or not isinstance(last_seen, int):
                    raise TypeError(f"bad entity entry for {key!r}")
                if dropped is None:
                    store._items[key] = [decode(state), last_seen]
                    continue
                try:
                    store._items[key] = [decode(state), last_seen]
                except (TypeError, ValueError) as exc:
                    dropped.append(f"{key}: {exc}")
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"entity store snapshot is malformed: {exc}") from exc
        while len(store._items) > store.max_entities:
            store._items.popitem(last=False)
            store.evicted += 1
        return store

    @staticmethod
    def most_recent(data: dict, size: int, limit: int) -> dict:
        """:meth:`to_json` output of ``size`` bytes cut to the most recently used entities that fit ``limit`` bytes
        (entities of about the same size; a tenth to spare).

        >>> EntityStore.most_recent({"entities": [["a", 1, 0], ["b", 2, 0], ["c", 3, 0], ["d", 4, 0]]}, 400, 250)
        {'entities': [['c', 3, 0], ['d', 4, 0]]}
        """
        entities = data["entities"]
        keep = int(len(entities) * limit / size * 0.9)
        return {"entities": entities[len(entities) - keep:] if keep else []}
