"""bench/ingest_throughput.py at its smoke size (500 messages from 50 devices, Telegraf's batch size only): the
direct write, every protocol through the stack's Telegraf and the drain of a private Telegraf from the MQTT
broker and from Kafka each landed every message in InfluxDB, with a rate for each, so that the bench cannot
rot. (The private Telegraf has an MQTT client id and topics, a Kafka topic and group and listeners of its own:
nothing another test uses.)"""

from __future__ import annotations

import pytest

import ingest_throughput

pytestmark = pytest.mark.stack


def test_every_run_of_the_smoke_size_lands_everything_it_sent(stack):
    batch = ingest_throughput.telegraf_batch_size()
    figures = ingest_throughput.main(["--smoke"])
    assert list(figures) == [f"direct, batch {batch}", "mqtt", "mqtt-plain", "http", "kafka", "otlp",
                             f"mqtt drain, batch {batch}", f"kafka drain, batch {batch}"]
    for name, run in figures.items():
        landed, sent = run["landed"]
        assert landed == sent == 500, (name, run)
        assert run["rate"] > 0, (name, run)
        assert (run["sender_rate"] is None) == name.startswith("direct"), (name, run)
