"""The model store's shared home on the real Kafka broker: a compacted topic per model, keyed by entity.

A ``SharedModelStore`` (a shard's train UDF) publishes every champion and
waits for the broker before storing it; a ``Materialiser`` (every shard)
applies the topic to another root. Each test has topics of its own (a
unique prefix) and a signing key of its own, the topics deleted afterwards.
"""

from __future__ import annotations

import json
import os
import uuid

import pytest

from stackutil import wait_until
from udfs.learn import ModelStore, encode
from udfs.learn.fleet import FLEET_KEY
from udfs.learn.materialise import HEARTBEAT_FILE, OFFSETS_FILE, Materialiser
from udfs.learn.shared import SharedModelStore
from udfs.learn.topic import ModelTopic, TopicSettings, ensure_topic, record_key

pytestmark = pytest.mark.stack

DOC = {"schema": 1, "key": "dev-1", "version": 1, "algorithm": "linear", "task": "regression", "target": "y",
       "features": ["x"], "transform": "", "min": [0.0], "max": [1.0], "params": {"coef": [2.0], "intercept": 1.0},
       "hyper": {}, "metric": {"mape": 0.01}, "rows": 30, "window_rows": 40, "created": "2026-01-01T00:00:00.000Z"}


@pytest.fixture
def settings(stack):
    from tickml.stack import kafka

    # As the admin (a super user): the topics are the test's own, outside the model prefix the UDF principal has.
    settings = TopicSettings(kafka.kafka_bootstrap(), f"t{uuid.uuid4().hex[:8]}-models.", 4, os.urandom(32),
                             tls=kafka.tls_files(kafka.ADMIN))
    yield settings
    topics = [t for t in kafka.kafka_metadata(*kafka.kafka_address())["topics"] if t.startswith(settings.prefix)]
    kafka.delete_topics(topics)


def records(settings: TopicSettings, model: str) -> list:
    """Every record of a model topic, in each partition's order."""
    from confluent_kafka import Consumer, TopicPartition

    topic = settings.topic(model)
    consumer = Consumer(settings.client_config(**{"group.id": "unused", "enable.auto.commit": False}))
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        out = []
        while len(out) < sum(ends.values()):
            out += [m for m in consumer.consume(sum(ends.values()) - len(out), timeout=5) if m.error() is None]
        return sorted(out, key=lambda m: (m.partition(), m.offset()))
    finally:
        consumer.close()


def caught_up(materialiser: Materialiser) -> Materialiser:
    wait_until(lambda: materialiser.step(0.2) >= 0 and materialiser.caught_up, timeout=30, what="caught up")
    return materialiser


def test_the_topic_is_compacted_and_every_champion_is_in_it_before_it_is_stored(settings, tmp_path):
    from confluent_kafka.admin import AdminClient, ConfigResource

    name = ensure_topic(settings, "power")
    admin = AdminClient(settings.client_config())
    (future,) = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, name)]).values()
    assert future.result()["cleanup.policy"].value == "compact"
    assert ensure_topic(settings, "power") == name  # a second call finds it

    store = SharedModelStore(tmp_path / "power", ModelTopic(settings, "power"))
    for version in (1, 2, 3):
        assert store.put(dict(DOC, version=version))
    assert store.put(dict(DOC, key="__fleet__", version=1), FLEET_KEY)
    assert not store.put(dict(DOC, version=2))  # older than the stored one: neither stored nor published
    got = records(settings, "power")
    entity = [json.loads(m.value())["version"] for m in got if m.key() == record_key("dev-1")]
    assert entity == [1, 2, 3]
    assert [m.key() for m in got].count(b"fleet") == 1


