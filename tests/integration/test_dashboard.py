"""The dashboard in a real browser (Debian's Chromium, driven by Playwright) on the real stack.

A short simulated fleet publishes over MQTT with a few rejected messages, and
a task of the test's own runs through a UDF of this checkout on a Kapacitor
of its own (dashboard_rig.UdfPipeline), so that every page has data the test
made. The pages are those of a dashboard app of this checkout (the stack's
own dashboard service may serve another). Each page must draw every panel
with data points, with no console error and no request off the machine;
screenshots go to the test's temporary folder. Then the bad cases: a device
no one knows, a range with nothing in it, a range that makes no sense, and
InfluxDB going down and coming back. The browser logs in as the stack's
dashboard account; a request without that login, or for another Host, is
refused, and a device id written to break out of its query shows nothing.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from dashboard_rig import DashboardOfItsOwn, InfluxdOfItsOwn, UdfPipeline
from stackutil import mqtt_publish, wait_until
from tickml import secrets, tasks
from tickml.dashboard import influxql, layout, settings
from tickml.dashboard.probe import launch, new_page, panel_states
from tickml.dashboard.panels import BY_NAME, PANELS, page_panels
from tickml.dashboard.schema import MEASUREMENTS
from tickml.dashboard.source import Source
from tickml.dashboard.timerange import Range
from tickml.influx import Influx, line
from tickml.paths import ROOT

pytestmark = pytest.mark.stack

LOOPBACK = {"127.0.0.1", "localhost", "[::1]"}
# What a page may take to show every panel with data once the fleet runs: training windows close every 20 s,
# statistics and counters need two 10 s buckets.
PAGE_TIMEOUT = 90.0


@pytest.fixture(scope="module")
def prefix() -> str:
    return f"dash{time.time_ns() % 10**8:08d}-"


@pytest.fixture(scope="module")
def activity(stack, prefix, tmp_path_factory):
    """The fleet, a few rejects and the UDF pipeline, running while the module's tests look."""
    folder = tmp_path_factory.mktemp("rig", numbered=True)
    fleet = subprocess.Popen([sys.executable, "-m", "tickml", "devices", "simulate", "--devices", "6", "--types",
                              "power_meter,thermostat", "--prefix", prefix, "--interval", "0.5", "--spikes", "0.05",
                              "--duration", "240", "-q"], cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=(folder / "fleet.log").open("wb"))
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    mqtt_publish(stack, [(f"devices/power_meter/{prefix}bad", (
        f'{{"device_id": "{prefix}bad", "timestamp": "{stamp}", "tag": "PowerMeter", "power": "{word}"}}'
    ).encode()) for word in ("high", "low")], client_id=f"{prefix}rejects")
    pipeline = UdfPipeline(folder, task=f"{prefix.rstrip('-')}_probe".replace("-", "_")).start()
    try:
        pipeline.recover(Influx())
        yield pipeline
    finally:
        pipeline.stop()
        fleet.terminate()
        fleet.wait(15)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = launch(p)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def screens(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("screenshots", numbered=False)


@pytest.fixture
def page(browser):
    """A page, logged in to the dashboard, that fails the test on a console error or a request off the machine."""
    page = new_page(browser, viewport={"width": 1400, "height": 1000})
    # Loading, clicking and screenshots wait as long as panels do: beside the other tests on two cores, the browser
    # may be slow to start a page; 30 s (Playwright's default) was not always enough.
    page.set_default_timeout(PAGE_TIMEOUT * 1000)
    errors, hosts = [], set()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: hosts.add(urllib.parse.urlsplit(r.url).hostname))
    yield page
    page.context.close()
    assert not errors, f"browser console errors: {errors[:5]}"
    assert hosts <= LOOPBACK, f"requests off the machine: {hosts - LOOPBACK}"


@pytest.fixture(scope="module")
def dashboard(stack, tmp_path_factory) -> str:
    """The URL of a dashboard of this checkout reading the stack's InfluxDB (the stack's own dashboard service
    may serve another checkout)."""
    app = DashboardOfItsOwn(tmp_path_factory.mktemp("dashboard"))
    yield app.url
    app.stop()


def _wait_for_panels(page, want, timeout: float = PAGE_TIMEOUT, what: str = "every panel") -> dict:
    """Panel states once ``want(states)`` holds (the page refreshes itself meanwhile)."""
    last = {}

    def check():
        nonlocal last
        last = panel_states(page)
        return last if last and want(last) else None

    try:
        return wait_until(check, timeout=timeout, interval=1.0, what=what)
    except AssertionError:
        raise AssertionError(f"{what}: " + "; ".join(f"{n}: {s['state']} ({s['note']})" for n, s in last.items()))


