"""The preprocess UDF over the real protocol: windows that close together, computed together, equal the library's."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from agent.udf_client import run_process_udf
from udfs.agent import encode_frame, udf_pb2
from udfs.windowstats import Plan

ROOT = Path(__file__).resolve().parents[2]
TYPES = "avg,min,max,trend,anomprob,median,variance,meanci95,avgtimediff,count"


def _frame(**kwargs) -> bytes:
    return encode_frame(udf_pb2.Request(**kwargs).SerializeToString())


def _windows(seed: int = 3):
    """Entities with windows of three lengths; some readings missing, some integers, some NaN."""
    rng = np.random.default_rng(seed)
    windows = []
    for e in range(60):
        n = (5, 30, 31)[e % 3]
        times = 1_700_000_000_000_000_000 + np.cumsum(rng.integers(1, 3, n)) * 10**9
        rows = []
        for i in range(n):
            fields = {"temperature": float(rng.normal(20, 2)), "current": float(rng.normal(10, 1))}
            if rng.random() < 0.1:
                del fields["temperature"]          # missing in this point
            elif rng.random() < 0.05:
                fields["temperature"] = math.nan   # not a number
            ints = {"current": int(rng.integers(5, 15))} if rng.random() < 0.2 else {}
            if ints:
                del fields["current"]
            rows.append((int(times[i]), fields, ints))
        windows.append((f"dev-{e}", rows))
    return windows


def test_windows_closing_together_equal_the_library_window_by_window():
    init = udf_pb2.InitRequest(taskID="t", nodeID="preprocess1")
    for name, value in (("fields", "temperature,current"), ("types", TYPES)):
        init.options.add(name=name, values=[udf_pb2.OptionValue(type=udf_pb2.STRING, stringValue=value)])
    stdin = _frame(init=init)
    windows = _windows()
    for key, rows in windows:
        group = f"device_id={key}\n"
        stdin += _frame(begin=udf_pb2.BeginBatch(name="m", group=group, tags={"device_id": key}, size=len(rows)))
        for t, doubles, ints in rows:
            stdin += _frame(point=udf_pb2.Point(time=t, name="m", group=group, tags={"device_id": key},
                                                fieldsDouble=doubles, fieldsInt=ints))
        stdin += _frame(end=udf_pb2.EndBatch(name="m", group=group, tmax=rows[-1][0] + 1))
    responses, log = run_process_udf("udfs.preprocess", stdin, cwd=ROOT)
    points = [r.point for r in responses if r.WhichOneof("message") == "point"]
    assert len(points) == len(windows), log
    plan = Plan(TYPES.split(","))
    for (key, rows), out in zip(windows, points):
        assert out.tags["device_id"] == key
        times = np.array([t for t, _, _ in rows])
        expected, skipped = {}, 0
        for field in ("temperature", "current"):
            column = [d.get(field, i.get(field)) for _, d, i in rows]
            result = plan.compute(np.array([math.nan if v is None else float(v) for v in column]), times)
            expected.update(result.fields(field))
            skipped += result.skipped
        got = {**out.fieldsDouble, **{k: v for k, v in out.fieldsInt.items() if "_preprocessed_" in k}}
        assert set(got) == set(expected), (key, set(got) ^ set(expected))
        for name, value in expected.items():
            assert got[name] == pytest.approx(value, rel=1e-9, abs=1e-12), (key, name)
        assert out.fieldsInt["Skippedvalues"] == skipped and out.fieldsInt["Numberofmessages"] == len(rows)
        assert out.time == rows[-1][0] + 1
    assert "batches() raised" not in log
