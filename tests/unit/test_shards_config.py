"""The shards' settings and the configuration written for each shard, checked without starting anything."""

from __future__ import annotations

import os
import stat
import tomllib

import pytest

from tickml import config
from tickml.stack import kafka, shards, telegraf
from tickml.config import StackError


def shard_set(tmp_path, **changes) -> shards.ShardSet:
    text = (shards.SHARDS_CONF.read_text().replace('state = ".stack/shards"', f'state = "{tmp_path / "state"}"')
            .replace("only = []", f"only = {changes.pop('only', [])!r}".replace("'", '"')))
    for old, new in changes.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "shards.toml"
    path.write_text(text)
    return shards.ShardSet.load(path)


def test_the_shipped_settings_load_and_each_shard_has_ports_and_folders_of_its_own(tmp_path):
    settings = shards.ShardSet.load(shards.SHARDS_CONF)
    assert settings.kafka_topic == "device_messages" and settings.retention_policy == ""
    one, two = shard_set(tmp_path).shard(1), shard_set(tmp_path).shard(2)
    assert (one.kapacitor_port, one.results_port, two.kapacitor_port) == (19410, 19411, 19420)
    assert one.folder != two.folder and one.folder.parent == tmp_path / "state"
    # Apart from the single node's, whose Kapacitor port comes from kapacitor.conf.
    assert config.kapacitor_address()[1] not in (one.kapacitor_port, one.results_port, two.kapacitor_port)
    with pytest.raises(StackError, match="numbered from 1"):
        settings.shard(0)


def test_bad_settings_are_refused_naming_each_one(tmp_path):
    with pytest.raises(StackError) as refused:
        shard_set(tmp_path, **{"port_base = 19400": 'port_base = "x"', 'group = "tickml-shards"': "group = 7"})
    assert "port_base must be int, got 'x'" in str(refused.value)
    assert "kafka.group must be str, got 7" in str(refused.value)
    with pytest.raises(StackError, match="only names tasks not in the task list: \\['no_such_task'\\]"):
        shard_set(tmp_path, only=["no_such_task"]).task_list()


def test_a_shards_kapacitor_calls_only_the_udfs_its_tasks_use_on_sockets_in_its_folder(tmp_path):
    shard = shard_set(tmp_path, only=["power_train", "power_predict"]).shard(1)
    written = tomllib.loads(shard.kapacitor_config())
    original = config.read_toml(config.KAPACITOR_CONF)
    functions = written["udf"]["functions"]
    assert set(functions) == {"train", "predict"}
    for name, function in functions.items():
        assert function["socket"] == str(shard.run / "udf" / f"{name}.sock")
        assert {k: v for k, v in function.items() if k != "socket"} == \
            {k: v for k, v in original["udf"]["functions"][name].items() if k != "socket"}
    assert {k: v for k, v in written.items() if k != "udf"} == {k: v for k, v in original.items() if k != "udf"}
    assert set(shard.sockets()) == {"train", "predict"}
    # Every task of the list: every UDF a task calls, and the process UDF with its environment.
    every = tomllib.loads(shard_set(tmp_path).shard(1).kapacitor_config())["udf"]["functions"]
    assert every["rfc_classifier"] == original["udf"]["functions"]["rfc_classifier"]


def test_a_shards_two_telegraf_configurations():
    consumer = tomllib.loads(telegraf.shard_config(kafka_topic="t", kafka_group="g"))
    results = tomllib.loads(telegraf.shard_config())
    (kafka,) = consumer["inputs"]["kafka_consumer"]
    assert (kafka["topics"], kafka["consumer_group"], kafka["client_id"]) == (["t"], "g", "${TICKML_SHARD_CLIENT_ID}")
    assert kafka["balance_strategy"] == "sticky"
    # The MQTT bridge's messages: no sender for a senders' processor the shard does not have.
    assert kafka["tags"] == {"tickml_input": "kafka"}
    assert "http_listener_v2" not in consumer["inputs"] and "mqtt_consumer" not in consumer["inputs"]
    assert set(results["inputs"]) == {"http_listener_v2"} and "processors" not in results
    (listener,) = results["inputs"]["http_listener_v2"]
    assert listener["paths"] == ["/write", "/ping"] and listener["tags"] == {"shard_id": "${TICKML_SHARD}"}
    for conf in (consumer, results):
        influxdb, kapacitor = conf["outputs"]["influxdb"]
        assert influxdb["database"] == "telemetry" and influxdb["retention_policy"] == "${TICKML_SHARD_RETENTION_POLICY}"
        assert influxdb["namedrop"] == kapacitor["namedrop"] == ["internal_*"]
        assert (kapacitor["alias"], kapacitor["retention_policy"]) == ("kapacitor", "autogen")
        assert conf["agent"] == config.read_toml(config.TELEGRAF_CONF)["agent"]


