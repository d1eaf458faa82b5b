"""Where a run's CPU goes, on both sides of the UDF protocol, while it runs through real Kapacitor.

- The UDF server: ``py-spy record --gil`` attached to its pid (sampling, no
  change to the process; only the thread holding the GIL, so waiting in
  ``recv`` does not count as work), raw collapsed stacks; summarised by the
  functions the samples were in (self) and the functions on the stack (total).
- kapacitord: Go's CPU profile from its pprof endpoint, which kapacitord
  serves when started with ``KAPACITOR_HTTP_PPROF_ENABLED=true``
  (``KAPACITOR_HTTP_PPROF_ENABLED=true tickml stack restart kapacitor``);
  summarised by ``go tool pprof -top``.

Both files are kept in the folder given, for a closer look
(``go tool pprof -http`` on the Go profile; speedscope or flamegraph.pl on
the collapsed stacks).
"""

from __future__ import annotations

import collections
import shutil
import signal
import subprocess
import threading
from pathlib import Path

from tickml.kapacitor import Kapacitor


class Profiles:
    """Profile a UDF server and kapacitord for the span of a ``with`` block."""

    def __init__(self, folder: Path, label: str, udf_pid: int | None, kapacitor: Kapacitor, go_seconds: int = 5):
        self.folder, self.label = folder, label.replace(" ", "_").replace("|", "").replace("(", "").replace(")", "")
        self.udf_pid, self.kapacitor, self.go_seconds = udf_pid, kapacitor, go_seconds
        self.udf_file = folder / f"{self.label}.udf.collapsed"
        self.go_file = folder / f"{self.label}.kapacitord.pprof"
        self._spy: subprocess.Popen | None = None
        self._go: threading.Thread | None = None
        self.go_error: str | None = None

    def __enter__(self) -> "Profiles":
        self.folder.mkdir(parents=True, exist_ok=True)
        spy = shutil.which("py-spy")
        if self.udf_pid and spy:
            self._spy = subprocess.Popen(
                [spy, "record", "--pid", str(self.udf_pid), "--format", "raw", "--rate", "250", "--nonblocking", "--gil",
                 "--output", str(self.udf_file)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._go = threading.Thread(target=self._fetch_go_profile, daemon=True)
        self._go.start()
        return self

    def _fetch_go_profile(self) -> None:
        try:
            self.go_file.write_bytes(self.kapacitor.fetch(f"/debug/pprof/profile?seconds={self.go_seconds}",
                                                          timeout=self.go_seconds + 30))
        except (RuntimeError, OSError) as exc:
            self.go_error = (f"no kapacitord profile ({exc}); start it with "
                             f"KAPACITOR_HTTP_PPROF_ENABLED=true tickml stack restart kapacitor")

    def __exit__(self, *exc) -> None:
        if self._spy is not None:
            self._spy.send_signal(signal.SIGINT)  # py-spy writes what it sampled and exits
            self._spy.wait(timeout=60)
        if self._go is not None:
            self._go.join(timeout=self.go_seconds + 40)

    def udf_summary(self, top: int = 12) -> list[str]:
        """The UDF's samples by function: self share (where the sample was) and total share (on the stack)."""
        if not self.udf_file.exists():
            return ["(no UDF profile: is py-spy installed, and the run long enough?)"]
        own, on_stack, total = collections.Counter(), collections.Counter(), 0
        for line in self.udf_file.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            frames = [_short(f) for f in stack.split(";") if f]
            total += n
            own[frames[-1]] += n
            for frame in set(frames):
                on_stack[frame] += n
        if not total:
            return ["(no samples)"]
        rows = [f"{'self':>6} {'total':>6}  function ({total} samples)"]
        for frame, n in own.most_common(top):
            rows.append(f"{n / total:>6.1%} {on_stack[frame] / total:>6.1%}  {frame}")
        return rows

    def go_summary(self, top: int = 12) -> list[str]:
        if self.go_error or not self.go_file.exists():
            return [self.go_error or "(no kapacitord profile)"]
        out = subprocess.run(["go", "tool", "pprof", "-top", f"-nodecount={top}", str(self.go_file)],
                             capture_output=True, text=True, timeout=120)
        lines = out.stdout.splitlines()
        start = next((i for i, l in enumerate(lines) if l.lstrip().startswith("flat")), 0)
        return lines[max(0, start - 2):] or [out.stderr.strip()]


def _short(frame: str) -> str:
    """``function (path/to/module.py:123)`` as ``function (module.py)``."""
    name, _, where = frame.partition(" (")
    module = where.rsplit("/", 1)[-1].split(":", 1)[0].rstrip(")")
    return f"{name} ({module})" if module else name
