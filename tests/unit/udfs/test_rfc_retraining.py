"""rfc_classifier retrains when its data set changes: a new version answers, a broken file keeps the old one."""

from __future__ import annotations

import logging
import os

import pytest

import udfs.rfc_classifier.handler as rfc
from udfs.agent import udf_pb2
from udfs.confine import Root

import golden
from inprocess import InProcessUdf


def _touched(path) -> None:
    """A modification time a second on: a file rewritten within the file system's time granularity still moves."""
    later = path.stat().st_mtime_ns + 10**9
    os.utime(path, ns=(later, later))


def _write(path, rule) -> None:
    """A data set of 200 rooms labelled by ``rule(temperature)``."""
    rows = [(10 + 0.1 * k, 40.0) for k in range(200)]
    path.write_text("temperature,humidity,label\n" + "".join(f"{t:.1f},{h},{int(rule(t))}\n" for t, h in rows))
    _touched(path)


def _answer(udf: InProcessUdf, temperature: float) -> dict:
    udf.send(golden.requests([{"batch": {"tags": {"device_id": "r1"}, "points": [
        {"time": 1, "fields": {"temperature": temperature, "humidity": 40.0}}]}}]))
    responses = []
    while not responses or responses[-1].WhichOneof("message") != "end":
        responses.append(udf.client.recv(30))
    return golden.items(responses)[0]["batch"]["points"][0]["fields"]


@pytest.fixture
def data_set(tmp_path, monkeypatch):
    monkeypatch.setattr(rfc, "DATA_SET_ROOT", Root("data set root", str(tmp_path), rfc.DATA_SET_ROOT_VARIABLE))
    return tmp_path / "rooms.csv"


def test_a_changed_data_set_is_trained_again_and_a_broken_one_keeps_the_forest(data_set, caplog):
    _write(data_set, lambda t: t > 20)  # warm rooms are 1
    udf = InProcessUdf(rfc.RfcClassifier)
    init = udf_pb2.InitRequest(taskID="t", nodeID="n", options=golden.option_messages({"data_set": str(data_set)}))
    init.options.add(name="check_every", values=[udf_pb2.OptionValue(type=udf_pb2.DURATION, durationValue=1)])
    udf.client.send(udf_pb2.Request(init=init))
    assert udf.client.recv_kind("init", timeout=60).init.success

    first = _answer(udf, 25.0)
    assert (first["prediction"], first["prediction_model_version"]) == (1, 1)
    assert _answer(udf, 25.0)["prediction_model_version"] == 1  # nothing changed: not retrained

    _write(data_set, lambda t: t <= 20)  # the labels flipped: warm rooms are 0
    second = _answer(udf, 25.0)
    assert (second["prediction"], second["prediction_model_version"]) == (0, 2)

    data_set.write_text("temperature,humidity\n21.0,40.0\n")  # the label column gone
    _touched(data_set)
    with caplog.at_level(logging.ERROR, logger=rfc.__name__):
        third = _answer(udf, 25.0)
    assert (third["prediction"], third["prediction_model_version"]) == (0, 2)
    assert "cannot retrain from" in caplog.text and "no column(s) ['label']" in caplog.text
    udf.finish()
