"""Kapacitor's HTTP API (/kapacitor/v1): the few calls this project makes, on the tools' one HTTP client.

Tasks (define, enable only when every socket UDF answers, delete), users, ``/write`` into the stream, and
Kapacitor's own recordings and replays (the calls ``kapacitor record|replay`` make).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote, urlencode

from tickml import config, secrets, udfcheck
from tickml.http import Api, HttpError


class UdfNotAnswering(RuntimeError):
    """A task was not enabled because a socket UDF it calls does not answer (Kapacitor would panic)."""


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
        if login is _ADMIN:
            try:
                login = secrets.kapacitor_login()
            except secrets.SecretsError:
                login = None  # no secrets here: a Kapacitor without auth, or the caller's error
        self._api = Api("Kapacitor", self.url, None if login is None else secrets.basic_auth(*login))

    def _call(self, method: str, path: str, body: dict | None = None, data: bytes | None = None) -> dict:
        raw = self.fetch(path, method, json.dumps(body).encode() if body is not None else data)
        return json.loads(raw) if raw else {}

    def fetch(self, path: str, method: str = "GET", data: bytes | None = None, timeout: float = 30) -> bytes:
        """The raw answer to one request under /kapacitor/v1 (a pprof profile; JSON goes through ``_call``)."""
        return self._api.request(method, path, data=data, headers={"Content-Type": "application/json"},
                                 timeout=timeout)

    def write(self, lines: list[str] | str, database: str = "telemetry", rp: str = "autogen",
              precision: str = "ns") -> None:
        """Line protocol into Kapacitor's stream (/write), as Telegraf or a subscription delivers it."""
        payload = lines if isinstance(lines, str) else "\n".join(lines)
        query = urlencode({"db": database, "rp": rp, "precision": precision})
        self._call("POST", f"/write?{query}", data=payload.encode())

    def task(self, name: str) -> dict | None:
        return self._found(f"/tasks/{name}?dot-view=labels&script-format=raw&replay-id=")

    def user(self, name: str) -> dict | None:
        return self._found(f"/users/{name}")

    def _found(self, path: str) -> dict | None:
        """GET ``path``; None when Kapacitor has no such thing (404)."""
        try:
            return self._call("GET", path)
        except HttpError as exc:
            if exc.status == 404:
                return None
            raise

    def tasks(self) -> list[dict]:
        return self._call("GET", "/tasks?fields=status&fields=executing&fields=type&fields=error")["tasks"]

    def define(self, task) -> str:
        """Create or update ``task`` (a ``tickml.tasks.Task``: its name, script, vars, enabled); an enabled task is re-enabled so the new script runs."""
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

    # -- alert topics and their handlers (``kapacitor define-topic-handler`` makes the same call) --

    def define_handler(self, topic: str, handler_id: str, kind: str, options: dict) -> str:
        """Create or replace a handler of an alert topic; ``unchanged`` when Kapacitor has it as given."""
        spec = {"id": handler_id, "kind": kind, "options": options}
        held = self._found(f"/alerts/topics/{topic}/handlers/{handler_id}")
        if held is None:
            self._call("POST", f"/alerts/topics/{topic}/handlers", spec)
            return "defined"
        if (held.get("kind"), held.get("options")) == (kind, options):
            return "unchanged"
        self._call("PUT", f"/alerts/topics/{topic}/handlers/{handler_id}", spec)
        return "updated"

    def topic_events(self, topic: str, min_level: str = "OK") -> list[dict]:
        """An alert topic's events as Kapacitor holds them now: each alert's id and its last state; those at
        ``min_level`` or above (OK: every one)."""
        try:
            found = self._found(f"/alerts/topics/{quote(topic, safe='')}/events?{urlencode({'min-level': min_level})}")
        except HttpError as exc:
            # A topic no alert has reached yet does not exist, and Kapacitor answers its events with a 500, not
            # a 404: it has no events.
            if exc.status == 500 and "unknown topic" in str(exc):
                return []
            raise
        return found["events"] if found else []

    def topics(self, min_level: str = "OK") -> list[dict]:
        """The alert topics whose highest event is at ``min_level`` or above: each one's id and level."""
        return self._call("GET", f"/alerts/topics?{urlencode({'min-level': min_level})}")["topics"]

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
        query = urlencode({"pattern": pattern, "limit": 100_000})
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
