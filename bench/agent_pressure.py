"""Memory of a socket UDF whose handler is ten times slower than its input.

A socket UDF (``Sleepy`` of the agent tests: 1 ms a point, so 1,000 points/s)
is fed 10,000 points/s for ``--seconds`` by this script acting as Kapacitor,
and the UDF process's resident memory is sampled every 50 ms. Two runs, side
by side: the agent as shipped (input bounded at ``--max-queued-bytes``, after
which it stops reading and the feeder's writes block), and the same agent
with the bound lifted (the reference: what an unbounded queue costs).

Run: ``python bench/agent_pressure.py [--seconds 30] [--max-queued-bytes 33554432]``; ``--smoke``: 2 s with
the bound at 1 MiB, so that it is reached (tests/unit/test_bench_agent_pressure_smoke.py runs it, so that the
bench cannot rot).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from udfs.agent import DEFAULT_MAX_QUEUED_BYTES, encode_frame, udf_pb2  # noqa: E402

HANDLERS = REPO / "tests" / "unit" / "agent" / "agent_test_handlers.py"
RATE = 10_000  # points/s fed; the handler takes 1 ms a point


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def request(**kwargs) -> bytes:
    return encode_frame(udf_pb2.Request(**kwargs).SerializeToString())


def _discard(sock: socket.socket) -> None:
    """Read and drop whatever comes back, as Kapacitor would read it."""
    try:
        while sock.recv(1 << 16):
            pass
    except OSError:
        pass


def run(max_queued_bytes: int, seconds: float) -> tuple[float, float, int, float]:
    """Peak RSS (MB), RSS at start (MB), points the UDF accepted, and the feeder's achieved rate."""
    with tempfile.TemporaryDirectory(prefix="tickml-") as folder:
        path = os.path.join(folder, "pressure.sock")
        env = dict(os.environ, PYTHONPATH=str(REPO))
        proc = subprocess.Popen([sys.executable, str(HANDLERS), "Sleepy", "--socket", path, "--log-level", "WARNING",
                                 "--max-queued-bytes", str(max_queued_bytes)], cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(300):
                if os.path.exists(path):
                    break
                time.sleep(0.05)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(path)
            pause = udf_pb2.Option(name="pause", values=[udf_pb2.OptionValue(type=udf_pb2.DURATION,
                                                                                durationValue=1_000_000)])
            sock.sendall(request(init=udf_pb2.InitRequest(options=[pause], taskID="bench", nodeID="pressure")))
            threading.Thread(target=_discard, args=(sock,), daemon=True).start()
            start_rss = peak = rss_mb(proc.pid)
            point = udf_pb2.Point(name="pressure", group="device_id=d1,", tags={"device_id": "d1"},
                                  fieldsDouble={"value": 1.0}, fieldsString={"note": "x" * 150})
            per_tick = RATE // 20
            sent, started = 0, time.monotonic()
            stop = started + seconds
            while time.monotonic() < stop:
                body = b"".join(request(point=udf_pb2.Point(time=sent + i, name=point.name, group=point.group,
                                                             tags=point.tags, fieldsDouble=point.fieldsDouble,
                                                             fieldsString=point.fieldsString))
                                for i in range(per_tick))
                sock.settimeout(max(0.01, stop - time.monotonic()))
                try:
                    sock.sendall(body)
                    sent += per_tick
                except socket.timeout:
                    break  # the UDF stopped reading: back-pressure
                peak = max(peak, rss_mb(proc.pid))
                time.sleep(max(0.0, started + sent / RATE - time.monotonic()))
            elapsed = time.monotonic() - started
            peak = max(peak, rss_mb(proc.pid))
            sock.close()
            return peak, start_rss, sent, sent / elapsed
        finally:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> dict[str, dict]:
    """Run; the figures printed, by row label: peak and growth (MB), points accepted, the feeder's rate."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--max-queued-bytes", type=int, default=DEFAULT_MAX_QUEUED_BYTES)
    parser.add_argument("--smoke", action="store_true", help="2 s, bound 1 MiB: that it runs, not a figure")
    args = parser.parse_args(argv)
    if args.smoke:
        args.seconds, args.max_queued_bytes = 2.0, 2**20
    bound = args.max_queued_bytes / 2**20
    print(f"socket UDF, handler 1,000 points/s, fed {RATE:,} points/s for {args.seconds:.0f} s "
          f"(~250-byte points)\n")
    print(f"{'run':<34}{'peak RSS MB':>12}{'growth MB':>11}{'accepted':>10}{'fed/s':>9}  bound")
    rows = {}
    for label, limit in ((f"bounded at {bound:.0f} MiB (as shipped)", args.max_queued_bytes),
                         ("unbounded (reference)", 1 << 40)):
        peak, start, sent, rate = run(limit, args.seconds)
        target = f"growth <= {bound * 1.5:.0f} MB" if limit == args.max_queued_bytes else ""
        print(f"{label:<34}{peak:>12.1f}{peak - start:>11.1f}{sent:>10,}{rate:>9,.0f}  {target}")
        rows[label] = {"peak_mb": peak, "growth_mb": peak - start, "accepted": sent, "fed_per_s": rate}
    return rows


if __name__ == "__main__":
    main()
