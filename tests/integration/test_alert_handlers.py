"""Kapacitor's alert handlers, each end to end with a real receiver, and who may not touch the alerts.

The handlers are the shipped ones (kapacitor/alert_handlers.json's of the topic device-alerts, through
kapacitor/kapacitor.conf's [[mqtt]], [[kafka]], [smtp] and [[httppost]]), copied onto a topic of the test's
own; an alert task is defined from the shipped failure_alert.tick on that topic, and points crossing its
threshold raise one alert and its end. The receivers are real: an MQTT subscriber logged in to Mosquitto as
the alerts' reader, a Kafka consumer of tickml-alerts, an SMTP server (aiosmtpd) and an HTTP server on the
ports kapacitor.conf names (tests/alert_receivers.py, which bench/alerts.py runs too), and the log file.

The adversaries are a registered device's, a gateway's and the reader's own MQTT logins publishing forged
alerts and subscribing to alerts/#, and Kafka's device-side principals producing to tickml-alerts; the
broker refuses or drops each, which a real alert raised afterwards (the sentinel) proves: it arrives, and
nothing forged did before it.
"""

from __future__ import annotations

import json
import time
from email import message_from_bytes

import pytest

from alert_receivers import AlertsConsumer, MailServer, MqttReader, Webhook
from stackutil import flush_vars, wait_until
from tickml import secrets
from tickml.influx import line
from tickml.paths import LOGS, ROOT
from tickml.tasks import load_handlers

# The alert receivers listen on fixed ports (tests/alert_receivers.py), and the tests count what reaches them: not
# beside the other tests of alerts.
pytestmark = [pytest.mark.stack, pytest.mark.exclusive("alerts")]

READER = "tickml-alerts-reader"
# failure_alert.tick's defaults: CRITICAL at 0.90 (threshold 0.8), still CRITICAL at 0.7 and 0.65 (over the reset,
# 0.6), OK at 0.5: one alert and its end.
PROBABILITIES = [0.1, 0.2, 0.9, 0.95, 0.7, 0.65, 0.5, 0.3]


@pytest.fixture
def alert_topic(kapacitor, run_id):
    """A topic of the test's own with copies of the shipped device-alerts handlers of the kinds asked for, and
    failure_alert.tick publishing to it; the task and the topic are deleted afterwards."""
    topic, task = f"{run_id}alerts", f"{run_id}failure"

    def define(*kinds: str) -> str:
        shipped = {h.kind: h for h in load_handlers() if h.topic == "device-alerts"}
        for kind in kinds:
            handler = shipped[kind]
            assert kapacitor.define_handler(topic, handler.id, handler.kind, handler.options) == "defined"
        # A model of its own: the shipped failure_alert (on device-alerts, with the same handlers) ignores its points.
        kapacitor.create(task, (ROOT / "tick_scripts" / "failure_alert.tick").read_text(),
                         flush_vars(topic={"type": "string", "value": topic},
                                    model={"type": "string", "value": _model(run_id)}), status="enabled")
        return topic

    yield define
    kapacitor.delete(task)
    try:
        kapacitor._call("DELETE", f"/alerts/topics/{topic}")
    except Exception:
        pass  # never defined


def _model(run_id: str) -> str:
    return f"{run_id}failure_prob"


def _raise_alert(kapacitor, run_id: str, device: str, probabilities=PROBABILITIES) -> None:
    """Predictions into Kapacitor's stream (its /write, as InfluxDB's subscription brings them), none in InfluxDB."""
    start = time.time_ns()
    kapacitor.write([line("predictions", {"device_id": device, "model": _model(run_id)}, {"Probability1": p},
                          start + k * 1_000_000) for k, p in enumerate(probabilities)])


def _expected(device: str) -> list[tuple[str, str]]:
    return [("CRITICAL", f"{device} is likely to fail: probability 0.90"),
            ("OK", f"{device} is no longer likely to fail")]


# -- the receivers -----------------------------------------------------------------


@pytest.fixture
def mqtt_reader():
    reader = MqttReader(*secrets.mqtt_login(READER)).start()
    yield reader
    reader.stop()


@pytest.fixture
def webhook():
    """A real HTTP server on kapacitor.conf's [[httppost]] webhook URL, collecting (path, content type, body)."""
    with Webhook("webhook") as server:
        yield server.path, server.received


@pytest.fixture
def mail_server():
    """A real SMTP server (aiosmtpd) on kapacitor.conf's [smtp] host and port, collecting the envelopes."""
    with MailServer() as server:
        yield server.smtp, server.received


@pytest.fixture
def alerts_consumer(run_id):
    """A consumer of tickml-alerts (as the admin: no other principal reads it) from its end now."""
    with AlertsConsumer(f"{run_id}alerts") as consumer:
        yield consumer.poll


