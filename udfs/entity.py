"""The entity a point or batch belongs to: the values of its group-by tags.

Every UDF takes the entity from the point's group, so the TICKscript's
``groupBy`` decides what an entity is (``device_id`` usually). The key is the
group-by tag values in tag-name order, joined by commas: ``pm-7`` for
``groupBy('device_id')``, ``pm-7,voltage`` for ``groupBy('device_id', 'sensor')``.
A train task and a predict task that group by the same tags share keys.
"""

from __future__ import annotations

from udfs.agent import Batch, Point


def entity_key(tags: dict[str, str], names) -> str:
    """Join the values of ``names`` (sorted) from ``tags``.

    >>> entity_key({"sensor": "voltage", "device_id": "pm-7", "site": "a"}, ["sensor", "device_id"])
    'pm-7,voltage'
    >>> entity_key({}, [])
    ''
    """
    return ",".join(tags.get(name, "") for name in sorted(names))


def entity_of(item: Point | Batch) -> str:
    """The entity key of a stream point (its dimensions) or a batch (its group tags)."""
    if isinstance(item, Batch):
        return entity_key(item.tags, item.tags.keys())
    return entity_key(item.tags, item.msg.dimensions)
