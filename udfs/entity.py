"""The entity a point or batch belongs to: the values of its group-by tags.

Every UDF takes the entity from the point's group, so the TICKscript's
``groupBy`` decides what an entity is (``device_id`` usually). The key is the
group-by tag values in tag-name order, joined by commas: ``pm-7`` for
``groupBy('device_id')``, ``pm-7,voltage`` for ``groupBy('device_id', 'sensor')``.
A train task and a predict task that group by the same tags share keys.

Why values with commas are escaped: joined as they are, tags ``a=x,y`` and
``b=z`` gave the same key as ``a=x`` and ``b=y,z``, so two entities shared
one model. When any value holds a comma, every value has its backslashes
and commas escaped (``\\`` → ``\\\\``, ``,`` → ``\\,``), and only the
separators stay bare. Values without a comma are joined as they are, so the
keys stores already hold do not change. The key is then one-to-one for one
group-by (the same tag names): a key of plain values has exactly one comma
fewer than it has values, an escaped key at least one more, and within each
kind the values read back unambiguously. (Keys name no tags: a store shared
by tasks grouping by different tags could still mix their entities, as
before.)
"""

from __future__ import annotations

from udfs.agent import Batch, Point


def entity_key(tags: dict[str, str], names) -> str:
    """Join the values of ``names`` (sorted) from ``tags``; a missing tag counts as empty.

    >>> entity_key({"sensor": "voltage", "device_id": "pm-7", "site": "a"}, ["sensor", "device_id"])
    'pm-7,voltage'
    >>> entity_key({}, [])
    ''
    >>> print(entity_key({"a": "x,y", "b": "z"}, "ab"), entity_key({"a": "x", "b": "y,z"}, "ab"))
    x\\,y,z x,y\\,z
    """
    values = [tags.get(name, "") for name in sorted(names)]
    for value in values:
        if "," in value:
            return ",".join(v.replace("\\", "\\\\").replace(",", "\\,") for v in values)
    return ",".join(values)


def entity_of(item: Point | Batch) -> str:
    """The entity key of a stream point (its dimensions) or a batch (its group tags)."""
    if isinstance(item, Batch):
        return entity_key(item.tags, item.tags.keys())
    return entity_key(item.tags, item.msg.dimensions)
