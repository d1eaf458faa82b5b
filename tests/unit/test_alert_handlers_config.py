"""The alert topics' handlers file (kapacitor/alert_handlers.json) as `tickml tasks define` reads it."""

from __future__ import annotations

import json

import pytest

from tickml import tasks


def test_the_shipped_handlers_name_topics_the_shipped_tasks_publish_to():
    scripts = {t.name: t.script for t in tasks.load_tasks()}
    handlers = tasks.load_handlers()
    assert handlers, "no handler shipped"
    for handler in handlers:
        assert any(f"var topic = '{handler.topic}'" in script for script in scripts.values()), handler


def test_a_log_handlers_path_is_made_absolute_under_the_log_folder(tmp_path):
    path = tmp_path / "handlers.json"
    path.write_text(json.dumps({"handlers": [
        {"topic": "t", "id": "log", "kind": "log", "options": {"path": "alerts.log"}},
        {"topic": "t", "id": "hook", "kind": "post", "options": {"url": "https://example.invalid/hook"}}]}))
    log, post = tasks.load_handlers(path, logs=tmp_path / "logs")
    assert log.options == {"path": str(tmp_path / "logs" / "alerts.log")}
    assert post.options == {"url": "https://example.invalid/hook"}


@pytest.mark.parametrize("text, named", [("{", "JSONDecodeError"), ('{"handlers": [{"topic": "t"}]}', "KeyError"),
                                         ('{"other": []}', "KeyError")])
def test_a_broken_handlers_file_is_an_error_naming_it(tmp_path, text, named):
    path = tmp_path / "handlers.json"
    path.write_text(text)
    with pytest.raises(tasks.TaskListError, match=rf"{path}: {named}"):
        tasks.load_handlers(path)


# -- the shipped handlers and the services they go through (kapacitor/kapacitor.conf) --

KINDS = {"log", "mqtt", "kafka", "post", "smtp"}


def _conf() -> dict:
    from tickml import config

    return config.read_toml(config.KAPACITOR_CONF)


@pytest.mark.parametrize("topic", ["device-alerts", "stack-health"])
def test_each_shipped_topic_reaches_every_kind_of_receiver(topic):
    assert {h.kind for h in tasks.load_handlers() if h.topic == topic} == KINDS


def test_the_handlers_name_services_kapacitor_conf_enables():
    """A handler naming a broker, cluster or endpoint kapacitor.conf lacks, or a service it leaves off, would be
    refused by Kapacitor when `tickml tasks define` puts it."""
    from tickml.stack import kafka

    conf = _conf()
    brokers = {m["name"] for m in conf["mqtt"] if m.get("enabled")}
    clusters = {k["id"] for k in conf["kafka"] if k.get("enabled")}
    endpoints = {e["endpoint"] for e in conf["httppost"]}
    assert conf["smtp"]["enabled"] and conf["smtp"]["from"] and conf["smtp"]["to"]
    for h in tasks.load_handlers():
        if h.kind == "mqtt":
            assert h.options["broker-name"] in brokers and h.options["topic"].startswith("alerts/"), h
            # A tag rendered raw could hold +, # or /: no topic level (test_alert_handlers.py, integration).
            assert "| urlquery | urlquery }}" in h.options["topic"], h
        elif h.kind == "kafka":
            assert h.options["cluster"] in clusters and h.options["topic"] == kafka.ALERTS_TOPIC, h
        elif h.kind == "post":
            assert h.options["endpoint"] in endpoints, h


def test_no_secret_is_written_in_kapacitor_conf():
    """The MQTT login's password comes from the secrets (KAPACITOR_MQTT_0_PASSWORD), SMTP's from
    KAPACITOR_SMTP_PASSWORD; Kafka's login is a certificate in .stack/secrets."""
    conf = _conf()
    assert all(not m.get("password") for m in conf["mqtt"]) and not conf["smtp"].get("password")
    assert all(k["ssl-key"].startswith(".stack/secrets/") for k in conf["kafka"])


def test_only_kapacitor_publishes_alerts_and_only_the_reader_and_the_operator_read_them():
    """Mosquitto's ACL: alerts/ and models/ are written by tickml-kapacitor alone (besides the operator, who may do
    anything), read by tickml-alerts-reader; devices (the `pattern` lines, every login) and gateways get nothing
    there."""
    from tickml import gateways, secrets

    acl = secrets.acl(gateways.load(), ["pm-1"])
    rules, user = {}, None
    for text in acl.splitlines():
        words = text.split()
        if words[:1] == ["user"]:
            user = words[1]
        elif words[:1] == ["pattern"]:
            rules.setdefault("*pattern", []).append(tuple(words[1:]))
        elif words[:1] == ["topic"]:
            rules.setdefault(user, []).append(tuple(words[1:]))
    touching = {who: [r for r in found if r[-1].startswith(("alerts", "models", "#", "+"))]
                for who, found in rules.items()}
    touching = {who: found for who, found in touching.items() if found}
    kapacitor, reader = [("write", "alerts/#"), ("write", "models/#")], [("read", "alerts/#"), ("read", "models/#")]
    assert touching == {"tickml-operator": [("readwrite", "#")], "tickml-kapacitor": kapacitor,
                        "tickml-alerts-reader": reader}
    # Neither may do anything else.
    assert rules["tickml-kapacitor"] == kapacitor and rules["tickml-alerts-reader"] == reader


def test_only_kapacitors_principal_is_granted_the_kafka_alerts_topic():
    from tickml.stack import kafka

    granted = {(b.principal, b.operation.name) for b in kafka.stack_acls() if b.name == kafka.ALERTS_TOPIC}
    assert granted == {(f"User:{kafka.KAPACITOR}", "WRITE"), (f"User:{kafka.KAPACITOR}", "DESCRIBE")}
    assert kafka.ALERTS_TOPIC not in {name for name, _, _ in kafka.kafka_topics()}  # not a device topic
