"""Every panel of the dashboard, defined once: its page, its title, how it is drawn, and its InfluxQL.

The queries are written in the InfluxQL dialect Grafana's InfluxDB data
source speaks: ``$timeFilter`` for the page's range, ``$__interval`` for
the GROUP BY time() bucket, ``${__to}`` for the range's end (ms) and
``$device``, ``$sensor``, ``$stats``, ``$top``, ``$threshold``, ``$slimit``
and ``$limit`` for the page's choices and bounds, ``$udfs`` for the UDFs of
kapacitor.conf (Kapacitor's statistics name a UDF node's kind after its UDF), ``$tasks`` for the
tasks the Tasks page shows (the task list's, and those Kapacitor reports in
the range's last minute: ``TASKS_NOW``); a panel split by task selects
``$tasks`` and says no SLIMIT (InfluxDB 1.x counts toward SLIMIT every series
the tags select, deleted tasks' too, before the range). The app fills them in
(``influxql.render``); ``grafana.py`` writes them unchanged into
dashboards/grafana/tickml.json, with a template variable for each choice.
So the app and the Grafana dashboard cannot drift.

Every query is bounded in the points it returns, whatever the fleet:
a series is at most ``max-points-per-series`` buckets long, a panel that
splits by a tag other than the page's device says ``SLIMIT $slimit``,
raw events say ``LIMIT $limit``, and no fleet panel splits by device: the
fleet is counted, or its top ``$top`` devices listed (TOP()).

``schema.MEASUREMENTS`` names every measurement a query reads, with its
database and tags; tests/unit/test_dashboards.py checks that each is written
by a shipped task, Telegraf or Kapacitor, and that each field a query reads
is one its writer writes.
"""

from __future__ import annotations

import dataclasses

from .influxql import measurements_read
from .schema import MEASUREMENTS

# Panel kinds: how the app draws a panel (grafana.py maps them to Grafana's panel types).
LINES, BARS, CATEGORY_BARS, TABLE, NUMBER, TASKS = "lines", "bars", "category_bars", "table", "number", "tasks"
# Alert events newest first (the query's ORDER BY time DESC), and the alerts whose latest event is not OK.
ALERT_EVENTS, OPEN_ALERTS = "alert_events", "open_alerts"
# Any other points newest first, a row each with the query's columns (the model actions).
EVENTS = "events"
# Query roles inside a panel: a line per series, min-max bands with the mean, event markers,
# anomalous windows shaded, the second axis of a two-axis panel, bars.
LINE, BAND, MARKERS, SHADE, SECOND_AXIS, BAR = "line", "band", "markers", "shade", "second_axis", "bar"

FLEET, DEVICE, ALERTS_PAGE, TASKS_PAGE = "fleet", "device", "alerts", "tasks"
PAGE_TITLES = {FLEET: "Fleet", DEVICE: "One device", ALERTS_PAGE: "Alerts", TASKS_PAGE: "Tasks and UDFs"}

# The detector's alarm level: @anomaly() calibrates its score so that 0.5 is an alarm on every series
# (udfs/anomaly/handler.py; device_anomaly.tick's threshold).
ANOMALY_ALARM = 0.5


@dataclasses.dataclass(frozen=True)
class Query:
    text: str
    # How its series are named in the legend: tag keys in braces; a series of
    # several fields adds the field's name.
    legend: str = ""
    role: str = LINE


@dataclasses.dataclass(frozen=True)
class Panel:
    name: str
    page: str
    title: str
    kind: str
    queries: tuple[Query, ...]
    help: str = ""
    # Smallest GROUP BY time() bucket, in seconds: the interval at which the data is written.
    min_interval: int = 1
    wide: bool = False  # the page's whole width, not half
    unit: str = ""
    unit2: str = ""  # of the second axis, when a query has that role
    level2: float | None = None  # a dashed line across the second axis at this value (an alarm level)

    @property
    def database(self) -> str:
        """The database key of its queries (a panel reads one database: one Grafana data source)."""
        (database,) = {MEASUREMENTS[m].database for q in self.queries for m in measurements_read(q.text)}
        return database


def _panel(name, page, title, kind, *queries, **extra) -> Panel:
    return Panel(name, page, title, kind, tuple(queries), **extra)


