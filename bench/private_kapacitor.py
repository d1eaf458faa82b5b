"""A kapacitord of its own, beside the stack's: for comparing two builds, or for driving one into a fault.

It runs a given binary (the stack's, or another build: ``stack/go/kapacitor/build.sh --stock DIR``
makes the release as published) on a free loopback port, plain HTTP without logins, with its data,
tasks and log in a temporary folder, and no InfluxDB, MQTT, Kafka, SMTP or statistics: nothing of
the shared stack sees it. Its only links are the socket UDFs it is given, by function name, which it
asks for their Info when it starts (as the stack's does). ``bench/udf_ceiling.py --stock`` runs the
same points through two of them; ``tests/integration/test_kapacitor_patches.py`` runs one into the
two panics of Kapacitor 1.8.3 that our patches fix.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from tickml.kapacitor import Kapacitor

_CONF = """\
hostname = "127.0.0.1"
data_dir = "{dir}/data"
skip-config-overrides = true
default-retention-policy = "autogen"
[http]
  bind-address = "127.0.0.1:{port}"
  auth-enabled = false
  log-enabled = false
  https-enabled = false
[config-override]
  enabled = false
[logging]
  file = "STDERR"
  level = "INFO"
[load]
  enabled = false
[replay]
  dir = "{dir}/replay"
[task]
  dir = "{dir}/tasks"
  snapshot-interval = "{snapshot_interval}"
[storage]
  boltdb = "{dir}/kapacitor.db"
[fluxtask]
  enabled = false
[reporting]
  enabled = false
[stats]
  enabled = false
[deadman]
  global = false
[[influxdb]]
  enabled = false
  name = "none"
  urls = ["http://127.0.0.1:9"]
[udf]
[udf.functions]
"""


@dataclasses.dataclass
class PrivateKapacitor:
    binary: Path
    url: str
    process: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def client(self) -> Kapacitor:
        return Kapacitor(self.url, login=None)

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pinged(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/kapacitor/v1/ping", timeout=1) as answer:
            return answer.status == 204
    except OSError:
        return False


@contextlib.contextmanager
def private_kapacitor(binary: Path, udfs: dict[str, Path], snapshot_interval: str = "10s",
                      start_timeout: float = 60.0):
    """A running kapacitord from ``binary`` with the socket UDFs ``udfs`` (function name -> socket path).

    Stopped (and its folder removed) on leaving; a kapacitord that died meanwhile is not an error here:
    the caller asks ``alive()``.
    """
    binary = Path(binary)
    if not os.access(binary, os.X_OK):
        raise FileNotFoundError(f"{binary}: no kapacitord there to run")
    with tempfile.TemporaryDirectory(prefix="tickml-kapacitord-") as folder:
        port = _free_port()
        conf = _CONF.format(dir=folder, port=port, snapshot_interval=snapshot_interval)
        for name, path in sorted(udfs.items()):
            conf += f'  [udf.functions.{name}]\n    socket = "{Path(path).resolve()}"\n    timeout = "20s"\n'
        (Path(folder) / "kapacitor.conf").write_text(conf)
        url = f"http://127.0.0.1:{port}"
        # Its configuration is the file alone: no KAPACITOR_* of the caller's environment applies.
        env = {k: v for k, v in os.environ.items() if not k.startswith("KAPACITOR_")}
        # Its log and a panic's trace, one after the other.
        log = Path(folder) / "kapacitord.log"
        with log.open("wb") as stderr:
            process = subprocess.Popen([str(binary), "-config", str(Path(folder) / "kapacitor.conf")], cwd=folder,
                                       env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        kapacitor = PrivateKapacitor(binary, url, process, log)
        try:
            deadline = time.monotonic() + start_timeout
            while not _pinged(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{binary} did not start (exit {process.poll()}): {kapacitor.log_text()[-3000:]}")
                time.sleep(0.1)
            yield kapacitor
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
