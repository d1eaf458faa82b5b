"""The agent's Prometheus counters: counted by real UDF processes, summed over them and served by the exporter.

A socket server and two process UDFs (``py_classifier``) write their
counters to one folder; ``tickml udfs serve-metrics`` serves the sum, read
here over HTTP and parsed with prometheus_client's own parser.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from udfs.agent import udf_pb2
from .udf_client import REPO, SocketUdf, frame, init_req, opt, point_req, run_process_udf

TASK = "metrics_task"
OPTIONS = (opt("field", "temperature"), opt("low", 20.0), opt("high", 25.0))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _points() -> list:
    """Eight points: three outside 20-25 (passed on), four inside, one whose field is a string (bad)."""
    values = [19.0, 21.0, 22.0, 26.0, 23.0, 30.0, 24.5]
    points = [point_req(time_ns=i + 1, temperature=v) for i, v in enumerate(values)]
    return points + [point_req(time_ns=99, temperature="hot")]


def _scrape(url: str) -> dict[tuple, float]:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def _labels(node: str, **extra) -> tuple:
    return tuple(sorted({"udf": "py_classifier", "task": TASK, "node": node, **extra}.items()))


@pytest.fixture
def metrics_dir(tmp_path, monkeypatch):
    folder = tmp_path / "metrics"
    # The UDF processes this test starts inherit it (udf_client copies os.environ).
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    return folder


@pytest.fixture
def exporter(metrics_dir):
    """``tickml udfs serve-metrics`` on a free port, started before the UDF processes, as the stack starts it."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tickml", "udfs", "serve-metrics", "--listen", f"127.0.0.1:{port}",
                             "--folder", str(metrics_dir)], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                            stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/metrics"
    deadline = time.monotonic() + 30
    while True:
        try:
            _scrape(url)
            break
        except OSError:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the exporter did not answer within 30 s"
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(10)


def test_counters_are_summed_over_processes_and_served_for_telegraf(short_tmp, exporter):
    server = SocketUdf([sys.executable, "-m", "udfs.py_classifier"], short_tmp / "udf.sock", short_tmp / "udf.log")
    try:
        client = server.connect()
        client.send(init_req(*OPTIONS, task=TASK, node="py_classifier2"))
        assert client.recv_kind("init").init.success
        client.send(*_points(), udf_pb2.Request(keepalive=udf_pb2.KeepaliveRequest(time=5)))
        client.close_write()
        responses = client.recv_all(timeout=10)
        client.close()
    finally:
        server.stop()
    assert sum(r.WhichOneof("message") == "point" for r in responses) == 3
    assert sum(r.WhichOneof("message") == "keepalive" for r in responses) == 1
    # Two process UDFs of another node of the same task, as Kapacitor starts them: their counts add up.
    stdin = b"".join(frame(r) for r in [init_req(*OPTIONS, task=TASK, node="py_classifier5"), *_points()])
    for _ in range(2):
        run_process_udf("udfs.py_classifier", stdin, cwd=REPO)

    # The processes are gone; what they counted is still served.
    counters = _scrape(exporter)
    socket_node, process_node = "py_classifier2", "py_classifier5"
    for node, runs in ((socket_node, 1), (process_node, 2)):
        assert counters[("tickml_udf_points_in_total", _labels(node))] == 8 * runs
        assert counters[("tickml_udf_points_out_total", _labels(node))] == 3 * runs
        reason = "field 'temperature' is a string, not a number"
        assert counters[("tickml_udf_bad_points_total", _labels(node, reason=reason))] == 1 * runs
        assert counters[("tickml_udf_handler_seconds_total", _labels(node))] > 0
    assert counters[("tickml_udf_keepalives_total", _labels(socket_node))] == 1
    # SocketUdf's probe that the server accepts is a connection too.
    assert counters[("tickml_udf_connections_total", (("udf", "py_classifier"),))] == 1 + 1 + 2
    # No handler raised: the error counter of each node is there, at zero.
    errors = {labels: value for (name, labels), value in counters.items() if name == "tickml_udf_errors_total"}
    assert errors == {_labels(node, kind="handler_error"): 0 for node in (socket_node, process_node)}
    assert counters[("tickml_udf_keepalives_withheld_total", _labels(socket_node))] == 0


def test_the_exporter_removes_the_files_of_processes_gone_and_keeps_the_living(tmp_path):
    from tickml.udf_metrics import remove_dead

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = tmp_path / f"counter_{dead.stdout.strip()}.db"
    living = tmp_path / f"counter_{os.getpid()}.db"
    other = tmp_path / "notes.txt"
    for path in (gone, living, other):
        path.write_bytes(b"x")
    assert remove_dead(tmp_path) == [gone]
    assert not gone.exists() and living.exists() and other.exists()
