"""The Kafka broker of the native stack: its listeners, topics, storage and health.

Kafka runs from the jars ``stack/install.sh`` put in ``.stack/kafka/libs`` with
``kafka/server.properties``; its storage is formatted the first time (KRaft,
no ZooKeeper) and the topics of ``kafka/topics.conf`` are created at start.
Health and topics go through confluent-kafka's admin client.

Every client logs in with a certificate of the stack's CA (mutual TLS; the
certificate's CN names its principal, ``secrets.KAFKA_PRINCIPALS``), and the
broker's authorizer lets each do what the ACLs made here after it starts
allow (``stack_acls``; a shard set's in ``tickml.stack.shards.prepare``).
``client_config`` gives librdkafka's settings for a principal.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from tickml import gateways, secrets
from tickml.paths import DATA, ROOT, RUN, STATE
from tickml.config import StackError, read_properties, split_address

KAFKA_DIR = ROOT / "kafka"
KAFKA_LIBS = STATE / "kafka" / "libs"
# The broker's heap; the machine has 2 cores and runs the whole stack.
KAFKA_HEAP = os.environ.get("TICKML_KAFKA_HEAP", "-Xmx512m -Xms128m")
# The principals (kafka/server.properties maps a certificate's CN to one): a super user, and the others.
ADMIN = "kafka-admin"
TELEGRAF = "kafka-telegraf"
SENDER = "kafka-sender"
UDF = "kafka-udf"
MATERIALISER = "kafka-materialiser"
KAPACITOR = "kafka-kapacitor"
# The alerts' topic Kapacitor's kafka handler writes (kapacitor/alert_handlers.json, kapacitor.conf [[kafka]]):
# one partition, so a consumer reads every alert in the order Kapacitor raised them (a few a minute, not a
# stream to share out); kept a week, a weekend's alerts still there on Monday.
ALERTS_TOPIC = "tickml-alerts"
ALERTS_TOPIC_CONFIGS = {"retention.ms": str(7 * 24 * 3600 * 1000)}
# The consumer groups of the device topics: the single node's Telegraf (telegraf/telegraf.conf).
TELEGRAF_GROUP = "tickml-telegraf"
# The materialisers' group ids (udfs/learn/materialise.py): they join no group, but librdkafka wants one.
MATERIALISER_GROUPS = "tickml-materialiser-"


def tls_files(principal: str) -> tuple[str, str, str]:
    """(CA, certificate, key) a client of the stack's broker logs in with as ``principal``."""
    crt, key = secrets.client_certificate(principal)
    return str(secrets.ca_file()), str(crt), str(key)


def client_config(principal: str = ADMIN, **settings) -> dict:
    """librdkafka's settings for a client of the stack's broker logged in as ``principal``, with ``settings``
    (dots as underscores are not translated: pass them as ``**{"group.id": ...}``)."""
    ca, crt, key = tls_files(principal)
    return {"bootstrap.servers": kafka_bootstrap(), "security.protocol": "ssl", "ssl.ca.location": ca,
            "ssl.certificate.location": crt, "ssl.key.location": key, **settings}


def kafka_listeners() -> dict[str, tuple[str, int]]:
    """Listener name -> (host, port), from ``listeners`` in kafka/server.properties."""
    props = read_properties(KAFKA_DIR / "server.properties")
    out = {}
    for item in props.get("listeners", "").split(","):
        name, sep, address = item.strip().partition("://")
        if sep:
            out[name] = split_address(address)
    if not out:
        raise StackError("kafka/server.properties has no `listeners=NAME://HOST:PORT,...` line")
    return out


def kafka_address() -> tuple[str, int]:
    """Where clients (devices, Telegraf) reach the broker: the first non-controller listener."""
    props = read_properties(KAFKA_DIR / "server.properties")
    controllers = set(props.get("controller.listener.names", "CONTROLLER").split(","))
    for name, address in kafka_listeners().items():
        if name not in controllers:
            return address
    raise StackError("kafka/server.properties has no broker listener besides the controller's")


def kafka_bootstrap() -> str:
    host, port = kafka_address()
    return f"{host}:{port}"