def _drew_data(state: dict) -> bool:
    return state["state"] == "ready" and bool(state["points"] or state["rows"] or state["number"])


def _all_drawn(states: dict) -> bool:
    return all(_drew_data(s) for s in states.values())


def _power_meter(prefix: str) -> str:
    def found():
        rows = Influx().query(f'SHOW TAG VALUES FROM "predictions" WITH KEY = "device_id" '
                              f"WHERE \"device_id\" =~ /^{prefix}power_meter/")
        return rows[0]["value"] if rows else None

    return wait_until(found, timeout=60, what="a prediction for a power meter of the test's fleet")


def test_the_fleet_page_draws_every_panel(activity, page, screens, dashboard):
    def task_rows(states):
        return {row[0]: row[1] for row in states["tasks"]["rows"]}

    page.goto(f"{dashboard}/?range=15m&refresh=5")
    states = _wait_for_panels(page, lambda s: _all_drawn(s) and task_rows(s).get(activity.task) == "running",
                              what=f"every panel, with task {activity.task} running")
    page.screenshot(path=str(screens / "fleet.png"), full_page=True)
    assert set(states) == {p.name for p in page_panels("fleet")}
    task_rows = task_rows(states)
    assert {t.name for t in tasks.load_tasks()} <= set(task_rows)
    assert task_rows[activity.task] == "running", task_rows
    assert int(states["devices_now"]["number"].replace(",", "")) >= 6
    assert states["top_anomaly"]["rows"] and all(0 <= float(row[2]) <= 1 for row in states["top_anomaly"]["rows"]), \
        "the detector's scores, 0 to 1"
    assert any(name.startswith("not_a_number") for name in states["rejects"]["traces"]), states["rejects"]


# The sensor of the power meter that the test spikes (the fleet's own sensors keep their readings).
PROBE = "probe"


@pytest.fixture(scope="module")
def spiked(activity, prefix) -> str:
    """A power meter of the fleet with an anomaly the stack's own device_anomaly task scored and alerted.

    A sensor of its own on that device gets 500 readings of a 25-point cycle, 10 ms apart and ending now, one
    of them spiked (test_alerts.py's recipe): written to InfluxDB as Telegraf writes readings, Kapacitor's
    subscription brings them to the shipped task, which learns the series from its first 150 and writes every
    score (``anomaly``) and the alert (``alerts``; CRITICAL until the scores have been calm for 300 s of the
    series' time, so it stays open for the rest of the module). Fast (the points go at once) and honest: the
    score, the expected value and the alert are the detector's and Kapacitor's, not written by the test.
    """
    import numpy as np

    device = _power_meter(prefix)
    influx = Influx()
    n, spike = 500, 350
    values = 20 + 2 * np.sin(2 * np.pi * np.arange(n) / 25) + np.random.default_rng(7).normal(0, 0.05, n)
    values[spike] += 12
    start = time.time_ns() - n * 10_000_000
    influx.write([line("device_message", {"device_id": device, "sensor": PROBE}, {"value": float(v)},
                       start + k * 10_000_000) for k, v in enumerate(values)])
    wait_until(lambda: influx.query(f"SELECT level, message FROM alerts WHERE device_id = '{device}' "
                                    f"AND sensor = '{PROBE}' AND alert = 'anomaly'"),
               timeout=60, what=f"the anomaly alert of {device}")
    return device


def _panel_section(page, name: str):
    return page.locator(f"section.panel[id*='\"{name}\"']")


def _pin_and_unpin(device: str) -> None:
    """What an operator does with `tickml models` once the device has a power model: two model_actions points."""
    from tickml.paths import DATA
    from udfs.learn import ModelStore

    wait_until(lambda: ModelStore(DATA / "models" / "power").document(device), timeout=90,
               what=f"a power model of {device}")
    for action in ("pin", "unpin"):
        subprocess.run([sys.executable, "-m", "tickml", "models", action, "power", device], check=True,
                       capture_output=True, text=True)


