"""Only a client with a certificate of the stack's CA gets into Kafka, and each principal may do its job alone.

Against the real broker: the client listener wants mutual TLS (``ssl.client.auth=required``), the CN of
the certificate names the principal, and KRaft's StandardAuthorizer refuses whatever no ACL allows
(``tickml/stack/kafka.py``). Each refusal is the broker's own answer: a handshake it ends, or an
authorization error code. The allowed paths are the ingestion and shard tests; the model topics' are
shown here too, as they use principals the other tests do not.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import subprocess
import time
import uuid

import pytest

pytestmark = pytest.mark.stack


def _kafka():
    from tickml.stack import kafka

    return kafka


def _errors_of_a_client(settings: dict, timeout: float = 6.0) -> tuple[bool, list]:
    """Whether an admin client with ``settings`` gets the broker's metadata, and the errors librdkafka reported.

    A refused client is refused again at each reconnect: it is asked until librdkafka reports an error (its
    callback runs at ``poll``), not for the whole ``timeout``, which only bounds a client that hears nothing."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    errors: list = []
    client = AdminClient({**settings, "error_cb": errors.append, "log_level": 0})
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.list_topics(timeout=0.5)
            return True, errors
        except KafkaException as exc:
            client.poll(0)
            if errors or time.monotonic() >= deadline:
                return False, errors + [exc.args[0]]


def _alerted(errors: list) -> bool:
    """Whether the broker ended the handshake with a TLS alert (not a client that gave up on its own)."""
    return any("ssl/tls alert" in error.str() for error in errors)


def _produce(settings: dict, topic: str, value: bytes = b"{}", key: bytes = b"intruder", within: float = 8.0) -> list:
    """The delivery error of one record produced with ``settings`` (None: the broker took it), given up after
    ``within`` seconds."""
    return _delivery(_producing(settings, topic, value, key, within))


def _producing(settings: dict, topic: str, value: bytes = b"{}", key: bytes = b"intruder", within: float = 8.0):
    """A producer with one record on its way (librdkafka's threads carry it while the caller does other things)."""
    from confluent_kafka import Producer

    reports: list = []
    producer = Producer({**settings, "message.timeout.ms": int(within * 1000), "log_level": 0})
    producer.produce(topic, value, key, on_delivery=lambda err, msg: reports.append(err))
    return producer, reports, within


def _delivery(producing) -> list:
    """The delivery errors of :func:`_producing`'s record, once it has one."""
    producer, reports, within = producing
    producer.flush(within + 7)
    return reports


# A client whose every handshake the broker ends gets no delivery report but the timeout's; in this many
# seconds librdkafka has reconnected dozens of times (every ~50 ms at first), each refused alike.
HANDSHAKE_REFUSED_WITHIN = 2.0


def _consume(consumer, done, timeout: float = 6.0) -> list:
    """What ``consumer`` reads until ``done(messages)`` (the broker's answer is in), or ``timeout`` seconds."""
    messages: list = []
    deadline = time.monotonic() + timeout
    while not done(messages) and time.monotonic() < deadline:
        messages += consumer.consume(100, timeout=0.2)
    return messages


def _authorization_refused(messages: list) -> bool:
    return any(m.error() is not None and m.error().code() in (_code("TOPIC_AUTHORIZATION_FAILED"),
                                                              _code("GROUP_AUTHORIZATION_FAILED"))
               for m in messages)


def _code(name: str) -> int:
    from confluent_kafka import KafkaError

    return getattr(KafkaError, name)


def _refused(reports: list) -> bool:
    return len(reports) == 1 and reports[0] is not None and reports[0].code() == _code("TOPIC_AUTHORIZATION_FAILED")


@pytest.fixture
def model_topic(stack):
    """A model topic of the shards' prefix (shards/shards.toml), made by the admin, deleted afterwards."""
    from tickml.stack.shards import ShardSet

    kafka = _kafka()
    shards = ShardSet.load()
    kafka.ensure_acls(shards.kafka_acls())
    name = f"{shards.model_topic_prefix}t{uuid.uuid4().hex[:8]}"
    kafka.create_topics([(name, 1, {"cleanup.policy": "compact"})])
    yield name
    kafka.delete_topics([name])