# -- each handler, end to end ----------------------------------------------------------


def test_the_shipped_topics_have_every_handler_kind(kapacitor):
    """`tickml tasks define` (the session's start) put alert_handlers.json's handlers on both shipped topics."""
    for topic in ("device-alerts", "stack-health"):
        held = kapacitor._call("GET", f"/alerts/topics/{topic}/handlers")["handlers"]
        assert {h["kind"] for h in held} >= {"log", "mqtt", "kafka", "post", "smtp"}, (topic, held)


def test_an_alert_and_its_end_reach_mqtt_kafka_email_the_webhook_and_the_log(
        kapacitor, alert_topic, run_id, mqtt_reader, webhook, mail_server, alerts_consumer):
    from tickml.stack import kafka

    device = f"{run_id}pm-1"
    alert_topic("mqtt", "kafka", "post", "smtp", "log")
    _raise_alert(kapacitor, run_id, device)
    expected = _expected(device)

    # MQTT: the alert's message on alerts/<device>, read by the alerts' reader.
    ours = lambda: [(t, p.decode()) for t, p in mqtt_reader.messages if t == f"alerts/{device}"]  # noqa: E731
    wait_until(lambda: len(ours()) >= 2, timeout=20, what="both alerts on MQTT")
    assert ours() == [(f"alerts/{device}", message) for _, message in expected]

    # HTTP POST: Kapacitor's alert data as JSON, to the webhook's path.
    path, posted = webhook
    mine = lambda: [(p, t, json.loads(b)) for p, t, b in posted if device in b.decode()]  # noqa: E731
    wait_until(lambda: len(mine()) >= 2, timeout=20, what="both alerts posted")
    assert [(p, t, d["id"], d["level"], d["message"]) for p, t, d in mine()] == [
        (path, "application/json", f"failure/{device}", level, message) for level, message in expected]

    # Kafka: the same JSON on tickml-alerts, keyed by the alert's id.
    records = lambda: [r for r in alerts_consumer() if r.key() == f"failure/{device}".encode()]  # noqa: E731
    wait_until(lambda: len(records()) >= 2, timeout=20, what=f"both alerts on {kafka.ALERTS_TOPIC}")
    assert [(json.loads(r.value())["level"], json.loads(r.value())["message"]) for r in records()] == expected

    # Email: a mail per alert from [smtp] from to [smtp] to, the alert's message as its subject.
    smtp, mails = mail_server
    mine_by_mail = lambda: [e for e in mails if device.encode() in e.content]  # noqa: E731
    wait_until(lambda: len(mine_by_mail()) >= 2, timeout=20, what="both alerts by email")
    for envelope, (_, message) in zip(mine_by_mail(), expected):
        mail = message_from_bytes(envelope.content)
        assert (envelope.mail_from, envelope.rcpt_tos) == (smtp["from"], smtp["to"])
        assert mail["Subject"] == message

    # The log: a JSON line per alert.
    log = LOGS / "alerts.log"
    logged = lambda: [json.loads(x) for x in log.read_text().splitlines() if f'"failure/{device}"' in x]  # noqa: E731
    wait_until(lambda: len(logged()) >= 2, timeout=20, what=f"both alerts in {log}")
    assert [(x["level"], x["message"]) for x in logged()] == expected


def test_the_stack_health_alerts_go_to_their_own_mqtt_topic(kapacitor, run_id, mqtt_reader):
    """stack-health's mqtt handler: alerts/stack/<task>, apart from the devices' alerts/<device id>."""
    (handler,) = [h for h in load_handlers() if h.topic == "stack-health" and h.kind == "mqtt"]
    topic = f"{run_id}health"
    kapacitor.define_handler(topic, handler.id, handler.kind, handler.options)
    # An alert whose tags are task_health's (a task's name), raised through Kapacitor's own alert node.
    script = ("dbrp \"telemetry\".\"autogen\"\n\nstream\n    |from()\n        .measurement('health_probe')\n        .groupBy('task')\n"
              "    |alert()\n        .id('task/{{ index .Tags \"task\" }}')\n"
              "        .message('task {{ index .Tags \"task\" }} has stopped')\n"
              "        .crit(lambda: \"stopped\" > 0)\n        .topic('" + topic + "')\n")
    task = f"{run_id}health"
    kapacitor.create(task, script, status="enabled")
    try:
        watched = f"{run_id}watched"
        kapacitor.write([line("health_probe", {"task": watched}, {"stopped": 1}, time.time_ns())])
        wait_until(lambda: (f"alerts/stack/{watched}", f"task {watched} has stopped".encode()) in mqtt_reader.messages,
                   timeout=20, what="the health alert on MQTT")
    finally:
        kapacitor.delete(task)
        kapacitor._call("DELETE", f"/alerts/topics/{topic}")


