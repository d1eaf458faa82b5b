"""The simulator's memory: a large fleet costs memory per device, not per message.

Runs the simulator's command (``python -m devices.simulator --protocol
stdout``, output to /dev/null) for a fleet of N devices (100,000 by default)
for 1 tick and for several, and prints each run's peak resident memory (the
kernel's maxrss of the child) beside a run of 1 device, the interpreter and
its imports. Per device is (peak - the baseline) / N; per message, what a
run of twice as many ticks adds, divided by the messages it adds: near 0
when nothing is kept per message.

    python bench/fleet_memory.py [--devices 100000] [--ticks 4]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time


def peak_mb(devices: int, ticks: int) -> tuple[float, float]:
    """(peak resident MB, seconds) of one simulator run; each run in a process of its own."""
    code = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    command = [sys.executable, "-m", "devices.simulator", "--protocol", "stdout", "--devices", str(devices),
               "--ticks", str(ticks), "--speed", "0", "--types", "thermostat,power_meter", "-q"]
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code, *command], capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return int(out.stdout.split()[-1]) / 1024, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--ticks", type=int, default=4, help="ticks of the longer run; the longest has twice as many (%(default)s)")
    args = parser.parse_args(argv)
    assert resource.getrusage  # Linux: maxrss in KB
    base, _ = peak_mb(1, 1)
    runs = [(ticks, *peak_mb(args.devices, ticks)) for ticks in (1, args.ticks, 2 * args.ticks)]
    print(f"{'run':34s} {'messages':>10s} {'peak MB':>8s} {'seconds':>8s}")
    print(f"{'1 device, 1 tick (baseline)':34s} {1:10d} {base:8.1f} {'-':>8s}")
    for ticks, mb, seconds in runs:
        print(f"{f'{args.devices} devices, {ticks} ticks':34s} {args.devices * ticks:10d} {mb:8.1f} {seconds:8.1f}")
    (_, one, _), (_, some, _), (_, twice, _) = runs
    print()
    # A tick is built whole, and the next one begins before the last is freed: the first few ticks raise
    # the peak; a cost per message would go on raising it.
    print(f"per device: {(one - base) * 1024 / args.devices:.2f} KB at 1 tick, {(some - base) * 1024 / args.devices:.2f} "
          f"KB at {args.ticks}; per message from {args.ticks} to {2 * args.ticks} ticks: "
          f"{(twice - some) * 1024 * 1024 / (args.devices * args.ticks):.1f} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
