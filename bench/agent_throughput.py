"""Points per second through a pass-through UDF: tickml's agent vs Kapacitor's.

Both agents run the same handler in a subprocess (a pass-through that
forwards every point, and a filter that reads one field before forwarding),
fed by this script acting as Kapacitor: Info, Init, then N stream points written as
fast as the UDF takes them, counting points back until all N returned.
Two harnesses: a pipe (process UDF on stdin/stdout) and a unix socket
(socket UDF). Kapacitor's official Python agent is imported at run time
from the Kapacitor module source the stack install downloaded (never copied
into this repository).

Usage::

    python bench/agent_throughput.py [--points 200000] [--repeat 3] [--harness pipe socket]
                                     [--handler passthrough filter]
                                     [--reference PATH/TO/kapacitor/udf/agent/py] [--smoke]

``--smoke``: 2,000 points, one run of each (tests/unit/test_bench_agent_throughput_smoke.py runs it, so that
the bench cannot rot).

Prints, per handler, harness and agent, the best of ``--repeat`` runs as
points per wall-clock second and points per CPU-second of the UDF process
(the latter is steadier on a busy machine), and the ratios ours/official.
"""

from __future__ import annotations

import argparse
import glob
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

from udfs.agent import udf_pb2  # noqa: E402
from udfs.agent.framing import encode_frame  # noqa: E402

OURS = """
import sys
from udfs.agent import Handler, main

class PassThrough(Handler):
    def point(self, p):
        self.forward(p)

class Filter(Handler):
    def point(self, p):
        if p.number("temperature") > -1000.0:
            self.forward(p)

handler = {"passthrough": PassThrough, "filter": Filter}[sys.argv[1]]
sys.exit(main(handler, sys.argv[2:] + ["--log-level", "WARNING"]))
"""

# The handler as Kapacitor's own examples write one (udf/agent/examples):
# build a Response, copy the point into it, agent.write_response().
REFERENCE = """
import os, sys
sys.path.insert(0, os.environ["KAPACITOR_AGENT_PY"])
from kapacitor.udf.agent import Agent, Handler, Server
from kapacitor.udf import udf_pb2

class PassThrough(Handler):
    def __init__(self, agent):
        self._agent = agent
    def info(self):
        r = udf_pb2.Response()
        r.info.wants = udf_pb2.STREAM
        r.info.provides = udf_pb2.STREAM
        return r
    def init(self, init_req):
        r = udf_pb2.Response()
        r.init.success = True
        return r
    def snapshot(self):
        r = udf_pb2.Response()
        r.snapshot.snapshot = b""
        return r
    def restore(self, restore_req):
        r = udf_pb2.Response()
        r.restore.success = True
        return r
    def begin_batch(self, begin_req):
        pass
    def end_batch(self, end_req):
        pass
    def point(self, point):
        r = udf_pb2.Response()
        r.point.CopyFrom(point)
        self._agent.write_response(r)

class Filter(PassThrough):
    def point(self, point):
        if point.fieldsDouble["temperature"] > -1000.0:
            r = udf_pb2.Response()
            r.point.CopyFrom(point)
            self._agent.write_response(r)

Chosen = {"passthrough": PassThrough, "filter": Filter}[sys.argv.pop(1)]

class Accepter:
    def accept(self, conn, addr):
        agent = Agent(conn, conn)
        agent.handler = Chosen(agent)
        agent.start()
        agent.wait()

if len(sys.argv) > 2 and sys.argv[1] == "--socket":
    Server(sys.argv[2], Accepter()).serve()
else:
    agent = Agent()
    agent.handler = Chosen(agent)
    agent.start()
    agent.wait()
"""


def find_reference(explicit: str | None) -> Path | None:
    if explicit:
        return Path(explicit)
    roots = [os.environ.get("GOMODCACHE", ""), os.path.expanduser("~/go/pkg/mod"), "/root/go/pkg/mod"]
    for root in filter(None, roots):
        hits = sorted(glob.glob(os.path.join(root, "github.com/influxdata/kapacitor@v*/udf/agent/py")))
        if hits:
            return Path(hits[-1])
    return None


