"""Where the project's files and the stack's state live.

The configuration files are read from the checkout (the package is installed
editable, ``pip install -e .``), so editing ``kapacitor/kapacitor.conf`` is
enough; binaries, data, logs, pid files and sockets go under the git-ignored
state folder (``TICKML_STATE_DIR``, default ``.stack``).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE = Path(os.environ.get("TICKML_STATE_DIR", ROOT / ".stack"))
BIN = STATE / "bin"
DATA = STATE / "data"
LOGS = STATE / "logs"
RUN = STATE / "run"
# Every UDF process's Prometheus counters, one file per process (udfs/agent/metrics.py).
UDF_METRICS = RUN / "udf-metrics"
