"""The services of the native stack, in the order the data flows, and what each needs.

First supervisord (``udf-supervisor``), then, started through it in the
order the data flows: mosquitto and kafka (the brokers devices publish to),
influxdb, the exporter of the UDF processes' counters and the socket UDF
servers, kapacitor (which connects to the UDF sockets and
subscribes to InfluxDB), the task watcher, telegraf (which reads the brokers,
scrapes the UDF counters and writes to InfluxDB), and the dashboard, which
reads InfluxDB. supervisord starts any of them again when it dies.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import pwd
import shutil
import sys
from pathlib import Path

from tickml.paths import BIN, DATA, LOGS, ROOT, RUN, UDF_METRICS
from tickml.stack import influx_users, kafka, kapacitor_users, probes, supervision, telegraf
from tickml.stack.service import Service
from tickml import secrets
from tickml.dashboard import guard
from tickml.config import (
    MOSQUITTO_CONF, StackError, dashboard_address, in_state_folder, influxdb_address, influxdb_rpc_address, influxdb_url,
    kapacitor_address, kapacitor_url, mosquitto_listeners, mosquitto_port, telegraf_http_address, telegraf_otlp_address,
    udf_metrics_address, udf_metrics_url, udf_sockets,
)
from udfs import registry


def _mosquitto_prepare() -> None:
    """mosquitto.conf with its secrets' paths in the state folder; the secrets must exist."""
    # Accounts added since the secrets were made (Kapacitor's alert publisher and the alerts' reader, say) get their
    # passwords and ACL lines before the broker reads the files; the rest is kept.
    if (secrets.SECRETS / "credentials.json").exists():
        secrets.ensure()
    missing = [name for name in ("mosquitto.passwd", "mosquitto-tools.passwd", "mosquitto.acl", "mosquitto.crt", "ca.crt")
               if not (secrets.SECRETS / name).exists()]
    if missing:
        raise StackError(f"mosquitto: no {', '.join(missing)} in {secrets.SECRETS}; run stack/install.sh "
                         f"(or tickml secrets ensure)")
    # Every service of the native stack runs as the user who starts it. Started as root,
    # Mosquitto would drop to its own user, who cannot read the owner-only secrets.
    user = pwd.getpwuid(os.geteuid()).pw_name
    (RUN / "mosquitto.conf").write_text(in_state_folder(MOSQUITTO_CONF.read_text())
                                        + f"\n# Added by the stack runner:\nuser {user}\n")


def _telegraf_prepare(env: dict[str, str], gateways_conf: Path) -> None:
    """Read at every start: the logins and device types (the environment), the gateways' own listeners, and
    the senders' file as gateways.toml and the registrations have it."""
    env.update(telegraf.environment())
    secrets.ensure()
    secrets.write_private(gateways_conf, telegraf.gateway_listeners())  # it holds the gateways' passwords


def _kapacitor_prepare(command: list[str], env: dict[str, str]) -> None:
    """Its InfluxDB login (kapacitor.conf's first [[influxdb]]) from the secrets, and its own users."""
    env.update(kapacitor_users.login_env())
    kapacitor_users.ensure_users(command, env)


def _dashboard_authorization() -> str | None:
    try:
        return guard.authorization()
    except secrets.SecretsError:
        return None  # no login to give: the app, which needs it too, says why in its log


