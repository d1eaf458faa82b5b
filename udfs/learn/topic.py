"""The model store's shared home: a compacted Kafka topic per model name, keyed by entity.

When the store's champions must follow their devices across shards (issue
16), every deployed champion is also a record of ``<prefix><model>``: its
key names the entity (``record_key``), its value is the model document's
JSON (``document.encode``). The topic is compacted (``cleanup.policy=compact``),
so Kafka keeps at least the newest record of every key however long it runs,
and a shard that reads it from the start holds every champion. The train UDF
publishes (``ModelTopic``), every shard's materialiser applies
(``materialise``); ``document.supersedes`` decides on both sides.

The UDF service, never a task, says whether there is a shared home:
``TICKML_MODEL_KAFKA`` (the brokers) and ``TICKML_MODEL_TOPIC_PREFIX``
(default ``tickml-models.``), read once when the process starts
(``MODEL_TOPICS``; None without ``TICKML_MODEL_KAFKA``: the store on disk
alone, the default for one node). ``TICKML_MODEL_TOPIC_PARTITIONS`` (8) is
the partition count of a topic the train UDF creates.

Every record is signed (``signing``): the process's key comes from the file
``TICKML_MODEL_KEY_FILE`` names, read here with the rest; a process given
``TICKML_MODEL_KAFKA`` without it does not start (``from_environment``
raises), and ``ModelTopic`` and the materialiser refuse settings without a
key.

The broker wants a client certificate (mutual TLS; its CN names the
principal the broker's ACLs know): ``TICKML_MODEL_KAFKA_CA``,
``TICKML_MODEL_KAFKA_CERT`` and ``TICKML_MODEL_KAFKA_KEY`` name the files,
the train UDF servers' (which write the topics) or the materialiser's (which
reads them); without them the client speaks plaintext, for a broker of your
own that takes it.

Why the fleet model's record key is not an entity's: entity keys are any
string a device sends, so the fleet-wide model (``FLEET_KEY``) is keyed
``fleet`` and every entity ``e/<key>``; no entity can overwrite it in the
compacted topic either.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field

from .fleet import FLEET_KEY, FleetKey
from .signing import KEY_FILE_VARIABLE, RecordSigner, key_from_environment

log = logging.getLogger(__name__)

KAFKA_VARIABLE = "TICKML_MODEL_KAFKA"
PREFIX_VARIABLE = "TICKML_MODEL_TOPIC_PREFIX"
PARTITIONS_VARIABLE = "TICKML_MODEL_TOPIC_PARTITIONS"
# The CA, client certificate and key of the process's login to the broker.
TLS_VARIABLES = ("TICKML_MODEL_KAFKA_CA", "TICKML_MODEL_KAFKA_CERT", "TICKML_MODEL_KAFKA_KEY")
DEFAULT_PREFIX = "tickml-models."
DEFAULT_PARTITIONS = 8

_FLEET_RECORD = b"fleet"
_ENTITY = b"e/"
# Kafka's rule for topic names (kafka.common.internals.Topic): at most 249 of these characters.
_TOPIC_CHARS = re.compile(r"[A-Za-z0-9._-]+")
_TOPIC_MAX = 249
# Kafka's defaults, but a segment is closed (and so compacted) after an hour at most, not a week.
TOPIC_CONFIG = {"cleanup.policy": "compact", "segment.ms": "3600000"}


@dataclass(frozen=True)
class TopicSettings:
    """Where the shared home is: the brokers, the topic name prefix, the partitions of a new topic,
    the key its records are signed with (``signing``), and the (CA, certificate, key) files the client
    logs in with (None: plaintext)."""

    bootstrap: str
    prefix: str = DEFAULT_PREFIX
    partitions: int = DEFAULT_PARTITIONS
    signing_key: bytes | None = field(default=None, repr=False)
    tls: tuple[str, str, str] | None = None

    def client_config(self, **settings) -> dict:
        """librdkafka's settings to reach the brokers with this login, and ``settings``.

        >>> TopicSettings("b:1", tls=("ca.crt", "c.crt", "c.key")).client_config(log_level=3)["security.protocol"]
        'ssl'
        """
        config = {"bootstrap.servers": self.bootstrap}
        if self.tls is not None:
            ca, cert, key = self.tls
            config.update({"security.protocol": "ssl", "ssl.ca.location": ca, "ssl.certificate.location": cert,
                           "ssl.key.location": key})
        return {**config, **settings}

    @classmethod
    def from_environment(cls, environ=os.environ) -> "TopicSettings | None":
        """The service's settings (``TICKML_MODEL_KAFKA`` ...), or None when it has no shared home.

        >>> TopicSettings.from_environment({}) is None
        True
        >>> TopicSettings.from_environment({"TICKML_MODEL_KAFKA": "127.0.0.1:19094"})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: TICKML_MODEL_KAFKA is set but TICKML_MODEL_KEY_FILE is not: records of the model topics ...
        """
        bootstrap = environ.get(KAFKA_VARIABLE, "").strip()
        if not bootstrap:
            return None
        signing_key = key_from_environment(environ)
        if signing_key is None:
            raise ValueError(f"{KAFKA_VARIABLE} is set but {KEY_FILE_VARIABLE} is not: records of the model topics "
                             f"are signed, and this process reads and writes none without the key (a file of 32 "
                             f"random bytes as hex; tickml secrets ensure makes .stack/secrets/model-signing-key.hex)")
        prefix = environ.get(PREFIX_VARIABLE, DEFAULT_PREFIX)
        partitions = environ.get(PARTITIONS_VARIABLE, str(DEFAULT_PARTITIONS))
        if not partitions.isdigit() or int(partitions) < 1:
            raise ValueError(f"{PARTITIONS_VARIABLE} must be a whole number of at least 1, got {partitions!r}")
        problem = _name_problem(prefix + "x")
        if prefix and problem:
            raise ValueError(f"{PREFIX_VARIABLE} {prefix!r}: {problem}")
        tls = tuple(environ.get(name, "").strip() for name in TLS_VARIABLES)
        if any(tls) and not all(tls):  # half a login would be plaintext, refused by a broker that wants TLS
            raise ValueError(f"{', '.join(TLS_VARIABLES)}: set all three or none, got only "
                             f"{', '.join(n for n, v in zip(TLS_VARIABLES, tls) if v)}")
        return cls(bootstrap, prefix, int(partitions), signing_key, tls if all(tls) else None)

    def topic(self, model: str) -> str:
        """The topic of model ``model``; ValueError naming the rule when Kafka would refuse the name.

        >>> TopicSettings("b:1").topic("power")
        'tickml-models.power'
        """
        problem = topic_problem(self, model)
        if problem:
            raise ValueError(problem)
        return self.prefix + model

    def signer(self) -> RecordSigner:
        """The signer of these topics' records; ValueError when there is no key (never unsigned)."""
        if self.signing_key is None:
            raise ValueError(f"model topics {self.prefix}*: no signing key (records are signed; the service "
                             f"names the key file in {KEY_FILE_VARIABLE})")
        return RecordSigner(self.signing_key)

    def model_of(self, topic: str) -> str | None:
        """The model whose topic ``topic`` is, or None for a topic not of this prefix."""
        return topic[len(self.prefix):] if topic.startswith(self.prefix) and len(topic) > len(self.prefix) else None


