"""Shards: the stream processing split by device across Kafka partitions, N copies on one machine (issue 16).

A shard is one Telegraf reading the shards' Kafka topic in their consumer
group (writing raw points to the shared InfluxDB and to its own Kapacitor's
/write), one Kapacitor with its socket UDF servers and the task list, a
second Telegraf as that Kapacitor's "InfluxDB" (it writes the results to
InfluxDB and back to the Kapacitor), a materialiser keeping its model store
in step with the shared model topics (``udfs.learn.materialise``), and a
task watcher, all under a supervisord of its own, which starts any of them
again when it dies. Why results come back that way, and why two Telegraf
processes: telegraf/shard.conf.

Shard n keeps everything under ``<state>/<n>/`` (``data/``, ``logs/``,
``run/``: pid files, UDF sockets, the configuration written for it, owner
only as it holds logins) and listens on loopback: its Kapacitor on
``port_base + 10 n``, its Telegraf's results listener on ``port_base + 10 n + 1``.

Start order (``Shard.services``): supervisord with the UDF servers; the
materialiser, until it has caught up with the model topics, so that the
shard holds every champion before a task restores its snapshot or reads a
device message; the results Telegraf (Kapacitor waits for its InfluxDB to
answer); Kapacitor (its users made first, as the single node's) with the
task list defined on it; the task watcher; the Kafka consumer last. The
settings: ``shards/shards.toml``.

One module of more than 350 lines because a shard's folders, ports, written
configuration and processes are one description: each refers to the others'
paths and ports, and split they would each restate them.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import shutil
import signal
import sys
import threading
from pathlib import Path

from tickml import secrets
from tickml.paths import BIN, LOGS, ROOT
from tickml.stack import kafka, kapacitor_users, probes, telegraf
from tickml.stack.process import start_service, stop_service
from tickml.stack.service import Service
from tickml.config import KAPACITOR_CONF, StackError, in_state_folder, read_toml, udf_sockets
from tickml.stack.supervision import Program, Supervisor, udf_program
from tickml.influx import Influx
from tickml.kapacitor import Kapacitor
from tickml.tasks import load_tasks

SHARDS_CONF = ROOT / "shards" / "shards.toml"
_UDF_SOCKET = ".stack/run/udf/"


@dataclasses.dataclass(frozen=True)
class ShardSet:
    """The settings every shard shares (shards/shards.toml)."""

    conf: Path
    state: Path
    port_base: int
    kafka_topic: str
    kafka_partitions: int
    kafka_group: str
    model_topic_prefix: str
    model_topic_partitions: int
    retention_policy: str
    retention_duration: str
    tasks: tuple[str, ...]
    bridge_mqtt: bool

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> "ShardSet":
        """Read the settings; StackError naming every setting that is missing or wrong."""
        path = Path(path or os.environ.get("TICKML_SHARDS_CONF") or SHARDS_CONF)
        try:
            conf = read_toml(path)
        except (OSError, ValueError) as exc:
            raise StackError(f"shards: cannot read {path}: {exc}") from None
        problems = []

        def get(section: str | None, key: str, kind: type, default=None):
            table = conf if section is None else conf.get(section, {})
            value = table.get(key, default)
            if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
                problems.append(f"{section + '.' if section else ''}{key} must be {kind.__name__}, got {value!r}")
            return value

        settings = cls(
            conf=path,
            state=Path(in_state_folder(get(None, "state", str, ".stack/shards"))),
            port_base=get(None, "port_base", int),
            kafka_topic=get("kafka", "topic", str),
            kafka_partitions=get("kafka", "partitions", int),
            kafka_group=get("kafka", "group", str),
            model_topic_prefix=get("kafka", "model_topic_prefix", str),
            model_topic_partitions=get("kafka", "model_topic_partitions", int),
            retention_policy=get("influxdb", "retention_policy", str, ""),
            retention_duration=get("influxdb", "retention_duration", str, "INF"),
            tasks=tuple(get("tasks", "only", list, [])),
            bridge_mqtt=get("bridge", "mqtt", bool, False),
        )
        if not problems and not 1024 <= settings.port_base <= 65000:
            problems.append(f"port_base must be between 1024 and 65000, got {settings.port_base}")
        if problems:
            raise StackError(f"shards: {path}: " + "; ".join(problems))
        return settings

    def shard(self, number: int) -> "Shard":
        if number < 1:
            raise StackError(f"shards are numbered from 1, got {number}")
        return Shard(self, number)

    def task_list(self):

        tasks = load_tasks()
        if not self.tasks:
            return tasks
        unknown = sorted(set(self.tasks) - {t.name for t in tasks})
        if unknown:
            raise StackError(f"shards: {self.conf}: [tasks] only names tasks not in the task list: {unknown}")
        return [t for t in tasks if t.name in self.tasks]

    def model_env(self, principal: str = kafka.UDF) -> dict[str, str]:
        """What tells a UDF server and the materialiser where the models' shared home is (``udfs.learn.topic``),
        the key its records are signed with (``udfs.learn.signing``): without it they refuse to start, and the
        Kafka login of ``principal``: the train UDF's writes the model topics, the materialiser's reads them."""
        ca, cert, key = kafka.tls_files(principal)
        return {"TICKML_MODEL_KAFKA": kafka.kafka_bootstrap(), "TICKML_MODEL_TOPIC_PREFIX": self.model_topic_prefix,
                "TICKML_MODEL_TOPIC_PARTITIONS": str(self.model_topic_partitions),
                "TICKML_MODEL_KEY_FILE": str(secrets.model_key_file()),
                "TICKML_MODEL_KAFKA_CA": ca, "TICKML_MODEL_KAFKA_CERT": cert, "TICKML_MODEL_KAFKA_KEY": key}

    def kafka_acls(self) -> list:
        """What the shards' principals may do on their device topic, group and model topics."""
        return kafka.device_topic_acls(self.kafka_topic, [self.kafka_group]) + kafka.model_topic_acls(
            self.model_topic_prefix)


