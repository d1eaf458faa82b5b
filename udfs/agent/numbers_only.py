"""Protobuf messages that decode only a point's time, group and numeric fields.

:class:`NumbersRequest` reads a serialized point ``Request`` as if its
``point`` (field 17) declared just ``time`` (1), ``group`` (5),
``fieldsDouble`` (8) and ``fieldsInt`` (9): decoding skips tags,
dimensions and the other maps, about half the cost of a full decode, for
the common handler that reads a number or two (``Point.number``,
``Point.numeric``). :class:`BatchNumbers` repeats field 17: the raw bytes of
a batch's point requests, joined, are one ``BatchNumbers``, decoded in one
call (``Batch.column``, ``Batch.times``).

Separate from :mod:`~udfs.agent.points` because it builds a descriptor by
hand, in a private pool so that it cannot clash with ``udf.proto`` in the
default one, and its field numbers must stay those of ``udf.proto``
(``tests/unit/agent/test_agent_proto.py`` compares them).

Examples
--------
>>> from udfs.agent import udf_pb2
>>> raw = udf_pb2.Request(point=udf_pb2.Point(time=7, tags={"a": "b"}, fieldsDouble={"t": 2.5})).SerializeToString()
>>> p = NumbersRequest.FromString(raw).point
>>> p.time, dict(p.fieldsDouble), hasattr(p, "tags")
(7, {'t': 2.5}, False)
>>> [m.time for m in BatchNumbers.FromString(raw + raw).point]
[7, 7]
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

__all__ = ["BatchNumbers", "NumbersRequest"]


def _numbers_classes() -> tuple[type, type]:
    """``RequestNumbers`` and ``BatchNumbers``, built in a descriptor pool of their own."""
    f = descriptor_pb2.FieldDescriptorProto
    fd = descriptor_pb2.FileDescriptorProto(name="tickml_agent_numbers.proto", package="tickml_numbers",
                                            syntax="proto3")
    point = fd.message_type.add(name="PointNumbers")
    point.field.add(name="time", number=1, type=f.TYPE_INT64, label=f.LABEL_OPTIONAL)
    point.field.add(name="group", number=5, type=f.TYPE_STRING, label=f.LABEL_OPTIONAL)
    for number, name, value_type in ((8, "fieldsDouble", f.TYPE_DOUBLE), (9, "fieldsInt", f.TYPE_INT64)):
        entry = point.nested_type.add(name=name[0].upper() + name[1:] + "Entry")
        entry.options.map_entry = True
        entry.field.add(name="key", number=1, type=f.TYPE_STRING, label=f.LABEL_OPTIONAL)
        entry.field.add(name="value", number=2, type=value_type, label=f.LABEL_OPTIONAL)
        point.field.add(name=name, number=number, type=f.TYPE_MESSAGE, label=f.LABEL_REPEATED,
                        type_name=f".tickml_numbers.PointNumbers.{entry.name}")
    request = fd.message_type.add(name="RequestNumbers")
    request.field.add(name="point", number=17, type=f.TYPE_MESSAGE, label=f.LABEL_OPTIONAL,
                      type_name=".tickml_numbers.PointNumbers")
    batch = fd.message_type.add(name="BatchNumbers")
    batch.field.add(name="point", number=17, type=f.TYPE_MESSAGE, label=f.LABEL_REPEATED,
                    type_name=".tickml_numbers.PointNumbers")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    return tuple(message_factory.GetMessageClass(pool.FindMessageTypeByName(f"tickml_numbers.{name}"))
                 for name in ("RequestNumbers", "BatchNumbers"))


NumbersRequest, BatchNumbers = _numbers_classes()