def _name_problem(name: str) -> str | None:
    if not _TOPIC_CHARS.fullmatch(name) or len(name) > _TOPIC_MAX or name in (".", ".."):
        return f"a Kafka topic name has at most {_TOPIC_MAX} of the characters a-z A-Z 0-9 . _ - (got {name!r})"
    return None


def topic_problem(settings: "TopicSettings | None", model: str) -> str | None:
    """Why model ``model`` cannot have a shared home under ``settings`` (None: it can, or there is none).

    >>> print(topic_problem(TopicSettings("b:1"), "power w"))
    model 'power w' cannot be shared: a Kafka topic name has at most 249 of the characters a-z A-Z 0-9 . _ - (got 'tickml-models.power w')
    """
    if settings is None:
        return None
    problem = _name_problem(settings.prefix + model)
    return f"model {model!r} cannot be shared: {problem}" if problem else None


# The settings of this process, from its environment when it starts: the service's, never a task's.
MODEL_TOPICS = TopicSettings.from_environment()


def record_key(key: str | FleetKey) -> bytes:
    """The Kafka record key of a store key.

    >>> record_key("pm-7"), record_key(FLEET_KEY), record_key("fleet")
    (b'e/pm-7', b'fleet', b'e/fleet')
    """
    return _FLEET_RECORD if key is FLEET_KEY else _ENTITY + key.encode()