def test_a_client_without_a_certificate_is_refused_at_the_handshake(stack):
    kafka = _kafka()
    ca, _, _ = kafka.tls_files(kafka.ADMIN)
    host, port = kafka.kafka_address()
    # The TLS layer itself: the broker ends the handshake of a client that shows no certificate.
    context = ssl.create_default_context(cafile=ca)
    with socket.create_connection((host, port), timeout=5) as raw:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            with context.wrap_socket(raw, server_hostname=host) as tls:
                # TLS 1.3: the server judges the client's certificate after the client's side of the handshake,
                # so its alert arrives at the first read; a close without one is a refusal as well.
                tls.sendall(b"\x00")
                assert tls.recv(1) == b""
                raise ConnectionError("closed without a word")
    # As librdkafka sees it: TLS without a certificate (ended by the broker's alert), and plaintext; none of them
    # delivers a forged device message either (a record on its way meanwhile).
    forged = _producing({"bootstrap.servers": kafka.kafka_bootstrap()}, "device_messages",
                        within=HANDSHAKE_REFUSED_WITHIN)
    for settings, tls in (({"bootstrap.servers": kafka.kafka_bootstrap(), "security.protocol": "ssl",
                            "ssl.ca.location": ca}, True),
                          ({"bootstrap.servers": kafka.kafka_bootstrap()}, False)):
        answered, errors = _errors_of_a_client(settings)
        assert not answered, settings
        assert errors, settings
        assert _alerted(errors) or not tls, errors
    reports = _delivery(forged)
    assert len(reports) == 1 and reports[0] is not None


def _foreign_certificate(folder) -> tuple[str, str]:
    """A certificate named like the admin's, signed by a CA of its own: the name alone must not let it in."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tickml local CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True).sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                                                  "tickml kafka-admin")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    crt_path, key_path = folder / "foreign.crt", folder / "foreign.key"
    crt_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(crt_path), str(key_path)


def test_a_certificate_of_another_ca_is_refused(stack, tmp_path):
    kafka = _kafka()
    crt, key = _foreign_certificate(tmp_path)
    settings = kafka.client_config(kafka.ADMIN, **{"ssl.certificate.location": crt, "ssl.key.location": key})
    forged = _producing(settings, "device_messages", within=HANDSHAKE_REFUSED_WITHIN)
    answered, errors = _errors_of_a_client(settings)
    assert not answered and errors
    assert _alerted(errors), errors
    assert _delivery(forged)[0] is not None


def test_the_senders_certificate_writes_device_messages_and_nothing_else(stack, model_topic, run_id):
    import json

    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    kafka = _kafka()
    sender = kafka.client_config(kafka.SENDER)
    message = {"device_id": f"{run_id}sender", "timestamp": "2026-01-01T00:00:00Z", "tag": "Thermostat",
               "temperature": 20.0}
    assert _produce(sender, "device_messages", json.dumps(message).encode()) == [None]  # its job
    assert _refused(_produce(sender, model_topic))  # a forged model record
    # Reading device messages: joining Telegraf's group, and partition by partition outside any group.
    for join in (True, False):
        group = "tickml-telegraf" if join else f"intruder-{uuid.uuid4().hex[:6]}"
        consumer = Consumer({**sender, "group.id": group, "auto.offset.reset": "earliest",
                             "enable.auto.commit": False, "log_level": 0})
        try:
            if join:
                consumer.subscribe(["device_messages"])
            else:
                consumer.assign([TopicPartition("device_messages", p, 0) for p in range(4)])
            # Until the broker's refusal: it answers every later join or fetch alike.
            messages = _consume(consumer, _authorization_refused)
        finally:
            consumer.close()
        assert not [m for m in messages if m.error() is None], "the sender read device messages"
        codes = {m.error().code() for m in messages}
        assert codes & {_code("TOPIC_AUTHORIZATION_FAILED"), _code("GROUP_AUTHORIZATION_FAILED")}, codes
    # Creating, deleting or altering topics.
    admin = AdminClient({**sender, "log_level": 0})
    for future in admin.create_topics([NewTopic(f"intruder-{uuid.uuid4().hex[:6]}", 1, 1)],
                                      request_timeout=10).values():
        with pytest.raises(Exception) as refused:
            future.result()
        assert refused.value.args[0].code() in (_code("TOPIC_AUTHORIZATION_FAILED"),
                                                _code("CLUSTER_AUTHORIZATION_FAILED"))
    for name in ("device_messages", model_topic):
        for future in admin.delete_topics([name], request_timeout=10).values():
            with pytest.raises(Exception) as refused:
                future.result()
            assert refused.value.args[0].code() == _code("TOPIC_AUTHORIZATION_FAILED")
    topics = kafka.kafka_metadata(*kafka.kafka_address())["topics"]
    assert topics["device_messages"] == 4 and model_topic in topics


def test_telegrafs_certificate_reads_and_may_not_write(stack):
    kafka = _kafka()
    assert _refused(_produce(kafka.client_config(kafka.TELEGRAF), "device_messages"))


def test_only_the_udf_principal_writes_model_records_and_the_materialiser_reads_them(stack, model_topic):
    from confluent_kafka import Consumer, TopicPartition

    kafka = _kafka()
    assert _refused(_produce(kafka.client_config(kafka.MATERIALISER), model_topic, key=b"fleet"))
    assert _refused(_produce(kafka.client_config(kafka.TELEGRAF), model_topic, key=b"fleet"))
    assert _produce(kafka.client_config(kafka.UDF), model_topic, key=b"e/dev-1") == [None]
    readers = {}
    for principal in (kafka.MATERIALISER, kafka.SENDER, kafka.TELEGRAF):
        consumer = Consumer(kafka.client_config(principal, **{"group.id": f"{kafka.MATERIALISER_GROUPS}{principal}",
                                                              "enable.auto.commit": False, "log_level": 0}))
        try:
            consumer.assign([TopicPartition(model_topic, 0, 0)])
            # Until the record is read (the topic holds no other) or the broker refuses.
            readers[principal] = _consume(consumer, lambda messages: _authorization_refused(messages) or any(
                m.error() is None for m in messages))
        finally:
            consumer.close()
    assert [m.key() for m in readers[kafka.MATERIALISER] if m.error() is None] == [b"e/dev-1"]
    for principal in (kafka.SENDER, kafka.TELEGRAF):
        assert not [m for m in readers[principal] if m.error() is None], principal


def test_the_udf_principal_creates_model_topics_of_its_prefix_only(stack):
    from confluent_kafka.admin import AdminClient, NewTopic

    from tickml.stack.shards import ShardSet

    kafka = _kafka()
    shards = ShardSet.load()
    kafka.ensure_acls(shards.kafka_acls())
    mine, other = f"{shards.model_topic_prefix}t{uuid.uuid4().hex[:8]}", f"t{uuid.uuid4().hex[:8]}-models.power"
    admin = AdminClient(kafka.client_config(kafka.UDF, log_level=0))
    try:
        futures = admin.create_topics([NewTopic(mine, 1, 1), NewTopic(other, 1, 1)], request_timeout=10)
        futures[mine].result()
        with pytest.raises(Exception) as refused:
            futures[other].result()
        assert refused.value.args[0].code() == _code("TOPIC_AUTHORIZATION_FAILED")
        # Nor may it delete its own: only the admin may.
        with pytest.raises(Exception):
            admin.delete_topics([mine], request_timeout=10)[mine].result()
    finally:
        kafka.delete_topics([mine])


def test_another_certificate_of_the_stacks_ca_gets_nothing(stack):
    """The gRPC senders' certificate (CN "tickml sender") is the CA's, but no Kafka principal's: its DN has no ACL."""
    from tickml import secrets

    kafka = _kafka()
    crt, key = secrets.client_certificate("sender")
    settings = kafka.client_config(kafka.ADMIN, **{"ssl.certificate.location": str(crt), "ssl.key.location": str(key)})
    assert _refused(_produce(settings, "device_messages"))


