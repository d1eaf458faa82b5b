"""Every shell block the README and docs/ mark ``sh runnable``, run as a reader would run it.

Each block runs with bash from the repository's root on the test stack, with ``.venv/bin`` and
``.stack/bin`` first on PATH so that ``tickml``, ``kapacitor`` and ``influx`` are the project's
own. ``set -euo pipefail``: a block whose first command fails must not pass on its last one.
Which blocks are marked, and why some are not: docs/tests.md.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from docblocks import ROOT, runnable_blocks
from stackutil import wait_until

# docs/install.md defines device_aggregates again with Kapacitor's CLI: not beside its own test.
pytestmark = [pytest.mark.stack, pytest.mark.exclusive("device_aggregates")]

BLOCKS = runnable_blocks()
# Generous: the longest block sends for a few seconds; a hung command should fail, not stall the run.
TIMEOUT = 300


@pytest.mark.parametrize("block", BLOCKS, ids=[b.where for b in BLOCKS])
def test_the_block_runs(stack, block):
    env = {**os.environ, "PATH": os.pathsep.join([str(ROOT / ".venv" / "bin"), str(ROOT / ".stack" / "bin"),
                                                   os.environ.get("PATH", "")])}
    # A reader runs the blocks on a settled stack. Beside the other tests a device registers now and then,
    # and Telegraf, rereading its configuration, is unhealthy for a second or two: a block that runs
    # `tickml stack status` then rightly exits 3 (it failed one run so).
    if "tickml stack status" in block.text:
        wait_until(lambda: subprocess.run(["tickml", "stack", "status"], cwd=ROOT, env=env,
                                          capture_output=True).returncode == 0,
                   timeout=30, interval=1, what="every service running (tickml stack status)")
    try:
        run = subprocess.run(["bash", "-c", "set -euo pipefail\n" + block.text], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        output = "".join(o.decode(errors="replace") if isinstance(o, bytes) else o
                         for o in (exc.stdout, exc.stderr) if o)
        pytest.fail(f"{block.where}: still running after {TIMEOUT} s\n$ {block.text}{output}", pytrace=False)
    if run.returncode != 0:
        pytest.fail(f"{block.where}: exit {run.returncode}\n$ {block.text}--- stdout\n{run.stdout}"
                    f"--- stderr\n{run.stderr}", pytrace=False)
