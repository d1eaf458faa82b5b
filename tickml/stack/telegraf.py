"""A second Telegraf beside the stack's: its configuration derived from telegraf/telegraf.conf.

Benchmarks drain a backlog with a private Telegraf, tests start a second
consumer of the Kafka group: each reads the shipped file with its own MQTT
client id and topics, its own Kafka topic or group, and without the stack's
internal metrics (they would mix with the first Telegraf's in the
``telegraf`` database). A shard's Telegraf (``shard_config``) keeps only the
agent, the validating processor, the Kafka input and the InfluxDB output of
the shipped file, and adds telegraf/shard.conf.
"""

from __future__ import annotations

import json
import re

from tickml import device_types, gateways, secrets
from tickml.paths import ROOT
from tickml.stack import kafka
from tickml.config import TELEGRAF_CONF, StackError, influxdb_url, mosquitto_port

SHARD_CONF = ROOT / "telegraf" / "shard.conf"
BRIDGE_CONF = ROOT / "telegraf" / "mqtt_to_kafka.conf"
_INTERNAL = re.compile(r"^\[\[inputs\.internal\]\]\n(?:[ \t].*\n|\n)*", re.MULTILINE)
_KAFKA_TOPIC = r'^(\s*topics = )\["device_messages"\]'
_KAFKA_GROUP = r'^(\s*consumer_group = )"tickml-telegraf"'


def derived_config(*, mqtt_topics: list[str] | None = None, mqtt_client_id: str | None = None,
                   kafka_topic: str | None = None, kafka_group: str | None = None,
                   batch_size: int | None = None, internal_metrics: bool = False) -> str:
    """telegraf.conf with the settings given changed, and the senders' processor
    (.stack/secrets/telegraf-senders.conf) after it; a setting no longer where it was is an error naming it."""
    text = TELEGRAF_CONF.read_text()
    changes = {
        r'^(\s*topics = )\["devices/#"\]': None if mqtt_topics is None else "[" + ", ".join(f'"{t}"' for t in mqtt_topics) + "]",
        r'^(\s*client_id = )"tickml-telegraf"': None if mqtt_client_id is None else f'"{mqtt_client_id}"',
        _KAFKA_TOPIC: None if kafka_topic is None else f'["{kafka_topic}"]',
        _KAFKA_GROUP: None if kafka_group is None else f'"{kafka_group}"',
        r"^(\s*metric_batch_size = )\d+": None if batch_size is None else str(batch_size),
    }
    text = _changed(text, changes)
    if mqtt_topics is not None:
        text = _topic_parsing(text, mqtt_topics)
    if not internal_metrics:
        text, found = _INTERNAL.subn("", text)
        if found != 1:
            raise StackError("telegraf/telegraf.conf no longer has one [[inputs.internal]] section")
    try:
        senders = (secrets.SECRETS / secrets.TELEGRAF_SENDERS).read_text()
    except FileNotFoundError:
        raise StackError(f"no {secrets.SECRETS / secrets.TELEGRAF_SENDERS}: run stack/install.sh (or tickml "
                         f"secrets ensure)") from None
    return text + "\n" + senders


_TOPIC_PARSING = re.compile(r'^  \[\[inputs\.mqtt_consumer\.topic_parsing\]\]\n    topic = "devices/\+/\+"\n(    tags = .*\n)',
                            re.MULTILINE)


def _topic_parsing(text: str, topics: list[str]) -> str:
    """The MQTT input's topic parsing for ``topics`` (``prefix/#`` each): the processor takes the device id from
    ``prefix/<type>/<id>`` as from ``devices/<type>/<id>``."""
    bad = [t for t in topics if not t.endswith("/#") or "+" in t]
    if bad:
        raise StackError(f"a second Telegraf's MQTT topics are PREFIX/# (devices under PREFIX/<type>/<id>), not {bad}")

    def blocks(match: re.Match) -> str:
        return "".join(f'  [[inputs.mqtt_consumer.topic_parsing]]\n    topic = "{t[:-2]}/+/+"\n{match.group(1)}'
                       for t in topics)

    text, found = _TOPIC_PARSING.subn(blocks, text, count=1)
    if not found:
        raise StackError('telegraf/telegraf.conf no longer has the MQTT input\'s topic_parsing of "devices/+/+"')
    return text


# A second Telegraf's listeners on ports the system picks, so that it never collides with the stack's.
PRIVATE_LISTENERS = {"TICKML_HTTP_LISTEN": "127.0.0.1:0", "TICKML_HTTP_MAPPED_LISTEN": "127.0.0.1:0",
                     "TICKML_HTTP_SESSIONS_LISTEN": "127.0.0.1:0", "TICKML_OTLP_LISTEN": "127.0.0.1:0"}