def store_key(record: bytes | None) -> str | FleetKey:
    """The store key of a Kafka record key; ValueError for a key no publisher writes.

    >>> store_key(b"e/pm-7"), store_key(b"fleet")
    ('pm-7', FLEET_KEY)
    """
    if record == _FLEET_RECORD:
        return FLEET_KEY
    if record and record.startswith(_ENTITY) and len(record) > len(_ENTITY):
        return record[len(_ENTITY):].decode()
    raise ValueError(f"record key {record!r} is neither 'fleet' nor 'e/<entity>'")


def ensure_topic(settings: TopicSettings, model: str, timeout: float = 30.0) -> str:
    """Create model ``model``'s compacted topic unless it exists; its name. RuntimeError when Kafka says no."""
    from confluent_kafka.admin import AdminClient, NewTopic

    name = settings.topic(model)
    admin = AdminClient(settings.client_config(log_level=3))
    try:
        if name in admin.list_topics(timeout=timeout).topics:
            return name
        (future,) = admin.create_topics([NewTopic(name, num_partitions=settings.partitions, replication_factor=-1,
                                                  config=TOPIC_CONFIG)], request_timeout=timeout).values()
        future.result()
    except Exception as exc:
        if "TOPIC_ALREADY_EXISTS" not in str(exc):
            raise RuntimeError(f"cannot create model topic {name!r} on Kafka at {settings.bootstrap}: {exc}") from None
    # Created is not yet known to every part of the broker: a call right after may still hear "unknown topic".
    deadline = time.monotonic() + timeout
    while True:
        found = admin.list_topics(topic=name, timeout=timeout).topics.get(name)
        if found is not None and found.error is None and found.partitions:
            return name
        if time.monotonic() > deadline:
            raise RuntimeError(f"model topic {name!r} created on Kafka at {settings.bootstrap} but not listed "
                               f"within {timeout:.0f} s")
        time.sleep(0.1)


class ModelTopic:
    """Publishes one model's champions to its topic, each acknowledged by Kafka before it counts.

    ``publish`` waits for the broker's acknowledgement (``acks=all``,
    idempotent): a champion the train UDF stores is in the topic first, so a
    shard that dies right after deploying it leaves it to the shard that
    takes its devices. When Kafka does not acknowledge within ``timeout``
    (down, say), the champion is kept to publish again before the next one,
    the newest per key, and ``publish`` returns False: the shard goes on with
    its own copy meanwhile. Every record carries its signature (``signing``).
    """

    def __init__(self, settings: TopicSettings, model: str, *, timeout: float = 5.0, producer=None):
        from confluent_kafka import Producer

        self.topic = settings.topic(model)
        self._signer = settings.signer()
        self.timeout = timeout
        self.published = 0
        self.pending: dict[bytes, bytes] = {}  # record key -> encoded document not yet acknowledged
        self._lock = threading.Lock()
        self._producer = producer or Producer(settings.client_config(**{
            "client.id": f"tickml-train-{os.getpid()}",
            # Wait for the broker; retries never duplicate or reorder a key's records.
            "acks": "all", "enable.idempotence": True, "linger.ms": 0, "log_level": 3,
        }))

    def publish(self, key: str | FleetKey, blob: bytes) -> bool:
        """Send one champion (and any still pending) and wait until Kafka has them; False if it has not."""
        with self._lock:
            self.pending[record_key(key)] = blob
            errors: list[str] = []

            def delivered(err, msg):
                if err is None:
                    if self.pending.get(msg.key()) == msg.value():
                        del self.pending[msg.key()]
                    self.published += 1
                else:
                    errors.append(str(err))

            for record, value in list(self.pending.items()):
                self._producer.produce(self.topic, value, record, on_delivery=delivered,
                                       headers=self._signer.headers(self.topic, record, value))
            left = self._producer.flush(self.timeout)
            if left or errors:
                log.warning("model topic %s: %d champion(s) not acknowledged by Kafka (%s); kept to publish "
                            "again with the next", self.topic, len(self.pending),
                            errors[0] if errors else f"none within {self.timeout:.0f} s")
                return False
            return True

    def close(self) -> None:
        self._producer.flush(self.timeout)
        # What Kafka has not taken stays in ``pending``; dropping librdkafka's copies frees the producer, which
        # their delivery callbacks would otherwise keep alive, retrying an absent broker for minutes.
        self._producer.purge()
        self._producer.flush(0)