def test_the_device_page_draws_every_panel_of_a_power_meter(spiked, page, screens, dashboard):
    device = spiked
    _pin_and_unpin(device)
    page.goto(f"{dashboard}/device/{urllib.parse.quote(device, safe='')}?range=15m&refresh=5")
    states = _wait_for_panels(page, _all_drawn)
    assert set(states) == {p.name for p in page_panels("device")}
    assert {"current", "power", "voltage"} <= set(states["readings"]["traces"])
    assert "power replaced" in states["champion"]["traces"], "the first champion is marked"
    assert [row[1] for row in states["model_actions"]["rows"]] == ["unpin", "pin"], states["model_actions"]
    # Its alerts: the anomaly the test made, on its sensor.
    (alert,) = [row for row in states["device_alerts"]["rows"] if row[2] == "anomaly"]
    assert alert[1] == "CRITICAL" and alert[3] == f"{device} {PROBE}", alert
    assert alert[4].startswith(f"{device} {PROBE} is anomalous: score "), alert
    # Another statistic chosen: the panel draws it.
    page.get_by_label("Variance").check()
    states = _wait_for_panels(page, lambda s: "value_preprocessed_Variance" in s["preprocessed"]["traces"],
                              what="the variance drawn")
    assert states["preprocessed"]["points"] > 0
    # The spiked sensor chosen for the anomaly panel: its readings, the value expected and the score.
    _panel_section(page, "anomaly").locator(".dash-dropdown").first.click()
    page.locator(".dash-dropdown-option", has_text=PROBE).first.click()
    states = _wait_for_panels(page, lambda s: s["anomaly"]["traces"] == ["reading", "expected", "anomaly score"],
                              what=f"the anomaly panel of sensor {PROBE}")
    page.screenshot(path=str(screens / "device.png"), full_page=True)
    scores = page.evaluate("""() => [...document.querySelectorAll('section.panel')]
        .filter(s => JSON.parse(s.id).panel === 'anomaly')[0].querySelector('.js-plotly-plot').data
        .map(t => ({name: t.name, y: Array.from(t.y)}))""")
    by_name = {t["name"]: t["y"] for t in scores}
    assert max(by_name["anomaly score"]) >= 0.5, "the spike's score reached the alarm level"
    assert any(v is not None for v in by_name["expected"]), "the detector's expected value is drawn"


def test_the_alerts_page_draws_every_panel_with_the_open_anomaly(spiked, page, screens, dashboard):
    device = spiked

    def with_alert(states):
        return _all_drawn(states) and any(row[4] == f"{device} {PROBE}" for row in states["open_alerts"]["rows"])

    page.goto(f"{dashboard}/alerts?range=15m&refresh=5")
    states = _wait_for_panels(page, with_alert, what=f"every panel, with the open alert of {device}")
    page.screenshot(path=str(screens / "alerts.png"))  # the viewport: the lists scroll inside their panels
    assert set(states) == {p.name for p in page_panels("alerts")}
    (opened,) = [row for row in states["open_alerts"]["rows"] if row[4] == f"{device} {PROBE}"]
    assert (opened[0], opened[3]) == ("CRITICAL", "anomaly") and "is anomalous" in opened[5], opened
    assert all(row[0] != "OK" for row in states["open_alerts"]["rows"]), "an alert that ended is not open"
    # The history holds the newest max-events events of the range: on a busy stack the probe's may be older.
    history = states["alert_history"]["rows"]
    assert history and {row[1] for row in history} <= {"CRITICAL", "WARNING", "INFO", "OK"}, history[:3]
    assert "anomaly" in states["alert_counts"]["traces"]
    # Each device listed links to its page, where its alerts are.
    href = f"/device/{urllib.parse.quote(device, safe='')}"
    assert page.locator(f'.panel table a[href="{href}"]').count() >= 1, f"no link to {href}"
    page.goto(f"{dashboard}{href}")
    _wait_for_panels(page, lambda s: _drew_data(s["device_alerts"]), what="the device's alerts")


def test_the_tasks_page_draws_every_panel_with_the_tests_task(activity, page, screens, dashboard):
    task = activity.task

    def with_task(states):
        return _all_drawn(states) and all(any(t.startswith(task) for t in states[name]["traces"])
                                          for name in ("udf_points", "udf_latency", "udf_bad_points", "udf_errors",
                                                       "udf_keepalives", "kapacitor_udf_nodes", "task_recoveries"))

    page.goto(f"{dashboard}/tasks?range=15m&refresh=5")
    states = _wait_for_panels(page, with_task, what=f"every panel, with task {task}")
    page.screenshot(path=str(screens / "tasks.png"), full_page=True)
    assert set(states) == {p.name for p in page_panels("tasks")}
    assert f"{task}: field 'value' is a string, not a number" in states["udf_bad_points"]["traces"]