def environment(mqtt_account: str = "tickml-telegraf", kafka_principal: str = "kafka-telegraf") -> dict[str, str]:
    """What telegraf.conf reads from the environment: its folder, its logins from the secrets, and the device
    types (telegraf/device_types.toml) its validator checks messages by.

    A second Telegraf reading topics other than ``devices/#`` (a benchmark's own)
    logs in as ``tickml-operator``, on the loopback tools' listener: there its
    client id is its own (on the devices' listener a login is its client id).
    Its Kafka client certificate is ``kafka_principal``'s: Telegraf's (it reads the
    device topics), or the sender's for the MQTT-to-Kafka bridge, which writes them.
    """
    user, password = secrets.mqtt_login(mqtt_account)
    kafka_cert, kafka_key = secrets.client_certificate(kafka_principal)
    # Read at every start, so that an edit of the device types takes effect when Telegraf restarts; a broken
    # file stops the start with every problem named.
    try:
        schema = device_types.load().telegraf_constant()
    except device_types.DeviceTypesError as exc:
        raise StackError(str(exc)) from None
    tools = {}
    if mqtt_account in secrets.MQTT_TOOLS_ACCOUNTS:
        host, port = mosquitto_port()
        tools["TICKML_MQTT_URL"] = f"tcp://{host}:{port}"
    influx_user, influx_password = secrets.influxdb_login("tickml-telegraf")
    http_user, http_password = secrets.http_login()
    sessions_user, sessions_password = secrets.http_login("tickml-sessions")
    return {"TICKML_TELEGRAF_DIR": str(ROOT / "telegraf"), "TICKML_MQTT_USER": user,
            "TICKML_MQTT_PASSWORD": password, "TICKML_CA": str(secrets.ca_file()),
            "TICKML_INFLUXDB_USER": influx_user, "TICKML_INFLUXDB_PASSWORD": influx_password,
            "TICKML_HTTP_USER": http_user, "TICKML_HTTP_PASSWORD": http_password,
            "TICKML_SESSIONS_USER": sessions_user, "TICKML_SESSIONS_PASSWORD": sessions_password,
            "TICKML_TELEGRAF_CERT": str(secrets.SECRETS / "telegraf.crt"),
            "TICKML_TELEGRAF_KEY": str(secrets.SECRETS / "telegraf.key"), "TICKML_INFLUXDB_URL": influxdb_url(),
            "TICKML_KAFKA_CERT": str(kafka_cert), "TICKML_KAFKA_KEY": str(kafka_key),
            device_types.ENVIRONMENT_VARIABLE: schema, **tools}


GATEWAYS_CONF_NAME = "telegraf-gateways.conf"
# Where a gateway's own listeners listen: loopback, as the shipped ones, unless this says otherwise.
GATEWAYS_HOST = "${TICKML_GATEWAYS_HOST:-127.0.0.1}"


def gateway_listeners(declared: dict | None = None) -> str:
    """The inputs of the gateways that have their own (``http``, ``otlp``, ``kafka`` in
    mosquitto/gateways.toml): telegraf.conf's ``/devices`` listener and OpenTelemetry input, each on the
    gateway's port, with its own login (its HTTP password; its client certificate's name), and its Kafka
    input reading the gateway's topic in a group of its own; each tags what it takes with the account."""
    declared = gateways.load() if declared is None else declared
    shipped = {}
    for header, text in sections(TELEGRAF_CONF.read_text()):
        body = "".join(line for line in text.splitlines(keepends=True) if not line.startswith("#"))
        if header == "[[inputs.http_listener_v2]]" and 'paths = ["/devices"]' in body:
            shipped["http"] = body
        elif header == "[[inputs.opentelemetry]]":
            shipped["otlp"] = body
        elif header == "[[inputs.kafka_consumer]]":
            shipped["kafka"] = body
    if set(shipped) != {*gateways.LISTENERS, "kafka"}:
        raise StackError('telegraf/telegraf.conf no longer has the [[inputs.http_listener_v2]] of paths = '
                         '["/devices"], the [[inputs.opentelemetry]] and the [[inputs.kafka_consumer]] a '
                         'gateway\'s inputs are made from')
    out = [f"# Written by the stack runner (tickml/stack/telegraf.py) from mosquitto/gateways.toml and "
           f"{TELEGRAF_CONF.name}; edit those.\n"]
    sender = r'^(\s*tickml_sender = )"tickml-gateway"'
    for g in declared.values():
        if g.http:
            user, password = secrets.http_login(g.account)
            out.append(_changed(shipped["http"], {
                r'^(\[\[inputs\.http_listener_v2\]\]\n)': f'  alias = "gateway-{g.account}"\n',
                r'^(\s*service_address = )".*"': f'"{GATEWAYS_HOST}:{g.http}"',
                r'^(\s*basic_username = )".*"': _toml_string(user),
                r'^(\s*basic_password = )".*"': _toml_string(password),
                sender: _toml_string(g.account)}))
        if g.otlp:
            name = secrets.GATEWAY_CERT_PREFIX + g.account
            out.append(_changed(shipped["otlp"], {
                r'^(\[\[inputs\.opentelemetry\]\]\n)': f'  alias = "gateway-{g.account}"\n',
                r'^(\s*service_address = )".*"': f'"{GATEWAYS_HOST}:{g.otlp}"',
                r'^(\s*tls_allowed_dns_names = )\[.*\]': f"[{_toml_string(secrets.client_dns_name(name))}]",
                sender: _toml_string(g.account)}))
        if g.kafka:
            out.append(_changed(shipped["kafka"], {
                r'^(\[\[inputs\.kafka_consumer\]\]\n)': f'  alias = "gateway-{g.account}"\n',
                _KAFKA_TOPIC: f"[{_toml_string(g.kafka_topic)}]",
                _KAFKA_GROUP: _toml_string(kafka.gateway_group(g)),
                sender: _toml_string(g.account)}))
    return "\n".join(out)


