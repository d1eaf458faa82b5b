#!/usr/bin/env python3
"""Run the native TICK stack on loopback: start, stop, status.

The services run from the binaries ``stack/install.sh`` put in ``.stack/bin``
(Mosquitto from Debian's package) with the project's own configuration files;
their data, logs, pid files and UDF sockets live under ``.stack/``. Ports and
socket paths are read from those configuration files, so editing a file is
enough to move a service.

Usage::

    stack/tickstack.py start     # start what is not running, wait until healthy
    stack/tickstack.py stop      # stop everything, in reverse order
    stack/tickstack.py status    # what runs, on which port, since when
    stack/tickstack.py restart [SERVICE]
    stack/tickstack.py serve-udfs  # only the socket UDF servers (supervisord), in the foreground

Start order follows the data: mosquitto and kafka (the brokers devices
publish to), influxdb, the socket UDF servers, kapacitor (which connects to the
UDF sockets and subscribes to InfluxDB), telegraf (which reads the brokers and
writes to InfluxDB). The task watcher (``stack/task_watcher.py``) starts after
Kapacitor and re-enables tasks whose UDF went away once it answers again.

The socket UDF servers run under supervisord (``udf-supervisor``), which
restarts one within a second when it dies; ``udf-<module>`` names each of
them for start, stop and status, through supervisord.

Kafka runs from the jars ``stack/install.sh`` put in ``.stack/kafka/libs`` with
``kafka/server.properties``; its storage is formatted the first time (KRaft,
no ZooKeeper) and the topics of ``kafka/topics.conf`` are created at start.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import uuid
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
STATE = Path(os.environ.get("TICKML_STATE_DIR", ROOT / ".stack"))
BIN = STATE / "bin"
DATA = STATE / "data"
LOGS = STATE / "logs"
RUN = STATE / "run"

_ENV_DEFAULT = re.compile(r"\$\{(\w+):-([^}]*)\}")


class StackError(RuntimeError):
    """A service could not be started or stopped; the message says why."""


def _expand(value: str) -> str:
    """Resolve Telegraf's ``${VAR:-default}`` the way Telegraf does."""
    return _ENV_DEFAULT.sub(lambda m: os.environ.get(m.group(1)) or m.group(2), value)


def _split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host or "127.0.0.1", int(port)


def _read_toml(path: Path) -> dict:
    with path.open("rb") as fh:
        return tomllib.load(fh)


