"""Entity keys: one key per tuple of group-by tag values, and the keys stores already hold kept."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from udfs.agent import udf_pb2
from udfs.agent import Batch, Point
from udfs.entity import entity_key, entity_of

NAMES = ("a", "b", "c", "d")
# Few characters, the separator and the escape among them: collisions are found quickly if they exist.
tricky = st.text(alphabet="x,\\", max_size=4)
anything = tricky | st.text(max_size=12)
plain = st.text(max_size=12).filter(lambda v: "," not in v)


def _tags(values):
    return dict(zip(NAMES, values))


def test_values_with_commas_no_longer_collide():
    names = ["a", "b"]
    assert entity_key({"a": "x,y", "b": "z"}, names) != entity_key({"a": "x", "b": "y,z"}, names)


def _resplit(data, values):
    """Another tuple of the same length whose values joined by commas read the same: what collided before."""
    joined = ",".join(values)
    commas = [i for i, c in enumerate(joined) if c == ","]
    if len(commas) < len(values) - 1:
        return values
    cuts = sorted(data.draw(st.lists(st.sampled_from(commas), min_size=len(values) - 1,
                                     max_size=len(values) - 1, unique=True))) if len(values) > 1 else []
    bounds = [-1, *cuts, len(joined)]
    return tuple(joined[a + 1:b] for a, b in zip(bounds, bounds[1:]))


@settings(max_examples=500)
@given(n=st.integers(min_value=1, max_value=4), data=st.data())
def test_distinct_tag_tuples_give_distinct_keys(n, data):
    first = data.draw(st.tuples(*[anything] * n))
    second = data.draw(st.one_of(st.tuples(*[anything] * n), st.just(None)))
    if second is None:
        second = _resplit(data, first)
    names = NAMES[:n]
    same_key = entity_key(_tags(first), names) == entity_key(_tags(second), names)
    assert same_key == (first == second), (first, second)


@settings(max_examples=300)
@given(values=st.lists(anything, min_size=1, max_size=4, unique=True))
def test_one_tag_tuple_against_many(values):
    # Every tuple of two values drawn from a pool: all keys differ.
    pairs = [(x, y) for x in values for y in values]
    keys = {entity_key(_tags(p), NAMES[:2]) for p in pairs}
    assert len(keys) == len(pairs)


@given(values=st.lists(plain, min_size=0, max_size=4))
def test_keys_of_values_without_commas_are_unchanged(values):
    names = NAMES[: len(values)]
    assert entity_key(_tags(values), names) == ",".join(values)


@pytest.mark.parametrize("tags, names, key", [
    ({"device_id": "pm-7"}, ["device_id"], "pm-7"),
    ({"sensor": "voltage", "device_id": "pm-7", "site": "a"}, ["sensor", "device_id"], "pm-7,voltage"),
    ({"device_id": "a\\b"}, ["device_id"], "a\\b"),  # a backslash alone changes nothing either
    ({"device_id": "__fleet__"}, ["device_id"], "__fleet__"),
    ({}, [], ""),
])
def test_keys_stores_already_hold(tags, names, key):
    assert entity_key(tags, names) == key


def test_points_and_batches_of_one_group_share_the_key():
    tags = {"device_id": "d,1", "sensor": "v"}
    point = Point(udf_pb2.Point(tags=tags, dimensions=["device_id", "sensor"]))
    batch = Batch(udf_pb2.BeginBatch(name="m", group="g", tags=tags))
    assert entity_of(point) == entity_of(batch) == entity_key(tags, ["sensor", "device_id"])
