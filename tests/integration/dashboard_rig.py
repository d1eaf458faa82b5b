"""Real parts the dashboard's tests start beside the stack's, each on free ports and in a temporary folder.

- ``UdfPipeline``: a UDF server of this checkout counting into a folder of its
  own, the exporter of that folder, a Telegraf scraping it into the stack's
  InfluxDB with the shipped ``[[inputs.prometheus]]`` and output sections,
  and a Kapacitor of its own (the shipped kapacitor.conf, statistics every
  2 s, no subscriptions) running the shipped kapacitor_stats task and a task
  through that UDF. So the Tasks and UDFs page has counters and Kapacitor
  statistics of a task the test knows, whatever the stack's own processes run.
- ``InfluxdOfItsOwn``: an InfluxDB (the shipped influxdb.conf, plain HTTP,
  no logins) that a test may stop and start again.
- ``DashboardOfItsOwn``: the dashboard app of this checkout, so that the
  browser tests try the code under test, not the one the stack's service runs;
  it asks for the stack's dashboard login, as the stack's own does.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from stackutil import flush_vars, wait_until
from tickml.kapacitor import Kapacitor
from tickml import secrets
from tickml.dashboard import guard
from tickml.paths import BIN, ROOT
from tickml import config
from tickml.stack import probes, telegraf

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(command: list[str], log: Path, env: dict | None = None, cwd: Path = ROOT) -> subprocess.Popen:
    handle = log.open("ab")
    return subprocess.Popen(command, cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
                            stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _up(proc: subprocess.Popen, ready, log: Path, what: str, timeout: float = 60.0) -> None:
    def check():
        assert proc.poll() is None, f"{what} exited at start:\n{log.read_text(errors='replace')[-3000:]}"
        return ready()

    wait_until(check, timeout=timeout, interval=0.2, what=f"{what} to answer")


def telegraf_sections(text: str, keep) -> str:
    """The top-level sections of a Telegraf configuration for which ``keep(header, body)`` is true."""
    blocks, current = [], None
    for line in text.splitlines(keepends=True):
        if line.startswith("["):
            current = [line]
            blocks.append(current)
        elif line.startswith("#") or not line.strip() and current is None:
            current = None
        elif current is not None:
            current.append(line)
    return "".join("".join(b) + "\n" for b in blocks if keep(b[0].strip(), "".join(b[1:])))


def kapacitor_with_one_udf(name: str, socket_path: Path) -> str:
    """The shipped kapacitor.conf with one socket UDF, ``name``, served at ``socket_path``."""
    text = config.KAPACITOR_CONF.read_text()
    head = text[:text.index("[udf.functions]")]
    return head + f'[udf.functions]\n  [udf.functions.{name}]\n    socket = "{socket_path}"\n    timeout = "20s"\n'


PROBE_SCRIPT = """dbrp "telemetry"."autogen"
stream
    |from()
        .measurement('{measurement}')
    @py_classifier()
        .field('value')
        .low(20.0)
        .high(25.0)
    |httpOut('probe')