@dataclasses.dataclass(frozen=True)
class Shard:
    shards: ShardSet
    number: int

    # -- where it lives --------------------------------------------------------

    @property
    def name(self) -> str:
        return f"shard{self.number}"

    @property
    def folder(self) -> Path:
        return self.shards.state / str(self.number)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def logs(self) -> Path:
        return self.folder / "logs"

    @property
    def run(self) -> Path:
        return self.folder / "run"

    @property
    def model_root(self) -> Path:
        return self.data / "models"

    @property
    def kapacitor_port(self) -> int:
        return self.shards.port_base + 10 * self.number

    @property
    def results_port(self) -> int:
        return self.kapacitor_port + 1

    @property
    def kapacitor_url(self) -> str:
        return f"https://127.0.0.1:{self.kapacitor_port}"

    @property
    def client_id(self) -> str:
        """Its Telegraf's Kafka client id: the consumer group's members name their shard."""
        return f"tickml-{self.shards.kafka_group}-shard{self.number}"

    @property
    def kapacitor_conf(self) -> Path:
        return self.run / "kapacitor.conf"

    def sockets(self) -> dict[str, Path]:
        """Socket path per UDF module, for the socket UDFs the shard's tasks call."""
        used = {udf for task in self.shards.task_list() for udf in task.udfs}
        return {module: self.run / "udf" / f"{module}.sock" for module, path in udf_sockets().items()
                if _function_of(path) in used}

    # -- its configuration -----------------------------------------------------

    def kapacitor_config(self) -> str:
        """kapacitor.conf with the UDF functions the shard's tasks call, their sockets in the shard's folder."""
        used = {udf for task in self.shards.task_list() for udf in task.udfs}
        out, keep = [], True
        for line in KAPACITOR_CONF.read_text().splitlines(keepends=True):
            header = line.strip()
            if header.startswith("[udf.functions.") and header.endswith("]"):
                keep = header[1:-1].split(".")[2] in used
            elif header.startswith("["):
                keep = True
            if keep:
                out.append(line.replace(_UDF_SOCKET, f"{self.run / 'udf'}/"))
        return ("# Written by the stack runner (tickml/stack/shards.py) from kapacitor/kapacitor.conf for "
                f"{self.name}; edit that file.\n" + "".join(out))

    def kapacitor_env(self) -> dict[str, str]:
        kapacitor = self.data / "kapacitor"
        influx_user, influx_password = secrets.influxdb_login("tickml-kapacitor")
        return {
            "KAPACITOR_DATA_DIR": str(kapacitor), "KAPACITOR_REPLAY_DIR": str(kapacitor / "replay"),
            "KAPACITOR_TASK_DIR": str(kapacitor / "tasks"), "KAPACITOR_STORAGE_BOLTDB": str(kapacitor / "kapacitor.db"),
            "KAPACITOR_HTTP_BIND_ADDRESS": f"127.0.0.1:{self.kapacitor_port}",
            "KAPACITOR_HTTP_HTTPS_CERTIFICATE": str(secrets.SECRETS / "kapacitor.crt"),
            "KAPACITOR_HTTP_HTTPS_PRIVATE_KEY": str(secrets.SECRETS / "kapacitor.key"),
            # Its "InfluxDB" is its Telegraf's results listener (telegraf/shard.conf), with no subscription.
            "KAPACITOR_INFLUXDB_0_URLS_0": f"https://127.0.0.1:{self.results_port}",
            "KAPACITOR_INFLUXDB_0_DISABLE_SUBSCRIPTIONS": "true",
            "KAPACITOR_INFLUXDB_0_COMPRESSION": "none",
            "KAPACITOR_INFLUXDB_0_SSL_CA": str(secrets.SECRETS / "ca.crt"),
            "KAPACITOR_INFLUXDB_0_USERNAME": influx_user, "KAPACITOR_INFLUXDB_0_PASSWORD": influx_password,
            # No alert handlers here (the shard defines its tasks, not the topics' handlers), and the broker takes
            # one session per login: the single node's Kapacitor holds the alerts' MQTT login.
            "KAPACITOR_MQTT_0_ENABLED": "false",
            # The process UDFs it starts (python3 -m udfs.<name>) run from this virtual environment.
            "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]),
        }

    def telegraf_env(self) -> dict[str, str]:
        results_user, results_password = secrets.influxdb_login("tickml-kapacitor")
        kapacitor_user, kapacitor_password = secrets.kapacitor_login()
        return {**telegraf.environment(),
                "TICKML_KAFKA_BROKERS": kafka.kafka_bootstrap(), "TICKML_SHARD": str(self.number),
                "TICKML_SHARD_CLIENT_ID": self.client_id,
                "TICKML_SHARD_RETENTION_POLICY": self.shards.retention_policy,
                "TICKML_SHARD_RESULTS_LISTEN": f"127.0.0.1:{self.results_port}",
                "TICKML_SHARD_RESULTS_USER": results_user, "TICKML_SHARD_RESULTS_PASSWORD": results_password,
                "TICKML_SHARD_KAPACITOR_URL": self.kapacitor_url,
                "TICKML_SHARD_KAPACITOR_USER": kapacitor_user, "TICKML_SHARD_KAPACITOR_PASSWORD": kapacitor_password}

    def supervisor(self) -> Supervisor:
        # The UDF counters in a folder of the shard's own: the single node's exporter sums every file of
        # its folder, and must not count a shard's (no exporter serves a shard's yet).
        metrics = {"PROMETHEUS_MULTIPROC_DIR": str(self.run / "udf-metrics")}
        model_env = {**self.shards.model_env(), "TICKML_MODEL_ROOT": str(self.model_root), **metrics}
        programs = [udf_program(module, path, model_env) for module, path in sorted(self.sockets().items())]
        programs += [
            Program("materialiser", [sys.executable, "-m", "udfs.learn.materialise", "--root", str(self.model_root)],
                    {**model_env, **self.shards.model_env(kafka.MATERIALISER)}, autostart=False),
            Program("telegraf-results", [binary("telegraf"), "--config", str(self.run / "telegraf-results.conf")],
                    self.telegraf_env(), autostart=False),
            Program("kapacitor", [binary("kapacitord"), "-config", str(self.kapacitor_conf)],
                    {**self.kapacitor_env(), **metrics}, autostart=False),
            Program("task-watcher", [sys.executable, "-m", "tickml", "watch", "--kapacitor", self.kapacitor_url,
                                     "--heartbeat", str(self.run / "task-watcher.heartbeat"), "--no-gap-fill"],
                    {"TICKML_KAPACITOR_CONF": str(self.kapacitor_conf)}, autostart=False),
            Program("telegraf", [binary("telegraf"), "--config", str(self.run / "telegraf.conf")],
                    self.telegraf_env(), autostart=False),
        ]
        return Supervisor(self.run, self.logs, tuple(programs))

    def write_config(self) -> None:
        """The shard's folders and the configuration its processes read, owner only (logins)."""
        for folder in (self.data, self.logs, self.run / "udf", self.model_root):
            folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.run, 0o700)
        supervisor = self.supervisor()
        for path, text in ((self.kapacitor_conf, self.kapacitor_config()),
                           (self.run / "telegraf.conf", telegraf.shard_config(
                               kafka_topic=self.shards.kafka_topic, kafka_group=self.shards.kafka_group)),
                           (self.run / "telegraf-results.conf", telegraf.shard_config()),
                           (supervisor.conf, supervisor.config())):
            secrets.write_private(path, text)

    # -- its services ----------------------------------------------------------

    def services(self) -> list[Service]:
        """The shard's processes in start order; the first is its supervisord, the others run under it."""
        supervisor = self.supervisor()
        sockets = self.sockets()
        admin = secrets.basic_auth(*secrets.kapacitor_login())

        def supervised(program: str, healthy, ports=(), **extra) -> Service:
            return Service(f"{self.name}-{program}", [], list(ports), healthy, supervised=True,
                           supervisor=supervisor, program=program, run_dir=self.run, log_dir=self.logs, **extra)

        kapacitor = next(p for p in supervisor.programs if p.name == "kapacitor")
        # Its children's ports: a leftover of a shard whose supervisord was killed must not hold them.
        ports = [("127.0.0.1", self.kapacitor_port), ("127.0.0.1", self.results_port)]
        out = [Service(self.name, supervisor.command(), ports, lambda: supervisor.socket.exists() and all(
                   probes.unix_open(p) for p in sockets.values()), run_dir=self.run, log_dir=self.logs,
                   prepare=self.write_config, program="supervisord")]
        out += [supervised(f"udf-{module}", lambda path=path: probes.unix_open(path), socket_path=path)
                for module, path in sorted(sockets.items())]
        out += [
            # Caught up with the model topics before anything trains or predicts here: a train task
            # restoring its snapshot, or a window closing, judges against the newest champions.
            supervised("materialiser", lambda: probes.fresh(self.model_root / ".materialised", 10.0),
                       start_timeout=600.0),
            supervised("telegraf-results", lambda: probes.tcp_open("127.0.0.1", self.results_port),
                       ports=[("127.0.0.1", self.results_port)]),
            supervised("kapacitor", lambda: probes.http_ok(f"{self.kapacitor_url}/kapacitor/v1/ping", admin),
                       ports=[("127.0.0.1", self.kapacitor_port)], start_timeout=90.0,
                       prepare=lambda: kapacitor_users.ensure_users(
                           kapacitor.command, kapacitor.env, self.data / "kapacitor", url=self.kapacitor_url,
                           log_file=self.logs / "kapacitor.log"),
                       after_start=self.define_tasks),
            supervised("task-watcher", lambda: probes.fresh(self.run / "task-watcher.heartbeat", 10.0)),
            # Up once it is a member of the consumer group (it listens on no port).
            supervised("telegraf", lambda: self.client_id in {c for c, _ in kafka.group_members(
                self.shards.kafka_group)}),
        ]
        return out

    def pids(self) -> list[int]:
        """Every process of the shard now: its supervisord and what runs under it (none when it is down)."""
        try:
            root = int((self.run / f"{self.name}.pid").read_text())
        except (FileNotFoundError, ValueError):
            return []
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                children.setdefault(parent, []).append(int(entry.name))
        if not Path(f"/proc/{root}").exists():
            return []
        found, todo = [], [root]
        while todo:
            found.append(todo.pop())
            todo += children.get(found[-1], [])
        return found

    def define_tasks(self) -> None:
        """The shard's task list on its Kapacitor; a task already defined the same is left running."""

        api = Kapacitor(self.kapacitor_url, conf=self.kapacitor_conf)
        for task in self.shards.task_list():
            api.define(task)


