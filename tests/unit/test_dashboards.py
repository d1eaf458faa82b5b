"""The dashboard's panels (tickml/dashboard/panels.py) read what the stack writes, stay bounded, and are what
the shipped Grafana dashboard shows."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tickml import tickscript
from tickml.dashboard import grafana, influxql, panels, settings
from tickml.dashboard.panels import PANELS
from tickml.dashboard.schema import MEASUREMENTS
from tickml.dashboard.timerange import Range
from tickml import config
from udfs.agent import metrics as udf_metrics
from udfs.windowstats import registry

ROOT = Path(__file__).resolve().parents[2]
QUERIES = [(panel, query) for panel in PANELS for query in panel.queries]


def _ids(item) -> str:
    panel, query = item
    return f"{panel.name}-{panel.queries.index(query)}"


# ---------------------------------------------------------------------------
# Who writes what: read from the writers' own sources


def _tick_writers() -> dict[str, list[str]]:
    """Measurement -> every TICKscript whose influxDBOut writes it (vars resolved as Kapacitor does)."""
    out: dict[str, list[str]] = {}
    for script in sorted((ROOT / "tick_scripts").glob("*.tick")):
        text = script.read_text()
        for measurement in {output.measurement for output in tickscript.read(text).outputs}:
            out.setdefault(measurement, []).append(text)
    return out


def _tick_outputs() -> dict[str, str]:
    """Measurement -> the TICKscript whose influxDBOut writes it; ``alerts``, which every alert task writes,
    is checked on its alert nodes (``_alert_fields``)."""
    return {m: texts[0] for m, texts in _tick_writers().items() if m != "alerts"}


def _alert_fields(script: str) -> set[str]:
    """The fields an alert or deadman node adds to the events it writes: its message and duration fields."""
    assert "|alert()" in script or "|deadman(" in script, "alerts are written by alert nodes"
    return set(re.findall(r"\.(?:messageField|durationField|detailsField|idField)\('(\w+)'\)", script))


def _quoted_keys(*paths: str) -> set[str]:
    """The field names a writer's Python code sets: dict keys, ``fields[...]``, wire fields."""
    names = set()
    for path in paths:
        text = (ROOT / path).read_text()
        names |= set(re.findall(r'"(\w+)":', text)) | set(re.findall(r'fields\["(\w+)"\]', text))
        names |= set(re.findall(r'out\["(\w+)"\]', text)) | set(re.findall(r'Field\("(\w+)"\)', text))
    return names


def _script_fields(script: str, outputs: dict[str, str]) -> set[str]:
    """The fields a TICKscript's output points carry: its eval's names, its UDF's fields, and what it passes on."""
    fields = set()
    # The names the last node before the output gives its fields (an eval, a count ...).
    named = re.findall(r"\.as\(([^)]*)\)", script[:script.index("|influxDBOut()")])
    if named:
        return set(re.findall(r"'([^']+)'", named[-1]))
    if "@preprocess(" in script:
        inputs = re.search(r"\.fields\('([^']+)'\)", script).group(1).split(",")
        types = re.search(r"\.types\('([^']+)'\)", script).group(1).split(",")
        fields |= {name for f in inputs for t in types for name in registry.output_names(f, registry.parse_type(t))}
        return fields | _quoted_keys("udfs/preprocess/handler.py")
    if "@train(" in script:
        return fields | _quoted_keys("udfs/train/handler.py", "udfs/learn/fields.py")
    if "@predict(" in script:
        fields |= _quoted_keys("udfs/predict/handler.py", "udfs/learn/fields.py")
    if "@anomaly(" in script:
        fields |= _quoted_keys("udfs/anomaly/handler.py")
    # A filter or a predictor passes the input's fields on.
    (source,) = tickscript.read(script).measurements
    return fields | (_script_fields(outputs[source], outputs) if source in outputs else _writer_fields(source, outputs))