"""


class UdfPipeline:
    """A task through a UDF of this checkout, counted, scraped and reported as the stack does it."""

    def __init__(self, folder: Path, task: str):
        self.folder, self.task = folder, task
        self.measurement = f"{task}_probe"
        self.procs: dict[str, subprocess.Popen] = {}
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None
        self.written = 0

    def start(self) -> "UdfPipeline":
        folder = self.folder
        metrics = folder / "metrics"
        exporter_port = free_port()
        self.metrics_url = f"http://127.0.0.1:{exporter_port}/metrics"
        self.procs["exporter"] = _start([sys.executable, "-m", "tickml", "udfs", "serve-metrics", "--listen",
                                         f"127.0.0.1:{exporter_port}", "--folder", str(metrics)], folder / "exporter.log")
        _up(self.procs["exporter"], lambda: probes.http_ok(self.metrics_url), folder / "exporter.log", "the exporter")

        udf_socket = folder / "py.sock"
        self.procs["udf"] = _start([sys.executable, "-m", "udfs.py_classifier", "--socket", str(udf_socket)],
                                   folder / "udf.log", {"PROMETHEUS_MULTIPROC_DIR": str(metrics)})
        _up(self.procs["udf"], lambda: probes.unix_open(udf_socket), folder / "udf.log", "the UDF server")

        shipped = config.TELEGRAF_CONF.read_text()
        scrape = telegraf_sections(shipped, lambda head, body: head == "[[inputs.prometheus]]"
                                   or head == "[[outputs.influxdb]]" and 'alias = "self"' in body)
        (folder / "telegraf.conf").write_text('[agent]\n  interval = "2s"\n  flush_interval = "1s"\n'
                                              '  omit_hostname = true\n\n' + scrape)
        self.procs["telegraf"] = _start([str(BIN / "telegraf"), "--config", str(folder / "telegraf.conf")],
                                        folder / "telegraf.log",
                                        {**telegraf.environment(), "TICKML_UDF_METRICS_URL": self.metrics_url})

        port = free_port()
        (folder / "kapacitor.conf").write_text(kapacitor_with_one_udf("py_classifier", udf_socket))
        admin, password = secrets.influxdb_login("tickml-admin")
        data = folder / "kapacitor"
        env = {"KAPACITOR_HTTP_BIND_ADDRESS": f"127.0.0.1:{port}", "KAPACITOR_HTTP_HTTPS_ENABLED": "false",
               "KAPACITOR_HTTP_AUTH_ENABLED": "false", "KAPACITOR_AUTH_ENABLED": "false",
               "KAPACITOR_DATA_DIR": str(data), "KAPACITOR_REPLAY_DIR": str(data / "replay"),
               "KAPACITOR_TASK_DIR": str(data / "tasks"), "KAPACITOR_STORAGE_BOLTDB": str(data / "kapacitor.db"),
               "KAPACITOR_INFLUXDB_0_SSL_CA": str(secrets.ca_file()),
               "KAPACITOR_INFLUXDB_0_USERNAME": admin, "KAPACITOR_INFLUXDB_0_PASSWORD": password,
               # Its own statistics only: the stack's Kapacitor keeps the subscriptions.
               "KAPACITOR_INFLUXDB_0_DISABLE_SUBSCRIPTIONS": "true", "KAPACITOR_STATS_STATS_INTERVAL": "2s",
               # No alert handlers; the stack's Kapacitor holds the alerts' MQTT login (one session per login).
               "KAPACITOR_MQTT_0_ENABLED": "false"}
        self.procs["kapacitor"] = _start([str(BIN / "kapacitord"), "-config", str(folder / "kapacitor.conf")],
                                         folder / "kapacitor.log", env)
        self.kapacitor = Kapacitor(f"http://127.0.0.1:{port}", login=None)
        _up(self.procs["kapacitor"], lambda: probes.http_ok(f"http://127.0.0.1:{port}/kapacitor/v1/ping"),
            folder / "kapacitor.log", "Kapacitor")
        stats = (ROOT / "tick_scripts" / "kapacitor_stats.tick").read_text()
        for name, script, task_vars in ((f"{self.task}_stats", stats, flush_vars()),
                                        (self.task, PROBE_SCRIPT.format(measurement=self.measurement), {})):
            self.kapacitor._call("POST", "/tasks", {"id": name, "type": "stream", "status": "enabled",
                                                    "script": script, "vars": task_vars})
        self._writer = threading.Thread(target=self._write, daemon=True)
        self._writer.start()

        # A task watcher of its own, for this Kapacitor and this UDF; its heartbeat in a state folder of its own.
        state = folder / "state"
        state.mkdir()
        (state / "secrets").symlink_to(secrets.SECRETS)
        self.procs["watcher"] = _start([sys.executable, "-m", "tickml", "watch", "--kapacitor", self.kapacitor.url
                                        .removesuffix("/kapacitor/v1")], folder / "watcher.log",
                                       {"TICKML_KAPACITOR_CONF": str(folder / "kapacitor.conf"),
                                        "TICKML_STATE_DIR": str(state)})
        _up(self.procs["watcher"], lambda: (state / "run" / "task-watcher.heartbeat").exists(),
            folder / "watcher.log", "the task watcher")
        return self

    def recover(self, influx) -> None:
        """Kill the UDF server (-9) and start another, as supervisord would; the watcher brings the task back,
        and writes the recovery to InfluxDB."""
        udf_socket = self.folder / "py.sock"
        # The watcher must have seen the task connected to the first server.
        wait_until(lambda: self.written > 20, timeout=30, what="points through the task")
        self.procs["udf"].kill()
        self.procs["udf"].wait()
        self.procs["udf"] = _start([sys.executable, "-m", "udfs.py_classifier", "--socket", str(udf_socket)],
                                   self.folder / "udf.log",
                                   {"PROMETHEUS_MULTIPROC_DIR": str(self.folder / "metrics")})
        _up(self.procs["udf"], lambda: probes.unix_open(udf_socket), self.folder / "udf.log", "the UDF server again")
        wait_until(lambda: influx.query(f"SELECT \"down_seconds\" FROM \"task_recoveries\" "
                                        f"WHERE \"task\" = '{self.task}'"),
                   timeout=60, what=f"the watcher recovering {self.task}")

    def _write(self) -> None:
        """Points into the task every half second: some outside 20-25 (passed on), some not, a string now and then."""
        n = 0
        while not self._stop.wait(0.5):
            now = time.time_ns()
            lines = [f"{self.measurement} value={v} {now + i}" for i, v in enumerate((19.5, 22.0, 26.5))]
            if n % 5 == 0:
                lines.append(f'{self.measurement} value="hot" {now + 9}')
            try:
                self.kapacitor.write(lines)
                self.written += len(lines)
            except (OSError, RuntimeError):
                pass  # stopping
            n += 1

    def stop(self) -> None:
        self._stop.set()
        if self._writer is not None:
            self._writer.join(5)
        for proc in reversed(list(self.procs.values())):
            _stop(proc)


class InfluxdOfItsOwn:
    """An InfluxDB beside the stack's: the shipped influxdb.conf on free ports, plain HTTP, no logins."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {"INFLUXDB_HTTP_BIND_ADDRESS": f"127.0.0.1:{self.port}",
                    "INFLUXDB_BIND_ADDRESS": f"127.0.0.1:{free_port()}",
                    "INFLUXDB_HTTP_HTTPS_ENABLED": "false", "INFLUXDB_HTTP_AUTH_ENABLED": "false",
                    "INFLUXDB_META_DIR": str(folder / "meta"), "INFLUXDB_DATA_DIR": str(folder / "data"),
                    "INFLUXDB_DATA_WAL_DIR": str(folder / "wal"),
                    "INFLUXDB_SUBSCRIBER_CA_CERTS": str(secrets.ca_file())}
        self.proc: subprocess.Popen | None = None

    def start(self) -> "InfluxdOfItsOwn":
        self.proc = _start([str(BIN / "influxd"), "run", "-config", str(config.INFLUXDB_CONF)],
                           self.folder / "influxd.log", self.env)
        _up(self.proc, lambda: probes.http_ok(f"{self.url}/ping"), self.folder / "influxd.log", "InfluxDB of its own")
        return self

    def stop(self) -> None:
        _stop(self.proc)


class DashboardOfItsOwn:
    """``tickml dashboard`` of this checkout on a free port, reading the InfluxDB at ``influxdb_url`` (default:
    the stack's). The stack's own dashboard service may run another checkout's code."""

    def __init__(self, folder: Path, influxdb_url: str | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "dashboard.log"
        other = ["--influxdb-url", influxdb_url] if influxdb_url else []
        self.proc = _start([sys.executable, "-m", "tickml", "dashboard", "--listen", f"127.0.0.1:{self.port}",
                            *other], self.log)
        self.authorization = guard.authorization()
        _up(self.proc, lambda: probes.http_ok(self.url + "/", self.authorization), self.log, "the dashboard")

    def stop(self) -> None:
        _stop(self.proc)