def check_reference(path: Path) -> str | None:
    """Why the official agent cannot run here, or None if it can."""
    if not (path / "kapacitor" / "udf" / "agent.py").exists():
        return f"no kapacitor/udf/agent.py under {path}"
    probe = subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
         "from kapacitor.udf import agent, udf_pb2; udf_pb2.Request(point=udf_pb2.Point(time=1))", str(path)],
        capture_output=True, text=True)
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["unknown error"])[-1]
        return f"importing it under Python {sys.version.split()[0]} fails: {last}"
    return None


def workload(n: int) -> tuple[bytes, bytes]:
    """Info+Init frames, and n point frames shaped like a sensor's."""
    head = encode_frame(udf_pb2.Request(info=udf_pb2.InfoRequest()).SerializeToString())
    head += encode_frame(udf_pb2.Request(init=udf_pb2.InitRequest(taskID="bench", nodeID="udf1"))
                         .SerializeToString())
    frames = []
    for i in range(n):
        p = udf_pb2.Point(time=1_700_000_000_000_000_000 + i * 1_000_000, name="point_data", database="telegraf",
                          retentionPolicy="autogen", group=f"device_id=dev{i % 50},", dimensions=["device_id"],
                          tags={"device_id": f"dev{i % 50}", "host": "edge-01", "topic": "temperature/simulated/0"},
                          fieldsDouble={"temperature": 20.0 + (i % 100) / 10, "humidity": 40.0 + (i % 7)},
                          fieldsInt={"seq": i})
        frames.append(encode_frame(udf_pb2.Request(point=p).SerializeToString()))
    return head, b"".join(frames)


