"""The task list and the plain kapacitor CLI on the shipped TICKscripts."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys

import pytest

from stackutil import flush_vars
from tickml import tasks
from tickml.paths import ROOT

pytestmark = pytest.mark.stack


def test_every_listed_task_is_defined_enabled_and_executing(kapacitor):
    listed = {t.name: t.script for t in tasks.load_tasks()}
    running = {t["id"]: t for t in kapacitor.tasks()}
    assert set(listed) <= set(running)
    for name, script in listed.items():
        assert running[name]["status"] == "enabled", name
        assert running[name]["executing"], f"{name}: {running[name].get('error')}"
        # With the tests' flush interval (tests/conftest.py), which the tests' short waits count on; a script that
        # writes nothing to InfluxDB (model_coefficients publishes over MQTT) has none.
        held = kapacitor.task(name)["vars"].get("flush_interval")
        if not _writes(script):
            assert held is None, name
            continue
        assert (held["type"], held["value"]) == ("duration", flush_vars()["flush_interval"]["value"]), name


def _writes(script: str) -> bool:
    """Whether a TICKscript writes to InfluxDB (an influxDBOut node): only then does it take a flush interval."""
    return "|influxDBOut()" in script


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "tick_scripts").glob("*.tick")))
def test_every_shipped_influxdbout_flushes_at_the_flush_interval_var(script):
    text = (ROOT / "tick_scripts" / script).read_text()
    if not _writes(text):
        assert "flush_interval" not in text, "a var of a script that writes nothing to InfluxDB"
        return
    assert re.search(r"^var flush_interval = 10s$", text, re.M), "Kapacitor's default, a var a task may shorten"
    outs = re.findall(r"\|influxDBOut\(\)\n(\s+\..*\n)", text)
    assert outs and all(o.strip() == ".flushInterval(flush_interval)" for o in outs), outs


def test_the_flush_interval_var_is_the_environments_else_the_scripts(monkeypatch):
    monkeypatch.setenv(tasks.FLUSH_INTERVAL_ENV, "250ms")
    writing = {t.name for t in tasks.load_tasks() if _writes(t.script)}
    assert writing and {t.name: t.vars for t in tasks.load_tasks()} == \
        {t.name: {"flush_interval": {"type": "duration", "value": 250 * 10**6}} if t.name in writing else {}
         for t in tasks.load_tasks()}
    monkeypatch.delenv(tasks.FLUSH_INTERVAL_ENV)
    # Set all the same: Kapacitor keeps a var a task was once given, so a stack the tests defined goes back.
    assert {t.vars["flush_interval"]["value"] for t in tasks.load_tasks() if t.name in writing} == {10 * 10**9}
    monkeypatch.setenv(tasks.FLUSH_INTERVAL_ENV, "soon")
    with pytest.raises(tasks.TaskListError, match="TICKML_FLUSH_INTERVAL='soon'"):
        tasks.load_tasks()


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "tick_scripts").glob("*.tick")))
def test_kapacitor_cli_defines_and_enables_each_shipped_script(stack, kapacitor, run_id, script):
    """`kapacitor define NAME -tick FILE && kapacitor enable NAME` works on the files as they are."""
    # As docs/install.md has users do it: the login and the CA from `tickml secrets env`.
    exports = subprocess.run([sys.executable, "-m", "tickml", "secrets", "env"], capture_output=True, text=True,
                             check=True).stdout
    env = {**os.environ, **dict(shlex.split(line.removeprefix("export "))[0].split("=", 1)
                               for line in exports.splitlines())}
    env.pop("SSL_CERT_DIR", None)  # the stack's CA alone
    cli = [str(stack.BIN / "kapacitor")]
    name = f"cli_{run_id.strip('-')}_{script.removesuffix('.tick')}"
    try:
        define = subprocess.run(cli + ["define", name, "-tick", f"tick_scripts/{script}"],
                                cwd=stack.ROOT, capture_output=True, text=True, env=env)
        assert define.returncode == 0, define.stderr
        enable = subprocess.run(cli + ["enable", name], cwd=stack.ROOT, capture_output=True, text=True, env=env)
        assert enable.returncode == 0, enable.stderr
        task = kapacitor.task(name)
        assert task["status"] == "enabled" and task["executing"], task.get("error")
        (declared,) = tasks._DBRP.findall((stack.ROOT / "tick_scripts" / script).read_text())
        assert task["dbrps"] == [{"db": declared[0], "rp": declared[1]}]
    finally:
        subprocess.run(cli + ["delete", "tasks", name], cwd=stack.ROOT, capture_output=True, env=env)
        if kapacitor.task(name) is not None:  # the CLI's delete can fail on a busy Kapacitor: leave no task behind
            kapacitor.delete(name)


def test_a_task_list_that_disagrees_with_its_scripts_is_refused_with_every_reason(tmp_path):
    bad = {"tasks": [
        {"task_name": "a", "tick_script": "py_point_classifier.tick", "type": "batch", "dbrp": "other.autogen",
         "udfs": [{"type": "python", "name": "nonexistent_udf"}]},
        {"task_name": "b", "tick_script": "missing.tick", "dbrp": "telemetry.autogen"},
    ]}
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(tasks.TaskListError) as err:
        tasks.load_tasks(path)
    text = str(err.value)
    assert "a: the list says dbrp other.autogen, py_point_classifier.tick declares ['telemetry.autogen']" in text
    assert "a: the list says batch, py_point_classifier.tick is a stream script" in text
    assert "a: UDF 'nonexistent_udf' is not in kapacitor.conf" in text
    assert "b: TICKscript" in text and "missing.tick does not exist" in text
