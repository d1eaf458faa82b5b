"""bench/scale_out.py's stack figures, at small sizes: the capacity section starts with InfluxDB's ceiling, a
champion published to a model topic, and librdkafka's fnv1a partitioner beside the bench's own hash; here each
gives a figure, and every key lands where ``fnv1a_partition`` says (what the simulation's moved keys rest on).
The capacity and shards sections themselves have no smoke size (the bench's docstring says why)."""

from __future__ import annotations

import uuid

import pytest

import scale_out

pytestmark = pytest.mark.stack


def test_the_stack_figures_of_the_capacity_section(stack):
    assert scale_out.direct_write_rate(f"so{uuid.uuid4().hex[:6]}", points=10_000) > 0
    median, p90 = scale_out.publish_latency(samples=20)
    assert 0 < median <= p90
    agree, total = scale_out.partitioner_agrees([f"device-{i:07d}" for i in range(200)])
    assert agree == total == 200