def kafka_topics() -> list[tuple[str, int, dict[str, str]]]:
    """(name, partitions, configs) per line of kafka/topics.conf."""
    topics = []
    for number, line in enumerate((KAFKA_DIR / "topics.conf").read_text().splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) < 2 or not words[1].isdigit():
            raise StackError(f"kafka/topics.conf line {number}: want `NAME PARTITIONS [KEY=VALUE ...]`, got {line!r}")
        configs = dict(w.split("=", 1) for w in words[2:])
        topics.append((words[0], int(words[1]), configs))
    return topics


def _admin(host: str, port: int, timeout: float):
    from confluent_kafka.admin import AdminClient

    # log_level 0: a broker still starting is expected here, not worth librdkafka's warnings.
    return AdminClient(client_config(ADMIN, **{"bootstrap.servers": f"{host}:{port}",
                                               "socket.timeout.ms": int(timeout * 1000), "log_level": 0}))


def kafka_metadata(host: str, port: int, timeout: float = 2.0) -> dict:
    """The broker's metadata, through confluent-kafka's admin client.

    Returns ``{"brokers": [(node_id, host, port)], "cluster_id", "controller_id",
    "topics": {name: partitions}}`` (internal topics left out); raises OSError
    when the broker does not answer. A broker whose controller is elected and
    that lists itself is ready.
    """
    from confluent_kafka import KafkaException

    try:
        metadata = _admin(host, port, timeout).list_topics(timeout=timeout)
    except KafkaException as exc:
        raise OSError(f"Kafka at {host}:{port} does not answer: {exc}") from None
    return {
        "brokers": sorted((b.id, b.host, b.port) for b in metadata.brokers.values()),
        "cluster_id": metadata.cluster_id,
        "controller_id": metadata.controller_id,
        "topics": {name: len(t.partitions) for name, t in metadata.topics.items() if not name.startswith("__")},
    }


def healthy() -> bool:
    host, port = kafka_address()
    try:
        meta = kafka_metadata(host, port)
    except (OSError, secrets.SecretsError):  # no certificate to ask with: not ready either
        return False
    return meta["controller_id"] >= 0 and bool(meta["brokers"])


def effective_properties() -> Path:
    """kafka/server.properties with ``log.dirs`` pointed at .stack/data/kafka and the TLS files at the state
    folder's secrets (the last line wins)."""
    path = RUN / "kafka" / "server.properties"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (KAFKA_DIR / "server.properties").read_text()
    where = secrets.SECRETS
    path.write_text(f"{text}\n# Appended by the stack runner (tickml/stack/kafka.py):\nlog.dirs={DATA / 'kafka'}\n"
                    f"ssl.keystore.location={where / 'kafka.pem'}\nssl.truststore.location={where / 'ca.crt'}\n"
                    f"listener.name.controller.ssl.keystore.location={where / 'kafka-controller.pem'}\n"
                    f"listener.name.controller.ssl.truststore.location={where / 'kafka-controller.crt'}\n")
    return path


def java() -> str:
    return shutil.which("java") or "/usr/bin/java"


def broker_command() -> list[str]:
    return [
        java(), *KAFKA_HEAP.split(), "-XX:+UseG1GC", "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={KAFKA_DIR / 'log4j2.properties'}",
        "-cp", f"{KAFKA_LIBS}/*", "kafka.Kafka", str(RUN / "kafka" / "server.properties"),
    ]  # fmt: skip


