"""Process UDF: ``python -m udfs.<name>`` on stdin/stdout, logs on stderr only."""

import subprocess
import sys

from .udf_client import INFO, REPO, Client, opt, point_req, udf_env

from udfs.agent import udf_pb2


def start(module):
    return subprocess.Popen([sys.executable, "-m", f"udfs.{module}", "--log-level", "DEBUG"], cwd=REPO,
                            env=udf_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_humidity_classifier_as_a_process():
    proc = start("humidity_classifier")
    c = Client.over_pipes(proc)
    c.send(INFO)
    assert set(c.recv_kind("info").info.options) == {"field", "threshold"}
    c.init_ok(opt("threshold", 25.0))
    c.send(*[point_req(i, humidity=h, temperature=1.0) for i, h in enumerate([10.0, 25.0, 25.5, 80.0])],
           point_req(9, temperature=1.0),
           udf_pb2.Request(keepalive=udf_pb2.KeepaliveRequest(time=7)))
    c.close_write()
    out = c.recv_all()
    assert [r.point.fieldsDouble["humidity"] for r in out if r.WhichOneof("message") == "point"] == [25.5, 80.0]
    assert [r.keepalive.time for r in out if r.WhichOneof("message") == "keepalive"] == [7]
    assert proc.wait(10) == 0                       # exits when Kapacitor closes stdin
    err = proc.stderr.read().decode()
    assert "missing field 'humidity'" in err
    assert "points_in=5, points_out=2" in err


def test_stray_print_cannot_corrupt_stdout():
    code = (
        "import sys\n"
        "from udfs.agent import Handler, main\n"
        "class Noisy(Handler):\n"
        "    def point(self, p):\n"
        "        print('debug output from a careless handler')\n"
        "        self.forward(p)\n"
        "sys.exit(main(Noisy))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=udf_env(),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    c = Client.over_pipes(proc)
    c.init_ok()
    c.send(point_req(1, x=1.0), point_req(2, x=2.0))
    c.close_write()
    assert [r.point.time for r in c.recv_all()] == [1, 2]
    assert proc.wait(10) == 0
    assert "debug output from a careless handler" in proc.stderr.read().decode()


def test_sigterm_exits_cleanly():
    import signal

    proc = start("py_classifier")
    c = Client.over_pipes(proc)
    c.init_ok()                                     # running, stdin still open
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    assert "stopping on SIGTERM" in proc.stderr.read().decode()