def test_another_root_materialises_the_same_champions_and_resumes_where_it_stopped(settings, tmp_path):
    ensure_topic(settings, "power")
    ensure_topic(settings, "failure_prob")
    shard = {"power": SharedModelStore(tmp_path / "a" / "power", ModelTopic(settings, "power")),
             "failure_prob": SharedModelStore(tmp_path / "a" / "failure_prob", ModelTopic(settings, "failure_prob"))}
    for model, store in shard.items():
        for i in range(50):
            for version in (1, 2):
                store.put(dict(DOC, key=f"dev-{i}", version=version, target=model))
        store.put(dict(DOC, key="__fleet__", version=4, target=model), FLEET_KEY)
        store.put(dict(DOC, key="__fleet__", version=1, target=model))  # a device named like the fleet

    other = caught_up(Materialiser(tmp_path / "b", settings))
    for model, store in shard.items():
        copy = ModelStore(tmp_path / "b" / model)
        assert copy.keys() == store.keys() and len(copy.keys()) == 51
        for key in [*store.keys(), FLEET_KEY]:
            assert copy.document(key) == store.document(key)
        assert copy.model(FLEET_KEY).version == 4 and copy.model("__fleet__").version == 1
    assert other.applied == 2 * (50 * 2 + 2) and other.bad == 0
    assert (tmp_path / "b" / HEARTBEAT_FILE).exists()

    # A restart goes on from the offsets kept beside the models: nothing is applied twice.
    offsets = json.loads((tmp_path / "b" / OFFSETS_FILE).read_text())
    assert set(offsets) == {settings.topic("power"), settings.topic("failure_prob")}
    shard["power"].put(dict(DOC, key="dev-0", version=3, target="power"))
    again = caught_up(Materialiser(tmp_path / "b", settings))
    wait_until(lambda: again.step(0.2) >= 0 and again.applied == 1, timeout=20, what="the one new champion")
    assert ModelStore(tmp_path / "b" / "power").model("dev-0").version == 3


def test_a_record_that_is_not_a_model_is_skipped_and_the_others_applied(settings, tmp_path):
    from confluent_kafka import Producer

    topic = ensure_topic(settings, "power")
    producer = Producer(settings.client_config(partitioner="fnv1a"))
    signer = settings.signer()
    for value, key in [(b"not json", b"e/dev-1"),
                       (json.dumps(dict(DOC, schema=7)).encode(), b"e/dev-2"),
                       (json.dumps(DOC).encode(), b"no-prefix"),
                       (json.dumps(dict(DOC, key="dev-3")).encode(), b"e/dev-3")]:
        producer.produce(topic, value, key, headers=signer.headers(topic, key, value))  # signed: judged as models
    assert producer.flush(10) == 0
    copy = caught_up(Materialiser(tmp_path, settings))
    assert (copy.bad, copy.applied) == (3, 1)
    assert ModelStore(tmp_path / "power").keys() == ["dev-3"]


def test_a_forged_record_is_skipped_and_counted_and_a_signed_one_after_it_applied(settings, tmp_path):
    from confluent_kafka import Producer

    topic = ensure_topic(settings, "power")
    forged = encode(dict(DOC, key="__fleet__", version=99))  # a fleet model: it would reach every device
    # The default partitioner, as ModelTopic's: the tombstone below lands behind the signed champion.
    producer = Producer(settings.client_config())
    producer.produce(topic, forged, b"fleet")  # no signature
    wrong_key = TopicSettings(settings.bootstrap, settings.prefix, signing_key=os.urandom(32)).signer()
    producer.produce(topic, forged, b"fleet", headers=wrong_key.headers(topic, b"fleet", forged))
    assert producer.flush(10) == 0
    assert SharedModelStore(tmp_path / "a" / "power", ModelTopic(settings, "power")).put(DOC)  # signed
    producer.produce(topic, None, b"e/dev-1")  # an unsigned tombstone of the champion just published
    assert producer.flush(10) == 0
    copy = caught_up(Materialiser(tmp_path / "b", settings))
    assert (copy.bad, copy.applied) == (3, 1)
    store = ModelStore(tmp_path / "b" / "power")
    assert store.model(FLEET_KEY) is None and store.model("dev-1").version == 1
    assert sum(json.loads((tmp_path / "b" / OFFSETS_FILE).read_text())[topic].values()) == 4  # read past them


def test_a_record_the_store_cannot_write_waits_and_nothing_behind_it_is_lost(settings, tmp_path):
    from confluent_kafka import Producer

    topic = ensure_topic(settings, "power")
    producer = Producer(settings.client_config(partitioner="fnv1a"))
    signer = settings.signer()
    keys = [f"dev-{i}" for i in range(8)]
    for key in keys:
        value, record = json.dumps(dict(DOC, key=key)).encode(), f"e/{key}".encode()
        producer.produce(topic, value, record, headers=signer.headers(topic, record, value))
    assert producer.flush(10) == 0
    # The model's folder cannot be made (a file stands where it goes): every write fails, as on a full disk.
    (tmp_path / "power").write_text("in the way")
    copy = Materialiser(tmp_path, settings)
    copy.discover()
    for _ in range(5):
        copy.step(0.5)
    assert (copy.applied, copy.bad) == (0, 0) and not copy.caught_up
    (tmp_path / "power").unlink()  # the fault goes: the records wait, none was skipped
    caught_up(copy)
    assert (copy.applied, copy.bad) == (8, 0)
    assert sorted(ModelStore(tmp_path / "power").keys()) == sorted(keys)