def test_tasks_deleted_long_ago_do_not_hide_a_running_one(activity, stack):
    """InfluxDB 1.x applies SLIMIT to every series the tags select, points in the range or not: 60 tasks of
    two hours ago, named to sort first, would fill a SLIMIT of 50 before any running task."""
    databases = settings.load().databases
    influx = Influx()
    long_ago = time.time_ns() - 2 * 3600 * 10**9
    influx.write([line("edges", {"task": f"a_gone_{n:02d}", "parent": "stream", "child": "stream0"},
                       {"collected": n}, long_ago) for n in range(60)], database=databases["kapacitor"])
    source = Source(settings.load())
    now = time.time_ns()
    when = Range(now - 15 * 60 * 10**9, now)
    wait_until(lambda: activity.task in source.tasks_now(when) or None, timeout=60,
               what=f"{activity.task} among the tasks reporting now")
    for name in ("tasks", "udf_points"):
        results = source.panel(BY_NAME[name], when, {}, [t.name for t in tasks.load_tasks()])
        drawn = {s.get("tags", {}).get("task") for r in results for s in r.series}
        assert activity.task in drawn, (name, sorted(drawn))
        assert not any(t.startswith("a_gone_") for t in drawn), name


def test_every_panel_reads_fields_the_running_stack_has(activity, stack):
    """The unit test checks the writers' sources; Telegraf's and Kapacitor's own are checked here, as written."""
    databases = settings.load().databases
    influx = Influx()
    for panel in PANELS:
        for query in panel.queries:
            for measurement in influxql.measurements_read(query.text):
                if MEASUREMENTS[measurement].writer not in ("telegraf-internal", "kapacitor-stats", "udf-metrics"):
                    continue
                database = databases[MEASUREMENTS[measurement].database]
                keys = wait_until(lambda: influx.query(f'SHOW FIELD KEYS FROM "{measurement}"', database=database),
                                  timeout=60, what=f"fields of {measurement} in {database}")
                assert influxql.fields_read(query.text) <= {k["fieldKey"] for k in keys}, (panel.name, measurement)


# How a person (or a test) may fill the picker's box: Playwright's own pace (no pause between keys), a fast
# typist, a slow one (where Dash's dropdown lost keys), and a paste.
TYPING = {
    "at once": lambda box, text: box.press_sequentially(text),
    "50 ms a key": lambda box, text: box.press_sequentially(text, delay=50),
    "150 ms a key": lambda box, text: box.press_sequentially(text, delay=150),
    "pasted": lambda box, text: box.fill(text),
}


def _picker_says(page, text: str):
    """The line above the picker's list, once it answers ``text`` (an answer to fewer keys never says so)."""
    said = page.locator(".device-matches .hint")
    expect(said).to_contain_text(f"contains {text!r}", timeout=15_000)
    return said.inner_text()


@pytest.mark.parametrize("typing", list(TYPING))
def test_the_device_picker_finds_a_device_by_part_of_its_id(activity, prefix, page, dashboard, typing):
    device = _power_meter(prefix)
    part = device[len(prefix) - 4:]
    page.goto(f"{dashboard}/device?range=15m")
    box = page.get_by_label("Find a device")
    TYPING[typing](box, part)
    _picker_says(page, part)
    assert box.input_value() == part, "every key typed is in the box, in order"
    page.locator(".device-matches").get_by_role("link", name=device, exact=True).click()
    page.wait_for_url(f"**/device/{urllib.parse.quote(device, safe='')}?range=15m")
    expect(page.locator("h1 .device-id")).to_contain_text(device)
    _wait_for_panels(page, lambda s: _drew_data(s["readings"]), what="the picked device's readings")


