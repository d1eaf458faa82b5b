"""What the tests of our Kapacitor patches share: the kapacitord they run, and a UDF server of their own.

- ``KAPACITORD``: the stack's (``.stack/bin/kapacitord``, as stack/install.sh builds it), or the one the
  environment variable TICKML_KAPACITORD names (another build: ``stack/go/kapacitor/build.sh [--stock] DIR``);
  ``needs_kapacitord`` skips a module without it.
- ``null_stream_server(name)``: a null_stream socket UDF server (each point answered as it came), in a
  temporary folder, for a kapacitord of the test's own (``bench/private_kapacitor.py``); the test may kill
  it and start it again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from stackutil import wait_until
from tickml.paths import BIN, ROOT
from tickml.stack import probes

KAPACITORD = Path(os.environ.get("TICKML_KAPACITORD", BIN / "kapacitord"))
needs_kapacitord = pytest.mark.skipif(not KAPACITORD.exists(), reason=f"no {KAPACITORD} (stack/install.sh builds it)")


class NullStreamServer:
    """A null_stream socket UDF server at ``path``."""

    def __init__(self, name: str, path: Path):
        self.name = name
        self.path = path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.path.unlink(missing_ok=True)
        self.process = subprocess.Popen([sys.executable, "-m", "udfs.null_stream", "--socket", str(self.path)],
                                        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: probes.unix_open(self.path), timeout=30, interval=0.1,
                   what=f"the {self.name} UDF's socket")

    def kill(self) -> None:
        """SIGKILL: the socket file stays, nothing answers on it (Kapacitor's connect is refused and retried)."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        assert not probes.unix_open(self.path)


@contextlib.contextmanager
def null_stream_server(name: str):
    """A started ``NullStreamServer`` named ``name``; stopped, and its folder removed, on leaving."""
    folder = Path(tempfile.mkdtemp(prefix=f"tickml-{name}-"))  # short: a socket path has 107 bytes at most
    udf = NullStreamServer(name, folder / f"{name}.sock")
    try:
        udf.start()
        yield udf
    finally:
        if udf.process is not None and udf.process.poll() is None:
            udf.process.terminate()
            udf.process.wait(10)
        shutil.rmtree(folder, ignore_errors=True)
