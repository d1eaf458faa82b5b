"""Define, enable and list the project's Kapacitor tasks from the task list (``tickml tasks``).

    tickml tasks define [TASK ...]    # define (or update) and enable
    tickml tasks disable [TASK ...]
    tickml tasks delete [TASK ...]
    tickml tasks list

The task list is ``tick_scripts/tasks.json``. Each entry names the TICKscript,
the task name, the type and the database/retention policy, and the UDFs it
calls. ``define`` also puts the handlers of the alert topics the tasks publish
to (``kapacitor/alert_handlers.json``). The TICKscripts declare their own ``dbrp`` so that
``kapacitor define NAME -tick FILE`` works on them as they are; this command
checks that the list and the scripts agree, and that every UDF is configured
in kapacitor/kapacitor.conf, before it talks to Kapacitor.

A script that declares ``var flush_interval`` (how often its ``influxDBOut()``
writes; the shipped scripts say 10s, Kapacitor's default) is defined with that
var set: to ``TICKML_FLUSH_INTERVAL`` (a TICKscript duration, e.g. ``1s``)
where it is set, as the tests do so that a result lands in a second, else to
the script's own value. Always set, because Kapacitor keeps a task's var once
given (a PATCH without it leaves it as it was): a stack the tests defined
goes back to 10 s at the next ``tickml tasks define``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
from pathlib import Path

from tickml import config
from tickml.kapacitor import Kapacitor
from tickml.names import pick
from tickml.paths import LOGS, ROOT
from udfs.agent.durations import parse_duration

TASK_LIST = ROOT / "tick_scripts" / "tasks.json"
HANDLERS = ROOT / "kapacitor" / "alert_handlers.json"
_DBRP = re.compile(r'^\s*dbrp\s+"([^"]+)"\s*\.\s*"([^"]+)"', re.MULTILINE)
_FLUSH_VAR = re.compile(r"^\s*var\s+flush_interval\s*=\s*(\S+)\s*$", re.MULTILINE)
FLUSH_INTERVAL_ENV = "TICKML_FLUSH_INTERVAL"


class TaskListError(ValueError):
    """The task list or a TICKscript is inconsistent; the message names the task."""


@dataclasses.dataclass(frozen=True)
class Task:
    name: str
    script_path: Path
    type: str
    dbrp: str
    udfs: tuple[str, ...]
    enabled: bool
    # Kapacitor's form, {"name": {"type": ..., "value": ...}}: what the task is defined with besides its script.
    vars: dict = dataclasses.field(default_factory=dict, hash=False)

    @property
    def script(self) -> str:
        return self.script_path.read_text()


def load_tasks(path: Path = TASK_LIST) -> list[Task]:
    """Read and check the task list; every problem found is reported at once."""
    entries = json.loads(path.read_text())["tasks"]
    flush_interval = _flush_interval()
    configured = set(config.read_toml(config.KAPACITOR_CONF).get("udf", {}).get("functions", {}))
    tasks, problems = [], []
    for entry in entries:
        name = entry.get("task_name", "<unnamed>")
        script_path = ROOT / "tick_scripts" / entry["tick_script"]
        if not script_path.is_file():
            problems.append(f"{name}: TICKscript {script_path} does not exist")
            continue
        task = Task(
            name,
            script_path,
            entry.get("type", "stream"),
            entry["dbrp"],
            tuple(u["name"] if isinstance(u, dict) else u for u in entry.get("udfs", [])),
            bool(entry.get("enabled", True)),
        )
        script = task.script
        flush = _FLUSH_VAR.search(script)
        if flush:
            try:
                interval = flush_interval or parse_duration(flush.group(1))
                task = dataclasses.replace(task, vars={"flush_interval": {"type": "duration", "value": interval}})
            except ValueError:
                problems.append(f"{name}: var flush_interval = {flush.group(1)} in {script_path.name} is not a duration")
        if task.type not in ("stream", "batch"):
            problems.append(f"{name}: type must be stream or batch, got {task.type!r}")
        declared = {f"{db}.{rp}" for db, rp in _DBRP.findall(script)}
        if declared != {task.dbrp}:
            problems.append(f"{name}: the list says dbrp {task.dbrp}, {script_path.name} declares {sorted(declared)}")
        first_node = re.search(r"\b(stream|batch)\s*\n?\s*\|", script)
        if first_node and first_node.group(1) != task.type:
            problems.append(f"{name}: the list says {task.type}, {script_path.name} is a {first_node.group(1)} script")
        for udf in task.udfs:
            if udf not in configured:
                problems.append(f"{name}: UDF {udf!r} is not in kapacitor.conf [udf.functions] ({sorted(configured)})")
            if f"@{udf}(" not in script:
                problems.append(f"{name}: UDF {udf!r} is listed but {script_path.name} never calls @{udf}()")
        tasks.append(task)
    if problems:
        raise TaskListError("task list problems:\n  " + "\n  ".join(problems))
    return tasks


@dataclasses.dataclass(frozen=True)
class Handler:
    topic: str
    id: str
    kind: str
    options: dict = dataclasses.field(hash=False)


def load_handlers(path: Path = HANDLERS, logs: Path = LOGS) -> list[Handler]:
    """The alert topics' handlers of ``kapacitor/alert_handlers.json``, a log handler's path made absolute
    under the stack's log folder (Kapacitor wants one)."""
    try:
        entries = json.loads(path.read_text())["handlers"]
        out = []
        for entry in entries:
            options = dict(entry.get("options", {}))
            if entry["kind"] == "log":
                options["path"] = str(logs / options["path"])
            out.append(Handler(entry["topic"], entry["id"], entry["kind"], options))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TaskListError(f"{path}: {type(exc).__name__}: {exc}") from None
    return out


