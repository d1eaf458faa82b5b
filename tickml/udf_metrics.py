"""The exporter of the UDF processes' counters: ``tickml udfs serve-metrics`` (the stack's udf-metrics service).

Every UDF process writes its counters to a file of its own in the metrics
folder (``udfs/agent/metrics.py``); this process sums them with
prometheus_client's ``MultiProcessCollector`` and serves the sum in
Prometheus's text format at the address Telegraf's ``[[inputs.prometheus]]``
scrapes (telegraf/telegraf.conf), so the address is configured in one place.

A process's file outlives it, so that a counter never goes backwards while
the stack runs. At start the exporter removes the files of processes that
are gone: the stack is (re)starting, and Telegraf's rate queries
(``non_negative_derivative``) take the drop as the reset it is.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
from pathlib import Path

log = logging.getLogger(__name__)

_PID = re.compile(r"_(\d+)\.db$")


def remove_dead(folder: Path) -> list[Path]:
    """Remove the counter files of processes that no longer run; returns the ones removed."""
    removed = []
    for path in folder.glob("*.db"):
        match = _PID.search(path.name)
        if match is None:
            continue
        try:
            os.kill(int(match.group(1)), 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)
            removed.append(path)
        except PermissionError:
            pass  # alive, another user's
    return removed


def serve(host: str, port: int, folder: Path) -> None:
    """Serve the sum of ``folder``'s counters at ``http://host:port/metrics`` until SIGTERM or SIGINT."""
    folder.mkdir(parents=True, exist_ok=True)
    removed = remove_dead(folder)
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(folder))
    server, thread = start_http_server(port, addr=host, registry=registry)
    log.info("serving the UDF counters of %s at http://%s:%d/metrics (removed %d files of processes gone)",
             folder, host, port, len(removed))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    thread.join(5)
