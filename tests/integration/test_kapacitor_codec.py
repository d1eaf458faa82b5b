"""Kapacitor with our patches (stack/go/kapacitor/patches/): points through a UDF come back as they went.

Patch 0004 encodes the points kapacitord sends a UDF, and decodes the points it answers with, by a codec
of its own instead of the generated protobuf code. Its Go tests hold it to the generated code byte for
byte; this holds the real binary to it: a kapacitord of its own (``bench/private_kapacitor.py``) runs one
stream two ways, through ``@echo()`` (a null_stream socket UDF server of the test's own, ``kapacitord_rig``,
which answers each point with the point as it came) and straight to an ``httpOut``, and both outputs must
be the same, for points carrying every field type, extreme and special values, unicode and escaped tags.

The binary is the stack's (``.stack/bin/kapacitord``); the environment variable TICKML_KAPACITORD names
another (the release as published passes too: this is a property of any build, not a regression test).
"""

from __future__ import annotations

import json
import time

import pytest

from kapacitord_rig import KAPACITORD, needs_kapacitord, null_stream_server
from private_kapacitor import private_kapacitor
from stackutil import wait_until


SCRIPT = """
dbrp "telemetry"."autogen"
stream
    |from()
        .measurement('codec_check')
        .groupBy('device_id')
    {node}
    |httpOut('out')
"""

# Line protocol field values: floats (negative zero, extremes, subnormal), ints (both ends of int64),
# strings (empty, escaped, multi-byte, long), booleans.
VALUES = ["1.5", "-0.0", "1e300", "-2.5e-300", "4.9e-324", "0",
          "-9223372036854775808i", "9223372036854775807i", "-1i", "0i",
          '""', '"quote \\" and , comma"', '"日本語 🙂 é"', '"' + "long" * 500 + '"', "true", "false"]
TAGS = ["plain", "sp\\ ace", "c\\,omma", "eq\\=ual", "é", "日本\\ 🙂"]
POINTS = 48

pytestmark = needs_kapacitord


@pytest.fixture
def echo():
    """A null_stream socket UDF server of the test's own: kapacitord gets each point back as it sent it."""
    with null_stream_server("echo") as udf:
        yield udf.path


def _lines(base: int) -> list[str]:
    out = []
    for e in range(POINTS):
        fields = [f"f{k}={VALUES[(e + k) % len(VALUES)]}" for k in range(1 + e % 9)]
        out.append(f"codec_check,device_id=e{e},site={TAGS[e % len(TAGS)]} {','.join(fields)} {base + e}")
    return out


def _series(kapacitor, task: str) -> list[dict]:
    return json.loads(kapacitor.fetch(f"/tasks/{task}/out")).get("series") or []


def test_points_through_a_udf_come_back_as_they_went(echo):
    """Each device's last point out of ``@echo()`` equals the one that skipped the UDF: name, tags, time, fields."""
    with private_kapacitor(KAPACITORD, {"echo": echo}) as kapacitord:
        kapacitor = kapacitord.client()
        for task, node in (("through_udf", "@echo()"), ("direct", "")):
            kapacitor._call("POST", "/tasks", {"id": task, "type": "stream", "status": "enabled",
                                               "script": SCRIPT.format(node=node)})
        wait_until(lambda: kapacitor.task("through_udf")["executing"], timeout=30, interval=0.1,
                   what="the UDF task executing")
        kapacitor.write(_lines(time.time_ns() - 3600 * 10**9))
        wait_until(lambda: len(_series(kapacitor, "through_udf")) == len(_series(kapacitor, "direct")) == POINTS,
                   timeout=30, interval=0.2, what=f"both tasks' httpOut holding {POINTS} devices")
        assert kapacitord.alive(), kapacitord.log_text()[-4000:]
        key = lambda s: s["tags"]["device_id"]  # noqa: E731
        through = sorted(_series(kapacitor, "through_udf"), key=key)
        direct = sorted(_series(kapacitor, "direct"), key=key)
        assert through == direct
        # The comparison has teeth: every kind of value made it through.
        seen = {type(v) for s in through for v in s["values"][0][1:]}
        assert seen == {float, int, str, bool}, seen
        assert {s["tags"]["site"] for s in through} == {"plain", "sp ace", "c,omma", "eq=ual", "é", "日本 🙂"}