def define_all(kapacitor: Kapacitor, tasks: list[Task] | None = None) -> list[str]:
    """Define the tasks (all of the list by default) and the alert topics' handlers; a line for each."""
    lines = [f"{task.name:32s} {kapacitor.define(task)}" for task in (load_tasks() if tasks is None else tasks)]
    for h in load_handlers():
        lines.append(f"{'topic ' + h.topic + ' handler ' + h.id:32s} "
                     f"{kapacitor.define_handler(h.topic, h.id, h.kind, h.options)}")
    return lines


def _flush_interval() -> int | None:
    """``TICKML_FLUSH_INTERVAL`` in nanoseconds (the form of a duration var in Kapacitor's API); None when unset."""
    text = os.environ.get(FLUSH_INTERVAL_ENV, "").strip()
    if not text:
        return None
    try:
        interval = parse_duration(text)
    except ValueError:
        interval = 0
    if interval <= 0:
        raise TaskListError(f"{FLUSH_INTERVAL_ENV}={text!r}: not a TICKscript duration above zero (e.g. 1s, 500ms)")
    return interval


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["define", "disable", "delete", "list"],
                        help="define (or update) and enable; disable; delete; list what Kapacitor runs")
    parser.add_argument("tasks", nargs="*", metavar="TASK", help="only these tasks of the task list (default: all)")
    parser.add_argument("--kapacitor", default=None, help="Kapacitor URL (default: from kapacitor/kapacitor.conf)")


def run(args: argparse.Namespace) -> int:
    try:
        tasks = pick(load_tasks(), args.tasks, "task", TaskListError)
        kapacitor = Kapacitor(args.kapacitor)
        if args.action == "list":
            for t in kapacitor.tasks():
                print(f"{t['id']:32s} {t['type']:7s} {t['status']:9s} executing={t['executing']} {t.get('error', '')}")
            return 0
        if args.action == "define":
            for line in define_all(kapacitor, tasks):
                print(line)
            return 0
        for task in tasks:
            if args.action == "disable":
                kapacitor.set_status(task.name, "disabled")
                print(f"{task.name:32s} disabled")
            else:
                kapacitor.delete(task.name)
                print(f"{task.name:32s} deleted")
    except (TaskListError, RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