def test_the_shard_supervisor_starts_the_udf_servers_and_waits_for_the_runner_with_the_rest(tmp_path):
    shard = shard_set(tmp_path, only=["power_train", "power_predict"]).shard(2)
    programs = {p.name: p for p in shard.supervisor().programs}
    assert set(programs) == {"udf-train", "udf-predict", "telegraf-results", "kapacitor", "materialiser",
                             "task-watcher", "telegraf"}
    assert {n for n, p in programs.items() if p.autostart} == {"udf-train", "udf-predict"}
    for name in ("udf-train", "udf-predict", "materialiser"):
        env = programs[name].env
        assert env["TICKML_MODEL_ROOT"] == str(shard.model_root)
        assert env["TICKML_MODEL_TOPIC_PREFIX"] == "tickml-models."
    assert programs["kapacitor"].env["KAPACITOR_INFLUXDB_0_URLS_0"] == f"https://127.0.0.1:{shard.results_port}"
    assert programs["kapacitor"].env["KAPACITOR_INFLUXDB_0_DISABLE_SUBSCRIPTIONS"] == "true"
    names = [s.name for s in shard.services()]
    assert names.index("shard2-materialiser") < names.index("shard2-telegraf-results") \
        < names.index("shard2-kapacitor") < names.index("shard2-telegraf") == len(names) - 1
    shard.write_config()
    for written in ("kapacitor.conf", "telegraf.conf", "telegraf-results.conf", "supervisord.conf"):
        assert stat.S_IMODE(os.stat(shard.run / written).st_mode) == 0o600, written  # they hold logins


def test_containers_take_the_first_free_shard_number(tmp_path):
    settings = shard_set(tmp_path)
    first, lock_1 = shards.claim_slot(settings)
    second, lock_2 = shards.claim_slot(settings)
    assert (first, second) == (1, 2)
    os.close(lock_1)  # that container stopped
    again, lock_3 = shards.claim_slot(settings)
    assert again == 1
    os.close(lock_2)
    os.close(lock_3)


def test_a_gateways_own_listeners_are_the_shipped_ones_with_its_port_login_and_tag(secrets_folder, tmp_path,
                                                                                   monkeypatch):
    from tickml import gateways, secrets

    declared = tmp_path / "gateways.toml"
    declared.write_text('[gateways.edge-1]\nids = ["pump-1"]\nhttp = 19001\notlp = 19002\nkafka = true\n'
                        '[gateways.sim]\nids = ["*"]\n')
    monkeypatch.setattr(gateways, "GATEWAYS_FILE", declared)
    secrets.ensure()
    conf = tomllib.loads(telegraf.gateway_listeners())
    (own_topic,) = conf["inputs"]["kafka_consumer"]
    assert (own_topic["topics"], own_topic["consumer_group"], own_topic["tags"]["tickml_sender"]) == (
        ["device_messages.edge-1"], "tickml-telegraf.edge-1", "edge-1")
    # Its topic is its certificate's alone to write; Telegraf reads it in that group.
    acls = {(a.name, a.principal, a.operation.name) for a in kafka.stack_acls() if a.name.endswith("edge-1")}
    assert acls == {("device_messages.edge-1", "User:gateway-edge-1", "WRITE"),
                    ("device_messages.edge-1", "User:gateway-edge-1", "DESCRIBE"),
                    ("device_messages.edge-1", "User:kafka-telegraf", "READ"),
                    ("device_messages.edge-1", "User:kafka-telegraf", "DESCRIBE"),
                    ("tickml-telegraf.edge-1", "User:kafka-telegraf", "READ")}
    shipped = config.read_toml(config.TELEGRAF_CONF)["inputs"]
    (http,), (otlp,) = conf["inputs"]["http_listener_v2"], conf["inputs"]["opentelemetry"]
    assert (http["service_address"], http["basic_username"], http["basic_password"]) == (
        "${TICKML_GATEWAYS_HOST:-127.0.0.1}:19001", *secrets.http_login("edge-1"))
    assert http["tags"] == otlp["tags"] | {"tickml_input": "http"} == {"tickml_input": "http", "tickml_sender": "edge-1"}
    assert otlp["tls_allowed_dns_names"] == ["gateway-edge-1.client.tickml.invalid"]
    assert otlp["service_address"].endswith(":19002") and otlp["alias"] == "gateway-edge-1"
    # Everything else as on the shipped listeners.
    (devices,) = [i for i in shipped["http_listener_v2"] if i.get("paths") == ["/devices"]]
    changed = {"alias", "service_address", "basic_username", "basic_password", "tags"}
    assert {k: v for k, v in http.items() if k not in changed} == {k: v for k, v in devices.items() if k not in changed}
    # The shipped inputs speak as the simulator's gateway; the senders' processor refuses the rest.
    assert devices["tags"]["tickml_sender"] == shipped["opentelemetry"][0]["tags"]["tickml_sender"] == "tickml-gateway"


def test_a_second_telegraf_checks_its_senders_as_the_stacks_does(secrets_folder):
    from tickml import secrets

    secrets.ensure()
    conf = tomllib.loads(telegraf.derived_config(mqtt_topics=["bench/#"]))
    processors = conf["processors"]["starlark"]
    assert sorted((p["order"], p["script"].rsplit("/", 1)[1]) for p in processors) == [
        (1, "senders.star"), (2, "device_message.star")]