def binary(name: str) -> str:
    """The stack's own build (.stack/bin), or else the one on PATH (a container's, from the official image)."""
    built = BIN / name
    return str(built) if built.exists() else shutil.which(name) or str(built)


def _function_of(socket: Path) -> str:
    """The UDF function whose socket ``socket`` is (kapacitor.conf names the socket after the function)."""
    return socket.stem


def prepare(shards: ShardSet) -> None:
    """What every shard needs before the first starts: its Kafka topic, its principals' ACLs and its retention
    policy."""

    host, port = kafka.kafka_address()
    if shards.kafka_topic not in kafka.kafka_metadata(host, port)["topics"]:
        kafka.create_topics([(shards.kafka_topic, shards.kafka_partitions, {"retention.ms": "86400000"})])
    kafka.ensure_acls(shards.kafka_acls())
    rp = shards.retention_policy
    if rp:
        influx = Influx()
        existing = {row["name"] for row in influx.query('SHOW RETENTION POLICIES ON "telemetry"')}
        if rp not in existing:
            influx.execute(f'CREATE RETENTION POLICY "{rp}" ON "telemetry" DURATION {shards.retention_duration} '
                           f'REPLICATION 1')


def bridge_service(shards: ShardSet) -> Service:
    """Telegraf as the MQTT to Kafka bridge (telegraf/mqtt_to_kafka.conf), producing to the shards' topic."""

    env = {**telegraf.environment("tickml-bridge", kafka.SENDER), "TICKML_KAFKA_BROKERS": kafka.kafka_bootstrap(),
           "TICKML_BRIDGE_TOPIC": shards.kafka_topic}
    # Up once its MQTT input has connected (it has no port of its own). It starts before the shards: the
    # senders' ACLs on the shards' topic first, or its first batches would be refused.
    return Service("mqtt-kafka", [binary("telegraf"), "--config", str(telegraf.BRIDGE_CONF)], [],
                   lambda: probes.said_since_start(LOGS / "mqtt-kafka.log", "[inputs.mqtt_consumer] Connected"),
                   env=env, prepare=lambda: kafka.ensure_acls(shards.kafka_acls()))


def claim_slot(shards: ShardSet) -> tuple[int, int]:
    """The lowest shard number no other process holds, and the open lock file that holds it for this one.

    docker-compose's scaled ``shard`` containers share the state folder (a bind mount) and the host's
    network: each takes the first free number, so its ports and folders are its own.
    """
    for number in range(1, (65535 - shards.port_base) // 10):
        folder = shards.shard(number).folder
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / "slot.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return number, fd
    raise StackError(f"shards: no free shard number under {shards.state}")


def serve_one(shards_conf: str | None = None) -> int:
    """One shard in the foreground until SIGTERM, numbered by the first free slot (a container's command)."""
    shard_set = ShardSet.load(shards_conf)
    number, _lock = claim_slot(shard_set)
    shard = shard_set.shard(number)
    prepare(shard_set)
    services = shard.services()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        for service in services:
            print(f"{service.name:28s} {start_service(service)}", flush=True)
        # supervisord restarts whatever dies; when supervisord itself does, so does the container.
        while not stop.wait(2.0) and services[0].pid() is not None:
            pass
    finally:
        for service in reversed(services):
            print(f"{service.name:28s} {stop_service(service)}", flush=True)
    return 0 if stop.is_set() else 1