def services() -> list[Service]:
    mq_host, mq_port = mosquitto_port()
    ix_host, ix_port = influxdb_address()
    kp_host, kp_port = kapacitor_address()
    tg_host, tg_port = telegraf_http_address()
    sockets = udf_sockets()
    um_host, um_port = udf_metrics_address()
    db_host, db_port = dashboard_address()
    kapacitor_command = [str(BIN / "kapacitord"), "-config", str(ROOT / "kapacitor" / "kapacitor.conf")]
    kapacitor_env = {
        "KAPACITOR_DATA_DIR": str(DATA / "kapacitor"),
        "KAPACITOR_REPLAY_DIR": str(DATA / "kapacitor" / "replay"),
        "KAPACITOR_TASK_DIR": str(DATA / "kapacitor" / "tasks"),
        "KAPACITOR_STORAGE_BOLTDB": str(DATA / "kapacitor" / "kapacitor.db"),
        # The configuration's .stack/secrets paths, in the state folder (TICKML_STATE_DIR).
        "KAPACITOR_HTTP_HTTPS_CERTIFICATE": str(secrets.SECRETS / "kapacitor.crt"),
        "KAPACITOR_HTTP_HTTPS_PRIVATE_KEY": str(secrets.SECRETS / "kapacitor.key"),
        "KAPACITOR_INFLUXDB_0_SSL_CA": str(secrets.SECRETS / "ca.crt"),
        # Its alert handlers' brokers: Mosquitto's CA, and its Kafka principal's certificate.
        "KAPACITOR_MQTT_0_SSL_CA": str(secrets.SECRETS / "ca.crt"),
        "KAPACITOR_KAFKA_0_SSL_CA": str(secrets.SECRETS / "ca.crt"),
        "KAPACITOR_KAFKA_0_SSL_CERT": str(secrets.SECRETS / "kafka-kapacitor.crt"),
        "KAPACITOR_KAFKA_0_SSL_KEY": str(secrets.SECRETS / "kafka-kapacitor.key"),
        # The process UDFs it starts inherit it: where their counters go (udfs/agent/metrics.py).
        "PROMETHEUS_MULTIPROC_DIR": str(UDF_METRICS),
    }
    # Telegraf's logins are added from the secrets when it starts.
    telegraf_env = {"TICKML_TELEGRAF_DIR": str(ROOT / "telegraf")}
    telegraf_gateways = RUN / telegraf.GATEWAYS_CONF_NAME
    natives = [
        Service(
            "mosquitto",
            [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(RUN / "mosquitto.conf")],
            [(host, port) for host, port, _ in mosquitto_listeners()],
            lambda: probes.tcp_open(mq_host, mq_port),
            prepare=_mosquitto_prepare,
        ),
        Service(
            "kafka",
            kafka.broker_command(),
            list(kafka.kafka_listeners().values()),
            kafka.healthy,
            start_timeout=90.0,
            prepare=kafka.prepare,
            after_start=kafka.after_start,
        ),
        Service(
            "influxdb",
            [str(BIN / "influxd"), "run", "-config", str(ROOT / "influxdb" / "influxdb.conf")],
            [(ix_host, ix_port), influxdb_rpc_address()],
            lambda: probes.http_ok(f"{influxdb_url()}/ping"),
            after_start=influx_users.create_databases,
            env={
                "INFLUXDB_META_DIR": str(DATA / "influxdb" / "meta"),
                "INFLUXDB_DATA_DIR": str(DATA / "influxdb" / "data"),
                "INFLUXDB_DATA_WAL_DIR": str(DATA / "influxdb" / "wal"),
                # The configuration's .stack/secrets paths, in the state folder (TICKML_STATE_DIR).
                "INFLUXDB_HTTP_HTTPS_CERTIFICATE": str(secrets.SECRETS / "influxdb.crt"),
                "INFLUXDB_HTTP_HTTPS_PRIVATE_KEY": str(secrets.SECRETS / "influxdb.key"),
                "INFLUXDB_SUBSCRIBER_CA_CERTS": str(secrets.SECRETS / "ca.crt"),
            },
        ),
        Service(
            "udf-metrics",
            [sys.executable, "-m", "tickml", "udfs", "serve-metrics"],
            [(um_host, um_port)],
            lambda: probes.http_ok(udf_metrics_url()),
        ),
    ]
    # The socket UDF servers: the registry's (udfs/registry.py), on the paths kapacitor.conf names.
    for name, path in sorted(sockets.items()):
        natives.append(
            Service(
                f"udf-{name}",
                [sys.executable, "-m", registry.get(name).module, "--socket", str(path)],
                [],
                lambda path=path: probes.unix_open(path),
                socket_path=path,
            )
        )
    natives += [
        Service(
            "kapacitor",
            kapacitor_command,
            [(kp_host, kp_port)],
            lambda: probes.http_ok(f"{kapacitor_url()}/kapacitor/v1/ping",
                                   secrets.basic_auth(*secrets.kapacitor_login())),
            env=kapacitor_env,
            prepare=lambda: _kapacitor_prepare(kapacitor_command, kapacitor_env),
        ),
        Service(
            "task-watcher",
            [sys.executable, "-m", "tickml", "watch"],
            [],
            # Alive when it finished a pass in the last few seconds.
            lambda: probes.fresh(RUN / "task-watcher.heartbeat", 10.0),
        ),
        Service(
            "telegraf",
            # Beside the shipped file: the senders' processor with the ids each sender may name (rewritten when
            # a device registers, reread on SIGHUP) and the listeners of gateways that have their own.
            [str(BIN / "telegraf"), "--config", str(ROOT / "telegraf" / "telegraf.conf"),
             "--config", str(secrets.SECRETS / secrets.TELEGRAF_SENDERS), "--config", str(telegraf_gateways)],
            [(tg_host, tg_port), telegraf_otlp_address()],
            # The HTTP listener opens once every input has started.
            lambda: probes.tcp_open(tg_host, tg_port),
            prepare=lambda: _telegraf_prepare(telegraf_env, telegraf_gateways),
            env=telegraf_env,
        ),
        Service(
            "dashboard",
            [sys.executable, "-m", "tickml", "dashboard"],
            [(db_host, db_port)],
            # Up when a page answers the login (tickml/dashboard/guard.py); without it every request gets 401.
            lambda: probes.http_ok(f"http://{db_host}:{db_port}/", _dashboard_authorization()),
        ),
    ]
    supervisor = node_supervisor(natives)

    def write_config() -> None:
        for path in sockets.values():
            path.parent.mkdir(parents=True, exist_ok=True)
        supervisor.write_config()

    for service in natives:
        service.supervised, service.supervisor = True, supervisor
    # Stopped, it stops what still runs under it first (Kafka may take its 60 s): its SIGKILL would not reach them.
    return [Service("udf-supervisor", supervisor.command(), [], lambda: probes.unix_open(supervisor.socket),
                    prepare=write_config, stop_timeout=120.0), *natives]


def node_supervisor(natives: list[Service]) -> supervision.Supervisor:
    """The single node's supervisord: a program per service of ``natives``, each waiting for the runner to start
    it. A program's environment is its service's, which its prepare hook fills; the socket UDF servers' is
    supervision.udf_supervisor's."""
    programs = [dataclasses.replace(p, autostart=False) for p in supervision.udf_supervisor().programs]
    # As a process the runner started itself had (process.child_env): the runner's settings (TICKML_*), and this
    # venv first on PATH (Kapacitor's process UDFs run `python3 -m udfs.<name>`).
    inherited = {k: v for k, v in os.environ.items() if k.startswith("TICKML_")}
    inherited["PATH"] = os.pathsep.join(filter(None, [os.path.dirname(sys.executable), os.environ.get("PATH")]))
    for service in natives:
        if service.socket_path is None:
            # A view, not a copy: what the service's prepare hook adds to its environment is in the next config.
            env = collections.ChainMap(service.env, inherited)
            # Kafka's controlled shutdown may take a while; SIGKILL only after that.
            programs.append(supervision.Program(service.name, service.command, env, autostart=False,
                                                stop_wait=60 if service.name == "kafka" else 30))
    return supervision.Supervisor(RUN, LOGS, tuple(programs))