def _tool(main_class: str, *args: str) -> subprocess.CompletedProcess:
    command = [
        java(), "-Xmx256m", f"-Dlog4j2.configurationFile={KAFKA_DIR / 'tools-log4j2.properties'}",
        "-cp", f"{KAFKA_LIBS}/*", main_class, *args,
    ]  # fmt: skip
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise StackError(f"kafka: {main_class} {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
    return proc


def prepare() -> None:
    """Write the effective properties; format the storage (KRaft) the first time."""
    if not any(KAFKA_LIBS.glob("kafka_*.jar")):
        raise StackError(f"kafka: no broker jars in {KAFKA_LIBS}; run stack/install.sh first")
    # Secrets made before Kafka wanted certificates lack these: say so rather than let the broker fail on them.
    missing = [name for name in ("kafka.pem", "kafka-controller.pem", "kafka-controller.crt", "ca.crt")
               if not (secrets.SECRETS / name).exists()]
    if missing:
        raise StackError(f"kafka: no {', '.join(missing)} in {secrets.SECRETS}; run tickml secrets ensure "
                         f"(it keeps the other secrets)")
    properties = effective_properties()
    if (DATA / "kafka" / "meta.properties").exists():
        return
    (DATA / "kafka").mkdir(parents=True, exist_ok=True)
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
    _tool("kafka.tools.StorageTool", "format", "--cluster-id", cluster_id, "--config", str(properties))


def kafka_create_topics() -> list[str]:
    """Create the topics of kafka/topics.conf and the gateways' own that do not exist yet; returns their
    names."""
    host, port = kafka_address()
    existing = kafka_metadata(host, port)["topics"]
    return create_topics([t for t in kafka_topics() + gateway_topics() + alert_topics() if t[0] not in existing])


def alert_topics() -> list[tuple[str, int, dict[str, str]]]:
    """The alerts' topic, not a device topic of kafka/topics.conf: Kapacitor alone writes it."""
    return [(ALERTS_TOPIC, 1, dict(ALERTS_TOPIC_CONFIGS))]


def after_start() -> None:
    """Once the broker answers: the topics of kafka/topics.conf and the ACLs of the single node."""
    kafka_create_topics()
    ensure_acls(stack_acls())


# -- ACLs: who may do what (the broker refuses whatever none allows) -----------

def _acl(resource: str, name: str, principal: str, operation: str, prefixed: bool = False):
    from confluent_kafka.admin import (AclBinding, AclOperation, AclPermissionType, ResourcePatternType,
                                       ResourceType)

    return AclBinding(ResourceType[resource], name,
                      ResourcePatternType.PREFIXED if prefixed else ResourcePatternType.LITERAL,
                      f"User:{principal}", "*", AclOperation[operation], AclPermissionType.ALLOW)


def device_topic_acls(topic: str, groups=(TELEGRAF_GROUP,)) -> list:
    """A device topic: senders write it, Telegraf reads it in ``groups``. Neither may create, delete or alter
    it (no ACL grants that: only the admin, a super user, may)."""
    out = [_acl("TOPIC", topic, SENDER, op) for op in ("WRITE", "DESCRIBE")]
    out += [_acl("TOPIC", topic, TELEGRAF, op) for op in ("READ", "DESCRIBE")]
    return out + [_acl("GROUP", group, TELEGRAF, "READ") for group in groups]


def model_topic_acls(prefix: str) -> list:
    """The model topics ``<prefix><model>``: the train UDF servers create and write them (they never read
    them back), the materialisers read them, outside any group (librdkafka wants a group id all the same)."""
    out = [_acl("TOPIC", prefix, UDF, op, prefixed=True) for op in ("CREATE", "WRITE", "DESCRIBE")]
    out += [_acl("TOPIC", prefix, MATERIALISER, op, prefixed=True) for op in ("READ", "DESCRIBE")]
    return out + [_acl("GROUP", MATERIALISER_GROUPS, MATERIALISER, "READ", prefixed=True)]


def gateway_topic_acls(gateway) -> list:
    """A gateway's own topic: its certificate writes it, Telegraf reads it in a group of its own (one consumer
    group per topic: a group's members rebalance together)."""
    topic, principal = gateway.kafka_topic, secrets.GATEWAY_CERT_PREFIX + gateway.account
    out = [_acl("TOPIC", topic, principal, op) for op in ("WRITE", "DESCRIBE")]
    out += [_acl("TOPIC", topic, TELEGRAF, op) for op in ("READ", "DESCRIBE")]
    return out + [_acl("GROUP", gateway_group(gateway), TELEGRAF, "READ")]


def alert_topic_acls(topic: str = ALERTS_TOPIC) -> list:
    """The alerts' topic: Kapacitor writes it, and no other principal but the admin (a super user) may touch it;
    a consumer of yours is given READ on it (and its group) as the admin."""
    return [_acl("TOPIC", topic, KAPACITOR, op) for op in ("WRITE", "DESCRIBE")]


def gateway_group(gateway) -> str:
    return f"{TELEGRAF_GROUP}.{gateway.account}"


def gateway_topics() -> list[tuple[str, int, dict[str, str]]]:
    """The topics of the gateways with one of their own, as kafka/topics.conf's device topic is kept."""
    kept = {name: configs for name, _, configs in kafka_topics()}.get("device_messages", {})
    return [(g.kafka_topic, 1, dict(kept)) for g in gateways.load().values() if g.kafka]


def stack_acls() -> list:
    """The single node's ACLs: each topic of kafka/topics.conf is a device topic of Telegraf's group; each
    gateway's own topic is its alone to write; the alerts' topic is Kapacitor's."""
    out = [acl for name, _, _ in kafka_topics() for acl in device_topic_acls(name)]
    out += alert_topic_acls()
    return out + [acl for g in gateways.load().values() if g.kafka for acl in gateway_topic_acls(g)]


def ensure_acls(bindings: list) -> None:
    """Create ACLs as the admin; one that exists already is no error (Kafka keeps one of each). Returns once the
    broker applies them: its authorizer takes them from the metadata a moment after the controller did, and a
    client started at once would be refused."""
    from confluent_kafka.admin import (AclBindingFilter, AclOperation, AclPermissionType, ResourcePatternType,
                                       ResourceType)

    if not bindings:
        return
    _administer("create_acls", bindings)
    host, port = kafka_address()
    admin = _admin(host, port, 10.0)
    every = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None, AclOperation.ANY,
                             AclPermissionType.ANY)
    deadline = time.monotonic() + 10
    while not set(bindings) <= set(admin.describe_acls(every, request_timeout=10).result()):
        if time.monotonic() > deadline:
            raise StackError("kafka: the broker does not apply the ACLs just made within 10 s")
        time.sleep(0.1)