# The tasks Kapacitor reports statistics for in the range's last minute: what ``$tasks`` adds to the task list.
# Bounded by the tasks running, not by SLIMIT: InfluxDB 1.x applies SLIMIT to every series of the index that
# the tags select, with points in the range or not, so tasks deleted long ago (tests', replays') would crowd
# out running ones.
TASKS_NOW = Query('SELECT last("collected") FROM "edges" WHERE time > ${__to}ms - 1m AND time <= ${__to}ms '
                  "AND \"parent\" = 'stream' GROUP BY \"task\"")


PANELS: tuple[Panel, ...] = (
    # ---------------------------------------------------------------- Fleet
    _panel("devices_now", FLEET, "Devices reporting in the last minute", NUMBER,
           Query('SELECT count("points") AS "devices" FROM (SELECT count("avg") AS "points" FROM "device_aggregates" '
                 'WHERE time > ${__to}ms - 1m AND time <= ${__to}ms GROUP BY "device_id")'),
           help="devices with a 10 s aggregate in the last minute of the range", min_interval=10),
    _panel("devices_reporting", FLEET, "Devices reporting over time", LINES,
           Query('SELECT max("devices") AS "devices" FROM "fleet_activity" WHERE $timeFilter '
                 'GROUP BY time($__interval) fill(none)', legend="devices"),
           help="distinct devices with a 10 s aggregate in each 10 s window (the task fleet_activity counts them as "
                "they pass); the busiest window of each bucket", min_interval=10),
    _panel("messages_per_second", FLEET, "Messages per second by protocol (Telegraf's inputs)", LINES,
           Query('SELECT non_negative_derivative(max("metrics_gathered"), 1s) AS "per_second" FROM "internal_gather" '
                 "WHERE $timeFilter AND \"input\" =~ /^(mqtt_consumer|http_listener_v2|kafka_consumer|opentelemetry)$/ "
                 'GROUP BY time($__interval), "input", "alias" fill(none) SLIMIT $slimit', legend="{input} {alias}"),
           help="metrics each input gathered per second (Telegraf's internal_gather, every 10 s)", min_interval=10,
           unit="messages/s"),
    _panel("rejects", FLEET, "Rejected messages by reason", BARS,
           Query('SELECT sum("count") AS "rejects" FROM "device_reject" WHERE $timeFilter '
                 'GROUP BY time($__interval), "reason" fill(none) SLIMIT $slimit', legend="{reason}", role=BAR),
           help="messages Telegraf's validator dropped (telegraf/device_message.star)"),
    _panel("tasks", FLEET, "Tasks: state and points in per second", TASKS,
           Query('SELECT non_negative_derivative(last("collected"), 1s) AS "points_per_second" FROM "edges" '
                 "WHERE $timeFilter AND \"task\" =~ /^$tasks$/ AND \"parent\" = 'stream' "
                 'GROUP BY time($__interval), "task" fill(none)', legend="{task}"),
           help="each task of tick_scripts/tasks.json: running while Kapacitor reports statistics for it",
           min_interval=10, wide=True),
    _panel("models", FLEET, "Training windows per model name", CATEGORY_BARS,
           Query("SELECT count(\"Numberofmessages\") AS \"deployed\" FROM \"trained_models\" WHERE $timeFilter "
                 "AND \"Status\" = 'deployed' GROUP BY \"model\" SLIMIT $slimit", legend="{model}"),
           Query("SELECT count(\"Numberofmessages\") AS \"kept\" FROM \"trained_models\" WHERE $timeFilter "
                 "AND \"Status\" = 'kept' GROUP BY \"model\" SLIMIT $slimit", legend="{model}"),
           Query("SELECT count(\"Numberofmessages\") AS \"bad\" FROM \"trained_models\" WHERE $timeFilter "
                 "AND \"Status\" = 'bad' GROUP BY \"model\" SLIMIT $slimit", legend="{model}"),
           help="a challenger deployed, the champion kept, or a window too bad to train on"),
    _panel("fleet_model", FLEET, "Devices answered in the last minute: by the fleet-wide model, by their own",
           CATEGORY_BARS,
           Query("SELECT count(\"answers\") AS \"fleet model\" FROM (SELECT count(\"Hyperprediction\") AS \"answers\" "
                 "FROM \"predictions\" WHERE time > ${__to}ms - 1m AND time <= ${__to}ms AND \"Answeredby\" = 'fleet' "
                 "GROUP BY \"device_id\", \"model\") GROUP BY \"model\" SLIMIT $slimit", legend="{model}"),
           Query("SELECT count(\"answers\") AS \"own model\" FROM (SELECT count(\"Hyperprediction\") AS \"answers\" "
                 "FROM \"predictions\" WHERE time > ${__to}ms - 1m AND time <= ${__to}ms AND \"Answeredby\" = 'entity' "
                 "GROUP BY \"device_id\", \"model\") GROUP BY \"model\" SLIMIT $slimit", legend="{model}"),
           help="per model, the devices whose predictions came from the fleet-wide model (no champion of their own "
                "yet) and from their own champion, in the last minute of the range"),
    _panel("top_anomaly", FLEET, "Highest anomaly score (0.5 and above: an alarm)", TABLE,
           Query('SELECT top("score", "device_id", $top) AS "anomaly score" FROM '
                 '(SELECT max("anomaly_score") AS "score" FROM "anomaly" WHERE $timeFilter GROUP BY "device_id")'),
           help="the top devices by the highest score the detector (@anomaly(), task device_anomaly) gave any of "
                "their readings in the range; 0 while a series learns"),
    _panel("top_error", FLEET, "Largest prediction error (power model, W)", TABLE,
           Query('SELECT top("error", "device_id", $top) AS "mean absolute error" FROM '
                 '(SELECT mean("error") AS "error" FROM (SELECT abs("power" - "Hyperprediction") AS "error" '
                 "FROM \"predictions\" WHERE $timeFilter AND \"model\" = 'power' GROUP BY \"device_id\") "
                 'GROUP BY "device_id")'),
           help="the top devices by mean |measured - predicted| power in the range"),

    # ---------------------------------------------------------------- One device
    _panel("readings", DEVICE, "Readings, 10 s aggregates and anomalous windows", LINES,
           Query("SELECT mean(\"value\") AS \"reading\" FROM \"device_message\" WHERE $timeFilter "
                 "AND \"device_id\" = '$device' GROUP BY time($__interval), \"sensor\" fill(none)",
                 legend="{sensor}"),
           Query("SELECT min(\"min\") AS \"min\", mean(\"avg\") AS \"avg\", max(\"max\") AS \"max\" "
                 "FROM \"device_aggregates\" WHERE $timeFilter AND \"device_id\" = '$device' "
                 "GROUP BY time($__interval), \"sensor\" fill(none)", legend="{sensor} 10 s", role=BAND),
           Query("SELECT \"value_preprocessed_AnomProb\" AS \"anomaly probability\", \"WindowStartUnixTime\", "
                 "\"WindowEndUnixTime\" FROM \"device_preprocessed\" WHERE $timeFilter AND \"device_id\" = '$device' "
                 "AND \"value_preprocessed_AnomProb\" >= $threshold GROUP BY \"sensor\" LIMIT $limit",
                 legend="{sensor} anomalous", role=SHADE),
           help="shaded: windows whose anomaly probability reached the threshold", wide=True),
    _panel("preprocessed", DEVICE, "Window statistics (device_preprocess)", LINES,
           Query("SELECT mean(/^value_preprocessed_($stats)$/) FROM \"device_preprocessed\" WHERE $timeFilter "
                 "AND \"device_id\" = '$device' AND \"sensor\" = '$sensor' GROUP BY time($__interval) fill(none)"),
           help="30 s windows every 10 s; choose the sensor and the statistics"),
    _panel("anomaly", DEVICE, "Anomaly score, the reading and the value expected", LINES,
           Query("SELECT mean(\"value\") AS \"reading\", mean(\"anomaly_expected\") AS \"expected\" FROM \"anomaly\" "
                 "WHERE $timeFilter AND \"device_id\" = '$device' AND \"sensor\" = '$sensor' "
                 "GROUP BY time($__interval) fill(none)"),
           Query("SELECT max(\"anomaly_score\") AS \"anomaly score\" FROM \"anomaly\" WHERE $timeFilter "
                 "AND \"device_id\" = '$device' AND \"sensor\" = '$sensor' GROUP BY time($__interval) fill(none)",
                 role=SECOND_AXIS),
           help="the detector's score of each reading (@anomaly(), task device_anomaly; 0 while the series learns, "
                "its first 150 points), the dashed line its alarm level; expected: the value the nearest familiar "
                "pattern had", wide=True, unit="reading", unit2="anomaly score", level2=ANOMALY_ALARM),
    _panel("device_alerts", DEVICE, "Its alerts", ALERT_EVENTS,
           Query("SELECT \"level\", \"message\", \"duration\", \"alert\", \"device_id\", \"sensor\" FROM \"alerts\" "
                 "WHERE $timeFilter AND \"device_id\" = '$device' ORDER BY time DESC LIMIT $limit"),
           help="every alert event of the device in the range, newest first: silence, failure, anomaly (per "
                "sensor); an OK says how long the alert lasted", wide=True),
    _panel("prediction", DEVICE, "Power predicted by the model vs measured, and the residual (W)", LINES,
           Query("SELECT mean(\"Hyperprediction\") AS \"predicted\", mean(\"power\") AS \"measured\" "
                 "FROM \"predictions\" WHERE $timeFilter AND \"device_id\" = '$device' AND \"model\" = 'power' "
                 "GROUP BY time($__interval) fill(none)"),
           Query("SELECT mean(\"power\") - mean(\"Hyperprediction\") AS \"residual\" FROM \"predictions\" "
                 "WHERE $timeFilter AND \"device_id\" = '$device' AND \"model\" = 'power' "
                 "GROUP BY time($__interval) fill(none)", role=SECOND_AXIS),
           help="every prediction of power_predict against the measured power; residual = measured - predicted",
           unit="W", unit2="residual (W)"),
    _panel("forecast", DEVICE, "Next window's mean power: forecast from this window's statistics vs measured (W)",
           LINES,
           Query("SELECT mean(\"Hyperprediction\") AS \"forecast\" FROM \"predictions\" WHERE $timeFilter "
                 "AND \"device_id\" = '$device' AND \"model\" = 'power_next' GROUP BY time($__interval) fill(none)"),
           Query("SELECT mean(\"power_preprocessed_Avg\") AS \"measured\" FROM \"power_preprocessed\" "
                 "WHERE $timeFilter AND \"device_id\" = '$device' GROUP BY time($__interval) fill(none)"),
           help="the chain power_preprocess -> power_forecast_train -> power_forecast: each 30 s window's "
                "statistics forecast the mean power of the window 10 s later, drawn at that window's time",
           unit="W"),
    _panel("answered_by", DEVICE, "Who answered: the device's own model or the fleet's", BARS,
           Query("SELECT count(\"Hyperprediction\") AS \"own model\" FROM \"predictions\" WHERE $timeFilter "
                 "AND \"device_id\" = '$device' AND \"Answeredby\" = 'entity' GROUP BY time($__interval), \"model\" "
                 "fill(none) SLIMIT $slimit", legend="{model}: {_column}", role=BAR),
           Query("SELECT count(\"Hyperprediction\") AS \"fleet model\" FROM \"predictions\" WHERE $timeFilter "
                 "AND \"device_id\" = '$device' AND \"Answeredby\" = 'fleet' GROUP BY time($__interval), \"model\" "
                 "fill(none) SLIMIT $slimit", legend="{model}: {_column}", role=BAR)),
    _panel("champion", DEVICE, "The champion: hold-out accuracy, and each replacement", LINES,
           Query("SELECT mean(\"Championaccuracy\") AS \"champion accuracy\" FROM \"trained_models\" "
                 "WHERE $timeFilter AND \"device_id\" = '$device' AND \"Status\" = 'kept' "
                 "GROUP BY time($__interval), \"model\" fill(none) SLIMIT $slimit", legend="{model}"),
           Query("SELECT \"Forecastaccuracy\" AS \"new champion's accuracy\", \"Modelversion\", "
                 "\"MachineLearningAlgorithm\", \"Metric\", \"Metricvalue\" FROM \"trained_models\" "
                 "WHERE $timeFilter AND \"device_id\" = '$device' AND \"Deployed\" = 1 GROUP BY \"model\" "
                 "LIMIT $limit SLIMIT $slimit", legend="{model} replaced", role=MARKERS),
           help="accuracy of the champion on each window's newest quarter; a marker where a challenger replaced it "
                "(its version, algorithm and metric on hover)", wide=True),
    _panel("model_actions", DEVICE, "What people did to its models", EVENTS,
           Query("SELECT \"action\", \"version\", \"model\" FROM \"model_actions\" WHERE $timeFilter "
                 "AND \"device_id\" = '$device' ORDER BY time DESC LIMIT $limit"),
           help="every pin, unpin, rollback, delete and import of the device's models (tickml models), newest "
                "first: the version it left answering", wide=True),

    # ---------------------------------------------------------------- Alerts
    # Each alert's events, as its task writes them (tick_scripts/device_silence.tick, failure_alert.tick,
    # device_anomaly.tick, task_health.tick): a point at each change of level, tagged with what the alert is
    # about. An alert is the tags' combination (Kapacitor's alert id is made of them).
    _panel("open_alerts", ALERTS_PAGE, "Open alerts at the end of the range", OPEN_ALERTS,
           # Each alert's latest event (a selector per alert, whatever the range's start), those not OK.
           Query("SELECT \"level\", \"message\", \"alert\", \"device_id\", \"sensor\", \"task\", \"node\" "
                 "FROM (SELECT last(\"message\") AS \"message\", \"level\" FROM \"alerts\" WHERE time <= ${__to}ms "
                 "GROUP BY \"alert\", \"device_id\", \"sensor\", \"task\", \"node\") WHERE \"level\" != 'OK' "
                 "ORDER BY time DESC LIMIT $limit"),
           help="the alerts whose latest event, up to the range's end, is not OK, longest open first (at most "
                "max-events); an alert opened before the range's start is open here too", wide=True),
    _panel("alert_counts", ALERTS_PAGE, "Alerts raised, by kind", BARS,
           Query("SELECT count(\"message\") AS \"raised\" FROM \"alerts\" WHERE $timeFilter AND \"level\" != 'OK' "
                 "GROUP BY time($__interval), \"alert\" fill(none) SLIMIT $slimit", legend="{alert}", role=BAR),
           help="events that raised an alert (a level other than OK): silence, failure, anomaly, task_stopped, "
                "node_errors"),
    _panel("top_alerted", ALERTS_PAGE, "Devices alerted most often", TABLE,
           Query("SELECT top(\"raised\", \"device_id\", $top) AS \"alerts raised\" FROM (SELECT count(\"message\") "
                 "AS \"raised\" FROM \"alerts\" WHERE $timeFilter AND \"level\" != 'OK' AND \"device_id\" != '' "
                 "GROUP BY \"device_id\")"),
           help="the top devices by alerts raised in the range, each linked to its page (its alerts are there)"),
    _panel("alert_history", ALERTS_PAGE, "Alert events", ALERT_EVENTS,
           Query("SELECT \"level\", \"message\", \"duration\", \"alert\", \"device_id\", \"sensor\", \"task\", "
                 "\"node\" FROM \"alerts\" WHERE $timeFilter ORDER BY time DESC LIMIT $limit"),
           help="every alert event in the range, newest first (at most max-events); an OK says how long the alert "
                "lasted", wide=True),

    # ---------------------------------------------------------------- Tasks and UDFs
    _panel("udf_points", TASKS_PAGE, "UDF points in and out per second", LINES,
           Query('SELECT non_negative_derivative(max("tickml_udf_points_in_total"), 1s) AS "in", '
                 'non_negative_derivative(max("tickml_udf_points_out_total"), 1s) AS "out" FROM "udf_metrics" '
                 'WHERE $timeFilter AND "task" =~ /^$tasks$/ AND "reason" = \'\' AND "kind" = \'\' '
                 'GROUP BY time($__interval), "task", "node" fill(none)', legend="{task} {node}"),
           help="from the UDF processes' Prometheus counters, scraped by Telegraf", min_interval=10, wide=True),
    _panel("udf_latency", TASKS_PAGE, "UDF handler time per point (µs)", LINES,
           Query('SELECT non_negative_derivative(max("tickml_udf_handler_seconds_total"), 1s) * 1000000 / '
                 'non_negative_derivative(max("tickml_udf_points_in_total"), 1s) AS "us_per_point" '
                 'FROM "udf_metrics" WHERE $timeFilter AND "task" =~ /^$tasks$/ '
                 'AND "reason" = \'\' AND "kind" = \'\' '
                 'GROUP BY time($__interval), "task", "node" fill(none)', legend="{task} {node}"),
           help="the worker's time on requests per point received", min_interval=10, unit="µs"),
    _panel("udf_bad_points", TASKS_PAGE, "UDF bad points per second by reason", LINES,
           Query('SELECT non_negative_derivative(max("tickml_udf_bad_points_total"), 1s) AS "bad points" '
                 'FROM "udf_metrics" WHERE $timeFilter AND "task" =~ /^$tasks$/ AND "reason" != \'\' '
                 'GROUP BY time($__interval), "task", "reason" fill(none)',
                 legend="{task}: {reason}"),
           help="points a UDF logged and skipped", min_interval=10),
    _panel("udf_errors", TASKS_PAGE, "UDF errors per second", LINES,
           Query('SELECT non_negative_derivative(max("tickml_udf_errors_total"), 1s) AS "errors" '
                 'FROM "udf_metrics" WHERE $timeFilter AND "task" =~ /^$tasks$/ AND "kind" != \'\' '
                 'GROUP BY time($__interval), "task", "kind" fill(none)', legend="{task}: {kind}"),
           help="the handler raised (the point or batch is skipped), or a request could not be read",
           min_interval=10),
    _panel("udf_keepalives", TASKS_PAGE, "Keepalives per minute: answered and withheld", LINES,
           Query('SELECT non_negative_derivative(max("tickml_udf_keepalives_total"), 1m) AS "answered", '
                 'non_negative_derivative(max("tickml_udf_keepalives_withheld_total"), 1m) AS "withheld" '
                 'FROM "udf_metrics" WHERE $timeFilter AND "task" =~ /^$tasks$/ '
                 'AND "reason" = \'\' AND "kind" = \'\' '
                 'GROUP BY time($__interval), "task", "node" fill(none)', legend="{task} {node}"),
           help="withheld: the handler hung, so Kapacitor stops the task", min_interval=10),
    _panel("kapacitor_udf_nodes", TASKS_PAGE, "Kapacitor's UDF nodes: time per point (µs) and errors per second",
           LINES,
           Query('SELECT mean("avg_exec_time_ns") / 1000 AS "µs per point" FROM "nodes" WHERE $timeFilter '
                 'AND "task" =~ /^$tasks$/ '
                 "AND \"kind\" =~ /^($udfs)$/ GROUP BY time($__interval), \"task\", \"node\" fill(none)",
                 legend="{task} {node}"),
           Query('SELECT non_negative_derivative(max("errors"), 1s) AS "errors" FROM "nodes" WHERE $timeFilter '
                 'AND "task" =~ /^$tasks$/ '
                 "AND \"kind\" =~ /^($udfs)$/ GROUP BY time($__interval), \"task\", \"node\" fill(none)",
                 legend="{task} {node}", role=SECOND_AXIS),
           help="Kapacitor's own statistics (its _kapacitor database): each UDF node's average execution time, "
                "the round trip to the UDF included, and the errors it counted", min_interval=10, wide=True,
           unit="µs per point", unit2="errors per second"),
    _panel("task_recoveries", TASKS_PAGE, "Tasks recovered by the watcher, and gaps filled", LINES,
           Query('SELECT "down_seconds" AS "seconds down", "udfs", "reason" FROM "task_recoveries" '
                 'WHERE $timeFilter AND "task" =~ /^$tasks$/ GROUP BY "task" LIMIT $limit',
                 legend="{task} recovered",
                 role=MARKERS),
           Query('SELECT "seconds" AS "seconds filled", "points" FROM "task_gap_fills" '
                 'WHERE $timeFilter AND "task" =~ /^$tasks$/ GROUP BY "task" LIMIT $limit',
                 legend="{task} gap filled",
                 role=MARKERS),
           help="a task whose UDF went away, re-enabled by tickml watch (seconds it was down), and the gap refilled",
           wide=True),
)

BY_NAME = {panel.name: panel for panel in PANELS}


def page_panels(page: str) -> list[Panel]:
    return [panel for panel in PANELS if panel.page == page]