def _controller() -> tuple[str, int]:
    return _kafka().kafka_listeners()["CONTROLLER"]


def test_no_client_gets_through_the_controller_listener(stack, tmp_path):
    """Kafka 4 lets admin clients bootstrap to controllers (KIP-919); this listener shows a certificate that signs
    itself and trusts that one alone, which only the broker holds: even the admin's certificate is refused at the
    handshake, by clients that trust the controller's certificate (so the refusal is the listener's)."""
    from tickml import secrets

    kafka = _kafka()
    host, port = _controller()
    controller = str(secrets.SECRETS / "kafka-controller.crt")

    def quorum(keystore: str) -> subprocess.Popen:
        """The Java admin client with bootstrap.controllers, as kafka-metadata-quorum.sh --bootstrap-controller."""
        properties = tmp_path / f"{keystore.rsplit('/', 1)[-1]}.properties"  # one each: both run at once
        properties.write_text(f"security.protocol=SSL\nssl.keystore.type=PEM\nssl.keystore.location={keystore}\n"
                              f"ssl.truststore.type=PEM\nssl.truststore.location={controller}\n"
                              "request.timeout.ms=10000\ndefault.api.timeout.ms=15000\n")
        # A JVM that lives a second: the quick compiler alone and the serial collector start it sooner.
        return subprocess.Popen(
            [kafka.java(), "-Xmx128m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
             f"-Dlog4j2.configurationFile={kafka.KAFKA_DIR / 'tools-log4j2.properties'}",
             "-cp", f"{kafka.KAFKA_LIBS}/*", "org.apache.kafka.tools.MetadataQuorumCommand",
             "--bootstrap-controller", f"{host}:{port}", "--command-config", str(properties), "describe", "--status"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    # Both at once, and librdkafka's clients meanwhile: each tool is mostly its JVM starting.
    tools = [quorum(str(secrets.SECRETS / name)) for name in ("kafka-admin.pem", "kafka-controller.pem")]
    try:
        for principal in (kafka.ADMIN, kafka.SENDER):
            answered, errors = _errors_of_a_client(kafka.client_config(
                principal, **{"bootstrap.servers": f"{host}:{port}", "ssl.ca.location": controller}))
            assert not answered and errors, principal
            assert _alerted(errors), (principal, errors)
        refused, allowed = [tool.communicate(timeout=120)[0] for tool in tools]
    finally:
        for tool in tools:
            tool.kill()
    assert tools[0].returncode != 0 and "LeaderId" not in refused, refused
    assert "bad_certificate" in refused, refused
    # The broker's own key does open it: the refusal above is the listener's, not a broken tool.
    assert tools[1].returncode == 0 and "LeaderId" in allowed, allowed