def test_a_device_id_that_is_no_topic_level_cannot_wedge_the_mqtt_handler(kapacitor, alert_topic, run_id,
                                                                            mqtt_reader):
    """An id with MQTT's wildcards, a level separator and a space (a "*" gateway may name one over HTTP or Kafka)
    is percent-encoded into one topic level: raw (tried), Mosquitto ends Kapacitor's session at the publish,
    Kapacitor sends it again at every reconnect, and it never arrives. An ordinary device's alert raised after
    it arrives too."""
    from urllib.parse import quote_plus

    hostile, ordinary = f"{run_id}a+b#c/d e", f"{run_id}pm-2"
    alert_topic("mqtt")
    _raise_alert(kapacitor, run_id, hostile)
    encoded = quote_plus(quote_plus(hostile, safe=""), safe="")  # Go's urlquery, twice
    assert "+" not in encoded and "#" not in encoded and "/" not in encoded
    wait_until(lambda: (f"alerts/{encoded}", _expected(hostile)[0][1].encode()) in mqtt_reader.messages, timeout=20,
               what="the hostile id's alert")
    _raise_alert(kapacitor, run_id, ordinary)
    wait_until(lambda: (f"alerts/{ordinary}", _expected(ordinary)[0][1].encode()) in mqtt_reader.messages,
               timeout=20, what="the next device's alert")


# -- who may not -----------------------------------------------------------------


def test_devices_gateways_and_the_reader_can_neither_read_nor_forge_alerts(kapacitor, alert_topic, run_id,
                                                                            mqtt_reader):
    """A registered device's and a gateway's logins subscribe to alerts/# and publish a forged alert, and the
    reader publishes one too; then Kapacitor raises a real alert for the same device. The reader gets the real
    one (so the broker had routed whatever it took before it) and nothing forged; the others get nothing."""
    victim, device = f"{run_id}victim", f"{run_id}intruder"
    secrets.register_devices([device])
    gateway = "edge-demo"  # one login, not the simulator's, which a running fleet may be using
    attackers = [MqttReader(device, secrets.device_password(device)).start(),
                 MqttReader(*secrets.mqtt_login(gateway)).start()]
    try:
        for attacker in [*attackers, mqtt_reader]:
            assert attacker.publish(f"alerts/{victim}", b"forged: all is well")
            assert attacker.publish(f"alerts/{attacker.user}", b"forged: its own")
        alert_topic("mqtt")
        _raise_alert(kapacitor, run_id, victim)
        real = (f"alerts/{victim}", _expected(victim)[0][1].encode())
        wait_until(lambda: real in mqtt_reader.messages, timeout=20, what="the real alert (the sentinel)")
        time.sleep(0.5)  # the alert's end comes next; nothing else may
        forged = [m for m in mqtt_reader.messages if m[1].startswith(b"forged")]
        assert forged == [] and [m for m in mqtt_reader.messages if m[0] == real[0]][0] == real, mqtt_reader.messages
        for attacker in attackers:
            # Mosquitto 2 grants the subscription (its ACL is checked as it delivers) or refuses it; either way
            # nothing reaches the login.
            assert attacker.messages == [], (attacker.granted, attacker.messages)
    finally:
        for attacker in attackers:
            attacker.stop()


def _kafka_refusal(principal: str, topic: str, key: bytes) -> str | None:
    """The error of one record produced to ``topic`` as ``principal`` (None: the broker took it)."""
    from confluent_kafka import Producer

    from tickml.stack import kafka

    reports: list = []
    producer = Producer(kafka.client_config(principal, **{"message.timeout.ms": 8000, "log_level": 0}))
    producer.produce(topic, b'{"level": "OK", "message": "forged: all is well"}', key,
                     on_delivery=lambda err, msg: reports.append(err))
    producer.flush(15)
    assert reports, "no delivery report"
    return None if reports[0] is None else reports[0].name()


def test_only_kapacitor_writes_the_kafka_alerts_topic(stack, run_id, alerts_consumer):
    """The device side's principals (senders, gateways), Telegraf and the UDFs are refused by the broker; what
    Kapacitor's principal writes is the first test's. Nothing forged is in the topic after the refusals."""
    from tickml.stack import kafka

    key = f"failure/{run_id}forged".encode()
    for principal in (kafka.SENDER, kafka.TELEGRAF, kafka.UDF, secrets.GATEWAY_CERT_PREFIX + "edge-demo"):
        assert _kafka_refusal(principal, kafka.ALERTS_TOPIC, key) == "TOPIC_AUTHORIZATION_FAILED", principal
    time.sleep(1.0)
    assert [r for r in alerts_consumer() if r.key() == key] == []
