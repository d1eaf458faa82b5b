"""Define, enable and list the project's Kapacitor tasks from the task list (``tickml tasks``).

    tickml tasks define [TASK ...]    # define (or update) and enable
    tickml tasks disable [TASK ...]
    tickml tasks delete [TASK ...]
    tickml tasks list

The task list is ``tick_scripts/tasks.json``. Each entry names the TICKscript,
the task name, the type and the database/retention policy, and the UDFs it
calls. The TICKscripts declare their own ``dbrp`` so that
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
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tickml import secrets, udfcheck
from tickml.names import pick
from tickml.paths import ROOT
from tickml.stack import config
from udfs.agent.durations import parse_duration

TASK_LIST = ROOT / "tick_scripts" / "tasks.json"
_DBRP = re.compile(r'^\s*dbrp\s+"([^"]+)"\s*\.\s*"([^"]+)"', re.MULTILINE)
_FLUSH_VAR = re.compile(r"^\s*var\s+flush_interval\s*=\s*(\S+)\s*$", re.MULTILINE)
FLUSH_INTERVAL_ENV = "TICKML_FLUSH_INTERVAL"


class TaskListError(ValueError):
    """The task list or a TICKscript is inconsistent; the message names the task."""


class UdfNotAnswering(RuntimeError):
    """A task was not enabled because a socket UDF it calls does not answer (Kapacitor would panic)."""


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


def _same_vars(held: dict | None, wanted: dict) -> bool:
    """Whether a task's vars as Kapacitor gives them (with a description each) hold ``wanted``. A var held
    beyond those is no difference: a PATCH cannot take it away, so defining the task again would change
    nothing but restart it."""
    held = held or {}
    return all(k in held and (held[k].get("type"), held[k].get("value")) == (v["type"], v["value"])
               for k, v in wanted.items())


_ADMIN = object()  # the default login: the stack's admin account


class Kapacitor:
    """The few calls of Kapacitor's HTTP API (/kapacitor/v1) this project makes."""

    def __init__(self, url: str | None = None, login=_ADMIN, conf: Path | None = None):
        """``login``: (user, password); by default the stack's admin account, where this machine has the
        secrets; None sends no login. ``conf``: the configuration that Kapacitor runs with, where its
        socket UDFs are (default the stack's; a shard's is its own)."""
        self.url = (url or config.kapacitor_url()).rstrip("/") + "/kapacitor/v1"
        self.conf = conf
        self._tls = secrets.client_tls(self.url)
        if login is _ADMIN:
            try:
                login = secrets.kapacitor_login()
            except secrets.SecretsError:
                login = None  # no secrets here: a Kapacitor without auth, or the caller's error
        self._authorization = None if login is None else secrets.basic_auth(*login)

    def _call(self, method: str, path: str, body: dict | None = None, data: bytes | None = None) -> dict:
        raw = self.fetch(path, method, json.dumps(body).encode() if body is not None else data)
        return json.loads(raw) if raw else {}

    def fetch(self, path: str, method: str = "GET", data: bytes | None = None, timeout: float = 30) -> bytes:
        """The raw answer to one request under /kapacitor/v1 (a pprof profile; JSON goes through ``_call``)."""
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self._authorization:
            request.add_header("Authorization", self._authorization)
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=self._tls) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            try:
                detail = json.loads(detail).get("error", detail)
            except ValueError:
                pass
            raise RuntimeError(f"Kapacitor {method} {path}: HTTP {exc.code}: {detail}") from None

    def write(self, lines: list[str] | str, database: str = "telemetry", rp: str = "autogen",
              precision: str = "ns") -> None:
        """Line protocol into Kapacitor's stream (/write), as Telegraf or a subscription delivers it."""
        payload = lines if isinstance(lines, str) else "\n".join(lines)
        query = urllib.parse.urlencode({"db": database, "rp": rp, "precision": precision})
        self._call("POST", f"/write?{query}", data=payload.encode())

    def task(self, name: str) -> dict | None:
        return self._found(f"/tasks/{name}?dot-view=labels&script-format=raw&replay-id=")

    def user(self, name: str) -> dict | None:
        return self._found(f"/users/{name}")

    def _found(self, path: str) -> dict | None:
        """GET ``path``; None when Kapacitor has no such thing (404)."""
        try:
            return self._call("GET", path)
        except RuntimeError as exc:
            if "HTTP 404" in str(exc):
                return None
            raise

    def tasks(self) -> list[dict]:
        return self._call("GET", "/tasks?fields=status&fields=executing&fields=type&fields=error")["tasks"]

    def define(self, task: Task) -> str:
        """Create or update the task; an enabled task is re-enabled so the new script runs."""
        existing = self.task(task.name)
        wanted = "enabled" if task.enabled else "disabled"
        if (existing is not None and existing.get("script") == task.script and existing.get("status") == wanted
                and _same_vars(existing.get("vars"), task.vars)):
            # Re-enabling would restart the task and drop its open windows.
            return "unchanged"
        if existing is None:
            self._call("POST", "/tasks", {"id": task.name, "script": task.script, "vars": task.vars,
                                          "status": "disabled"})
            action = "defined"
        else:
            if existing.get("status") == "enabled":
                self._call("PATCH", f"/tasks/{task.name}", {"status": "disabled"})
            self._call("PATCH", f"/tasks/{task.name}", {"script": task.script, "vars": task.vars})
            action = "updated"
        if task.enabled:
            self.enable(task.name, task.script)
            action += " and enabled"
        return action

    def enable(self, name: str, script: str | None = None) -> None:
        """Enable a task, but only once every socket UDF it calls answers.

        Kapacitor 1.8.3 enables a task whose socket UDF is down, then panics
        within the snapshot interval and takes every task with it.
        """

        if script is None:
            script = (self.task(name) or {}).get("script", "")
        silent = udfcheck.silent_udfs(script, self.conf)
        if silent:
            raise UdfNotAnswering(f"{name} not enabled: UDF {', '.join(silent)} does not answer; start it "
                                  f"(tickml stack start) and define the task again. (Enabling a task "
                                  f"whose socket UDF is down makes Kapacitor 1.8 panic.)")
        self._call("PATCH", f"/tasks/{name}", {"status": "enabled"})

    def set_status(self, name: str, status: str) -> None:
        self._call("PATCH", f"/tasks/{name}", {"status": status})

    def delete(self, name: str) -> None:
        self._call("DELETE", f"/tasks/{name}")

    def create(self, name: str, script: str, task_vars: dict | None = None, status: str = "disabled",
               type: str = "stream") -> dict:
        """Define a task from a script (and vars, ``{"name": {"type": ..., "value": ...}}``), disabled by default."""
        return self._call("POST", "/tasks", {"id": name, "type": type, "status": status, "script": script,
                                             "vars": task_vars or {}})

    # -- recordings and replays (Kapacitor's own; ``kapacitor record|replay|replay-live`` use the same calls) --

    def replay_query(self, task: str, query: str, replay_id: str, clock: str = "fast",
                     recording_time: bool = True) -> dict:
        """Replay what ``query`` selects into ``task`` (run apart from the live one, in time order); returns at once."""
        return self._call("POST", "/replays/query", {"id": replay_id, "task": task, "query": query,
                                                     "clock": clock, "recording-time": recording_time})

    def replay_recording(self, task: str, recording: str, replay_id: str | None = None, clock: str = "fast",
                         recording_time: bool = True) -> dict:
        body = {"task": task, "recording": recording, "clock": clock, "recording-time": recording_time}
        if replay_id:
            body["id"] = replay_id
        return self._call("POST", "/replays", body)

    def replay(self, replay_id: str) -> dict | None:
        """A replay's status (``running``, ``finished``, ``failed``) and error; None when there is none."""
        return self._found(f"/replays/{replay_id}")

    def replays(self, pattern: str = "*") -> list[dict]:
        """Replays whose id matches the glob ``pattern``, newest first."""
        query = urllib.parse.urlencode({"pattern": pattern, "limit": 100_000})
        return self._call("GET", f"/replays?{query}")["replays"]

    def delete_replay(self, replay_id: str) -> None:
        self._call("DELETE", f"/replays/{replay_id}")

    def record_query(self, query: str, recording_id: str | None = None, type: str = "stream") -> dict:
        body = {"query": query, "type": type}
        if recording_id:
            body["id"] = recording_id
        return self._call("POST", "/recordings/query", body)

    def record_stream(self, task: str, stop: str, recording_id: str | None = None) -> dict:
        """Record what ``task`` would read from the live stream until ``stop`` (RFC 3339); returns at once."""
        body = {"task": task, "stop": stop}
        if recording_id:
            body["id"] = recording_id
        return self._call("POST", "/recordings/stream", body)

    def recording(self, recording_id: str) -> dict | None:
        return self._found(f"/recordings/{recording_id}")

    def delete_recording(self, recording_id: str) -> None:
        self._call("DELETE", f"/recordings/{recording_id}")


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
        for task in tasks:
            if args.action == "define":
                print(f"{task.name:32s} {kapacitor.define(task)}")
            elif args.action == "disable":
                kapacitor.set_status(task.name, "disabled")
                print(f"{task.name:32s} disabled")
            else:
                kapacitor.delete(task.name)
                print(f"{task.name:32s} deleted")
    except (TaskListError, RuntimeError, urllib.error.URLError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