def test_versions_never_go_backwards_when_two_shards_deploy_around_a_move(settings, tmp_path):
    """Two shards, each with its materialiser, deploy the same key: the stores agree, no version goes back."""
    ensure_topic(settings, "power")
    a = SharedModelStore(tmp_path / "a" / "power", ModelTopic(settings, "power"), refresh_seconds=0)
    b = SharedModelStore(tmp_path / "b" / "power", ModelTopic(settings, "power"), refresh_seconds=0)
    sync_a, sync_b = Materialiser(tmp_path / "a", settings), Materialiser(tmp_path / "b", settings)
    assert a.put(dict(DOC, version=1))
    caught_up(sync_b)
    wait_until(lambda: sync_b.step(0.2) >= 0 and b.model("dev-1") is not None, timeout=20, what="b's copy")
    # Both closed the same window before seeing the other's champion: the same version twice.
    assert a.put(dict(DOC, version=2, created="2026-01-01T00:00:02.000Z"))
    assert b.put(dict(DOC, version=2, created="2026-01-01T00:00:03.000Z"))
    for sync in (caught_up(sync_a), sync_b):
        wait_until(lambda sync=sync: sync.step(0.2) >= 0 and sync.applied + sync.older >= 2, timeout=20,
                   what="both champions read")
    assert a.document("dev-1") == b.document("dev-1")
    assert a.document("dev-1")["created"] == "2026-01-01T00:00:03.000Z"  # the tie went the same way on both
    # And the shard that lost the tie cannot publish a version below what it now holds.
    assert not a.put(dict(DOC, version=1, created="2027-01-01T00:00:00.000Z"))
    versions = [json.loads(m.value())["version"] for m in records(settings, "power")]
    assert versions == sorted(versions)


def test_a_broker_that_does_not_answer_leaves_the_champion_stored_here_and_pending(tmp_path):
    unreachable = TopicSettings("127.0.0.1:9", "t-models.", signing_key=os.urandom(32))  # nothing listens there
    topic = ModelTopic(unreachable, "power", timeout=1.0)
    store = SharedModelStore(tmp_path / "power", topic)
    assert store.put(DOC)  # the shard goes on with its own copy
    assert store.model("dev-1").version == 1
    assert topic.pending == {record_key("dev-1"): encode(DOC)}
    store.close()
    assert topic.pending == {record_key("dev-1"): encode(DOC)}, "closing keeps what Kafka has not taken"


def test_a_rollback_published_reaches_the_copy_every_shard_holds(settings, tmp_path):
    """`tickml models rollback --publish` on one node: the restored version, under the next number, is applied by
    another shard's materialiser over the copy of the version it replaced."""
    import subprocess
    import sys

    from udfs.learn.history import model_record

    ensure_topic(settings, "power")
    node = SharedModelStore(tmp_path / "a" / "power", ModelTopic(settings, "power"))
    for version, coef in ((1, 2.0), (2, 3.0)):  # two versions, as the train UDF deploys and records them
        doc = dict(DOC, version=version, params={"coef": [coef], "intercept": 1.0})
        assert node.put(doc)
        node.record("dev-1", model_record("deployed", doc, "first" if version == 1 else "better"), doc)
    other = caught_up(Materialiser(tmp_path / "b", settings))
    assert ModelStore(tmp_path / "b" / "power").document("dev-1")["version"] == 2

    key_file = tmp_path / "model-key.hex"
    key_file.write_text(settings.signing_key.hex())
    ca, cert, key = settings.tls
    env = {**os.environ, "TICKML_MODEL_KAFKA": settings.bootstrap, "TICKML_MODEL_TOPIC_PREFIX": settings.prefix,
           "TICKML_MODEL_KEY_FILE": str(key_file), "TICKML_MODEL_KAFKA_CA": ca, "TICKML_MODEL_KAFKA_CERT": cert,
           "TICKML_MODEL_KAFKA_KEY": key}
    done = subprocess.run([sys.executable, "-m", "tickml", "models", "rollback", "power", "dev-1", "--root",
                           str(tmp_path / "a"), "--publish", "--no-record"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "version 1 restored, champion as version 3" in done.stdout and "published to every shard" in done.stdout

    wait_until(lambda: other.step(0.2) >= 0 and other.applied == 3, timeout=30, what="the rollback applied")
    copy = ModelStore(tmp_path / "b" / "power").document("dev-1")
    assert (copy["version"], copy["params"]["coef"]) == (3, [2.0])
    assert copy == ModelStore(tmp_path / "a" / "power").document("dev-1")
