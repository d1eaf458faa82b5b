"""What the dashboard reads: each measurement's database, tags and writer, and the window statistics offered.

The panels (panels.py) and the InfluxQL checks (influxql.py) both read it;
neither imports the other for it.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Measurement:
    database: str          # key of dashboard.toml's databases: telemetry, telegraf or kapacitor
    tags: tuple[str, ...]  # its tag keys; every other identifier a query quotes is a field or an alias
    writer: str            # who writes it


MEASUREMENTS = {
    "device_message": Measurement("telemetry", ("device_id", "sensor", "device_type"), "telegraf"),
    "device_reject": Measurement("telemetry", ("device_id", "reason"), "telegraf"),
    "device_aggregates": Measurement("telemetry", ("device_id", "sensor"), "task"),
    "fleet_activity": Measurement("telemetry", (), "task"),
    "device_preprocessed": Measurement("telemetry", ("device_id", "sensor"), "task"),
    "power_preprocessed": Measurement("telemetry", ("device_id",), "task"),
    "trained_models": Measurement("telemetry", ("device_id", "model"), "task"),
    "predictions": Measurement("telemetry", ("device_id", "model"), "task"),
    "model_actions": Measurement("telemetry", ("device_id", "model"), "models-cli"),
    "anomaly": Measurement("telemetry", ("device_id", "sensor"), "task"),
    # Written by the alert nodes of device_silence, failure_alert, device_anomaly and task_health: a device's
    # alerts carry device_id (and sensor), the stack's own task (and node).
    "alerts": Measurement("telemetry", ("device_id", "sensor", "task", "node", "alert", "level"), "task"),
    "task_recoveries": Measurement("telemetry", ("task",), "task-watcher"),
    "task_gap_fills": Measurement("telemetry", ("task",), "task-watcher"),
    "internal_gather": Measurement("telegraf", ("input", "alias", "version"), "telegraf-internal"),
    "udf_metrics": Measurement("telegraf", ("udf", "task", "node", "reason", "kind"), "udf-metrics"),
    "edges": Measurement("kapacitor", ("task", "parent", "child", "type", "host", "cluster_id", "server_id"),
                         "kapacitor-stats"),
    "nodes": Measurement("kapacitor", ("task", "node", "kind", "type", "host", "cluster_id", "server_id"),
                         "kapacitor-stats"),
}

# The device's choices on the device page: a window statistic of device_preprocess (tick_scripts/device_preprocess.tick).
PREPROCESSED_STATS = ("Avg", "Median", "Variance", "AnomProb", "Count")
