"""The simulator's memory: a large fleet costs memory per device, not per message.

Runs the simulator's command (``python -m devices.simulator --protocol
stdout``, output to /dev/null) for a fleet of N devices (100,000 by default)
for 1 tick and for several, and prints each run's peak resident memory (the
kernel's maxrss of the child) beside a run of 1 device, the interpreter and
its imports. Per device is (peak - the baseline) / N; per message, what a
run of twice as many ticks adds, divided by the messages it adds: near 0
when nothing is kept per message.

``--protocol mqtt`` or ``otlp`` measures the sender with its client too, in
one process (``--processes 1``: the simulator builds and sends), against a
receiver of the bench's own that takes everything and keeps nothing: a
Mosquitto without subscribers, a Telegraf with only its OpenTelemetry input
and an output to an InfluxDB no one listens on (its bounded buffer drops
what overflows). The shared stack receives nothing.

    python bench/fleet_memory.py [--devices 100000] [--ticks 4] [--protocol stdout|mqtt|otlp] [--smoke]

``--smoke``: 200 devices, 2 and 4 ticks, seconds (tests/unit/test_bench_fleet_memory_smoke.py runs it for each
protocol, so that the bench cannot rot).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def peak_mb(devices: int, ticks: int, sending: list[str]) -> tuple[float, float]:
    """(peak resident MB, seconds) of one simulator run; each run in a process of its own."""
    code = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    command = [sys.executable, "-m", "devices.simulator", *sending, "--devices", str(devices),
               "--ticks", str(ticks), "--speed", "0", "--types", "thermostat,power_meter", "-q"]
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code, *command], capture_output=True, text=True, check=True,
                         cwd=REPO)
    return int(out.stdout.split()[-1]) / 1024, time.monotonic() - started


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the bench's receiver did not listen on port {port} within {timeout:.0f} s")


@contextlib.contextmanager
def receiver(protocol: str):
    """The simulator's options that send ``protocol`` to a receiver of the bench's own, running meanwhile."""
    if protocol == "stdout":
        yield ["--protocol", "stdout"]
        return
    port = _free_port()
    with tempfile.TemporaryDirectory() as folder:
        if protocol == "mqtt":
            config = os.path.join(folder, "mosquitto.conf")
            with open(config, "w") as fh:
                fh.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\n")
            command = [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", config]
            options = ["--protocol", "mqtt", "--mqtt", f"tcp://127.0.0.1:{port}"]
        else:
            config = os.path.join(folder, "telegraf.conf")
            with open(config, "w") as fh:
                # The stack's Telegraf has no discard output: an InfluxDB no one listens on; the output's
                # bounded buffer drops what overflows.
                fh.write(f'[agent]\n  omit_hostname = true\n  metric_batch_size = 5000\n'
                         f'  metric_buffer_limit = 10000\n[[inputs.opentelemetry]]\n'
                         f'  service_address = "127.0.0.1:{port}"\n[[outputs.influxdb]]\n'
                         f'  urls = ["http://127.0.0.1:{_free_port()}"]\n  skip_database_creation = true\n')
            command = [os.path.join(REPO, ".stack", "bin", "telegraf"), "--config", config]
            options = ["--protocol", "otlp", "--otlp", f"http://127.0.0.1:{port}"]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _listening(port)
            yield [*options, "--processes", "1"]
        finally:
            process.terminate()
            process.wait(30)


def main(argv: list[str] | None = None) -> dict:
    """Run; the figures printed: ``baseline`` (MB), ``runs`` ({ticks: (peak MB, seconds)}), ``per_device`` (KB at
    1 tick and at ``--ticks``) and ``per_message`` (bytes)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--ticks", type=int, default=4, help="ticks of the longer run; the longest has twice as many (%(default)s)")
    parser.add_argument("--protocol", choices=["stdout", "mqtt", "otlp"], default="stdout",
                        help="stdout: building the messages only; mqtt, otlp: sending them too, to a receiver of the "
                        "bench's own (%(default)s)")
    parser.add_argument("--smoke", action="store_true", help="200 devices, 2 ticks: that it runs, not a figure")
    args = parser.parse_args(argv)
    if args.smoke:
        args.devices, args.ticks = 200, 2
    assert resource.getrusage  # Linux: maxrss in KB
    with receiver(args.protocol) as sending:
        base, _ = peak_mb(1, 1, sending)
        runs = [(ticks, *peak_mb(args.devices, ticks, sending)) for ticks in (1, args.ticks, 2 * args.ticks)]
    print(f"# --protocol {args.protocol}" + ("" if args.protocol == "stdout" else ", sent from the simulator's process"))
    print(f"{'run':34s} {'messages':>10s} {'peak MB':>8s} {'seconds':>8s}")
    print(f"{'1 device, 1 tick (baseline)':34s} {1:10d} {base:8.1f} {'-':>8s}")
    for ticks, mb, seconds in runs:
        print(f"{f'{args.devices} devices, {ticks} ticks':34s} {args.devices * ticks:10d} {mb:8.1f} {seconds:8.1f}")
    (_, one, _), (_, some, _), (_, twice, _) = runs
    print()
    # A tick is built whole, and the next one begins before the last is freed: the first few ticks raise
    # the peak; a cost per message would go on raising it.
    per_device = ((one - base) * 1024 / args.devices, (some - base) * 1024 / args.devices)
    per_message = (twice - some) * 1024 * 1024 / (args.devices * args.ticks)
    print(f"per device: {per_device[0]:.2f} KB at 1 tick, {per_device[1]:.2f} "
          f"KB at {args.ticks}; per message from {args.ticks} to {2 * args.ticks} ticks: {per_message:.1f} bytes")
    return {"baseline": base, "runs": {ticks: (mb, seconds) for ticks, mb, seconds in runs},
            "per_device": per_device, "per_message": per_message}


if __name__ == "__main__":
    main()