class Counter:
    """Count varint-framed responses without parsing them, keeping the last one."""

    def __init__(self):
        self.buf = bytearray()
        self.count = 0
        self.last = b""

    def feed(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        pos, end = 0, len(buf)
        while pos < end:
            n = shift = 0
            i = pos
            while i < end:
                b = buf[i]
                i += 1
                n |= (b & 0x7F) << shift
                if b < 0x80:
                    break
                shift += 7
            else:
                break
            if i + n > end:
                break
            self.last = bytes(buf[i:i + n])
            self.count += 1
            pos = i + n
        del buf[:pos]


def cpu_seconds(pid: int) -> float | None:
    """User+system CPU time of a process, all threads (Linux /proc), else None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def run_once(program: str, handler: str, harness: str, head: bytes, body: bytes, n: int,
             env: dict) -> tuple[float, float | None]:
    """Wall seconds from the first point written to the n-th read back, and the UDF's CPU seconds."""
    with tempfile.TemporaryDirectory(prefix="tickml-bench-") as tmp:
        path = os.path.join(tmp, "udf.sock")
        args = [sys.executable, "-c", program, handler] + (["--socket", path] if harness == "socket" else [])
        proc = subprocess.Popen(args, cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            if harness == "socket":
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                deadline = time.monotonic() + 20
                while True:
                    try:
                        sock.connect(path)
                        break
                    except OSError:
                        if proc.poll() is not None or time.monotonic() > deadline:
                            raise RuntimeError(f"UDF did not start: {proc.stderr.read().decode()[-2000:]}")
                        time.sleep(0.02)
                write, read = sock.sendall, lambda: sock.recv(1 << 16)
                close_write = lambda: sock.shutdown(socket.SHUT_WR)  # noqa: E731
            else:
                wfd, rfd = proc.stdin.fileno(), proc.stdout.fileno()

                def write(data):
                    view = memoryview(data)
                    while view:
                        view = view[os.write(wfd, view):]

                read = lambda: os.read(rfd, 1 << 16)  # noqa: E731
                close_write = proc.stdin.close
            counter = Counter()
            write(head)
            while counter.count < 2:        # info and init answered: the UDF is ready
                data = read()
                if not data:
                    raise RuntimeError(f"UDF closed early: {proc.stderr.read().decode()[-2000:]}")
                counter.feed(data)
            counter.count = 0

            def feed_all():
                write(body)
                close_write()               # as Kapacitor does when a task stops

            cpu0 = cpu_seconds(proc.pid)
            start = time.perf_counter()
            writer = threading.Thread(target=feed_all, daemon=True)
            writer.start()
            while counter.count < n:
                data = read()
                if not data:
                    break
                counter.feed(data)
            elapsed = time.perf_counter() - start
            cpu1 = cpu_seconds(proc.pid)
            cpu = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
            writer.join(10)
            if counter.count != n:
                raise RuntimeError(f"got {counter.count} of {n} points back")
            last = udf_pb2.Response.FromString(counter.last)
            if last.point.fieldsInt["seq"] != n - 1:
                raise RuntimeError("points came back out of order or altered")
            return elapsed, cpu
        finally:
            if proc.poll() is None:
                proc.terminate()
            proc.wait(10)


def main(argv: list[str] | None = None) -> dict:
    """Run; the figures printed: ``{(handler, harness, agent): (wall points/s, cpu points/s or None)}``, and
    ``"official"``: why the official agent was not run, or None."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--harness", nargs="+", choices=("pipe", "socket"), default=["pipe", "socket"])
    parser.add_argument("--handler", nargs="+", choices=("passthrough", "filter"),
                        default=["passthrough", "filter"],
                        help="passthrough forwards every point unread; filter reads a field first")
    parser.add_argument("--reference", help="path of Kapacitor's udf/agent/py directory")
    parser.add_argument("--smoke", action="store_true", help="2,000 points, one run: that it runs, not a figure")
    args = parser.parse_args(argv)
    if args.smoke:
        args.points, args.repeat = 2_000, 1

    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    ref = find_reference(args.reference)
    why_not = "Kapacitor module source not found (run the stack install, or pass --reference)" \
        if ref is None else check_reference(ref)
    if ref is not None:
        env["KAPACITOR_AGENT_PY"] = str(ref)

    import google.protobuf

    print(f"python {sys.version.split()[0]}, protobuf {google.protobuf.__version__}, "
          f"{args.points} points per run, best of {args.repeat}")
    print(f"official agent: {ref if why_not is None else 'NOT RUN: ' + why_not}")
    head, body = workload(args.points)
    print(f"workload: {len(body) / args.points:.0f} bytes per point request; runs of the two agents "
          "alternate so that machine load hits both alike")
    print("wall = points/s seen by the feeder; cpu = points per CPU-second of the UDF process")
    agents = [("tickml", OURS)] + ([("official", REFERENCE)] if why_not is None else [])
    figures: dict = {"official": why_not}
    for handler in args.handler:
        for harness in args.harness:
            wall: dict[str, list[float]] = {a: [] for a, _ in agents}
            cpu: dict[str, list[float]] = {a: [] for a, _ in agents}
            for _ in range(args.repeat):
                for label, program in agents:
                    seconds, cpu_s = run_once(program, handler, harness, head, body, args.points, env)
                    wall[label].append(args.points / seconds)
                    if cpu_s:
                        cpu[label].append(args.points / cpu_s)
            for label, _ in agents:
                best_cpu = f"{max(cpu[label]):>12,.0f}" if cpu[label] else f"{'n/a':>12s}"
                print(f"{handler:11s} {harness:6s} {label:8s} wall {max(wall[label]):>12,.0f}   cpu {best_cpu}")
                figures[handler, harness, label] = (max(wall[label]), max(cpu[label]) if cpu[label] else None)
            if len(agents) == 2:
                ratio_wall = max(wall["tickml"]) / max(wall["official"])
                ratio_cpu = (f"{max(cpu['tickml']) / max(cpu['official']):.2f}x"
                             if cpu["tickml"] and cpu["official"] else "n/a")
                print(f"{handler:11s} {harness:6s} ratio    wall {ratio_wall:>11.2f}x   cpu {ratio_cpu:>12s}"
                      "   (tickml / official)")
    return figures


if __name__ == "__main__":
    main()
