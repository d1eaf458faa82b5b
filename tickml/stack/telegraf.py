"""A second Telegraf beside the stack's: its configuration derived from telegraf/telegraf.conf.

Benchmarks drain a backlog with a private Telegraf, tests start a second
consumer of the Kafka group, and a shard of a larger deployment is one more
Telegraf: each reads the shipped file with its own MQTT client id and topics,
its own Kafka topic or group, and without the stack's internal metrics (they
would mix with the first Telegraf's in the ``telegraf`` database).
"""

from __future__ import annotations

import re

from tickml import secrets
from tickml.paths import ROOT
from tickml.stack.config import TELEGRAF_CONF, StackError, influxdb_url

_INTERNAL = re.compile(r"^\[\[inputs\.internal\]\]\n(?:[ \t].*\n|\n)*", re.MULTILINE)


def derived_config(*, mqtt_topics: list[str] | None = None, mqtt_client_id: str | None = None,
                   kafka_topic: str | None = None, kafka_group: str | None = None,
                   batch_size: int | None = None, internal_metrics: bool = False) -> str:
    """telegraf.conf with the settings given changed; a setting no longer where it was is an error naming it."""
    text = TELEGRAF_CONF.read_text()
    changes = {
        r'^(\s*topics = )\["devices/#"\]': None if mqtt_topics is None else "[" + ", ".join(f'"{t}"' for t in mqtt_topics) + "]",
        r'^(\s*client_id = )"tickml-telegraf"': None if mqtt_client_id is None else f'"{mqtt_client_id}"',
        r'^(\s*topics = )\["device_messages"\]': None if kafka_topic is None else f'["{kafka_topic}"]',
        r'^(\s*consumer_group = )"tickml-telegraf"': None if kafka_group is None else f'"{kafka_group}"',
        r"^(\s*metric_batch_size = )\d+": None if batch_size is None else str(batch_size),
    }
    for pattern, value in changes.items():
        if value is None:
            continue
        text, found = re.subn(pattern, lambda m: m.group(1) + value, text, count=1, flags=re.MULTILINE)
        if not found:
            raise StackError(f"telegraf/telegraf.conf no longer has a line matching {pattern!r}")
    if not internal_metrics:
        text, found = _INTERNAL.subn("", text)
        if found != 1:
            raise StackError("telegraf/telegraf.conf no longer has one [[inputs.internal]] section")
    return text


# A second Telegraf's listeners on ports the system picks, so that it never collides with the stack's.
PRIVATE_LISTENERS = {"TICKML_HTTP_LISTEN": "127.0.0.1:0", "TICKML_HTTP_MAPPED_LISTEN": "127.0.0.1:0",
                     "TICKML_OTLP_LISTEN": "127.0.0.1:0"}


def environment(mqtt_account: str = "tickml-telegraf") -> dict[str, str]:
    """What telegraf.conf reads from the environment: its folder, and its logins from the secrets.

    A second Telegraf reading topics other than ``devices/#`` (a benchmark's own)
    logs in as ``tickml-operator``.
    """
    user, password = secrets.mqtt_login(mqtt_account)
    influx_user, influx_password = secrets.influxdb_login("tickml-telegraf")
    http_user, http_password = secrets.http_login()
    return {"TICKML_TELEGRAF_DIR": str(ROOT / "telegraf"), "TICKML_MQTT_USER": user,
            "TICKML_MQTT_PASSWORD": password, "TICKML_CA": str(secrets.ca_file()),
            "TICKML_INFLUXDB_USER": influx_user, "TICKML_INFLUXDB_PASSWORD": influx_password,
            "TICKML_HTTP_USER": http_user, "TICKML_HTTP_PASSWORD": http_password,
            "TICKML_TELEGRAF_CERT": str(secrets.SECRETS / "telegraf.crt"),
            "TICKML_TELEGRAF_KEY": str(secrets.SECRETS / "telegraf.key"), "TICKML_INFLUXDB_URL": influxdb_url()}