@dataclasses.dataclass
class Service:
    name: str
    command: list[str]
    ports: list[tuple[str, int]]
    healthy: Callable[[], bool]
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    start_timeout: float = 60.0
    socket_path: Path | None = None
    # Run before the process starts (e.g. format storage) and once it is
    # healthy (e.g. create topics); both must be idempotent.
    prepare: Callable[[], None] | None = None
    after_start: Callable[[], None] | None = None
    # Run by supervisord (the udf-supervisor service), which restarts it when it dies.
    supervised: bool = False

    @property
    def pid_file(self) -> Path:
        return RUN / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return LOGS / f"{self.name}.log"

    def pid(self) -> int | None:
        """The pid of our running instance, or None (stale pid files are removed)."""
        if self.supervised:
            info = supervised_process(self.name)
            return info["pid"] if info and info["statename"] in ("STARTING", "RUNNING") else None
        try:
            pid = int(self.pid_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            self.pid_file.unlink(missing_ok=True)
            return None
        # A zombie of a child we no longer wait for counts as stopped.
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if state == "Z":
                self.pid_file.unlink(missing_ok=True)
                return None
        except (FileNotFoundError, IndexError):
            return None
        return pid


def _tcp_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False


def _fresh(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime < seconds
    except FileNotFoundError:
        return False


def _unix_open(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(0.5)
        try:
            s.connect(str(path))
        except OSError:
            return False
        return True


def mosquitto_port() -> tuple[str, int]:
    for line in (ROOT / "mosquitto" / "mosquitto.conf").read_text().splitlines():
        words = line.split()
        if words[:1] == ["listener"]:
            return (words[2] if len(words) > 2 else "127.0.0.1"), int(words[1])
    raise StackError("mosquitto/mosquitto.conf has no `listener PORT HOST` line")


def influxdb_address() -> tuple[str, int]:
    return _split_address(_read_toml(ROOT / "influxdb" / "influxdb.conf")["http"]["bind-address"])


def kapacitor_address() -> tuple[str, int]:
    return _split_address(_read_toml(ROOT / "kapacitor" / "kapacitor.conf")["http"]["bind-address"])


def telegraf_http_address() -> tuple[str, int]:
    conf = _read_toml(ROOT / "telegraf" / "telegraf.conf")
    return _split_address(_expand(conf["inputs"]["http_listener_v2"][0]["service_address"]))


KAFKA_DIR = ROOT / "kafka"
KAFKA_LIBS = STATE / "kafka" / "libs"
# The broker's heap; the machine has 2 cores and runs the whole stack.
KAFKA_HEAP = os.environ.get("TICKML_KAFKA_HEAP", "-Xmx512m -Xms128m")


def _read_properties(path: Path) -> dict[str, str]:
    """Java properties, the simple form: ``key=value`` lines, ``#`` comments; the last one wins."""
    props: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")) and "=" in line:
            key, _, value = line.partition("=")
            props[key.strip()] = value.strip()
    return props


def kafka_listeners() -> dict[str, tuple[str, int]]:
    """Listener name -> (host, port), from ``listeners`` in kafka/server.properties."""
    props = _read_properties(KAFKA_DIR / "server.properties")
    out = {}
    for item in props.get("listeners", "").split(","):
        name, sep, address = item.strip().partition("://")
        if sep:
            out[name] = _split_address(address)
    if not out:
        raise StackError("kafka/server.properties has no `listeners=NAME://HOST:PORT,...` line")
    return out


def kafka_address() -> tuple[str, int]:
    """Where clients (devices, Telegraf) reach the broker: the first non-controller listener."""
    props = _read_properties(KAFKA_DIR / "server.properties")
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


def _kafka_admin(host: str, port: int, timeout: float):
    from confluent_kafka.admin import AdminClient

    # log_level 0: a broker still starting is expected here, not worth librdkafka's warnings.
    return AdminClient({"bootstrap.servers": f"{host}:{port}", "socket.timeout.ms": int(timeout * 1000),
                        "log_level": 0})


def kafka_metadata(host: str, port: int, timeout: float = 2.0) -> dict:
    """The broker's metadata, through confluent-kafka's admin client.

    Returns ``{"brokers": [(node_id, host, port)], "cluster_id", "controller_id",
    "topics": {name: partitions}}`` (internal topics left out); raises OSError
    when the broker does not answer. A broker whose controller is elected and
    that lists itself is ready.
    """
    from confluent_kafka import KafkaException

    try:
        metadata = _kafka_admin(host, port, timeout).list_topics(timeout=timeout)
    except KafkaException as exc:
        raise OSError(f"Kafka at {host}:{port} does not answer: {exc}") from None
    return {
        "brokers": sorted((b.id, b.host, b.port) for b in metadata.brokers.values()),
        "cluster_id": metadata.cluster_id,
        "controller_id": metadata.controller_id,
        "topics": {name: len(t.partitions) for name, t in metadata.topics.items() if not name.startswith("__")},
    }


def _kafka_healthy() -> bool:
    host, port = kafka_address()
    try:
        meta = kafka_metadata(host, port)
    except OSError:
        return False
    return meta["controller_id"] >= 0 and bool(meta["brokers"])


def _kafka_properties() -> Path:
    """kafka/server.properties with ``log.dirs`` pointed at .stack/data/kafka (the last line wins)."""
    path = RUN / "kafka" / "server.properties"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (KAFKA_DIR / "server.properties").read_text()
    path.write_text(f"{text}\n# Appended by stack/tickstack.py:\nlog.dirs={DATA / 'kafka'}\n")
    return path


def _java() -> str:
    return shutil.which("java") or "/usr/bin/java"


def _kafka_tool(main_class: str, *args: str) -> subprocess.CompletedProcess:
    command = [
        _java(), "-Xmx256m", f"-Dlog4j2.configurationFile={KAFKA_DIR / 'tools-log4j2.properties'}",
        "-cp", f"{KAFKA_LIBS}/*", main_class, *args,
    ]  # fmt: skip
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise StackError(f"kafka: {main_class} {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
    return proc


def _kafka_prepare() -> None:
    """Write the effective properties; format the storage (KRaft) the first time."""
    properties = _kafka_properties()
    if (DATA / "kafka" / "meta.properties").exists():
        return
    (DATA / "kafka").mkdir(parents=True, exist_ok=True)
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
    _kafka_tool("kafka.tools.StorageTool", "format", "--cluster-id", cluster_id, "--config", str(properties))


def kafka_create_topics() -> list[str]:
    """Create the topics of kafka/topics.conf that do not exist yet; returns their names."""
    from confluent_kafka.admin import NewTopic

    host, port = kafka_address()
    existing = kafka_metadata(host, port)["topics"]
    wanted = [NewTopic(name, num_partitions=partitions, replication_factor=1, config=configs)
              for name, partitions, configs in kafka_topics() if name not in existing]
    if not wanted:
        return []
    admin = _kafka_admin(host, port, 10.0)  # kept alive until the futures resolve: its end cancels them
    for name, future in admin.create_topics(wanted, request_timeout=30).items():
        try:
            future.result()
        except Exception as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise StackError(f"kafka: cannot create topic {name}: {exc}") from None
    return [t.topic for t in wanted]


def udf_sockets() -> dict[str, Path]:
    """Socket path per UDF module, from kapacitor.conf's [udf.functions]."""
    functions = _read_toml(ROOT / "kapacitor" / "kapacitor.conf").get("udf", {}).get("functions", {})
    sockets: dict[str, Path] = {}
    for name, spec in functions.items():
        if "socket" in spec:
            path = ROOT / spec["socket"]
            sockets[path.stem] = path
    return sockets


SUPERVISOR_CONF = RUN / "supervisord.conf"
SUPERVISOR_SOCKET = RUN / "supervisor.sock"


def supervisor_config() -> str:
    """supervisord's configuration: one program per socket UDF of kapacitor.conf, restarted when it dies."""
    # One BLAS thread: per-window algebra on small matrices gains nothing from more, and
    # OpenBLAS's idle threads spin (train over 3,000 windows: 14 % less CPU with one).
    env = ",".join(f'{k}="{v}"' for k, v in (("PYTHONPATH", str(ROOT)), ("PYTHONUNBUFFERED", "1"),
                                             ("OPENBLAS_NUM_THREADS", "1"), ("OMP_NUM_THREADS", "1")))
    lines = [
        "; Written by stack/tickstack.py from kapacitor/kapacitor.conf at every start; edit that file instead.",
        "[unix_http_server]", f"file={SUPERVISOR_SOCKET}", "chmod=0600", "",
        "[supervisord]", f"logfile={LOGS / 'udf-supervisor.log'}", f"pidfile={RUN / 'supervisord.pid'}",
        "logfile_maxbytes=10MB", "logfile_backups=2", "", "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface", "",
        "[supervisorctl]", f"serverurl=unix://{SUPERVISOR_SOCKET}", "",
    ]
    for module, path in sorted(udf_sockets().items()):
        lines += [
            f"[program:udf-{module}]",
            f"command={sys.executable} -m udfs.{module} --socket {path}",
            f"directory={ROOT}", f"environment={env}",
            # Back within a second of dying; never given up on (a crash loop shows in the log).
            "autostart=true", "autorestart=true", "startsecs=1", "startretries=1000000",
            # SIGTERM drains what a connection holds (udfs/agent/server.py).
            "stopsignal=TERM", "stopwaitsecs=20", "stopasgroup=true", "killasgroup=true",
            "redirect_stderr=true", f"stdout_logfile={LOGS / f'udf-{module}.log'}",
            "stdout_logfile_maxbytes=50MB", "stdout_logfile_backups=2", "",
        ]
    return "\n".join(lines)


def _write_supervisor_config() -> None:
    for path in udf_sockets().values():
        path.parent.mkdir(parents=True, exist_ok=True)
    SUPERVISOR_CONF.write_text(supervisor_config())


def supervisor():
    """supervisord's XML-RPC interface over its unix socket."""
    import xmlrpc.client

    from supervisor.xmlrpc import SupervisorTransport

    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=SupervisorTransport(
        None, None, f"unix://{SUPERVISOR_SOCKET}")).supervisor


def supervised_process(name: str) -> dict | None:
    """supervisord's view of program ``name`` (pid, statename, ...), or None when supervisord is not up."""
    import xmlrpc.client

    if not SUPERVISOR_SOCKET.exists():
        return None
    try:
        return supervisor().getProcessInfo(name)
    except (OSError, xmlrpc.client.Fault):
        return None


def services() -> list[Service]:
    mq_host, mq_port = mosquitto_port()
    ix_host, ix_port = influxdb_address()
    ix_rpc = _split_address(_read_toml(ROOT / "influxdb" / "influxdb.conf")["bind-address"])
    kp_host, kp_port = kapacitor_address()
    tg_host, tg_port = telegraf_http_address()
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    out = [
        Service(
            "mosquitto",
            [mosquitto, "-c", str(ROOT / "mosquitto" / "mosquitto.conf")],
            [(mq_host, mq_port)],
            lambda: _tcp_open(mq_host, mq_port),
        ),
        Service(
            "kafka",
            [
                _java(), *KAFKA_HEAP.split(), "-XX:+UseG1GC", "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={KAFKA_DIR / 'log4j2.properties'}",
                "-cp", f"{KAFKA_LIBS}/*", "kafka.Kafka", str(RUN / "kafka" / "server.properties"),
            ],  # fmt: skip
            list(kafka_listeners().values()),
            _kafka_healthy,
            start_timeout=90.0,
            prepare=_kafka_prepare,
            after_start=kafka_create_topics,
        ),
        Service(
            "influxdb",
            [str(BIN / "influxd"), "run", "-config", str(ROOT / "influxdb" / "influxdb.conf")],
            [(ix_host, ix_port), ix_rpc],
            lambda: _http_ok(f"http://{ix_host}:{ix_port}/ping"),
            env={
                "INFLUXDB_META_DIR": str(DATA / "influxdb" / "meta"),
                "INFLUXDB_DATA_DIR": str(DATA / "influxdb" / "data"),
                "INFLUXDB_DATA_WAL_DIR": str(DATA / "influxdb" / "wal"),
            },
        ),
    ]
    sockets = udf_sockets()
    out.append(
        Service(
            "udf-supervisor",
            [sys.executable, "-m", "supervisor.supervisord", "-n", "-c", str(SUPERVISOR_CONF)],
            [],
            lambda: SUPERVISOR_SOCKET.exists() and all(_unix_open(p) for p in sockets.values()),
            prepare=_write_supervisor_config,
        )
    )
    for module, path in sorted(sockets.items()):
        out.append(
            Service(
                f"udf-{module}",
                [sys.executable, "-m", f"udfs.{module}", "--socket", str(path)],
                [],
                lambda path=path: _unix_open(path),
                socket_path=path,
                supervised=True,
            )
        )
    out += [
        Service(
            "kapacitor",
            [str(BIN / "kapacitord"), "-config", str(ROOT / "kapacitor" / "kapacitor.conf")],
            [(kp_host, kp_port)],
            lambda: _http_ok(f"http://{kp_host}:{kp_port}/kapacitor/v1/ping"),
            env={
                "KAPACITOR_DATA_DIR": str(DATA / "kapacitor"),
                "KAPACITOR_REPLAY_DIR": str(DATA / "kapacitor" / "replay"),
                "KAPACITOR_TASK_DIR": str(DATA / "kapacitor" / "tasks"),
                "KAPACITOR_STORAGE_BOLTDB": str(DATA / "kapacitor" / "kapacitor.db"),
            },
        ),
        Service(
            "task-watcher",
            [sys.executable, str(ROOT / "stack" / "task_watcher.py")],
            [],
            # Alive when it finished a pass in the last few seconds.
            lambda: _fresh(RUN / "task-watcher.heartbeat", 10.0),
        ),
        Service(
            "telegraf",
            [str(BIN / "telegraf"), "--config", str(ROOT / "telegraf" / "telegraf.conf")],
            [(tg_host, tg_port)],
            # The HTTP listener opens once every input has started.
            lambda: _tcp_open(tg_host, tg_port),
            env={"TICKML_TELEGRAF_DIR": str(ROOT / "telegraf")},
        ),
    ]
    return out


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
        return False


def _supervise(action: str, service: Service, harmless: str) -> None:
    """``startProcess`` or ``stopProcess`` through supervisord, waiting; the fault named ``harmless`` is no error."""
    import xmlrpc.client

    try:
        getattr(supervisor(), action)(service.name, True)
    except xmlrpc.client.Fault as exc:
        if harmless not in exc.faultString:
            raise StackError(f"{service.name}: supervisord says {exc.faultString}; see {service.log_file}") from None


def _supervised_start(service: Service) -> str:
    if supervised_process(service.name) is None:
        raise StackError(f"{service.name} runs under udf-supervisor, which is not running; start it first")
    if service.pid() is not None and service.healthy():
        return "already running"
    _supervise("startProcess", service, "ALREADY_STARTED")
    deadline = time.monotonic() + service.start_timeout
    while time.monotonic() < deadline:
        if service.healthy():
            return f"started (pid {service.pid()}, supervised)"
        time.sleep(0.2)
    raise StackError(f"{service.name} not healthy after {service.start_timeout:.0f} s; see {service.log_file}")


def start_service(service: Service) -> str:
    if service.supervised:
        return _supervised_start(service)
    if service.pid() is not None:
        if service.healthy():
            if service.after_start is not None:
                service.after_start()
            return "already running"
        raise StackError(f"{service.name} runs (pid {service.pid()}) but is not healthy; see {service.log_file}")
    for host, port in service.ports:
        if _port_in_use(host, port):
            raise StackError(
                f"{service.name}: port {host}:{port} is in use by another process; "
                f"stop it or change the port in the configuration file"
            )
    executable = service.command[0]
    if not (os.path.isfile(executable) and os.access(executable, os.X_OK)):
        raise StackError(f"{service.name}: {executable} is missing; run stack/install.sh first")
    if service.name == "kafka" and not any(KAFKA_LIBS.glob("kafka_*.jar")):
        raise StackError(f"kafka: no broker jars in {KAFKA_LIBS}; run stack/install.sh first")
    for folder in (LOGS, RUN, DATA):
        folder.mkdir(parents=True, exist_ok=True)
    if service.prepare is not None:
        service.prepare()
    if service.socket_path is not None:
        service.socket_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **service.env, "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    with service.log_file.open("ab") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {' '.join(service.command)}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            service.command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    service.pid_file.write_text(str(proc.pid))
    deadline = time.monotonic() + service.start_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            service.pid_file.unlink(missing_ok=True)
            raise StackError(
                f"{service.name} exited with code {proc.returncode} at start; last lines of {service.log_file}:\n"
                + _tail(service.log_file)
            )
        if service.healthy():
            if service.after_start is not None:
                service.after_start()
            return f"started (pid {proc.pid})"
        time.sleep(0.2)
    raise StackError(f"{service.name} not healthy after {service.start_timeout:.0f} s; see {service.log_file}")


def stop_service(service: Service, timeout: float = 30.0) -> str:
    if service.supervised:
        _stop_unsupervised(service, timeout)
        if service.pid() is None:
            return "not running"
        _supervise("stopProcess", service, "NOT_RUNNING")
        return "stopped"
    pid = service.pid()
    if pid is None:
        return "not running"
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and service.pid() is not None:
        _reap(pid)
        time.sleep(0.1)
    if service.pid() is not None:
        os.killpg(pid, signal.SIGKILL)
        _reap(pid)
        time.sleep(0.2)
    service.pid_file.unlink(missing_ok=True)
    if service.socket_path is not None:
        service.socket_path.unlink(missing_ok=True)
    return "stopped"


def _stop_unsupervised(service: Service, timeout: float) -> None:
    """A UDF server a runner before supervision started (its pid file) is stopped too."""
    legacy = dataclasses.replace(service, supervised=False)
    if legacy.pid() is not None:
        stop_service(legacy, timeout)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def _select(names: list[str]) -> list[Service]:
    all_services = services()
    if not names:
        return all_services
    known = {s.name: s for s in all_services}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise StackError(f"unknown service(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[n] for n in names]


def subscribed_databases() -> list[str]:
    """The databases Kapacitor subscribes to (kapacitor.conf [influxdb.subscriptions])."""
    conf = _read_toml(ROOT / "kapacitor" / "kapacitor.conf")
    return sorted({db for cluster in conf.get("influxdb", []) for db in cluster.get("subscriptions", {})})


def _create_databases() -> None:
    # Kapacitor subscribes at start to the databases that exist then, and to
    # new ones only at its next sync (a minute later): create them first so
    # that no point written in between escapes the tasks.
    from influx import Influx

    client = Influx()
    for db in subscribed_databases():
        client.execute(f'CREATE DATABASE "{db}"')


def start(names: list[str] | None = None) -> None:
    for service in _select(names or []):
        print(f"{service.name:28s} {start_service(service)}", flush=True)
        if service.name == "influxdb":
            _create_databases()


def stop(names: list[str] | None = None) -> None:
    for service in reversed(_select(names or [])):
        print(f"{service.name:28s} {stop_service(service)}", flush=True)


def status() -> bool:
    all_up = True
    for service in services():
        pid = service.pid()
        where = ", ".join(f"{h}:{p}" for h, p in service.ports) or str(service.socket_path or "")
        if pid is None:
            state, all_up = "stopped", False
        elif service.healthy():
            state = f"running (pid {pid})"
        else:
            state, all_up = f"UNHEALTHY (pid {pid})", False
        print(f"{service.name:28s} {state:24s} {where}")
    return all_up


def serve_udfs() -> int:
    """Run every socket UDF server under supervisord in the foreground (for containers)."""
    LOGS.mkdir(parents=True, exist_ok=True)
    RUN.mkdir(parents=True, exist_ok=True)
    _write_supervisor_config()
    os.execv(sys.executable, [sys.executable, "-m", "supervisor.supervisord", "-n", "-c", str(SUPERVISOR_CONF)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["start", "stop", "status", "restart", "serve-udfs"])
    parser.add_argument("services", nargs="*", help="only these services (default: all)")
    args = parser.parse_args(argv)
    try:
        if args.action == "start":
            start(args.services)
            print(f"logs: {LOGS}")
        elif args.action == "stop":
            stop(args.services)
        elif args.action == "restart":
            stop(args.services)
            start(args.services)
        elif args.action == "serve-udfs":
            return serve_udfs()
        else:
            return 0 if status() else 3
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