def _writer_fields(measurement: str, outputs: dict[str, str]) -> set[str]:
    writer = MEASUREMENTS[measurement].writer
    if writer == "task" and measurement == "alerts":
        # A panel reads every kind of alert at once: the fields every alert task writes.
        return set.intersection(*(_alert_fields(script) for script in _tick_writers()["alerts"]))
    if writer == "task":
        return _script_fields(outputs[measurement], outputs)
    if writer == "telegraf":
        star = (ROOT / "telegraf" / "device_message.star").read_text()
        # The validator's points are the message's own metric renamed (and copies of it): they keep its tracking.
        variable = re.search(rf'(\w+) = become\(metric, "{measurement}"\)', star).group(1)
        return set(re.findall(rf'{variable}\.fields\["(\w+)"\]', star))
    if writer == "task-watcher":
        source = (ROOT / "tickml" / "task_watcher.py").read_text()
        # The line protocol it writes, as f-strings up to the point's time.
        (line,) = re.findall(rf"write\(f?'{measurement},[^ ]+ (.*?)time\.time_ns\(\)", source, re.S)
        return set(re.findall(r"(\w+)=", line))
    if writer == "udf-metrics":
        return {f"{c._name}_total" for c in vars(udf_metrics).values() if isinstance(c, udf_metrics.Counter)}
    raise AssertionError(f"{measurement}: fields of {writer} are checked on the running stack "
                         f"(tests/integration/test_dashboard.py)")


def test_every_measurement_read_has_a_shipped_writer():
    outputs = _tick_outputs()
    star = (ROOT / "telegraf" / "device_message.star").read_text()
    telegraf = config.read_toml(config.TELEGRAF_CONF)
    kapacitor = config.read_toml(config.KAPACITOR_CONF)
    dashboard = settings.load()
    assert {"device_aggregates", "predictions", "trained_models", "device_preprocessed"} <= set(outputs)
    read = {m for _, q in QUERIES for m in influxql.measurements_read(q.text)}
    assert read == set(MEASUREMENTS), "MEASUREMENTS lists exactly what the panels read"
    for name, measurement in MEASUREMENTS.items():
        if measurement.writer == "task":
            assert name in _tick_writers(), name
        elif measurement.writer == "telegraf":
            # The validator makes its points of the message's own metric, renamed (it keeps the delivery tracking).
            assert f'become(metric, "{name}")' in star, name
        elif measurement.writer == "task-watcher":
            assert f"'{name}," in (ROOT / "tickml" / "task_watcher.py").read_text(), name
        elif measurement.writer == "udf-metrics":
            (prometheus,) = telegraf["inputs"]["prometheus"]
            assert prometheus["name_override"] == name and prometheus["metric_version"] == 2
        elif measurement.writer == "telegraf-internal":
            assert name.startswith("internal_") and "internal" in telegraf["inputs"]
        elif measurement.writer == "kapacitor-stats":
            assert kapacitor["stats"]["enabled"] and name in ("nodes", "edges")
            stats_db = kapacitor["stats"]["database"]
            copy = (ROOT / "tick_scripts" / "kapacitor_stats.tick").read_text()
            assert f'dbrp "{stats_db}"' in copy and f".database('{dashboard.databases['kapacitor']}')" in copy
        elif measurement.writer == "models-cli":
            from tickml import models

            assert models.MEASUREMENT == name
        else:
            raise AssertionError(f"{name}: unknown writer {measurement.writer}")


@pytest.mark.parametrize("item", [i for i in QUERIES if any(MEASUREMENTS[m].writer in
                                                            ("task", "telegraf", "task-watcher", "udf-metrics")
                                                            for m in influxql.measurements_read(i[1].text))],
                         ids=_ids)
def test_every_field_read_is_one_its_writer_writes(item):
    _, query = item
    outputs = _tick_outputs()
    written = set().union(*(_writer_fields(m, outputs) for m in influxql.measurements_read(query.text)))
    assert influxql.fields_read(query.text) <= written, influxql.fields_read(query.text) - written


def test_the_fields_check_catches_a_misspelt_field():
    outputs = _tick_outputs()
    assert "Forecastaccuracy" in _writer_fields("trained_models", outputs)
    assert "Forecastacuracy" not in _writer_fields("trained_models", outputs)
    assert _writer_fields("device_aggregates", outputs) == {"avg", "max", "min", "count"}
    assert _writer_fields("fleet_activity", outputs) == {"devices"}
    assert {"value_preprocessed_AnomProb", "Numberofmessages"} <= _writer_fields("device_preprocessed", outputs)
    assert {"Hyperprediction", "Answeredby", "power"} <= _writer_fields("predictions", outputs)
    assert {"value", "anomaly_score", "anomaly_expected", "anomaly_learning"} <= _writer_fields("anomaly", outputs)
    assert _writer_fields("alerts", outputs) == {"message", "duration"}
    assert len(_tick_writers()["alerts"]) == 4, "device_silence, failure_alert, device_anomaly, task_health"


# ---------------------------------------------------------------------------
# Bounded, whatever the fleet