def test_the_device_picker_lists_a_few_devices_and_counts_the_others(stack, page, dashboard, run_id):
    """The browser gets at most layout.PICKER_SHOWN ids, however many match."""
    influx = Influx()
    devices = [f"{run_id}picker-{i:02d}" for i in range(layout.PICKER_SHOWN + 5)]
    now = time.time_ns()
    influx.write([line("device_message", {"device_id": d, "sensor": "temperature"}, {"value": 20.0}, now)
                  for d in devices])
    try:
        page.goto(f"{dashboard}/device")
        box = page.get_by_label("Find a device")
        box.fill(f"{run_id}picker-")
        assert _picker_says(page, f"{run_id}picker-").startswith(
            f"{layout.PICKER_SHOWN} of {len(devices)} devices whose id contains"), "the others are counted"
        links = page.locator(".device-matches a")
        assert links.all_inner_texts() == devices[:layout.PICKER_SHOWN]
        box.press_sequentially("1")
        assert _picker_says(page, f"{run_id}picker-1") == f"10 devices whose id contains '{run_id}picker-1':"
        assert links.all_inner_texts() == devices[10:20]
        box.press_sequentially("x")
        assert _picker_says(page, f"{run_id}picker-1x") == f"No device id contains '{run_id}picker-1x'."
        assert links.count() == 0
    finally:
        influx.execute(f'DROP SERIES FROM "device_message" WHERE "device_id" =~ /^{run_id}picker-/', influx.database)


def _status(url: str, authorization: str | None = None, host: str | None = None, data: bytes | None = None):
    """The HTTP status of a request to the dashboard, and its WWW-Authenticate header."""
    headers = {**({"Authorization": authorization} if authorization else {}), **({"Host": host} if host else {})}
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("WWW-Authenticate")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("WWW-Authenticate")


def test_the_dashboard_answers_its_login_only_and_for_its_own_hosts(dashboard):
    """Pages, Dash's callbacks and the assets want the stack's login (401 and a challenge without it); a Host
    other than the dashboard's own gets 400 (DNS rebinding), login or not."""
    login = secrets.basic_auth(*secrets.dashboard_login())
    wrong = secrets.basic_auth(secrets.dashboard_login()[0], "not-the-password")
    port = urllib.parse.urlsplit(dashboard).port
    for path, data in (("/", None), ("/device/x", None), ("/_dash-layout", None), ("/_dash-dependencies", None),
                       ("/assets/dashboard.css", None), ("/_dash-update-component", b"{}")):
        status, challenge = _status(dashboard + path, data=data)
        assert status == 401 and challenge.startswith("Basic realm="), (path, status, challenge)
        assert _status(dashboard + path, wrong, data=data)[0] == 401, path
        for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1.nip.io:{port}", f"localhost:{port + 1}"):
            assert _status(dashboard + path, login, host=host, data=data)[0] == 400, (path, host)
            assert _status(dashboard + path, host=host, data=data)[0] == 400, (path, host)
    for host in (None, f"localhost:{port}", f"LOCALHOST:{port}"):
        assert _status(dashboard + "/", login, host=host)[0] == 200, host
        assert _status(dashboard + "/assets/dashboard.css", login, host=host)[0] == 200, host


def test_a_device_id_written_to_break_its_query_shows_no_other_devices_data(activity, prefix, page, dashboard):
    """An id that would select the test's whole fleet, were it spliced into the query text, typed in the picker
    and opened as a device page: nothing matches it and every panel of its page is empty."""
    device = _power_meter(prefix)  # the fleet has readings and predictions to leak
    hostile = f"x' OR \"device_id\" =~ /^{prefix}/ OR \"device_id\" = '"
    page.goto(f"{dashboard}/device?range=15m")
    box = page.get_by_label("Find a device")
    for text in (hostile, ".*", f"{prefix}.*"):
        box.fill(text)
        assert _picker_says(page, text) == f"No device id contains {text!r}.", text
        assert page.locator(".device-matches a").count() == 0, text

    page.goto(f"{dashboard}/device/{urllib.parse.quote(hostile, safe='')}?range=15m")
    page.wait_for_selector("text=has ever sent a reading", timeout=30_000)
    expect(page.locator("h1 .device-id")).to_contain_text(hostile)
    states = _wait_for_panels(page, lambda s: all(p["state"] != "loading" for p in s.values()), timeout=30,
                              what="every panel of the device page answered")
    assert set(states) == {p.name for p in page_panels("device")}
    for name, state in states.items():
        assert state["state"] == "empty" and not (state["points"] or state["rows"] or state["number"]), (name, state)
        assert device not in str(state), name
    assert device not in page.inner_text("main")


def test_an_unknown_device_is_said_in_words(page, dashboard):
    page.goto(f"{dashboard}/device/no-such-device-{time.time_ns()}")
    page.wait_for_selector("text=has ever sent a reading", timeout=30_000)
    panels = page.locator("section.panel")
    assert not any(panels.nth(i).is_visible() for i in range(panels.count())), "no panel for a device no one knows"
    text = page.inner_text("main")
    assert "No device 'no-such-device-" in text and "Check the id" in text
    assert "Traceback" not in page.content()