def _toml_string(text: str) -> str:
    return json.dumps(text)  # a JSON string of printable text is a TOML basic string


def _changed(text: str, changes: dict[str, str | None]) -> str:
    """``text`` with each line matching a pattern's group 1 followed by its value; None leaves it alone."""
    for pattern, value in changes.items():
        if value is None:
            continue
        text, found = re.subn(pattern, lambda m: m.group(1) + value, text, count=1, flags=re.MULTILINE)
        if not found:
            raise StackError(f"telegraf/telegraf.conf no longer has a line matching {pattern!r}")
    return text


def sections(text: str) -> list[tuple[str, str]]:
    """A Telegraf configuration cut into its top-level tables, ``(header, text)``, each with the
    comment lines right above its header; nested tables (indented) stay in theirs.

    >>> [h for h, _ in sections("# a\\n[agent]\\n  x = 1\\n\\n# b\\n[[inputs.cpu]]\\n  [inputs.cpu.tags]\\n")]
    ['', '[agent]', '[[inputs.cpu]]']
    """
    out: list[list] = [["", []]]
    for line in text.splitlines(keepends=True):
        if line.startswith("["):
            comments = []
            previous = out[-1][1]
            while previous and previous[-1].startswith("#"):
                comments.insert(0, previous.pop())
            out.append([line.strip(), comments])
        out[-1][1].append(line)
    return [(header, "".join(lines)) for header, lines in out]


def shard_config(*, kafka_topic: str | None = None, kafka_group: str | None = None) -> str:
    """A shard's Telegraf (telegraf/shard.conf): with a Kafka topic and group, its consumer of device
    messages (telegraf.conf's validating processor and Kafka input); without, its results listener.

    Both have telegraf.conf's agent and InfluxDB output of the device data (everything but Telegraf's own
    metrics, to the retention policy ``TICKML_SHARD_RETENTION_POLICY`` names) and shard.conf's output to
    the shard's Kapacitor.
    """
    consumer = kafka_topic is not None
    wanted = ["[agent]", "[[outputs.influxdb]]"] + (["[[processors.starlark]]", "[[inputs.kafka_consumer]]"]
                                                    if consumer else [])
    kept = [text for header, text in sections(TELEGRAF_CONF.read_text())
            if header in wanted and not (header == "[[outputs.influxdb]]" and "alias =" in text)]
    if len(kept) != len(wanted):
        raise StackError(f"telegraf/telegraf.conf no longer has one each of {', '.join(wanted)} (the "
                         f"[[outputs.influxdb]] without an alias)")
    text = _changed("".join(kept), {
        _KAFKA_TOPIC: None if kafka_topic is None else f'["{kafka_topic}"]',
        # The shard's own client id, so that the group's members say which shard holds which partitions.
        _KAFKA_GROUP: None if kafka_group is None else f'"{kafka_group}"\n  client_id = "${{TICKML_SHARD_CLIENT_ID}}"',
        # Sticky: when a shard leaves or joins, only the partitions that must move do (range would deal
        # all of them out again); every partition that moves leaves its devices' open windows behind.
        r'^(\s*balance_strategy = )"range"': None if kafka_topic is None else '"sticky"',
        r'^(\s*)namepass = \["device_message", "device_reject"\]': 'namedrop = ["internal_*"]',
        r'^(\s*retention_policy = )""': '"${TICKML_SHARD_RETENTION_POLICY}"',
        # No senders' processor: the shards' topic holds what the MQTT bridge forwards, ids of the broker's ACL.
        r'^(\s*)tickml_sender = "tickml-gateway"': None if kafka_topic is None else "## no tickml_sender: "
                                                       "the MQTT bridge's messages, whose ids the broker's ACL checked",
    })
    own = [t for h, t in sections(SHARD_CONF.read_text())
           if h == "[[outputs.influxdb]]" or h == "[[inputs.http_listener_v2]]" and not consumer]
    return (f"# Written by the stack runner (tickml/stack/telegraf.py) from {TELEGRAF_CONF.name} and "
            f"{SHARD_CONF.name}; edit those.\n\n" + text + "\n" + "".join(own))