def _outer(text: str) -> str:
    """The query without its subqueries."""
    while "(SELECT" in text:
        start = text.index("(SELECT")
        depth = 0
        for i in range(start, len(text)):
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            if depth == 0:
                text = text[:start] + "SUBQUERY" + text[i + 1:]
                break
    return text


@pytest.mark.parametrize("item", QUERIES, ids=_ids)
def test_every_query_is_bounded_in_points(item):
    panel, query = item
    outer = _outer(query.text)
    grouped_tags = re.findall(r'"(\w+)"', outer.split("GROUP BY", 1)[1]) if "GROUP BY" in outer else []
    bounded_length = ("GROUP BY time($__interval)" in outer or "top(" in outer or "LIMIT $limit" in outer
                      or panel.kind == panels.NUMBER or (panel.kind == panels.CATEGORY_BARS and "time(" not in outer))
    assert bounded_length, "each series is a bucketed aggregate, a top list or a limited list of events"
    if panel.page != panels.DEVICE:
        assert "device_id" not in grouped_tags, "no fleet-wide panel draws a series per device"
    if "task" in grouped_tags:
        # SLIMIT would count deleted tasks' series too (InfluxDB 1.x applies it before the time range).
        assert '"task" =~ /^$tasks$/' in outer and "SLIMIT" not in outer, "split by task: the tasks shown, no SLIMIT"
    elif set(grouped_tags) - {"device_id", "sensor"}:
        assert "SLIMIT $slimit" in outer, "a panel split by a tag of unbounded values says SLIMIT"


def test_fleet_panels_never_filter_by_one_device():
    for panel, query in QUERIES:
        assert ("$device" in query.text) == (panel.page == panels.DEVICE), panel.name


# ---------------------------------------------------------------------------
# One definition: the Grafana dashboard is generated from the panels


def test_the_committed_grafana_dashboard_is_the_one_the_panels_give():
    assert grafana.DASHBOARD.read_text() == grafana.render(), "run python -m tickml.dashboard.grafana"


def test_every_grafana_panel_runs_a_query_of_the_app_on_the_stacks_influxdb():
    dashboard = json.loads(grafana.DASHBOARD.read_text())
    provisioned = (ROOT / "dashboards" / "grafana" / "provisioning" / "datasources" / "influxdb.yml").read_text()
    queries = {q.text for _, q in QUERIES}
    shown = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len(shown) == len(PANELS)
    for panel in shown:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["query"] in queries
            assert f"uid: {target['datasource']['uid']}" in provisioned
    databases = dict(re.findall(r"uid: (\S+)\n(?:.*\n)*?\s+dbName: (\S+)", provisioned))
    assert {grafana.DATASOURCES[key]: db for key, db in settings.load().databases.items()} == databases
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    used = {name for _, q in QUERIES for name in re.findall(r"\$\{?(\w+)", q.text)} - {"timeFilter", "__interval",
                                                                                      "__to"}
    assert used == variables


# ---------------------------------------------------------------------------
# Filling a query in


def test_render_binds_every_variable_and_the_device_id():
    panel = panels.BY_NAME["readings"]
    when = Range(10**18, 10**18 + 900 * 10**9)
    query = influxql.render(panel.queries[0].text, when, 5, {"device": "it's", "threshold": 90.0, "limit": 500})
    assert "it's" not in query.text and "\"device_id\" = $device" in query.text
    assert "time >= $__start AND time < $__end" in query.text and "GROUP BY time($__interval)" in query.text
    assert query.params == {"__start": when.start, "__end": when.end, "device": "it's",
                            "__interval": {"duration": "5s"}}


def test_render_refuses_statistics_outside_the_choices():
    query = panels.BY_NAME["preprocessed"].queries[0].text
    with pytest.raises(influxql.QueryError, match="statistics must be among"):
        influxql.render(query, Range(0, 10**9), 1, {"device": "d", "sensor": "s", "stats": "Avg|.*"})


def test_a_bad_setting_is_named(tmp_path):
    text = config.DASHBOARD_CONF.read_text().replace("max-points-per-series = 300", "max-points-per-series = -3")
    (tmp_path / "dashboard.toml").write_text(text)
    with pytest.raises(config.StackError, match=r"\[pages\] max-points-per-series must be a positive number, got -3"):
        settings.load(tmp_path / "dashboard.toml")
    (tmp_path / "dashboard.toml").write_text(text.replace('default-range = "15m"', 'default-range = "a while"'))
    with pytest.raises(config.StackError, match=r"default-range: a duration is"):
        settings.load(tmp_path / "dashboard.toml")
