"""EntityStore: LRU bound, idle expiry in stream time, JSON round trip."""

import json

import pytest

from udfs.agent import EntityStore

S = 1_000_000_000


def test_lru_eviction_keeps_the_most_recent():
    store = EntityStore(list, max_entities=3)
    for i, key in enumerate("abcadef"):
        store.get(key, i).append(i)
    assert list(store) == ["d", "e", "f"]
    assert store.evicted == 3
    assert len(store) == 3


def test_recently_used_survives():
    store = EntityStore(dict, max_entities=2)
    store.get("a", 1)
    store.get("b", 2)
    store.get("a", 3)
    store.get("c", 4)
    assert "a" in store and "b" not in store


def test_idle_expiry_in_stream_time():
    store = EntityStore(dict, max_entities=100, idle_ns=10 * S)
    store.get("a", 0)
    store.get("b", 5 * S)
    store.get("c", 12 * S)       # a idle for 12 s: expired; b for 7 s: kept
    assert list(store) == ["b", "c"] and store.expired == 1
    store.get("c", 30 * S)       # b idle for 25 s
    assert list(store) == ["c"] and store.expired == 2


def test_json_round_trip_keeps_order_and_times():
    store = EntityStore(lambda: {"n": 0}, max_entities=10)
    for i, key in enumerate(["x", "y", "x"]):
        store.get(key, i)["n"] += 1
    data = json.loads(json.dumps(store.to_json()))
    back = EntityStore.from_json(data, lambda: {"n": 0}, max_entities=10)
    assert list(back.items()) == [("y", {"n": 1}), ("x", {"n": 2})]
    assert back.to_json() == store.to_json()


def test_from_json_refuses_garbage_and_respects_a_smaller_bound():
    with pytest.raises(ValueError, match="malformed"):
        EntityStore.from_json({"entities": [["k"]]}, dict)
    with pytest.raises(ValueError, match="malformed"):
        EntityStore.from_json({"nope": 1}, dict)
    data = {"entities": [["a", 1, {}], ["b", 2, {}], ["c", 3, {}]]}
    small = EntityStore.from_json(data, dict, max_entities=2)
    assert list(small) == ["b", "c"]


def test_bad_bounds():
    with pytest.raises(ValueError):
        EntityStore(dict, max_entities=0)
    with pytest.raises(ValueError):
        EntityStore(dict, idle_ns=0)