def test_an_empty_range_is_said_on_every_panel(page, dashboard):
    page.goto(f"{dashboard}/?from=2001-01-01T00:00:00Z&to=2001-01-01T01:00:00Z")
    states = _wait_for_panels(page, lambda s: all(p["state"] in ("empty", "ready") for p in s.values()),
                              timeout=30, what="every panel answered")
    for name, state in states.items():
        if name == "tasks":  # the task list stands without statistics
            assert {row[1] for row in state["rows"]} == {"no statistics in range"}
        else:
            assert state["note"] == "No data from 2001-01-01 00:00:00 UTC to 2001-01-01 01:00:00 UTC.", name
    page.goto(f"{dashboard}/?from=2001-01-01T02:00:00Z&to=2001-01-01T01:00:00Z")
    page.wait_for_selector("#status.warning", timeout=30_000)
    assert "is not after its start" in page.inner_text("#status")
    assert "Traceback" not in page.content()


@pytest.mark.parametrize("typing", ["type", "type 50 ms", "type 150 ms", "fill"])
def test_a_custom_range_typed_fast_keeps_every_key_and_is_queried_once_entered(page, dashboard, typing):
    # Refreshed every second, so the page redraws the boxes while keys are typed (Dash's debounced input put
    # the caret back then: 2 typings in 12 garbled). The tasks page: its queries answer within the second.
    page.goto(f"{dashboard}/tasks?from=2001-01-01T00:00:00Z&to=2001-01-01T01:00:00Z&refresh=1")
    _wait_for_panels(page, lambda s: s["udf_points"]["state"] == "empty", timeout=30, what="the first range queried")
    for box, text in (("#range-start", "2002-03-04T05:00:00Z"), ("#range-end", "2002-03-04T06:30:00Z")):
        field = page.locator(box)
        field.click()
        field.fill("")
        if typing == "fill":
            field.fill(text)
        else:
            field.press_sequentially(text, delay=int(typing.split()[1]) if " " in typing else 0)
        assert field.input_value() == text, f"{box} holds what was typed"
        field.press("Enter")
        assert field.input_value() == text
    said = "No data from 2002-03-04 05:00:00 UTC to 2002-03-04 06:30:00 UTC."
    states = _wait_for_panels(page, lambda s: s["udf_points"]["note"] == said, timeout=30,
                              what="the typed range queried")
    assert states["udf_points"]["note"] == said


def test_influxdb_down_is_said_in_words_and_the_page_recovers_on_its_own(tmp_path, page, screens):
    influxd = InfluxdOfItsOwn(tmp_path).start()
    dashboard = None
    try:
        own = Influx(influxd.url, username=None)
        own.execute('CREATE DATABASE "telemetry"')
        now = time.time_ns()
        own.write([line("device_message", {"device_id": "down-probe", "sensor": "temperature"},
                        {"value": 20.0 + i % 3}, now - i * 10**9) for i in range(120)])
        dashboard = DashboardOfItsOwn(tmp_path, influxd.url)
        page.goto(f"{dashboard.url}/device/down-probe?range=15m&refresh=5")
        _wait_for_panels(page, lambda s: _drew_data(s["readings"]), timeout=30, what="the readings")

        influxd.stop()
        page.wait_for_selector("#status.down", timeout=30_000)
        states = _wait_for_panels(page, lambda s: s["readings"]["state"] == "error", timeout=30,
                                  what="the readings panel saying InfluxDB is down")
        status = page.inner_text("#status")
        assert f"InfluxDB at {influxd.url} does not answer" in status and "come back on their own" in status
        assert "does not answer" in states["readings"]["note"] and states["readings"]["points"] > 0, \
            "the panel keeps what it showed"
        page.screenshot(path=str(screens / "influxdb-down.png"), full_page=True)

        influxd.start()
        _wait_for_panels(page, lambda s: _drew_data(s["readings"]), timeout=30, what="the readings back")
        wait_until(lambda: page.inner_text("#status") == "", timeout=30, what="the status line cleared")
    finally:
        # Off the page first: a refresh in flight when its server stops is a console error of the browser's.
        page.goto("about:blank")
        if dashboard is not None:
            dashboard.stop()
        influxd.stop()