def delete_acls(bindings: list) -> None:
    """Remove ACLs made by ``ensure_acls`` (a test's or a benchmark's topic); one that is gone is no error."""
    from confluent_kafka.admin import AclBindingFilter

    filters = [AclBindingFilter(b.restype, b.name, b.resource_pattern_type, b.principal, b.host, b.operation,
                                b.permission_type) for b in bindings]
    if filters:
        _administer("delete_acls", filters)


def group_assignment(group: str) -> list[int]:
    """How many partitions each member of consumer group ``group`` holds now (an empty list: no members)."""
    return [len(partitions) for _, partitions in group_members(group)]


def group_members(group: str) -> list[tuple[str, list[tuple[str, int]]]]:
    """Each member of consumer group ``group`` now: its client id and the (topic, partition)s it holds."""
    host, port = kafka_address()
    admin = _admin(host, port, 10.0)
    (future,) = admin.describe_consumer_groups([group], request_timeout=10).values()
    try:
        description = future.result()
    except Exception as exc:
        raise StackError(f"kafka: cannot describe consumer group {group}: {exc}") from None
    return [(m.client_id, [(tp.topic, tp.partition) for tp in m.assignment.topic_partitions])
            for m in description.members]


def create_topics(topics: list[tuple[str, int, dict[str, str]]]) -> list[str]:
    """Create ``(name, partitions, configs)`` topics on the stack's broker; one that exists is no error."""
    from confluent_kafka.admin import NewTopic

    if not topics:
        return []
    wanted = [NewTopic(name, num_partitions=partitions, replication_factor=1, config=configs)
              for name, partitions, configs in topics]
    _administer("create_topics", wanted, "TOPIC_ALREADY_EXISTS")
    return [t.topic for t in wanted]


def delete_topics(names: list[str]) -> None:
    """Delete topics from the stack's broker; one that does not exist is no error."""
    _administer("delete_topics", names, "UNKNOWN_TOPIC")


def _administer(call: str, what: list, harmless: str | None = None) -> None:
    host, port = kafka_address()
    admin = _admin(host, port, 10.0)  # kept alive until the futures resolve: its end cancels them
    for name, future in getattr(admin, call)(what, request_timeout=30).items():
        try:
            future.result()
        except Exception as exc:
            if harmless is None or harmless not in str(exc):
                raise StackError(f"kafka: {call.replace('_', ' ')} {name} failed: {exc}") from None
