"""Kafka's logins without a broker: a certificate per principal, the broker's settings, who gets which login.

The refusals themselves are shown on the real broker (tests/integration/test_security_kafka.py).
"""

from __future__ import annotations

import dataclasses

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from tickml import secrets
from tickml import config
from tickml.stack import kafka


def _cn(path) -> str:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def test_each_principal_has_a_certificate_of_the_ca_named_after_it(secrets_folder):
    secrets.ensure()
    ca = x509.load_pem_x509_certificate((secrets_folder / "ca.crt").read_bytes())
    for name in (*secrets.KAFKA_PRINCIPALS, "kafka"):
        crt = secrets_folder / f"{name}.crt"
        x509.load_pem_x509_certificate(crt.read_bytes()).verify_directly_issued_by(ca)
        assert _cn(crt) == f"tickml {name}"
        # Kafka's Java side reads the key and the certificate from one PEM file.
        pem = (secrets_folder / f"{name}.pem").read_bytes()
        assert pem == (secrets_folder / f"{name}.key").read_bytes() + crt.read_bytes()
    assert set(secrets.KAFKA_PRINCIPALS) <= set(secrets.CLIENTS)


def test_the_controllers_certificate_signs_itself(secrets_folder):
    secrets.ensure()
    controller = x509.load_pem_x509_certificate((secrets_folder / "kafka-controller.crt").read_bytes())
    controller.verify_directly_issued_by(controller)
    ca = x509.load_pem_x509_certificate((secrets_folder / "ca.crt").read_bytes())
    with pytest.raises(Exception):
        controller.verify_directly_issued_by(ca)


def test_older_secrets_gain_the_kafka_certificates_and_keep_the_rest(secrets_folder):
    secrets.ensure()
    for path in [*secrets_folder.glob("kafka*")]:
        path.unlink()
    kept = {p.name: p.read_bytes() for p in secrets_folder.iterdir()}
    written = secrets.ensure()
    assert "kafka-sender.crt" in written and "kafka-controller.pem" in written and "ca.crt" not in written
    assert {name: (secrets_folder / name).read_bytes() for name in kept} == kept
    assert secrets.ensure() == []
    secrets.rotate("certificates")
    assert not {p.name for p in secrets_folder.glob("kafka*")} ^ {f"{n}.{e}" for n in (
        *secrets.KAFKA_PRINCIPALS, "kafka", "kafka-controller") for e in ("crt", "key", "pem")}


def test_the_principal_mapping_takes_the_stacks_kafka_certificates_and_no_other():
    import re

    props = config.read_properties(kafka.KAFKA_DIR / "server.properties")
    *rules, last = props["ssl.principal.mapping.rules"].split(",")
    assert last == "DEFAULT"
    rules = [re.fullmatch(r"RULE:(.*)/(.*)/", rule).groups() for rule in rules]

    def principal(cn: str) -> str:
        """As Kafka maps a DN: the first rule that matches, else the DN itself."""
        dn = f"CN={cn}"
        for pattern, replacement in rules:
            if re.fullmatch(pattern, dn):
                return re.sub(pattern, replacement.replace("$1", r"\1"), dn)
        return dn

    assert [principal(f"tickml {n}") for n in secrets.KAFKA_PRINCIPALS] == list(secrets.KAFKA_PRINCIPALS)
    assert principal("tickml kafka-controller") == "kafka-controller"
    assert principal("tickml sender") == "CN=tickml sender"  # the gRPC senders': a DN no ACL names
    assert principal("tickml gateway-edge-demo") == "gateway-edge-demo"  # a gateway's own, for its own topic
    assert principal("tickml gateway-a b") == "CN=tickml gateway-a b"
    assert set(props["super.users"].split(";")) == {"User:kafka", "User:kafka-controller", "User:kafka-admin"}
    assert props["allow.everyone.if.no.acl.found"] == "false" and props["ssl.client.auth"] == "required"
    assert {p.split(":")[1] for p in props["listener.security.protocol.map"].split(",")} == {"SSL"}


def test_the_runner_points_the_broker_at_the_state_folders_secrets(secrets_folder, tmp_path, monkeypatch):
    monkeypatch.setattr(kafka, "RUN", tmp_path / "run")
    props = config.read_properties(kafka.effective_properties())
    assert props["ssl.keystore.location"] == str(secrets_folder / "kafka.pem")
    assert props["ssl.truststore.location"] == str(secrets_folder / "ca.crt")
    assert props["listener.name.controller.ssl.keystore.location"] == str(secrets_folder / "kafka-controller.pem")
    assert props["listener.name.controller.ssl.truststore.location"] == str(secrets_folder / "kafka-controller.crt")


def test_each_process_logs_in_as_its_principal(secrets_folder, tmp_path):
    from tickml.stack import shards, telegraf

    secrets.ensure()
    shard_set = dataclasses.replace(shards.ShardSet.load(shards.SHARDS_CONF), state=tmp_path / "state")
    programs = {p.name: p.env for p in shard_set.shard(1).supervisor().programs}
    assert programs["udf-train"]["TICKML_MODEL_KAFKA_CERT"] == str(secrets_folder / "kafka-udf.crt")
    assert programs["materialiser"]["TICKML_MODEL_KAFKA_CERT"] == str(secrets_folder / "kafka-materialiser.crt")
    assert programs["materialiser"]["TICKML_MODEL_KAFKA_KEY"] == str(secrets_folder / "kafka-materialiser.key")
    assert programs["telegraf"]["TICKML_KAFKA_CERT"] == str(secrets_folder / "kafka-telegraf.crt")
    bridge = shards.bridge_service(shard_set).env
    assert bridge["TICKML_KAFKA_CERT"] == str(secrets_folder / "kafka-sender.crt")
    assert telegraf.environment()["TICKML_KAFKA_KEY"] == str(secrets_folder / "kafka-telegraf.key")
    settings = kafka.client_config(kafka.SENDER)
    assert settings["security.protocol"] == "ssl" and settings["ssl.certificate.location"].endswith("kafka-sender.crt")


def test_the_model_topics_login_comes_from_the_environment_whole_or_not_at_all(tmp_path):
    from udfs.learn.topic import TopicSettings

    key = tmp_path / "key.hex"
    key.write_text("00" * 32)
    base = {"TICKML_MODEL_KAFKA": "127.0.0.1:9", "TICKML_MODEL_KEY_FILE": str(key)}
    assert TopicSettings.from_environment(base).client_config() == {"bootstrap.servers": "127.0.0.1:9"}
    tls = {"TICKML_MODEL_KAFKA_CA": "ca.crt", "TICKML_MODEL_KAFKA_CERT": "u.crt", "TICKML_MODEL_KAFKA_KEY": "u.key"}
    settings = TopicSettings.from_environment({**base, **tls})
    assert settings.client_config(**{"group.id": "g"}) == {
        "bootstrap.servers": "127.0.0.1:9", "security.protocol": "ssl", "ssl.ca.location": "ca.crt",
        "ssl.certificate.location": "u.crt", "ssl.key.location": "u.key", "group.id": "g"}
    with pytest.raises(ValueError, match="set all three or none"):
        TopicSettings.from_environment({**base, "TICKML_MODEL_KAFKA_CERT": "u.crt"})


def test_the_simulator_logs_in_to_kafka_as_the_senders(secrets_folder):
    from tickml.sender_defaults import stack_defaults

    secrets.ensure()
    logins = stack_defaults().logins
    assert (logins["kafka_cert"], logins["kafka_key"]) == (str(secrets_folder / "kafka-sender.crt"),
                                                           str(secrets_folder / "kafka-sender.key"))
