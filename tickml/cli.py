"""The ``tickml`` command: one entry point for the stack, the tasks, the devices and the watcher.

    tickml stack start|stop|status|restart [SERVICE ...] [--shards N [--shards-conf PATH]]
    tickml stack serve-udfs|init-influxdb|init-kafka-acls|init-kapacitor|shard
    tickml tasks define|disable|delete|list [TASK ...]
    tickml alerts list [--topic TOPIC] [--level critical|warning|info|ok] [--json]   open alerts of Kapacitor's topics
    tickml devices simulate [--devices N --interval S --protocol mqtt|http|kafka|otlp ...]
    tickml devices replay FILE [--speed X --restamp ...]
    tickml devices add DEVICE_ID ...
    tickml devices gateways [--telegraf]
    tickml devices types [--json]      the device types of telegraf/device_types.toml: readings, kinds, units
    tickml secrets ensure|rotate [passwords|certificates|all]
    tickml secrets password influxdb|mqtt|http|kapacitor|dashboard ACCOUNT
    tickml secrets login dashboard|http|kapacitor [ACCOUNT]   user name and password, e.g. the dashboard's
    tickml secrets env [INFLUXDB_ACCOUNT]     eval "$(tickml secrets env)": the influx and kapacitor CLIs log in
    tickml udfs status|serve-metrics
    tickml dashboard [--listen HOST:PORT]
    tickml watch
    tickml history backfill|repair TASK --since 30d | --from T --to T   a task over what InfluxDB holds
    tickml history session publish NAME FILE [--speed 10]           a recorded campaign as a named session
    tickml models list|show|history|pin|unpin|rollback|delete|export|import   a device's models, their history

Every level answers ``--help``. The UDFs keep ``python -m udfs.<name>``, the
form Kapacitor's configuration names them by.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Callable

Runner = Callable[[argparse.Namespace], int]


def _stack(args: argparse.Namespace) -> int:
    from tickml.paths import LOGS
    from tickml.stack import runner, supervision
    from tickml.config import StackError

    sharded = {"shards": args.shards, "shards_conf": args.shards_conf}
    try:
        if args.action == "start":
            runner.start(args.services, **sharded)
            print(f"logs: {LOGS}" if args.shards is None else f"logs: {LOGS} and each shard's logs/ folder")
            if args.shards is None and (not args.services or "dashboard" in args.services):
                _print_dashboard_login()
        elif args.action == "stop":
            runner.stop(args.services, **sharded)
        elif args.action == "restart":
            runner.stop(args.services, **sharded)
            runner.start(args.services, **sharded)
        elif args.action == "shard":
            from tickml.stack import shards

            return shards.serve_one(args.shards_conf)
        elif args.action == "serve-udfs":
            supervision.serve_foreground()
        elif args.action == "init-influxdb":
            from tickml.stack import influx_users

            influx_users.create_databases()
        elif args.action == "init-kafka-acls":
            from tickml.stack import kafka

            # The gateways' own and the alerts' (kafka/topics.conf's: kafka-topics).
            kafka.create_topics(kafka.gateway_topics() + kafka.alert_topics())
            kafka.ensure_acls(kafka.stack_acls())
            print("kafka: the gateways' and the alerts' topics and their ACLs made (or there, kept)")
        elif args.action == "init-kapacitor":
            from tickml.stack import kapacitor_users

            print("kapacitor: users " + ("made" if kapacitor_users.ensure_users_here() else "there, kept"))
        else:
            return 0 if runner.status(**sharded) else 3
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _udfs_status(args: argparse.Namespace) -> int:
    from tickml import udfcheck
    from tickml.config import socket_udfs

    silent = 0
    for name, path in sorted(socket_udfs().items()):
        identity = udfcheck.server(path, timeout=args.timeout)
        silent += identity is None
        state = f"answers (pid {identity[0]})" if identity else "SILENT"
        print(f"{name:24s} {state:20s} {path}")
    return 3 if silent else 0


def _udfs_serve_metrics(args: argparse.Namespace) -> int:
    import logging

    from tickml import udf_metrics
    from tickml.paths import UDF_METRICS
    from tickml.config import StackError, split_address, udf_metrics_address

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        host, port = split_address(args.listen) if args.listen else udf_metrics_address()
    except (StackError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    udf_metrics.serve(host, port, Path(args.folder) if args.folder else UDF_METRICS)
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    from tickml.dashboard import server

    return server.run(args)


def _print_dashboard_login() -> None:
    from tickml.dashboard import server
    from tickml.config import dashboard_address

    host, port = dashboard_address()
    print(f"dashboard: http://{host}:{port}/; {server.login_hint()}")


def _secrets(args: argparse.Namespace) -> int:
    from tickml import secrets

    logins = {"influxdb": secrets.influxdb_login, "mqtt": secrets.mqtt_login, "http": secrets.http_login,
              "kapacitor": secrets.kapacitor_login, "dashboard": secrets.dashboard_login}
    try:
        if args.action == "password":
            login = logins.get(args.what)
            if login is None or not args.account:
                print("error: password influxdb|mqtt|http|kapacitor|dashboard ACCOUNT", file=sys.stderr)
                return 2
            print(login(args.account)[1])
            return 0
        if args.action == "login":
            # The services whose logins have one account to default to; InfluxDB's and MQTT's have several.
            defaults = {"dashboard", "http", "kapacitor"}
            if args.what not in logins or not args.account and args.what not in defaults:
                print("error: login dashboard|http|kapacitor [ACCOUNT], or login influxdb|mqtt ACCOUNT",
                      file=sys.stderr)
                return 2
            user, password = logins[args.what](args.account) if args.account else logins[args.what]()
            print(f"user:     {user}\npassword: {password}")
            return 0
        if args.action == "env":
            print(_client_environment("tickml-dashboard" if args.what == "all" else args.what))
            return 0
        written = secrets.ensure() if args.action == "ensure" else secrets.rotate(args.what)
    except secrets.SecretsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{secrets.SECRETS}: " + (f"wrote {', '.join(written)}" if written else "all there, kept"))
    if args.action == "rotate":
        print("restart the stack (tickml stack restart) so that every service takes the new ones")
    return 0


def _client_environment(influxdb_account: str) -> str:
    """Shell exports with which Kapacitor's and InfluxDB's own CLIs reach the stack: logins and the CA.

    Both CLIs are Go programs, which take the CA to trust from SSL_CERT_FILE; ``kapacitor``
    reads its URL (with the login) from KAPACITOR_URL, ``influx`` its login from INFLUX_USERNAME
    and INFLUX_PASSWORD (it still wants ``-ssl -host 127.0.0.1 -port 18086``).
    """
    import shlex
    import urllib.parse

    from tickml import secrets
    from tickml import config

    user, password = secrets.kapacitor_login()
    scheme, address = config.kapacitor_url().split("://", 1)
    kapacitor_url = f"{scheme}://{urllib.parse.quote(user, safe='')}:{urllib.parse.quote(password, safe='')}@{address}"
    influx_user, influx_password = secrets.influxdb_login(influxdb_account)
    exports = {"SSL_CERT_FILE": str(secrets.ca_file()), "KAPACITOR_URL": kapacitor_url,
               "INFLUX_USERNAME": influx_user, "INFLUX_PASSWORD": influx_password}
    return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in exports.items())


def _devices_add(args: argparse.Namespace) -> int:
    from tickml import secrets

    try:
        added = secrets.register_devices(args.device_ids)
        for device in args.device_ids:
            print(f"{device} {secrets.device_password(device)}")
    except secrets.SecretsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{added} new; Mosquitto reloaded its password file" if added else "all were registered already",
          file=sys.stderr)
    return 0


def _devices_types(args: argparse.Namespace) -> int:
    from tickml import device_types

    try:
        schema = device_types.load()
    except device_types.DeviceTypesError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(schema.telegraf_constant() if args.json else device_types.describe(schema))
    return 0


def _devices_gateways(args: argparse.Namespace) -> int:
    from tickml import gateways, secrets

    try:
        declared = gateways.load()
        if args.telegraf:
            from tickml.stack import telegraf

            print(telegraf.gateway_listeners(declared))
            return 0
    except (gateways.GatewayError, secrets.SecretsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for g in declared.values():
        ids = "any id but the reserved ones" if g.any_id else ", ".join(g.ids)
        own = [f"{key} :{getattr(g, key)}" for key in gateways.LISTENERS if getattr(g, key)]
        print(f"{g.account}: {ids}; {g.logins} MQTT login(s)" + (f"; own listeners: {', '.join(own)}" if own else ""))
    return 0


def _tasks(args: argparse.Namespace) -> int:
    from tickml import tasks

    return tasks.run(args)


def _alerts(args: argparse.Namespace) -> int:
    from tickml import alerts

    return alerts.run(args)


def _watch(args: argparse.Namespace) -> int:
    from tickml import task_watcher

    return task_watcher.run(args)


def _model_topics(args: argparse.Namespace):
    """Where the shards' models are shared: the train UDF's settings from the environment, else the stack's
    shards' (with the train UDF's Kafka login, the one that may write the model topics)."""
    from tickml import models
    from udfs.learn.topic import TopicSettings

    try:
        settings = TopicSettings.from_environment()
        if settings is None:
            from tickml.config import StackError
            from tickml.stack import kafka
            from tickml.stack.shards import ShardSet

            try:
                settings = TopicSettings.from_environment(ShardSet.load(args.shards_conf).model_env(kafka.UDF))
            except StackError as exc:
                raise models.ModelsError(f"--publish: no TICKML_MODEL_KAFKA, and {exc}") from None
    except ValueError as exc:
        raise models.ModelsError(f"--publish: {exc}") from None
    return settings


def _models(args: argparse.Namespace) -> int:
    import json

    from tickml import models

    root = models.model_root(args.root)
    actions = []  # (model, device, action, version): what InfluxDB records
    try:
        if args.action == "list":
            rows = models.listing(root, args.model, args.device)
            print(json.dumps(rows, indent=1) if args.json else models.table(rows))
        elif args.action == "show":
            print(json.dumps(models.show(root, args.model, args.device), indent=1))
        elif args.action == "history":
            found = models.history(root, args.model, args.device)
            print(json.dumps(found, indent=1) if args.json else models.history_table(found))
        elif args.action in ("pin", "unpin"):
            record = models.pin(root, args.model, args.device, args.action == "pin")
            print(f"{args.model} {args.device}: version {record['version']} {args.action}ned")
            actions.append((args.model, args.device, args.action, record["version"]))
        elif args.action == "rollback":
            restored, doc = models.rollback(root, args.model, args.device, args.version)
            print(f"{args.model} {args.device}: version {restored} restored, champion as version {doc['version']}")
            actions.append((args.model, args.device, "rollback", doc["version"]))
            if args.publish:
                models.publish(_model_topics(args), args.model, [(args.device, doc)])
                print(f"{args.model} {args.device}: version {doc['version']} published to every shard")
        elif args.action == "delete":
            version = models.delete(root, args.model, args.device)
            print(f"{args.model} {args.device}: version {version} and its history deleted")
            actions.append((args.model, args.device, "delete", version))
        elif args.action == "export":
            count = models.export(root, args.model, Path(args.file), models.signing_key())
            print(f"{args.file}: {count} documents of model {args.model!r}, signed")
        else:
            model, installed = models.import_(root, Path(args.file), models.signing_key())
            print(f"{args.file}: {len(installed)} documents imported into model {model!r}")
            if args.publish:
                models.publish(_model_topics(args), model, installed)
                print(f"{args.file}: {len(installed)} documents published to every shard")
            actions += [(model, "fleet" if key is None else key, "import", doc["version"]) for key, doc in installed]
    except models.ModelsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if actions and not args.no_record:
        warning = models.record_actions(actions)
        if warning:
            print(warning, file=sys.stderr)
    return 0


def _devices(args: argparse.Namespace) -> int:
    from devices import simulator

    return simulator.run(args, args.parser)


def _subcommand(subs, name: str, help: str, run: Runner | None, description: str | None = None) -> argparse.ArgumentParser:
    """A command; ``run`` None for a group whose own commands run."""
    parser = subs.add_parser(name, help=help, description=description or help,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    if run is not None:
        parser.set_defaults(run=run, parser=parser)
    return parser


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="tickml", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    subs = top.add_subparsers(title="commands", required=True)

    stack = _subcommand(subs, "stack", "run the native TICK stack on loopback", _stack, description=(
        "Start, stop and report Mosquitto, Kafka, InfluxDB, the socket UDF servers, Kapacitor, "
        "the task watcher and Telegraf, with the configuration files of this checkout; state under .stack/."))
    stack.add_argument("action", choices=["start", "stop", "status", "restart", "serve-udfs", "init-influxdb",
                                          "init-kafka-acls", "init-kapacitor", "shard"],
                       help="start (waits until healthy), stop, status (exit 3 when anything is down), restart, "
                            "serve-udfs (only the socket UDF servers under supervisord, in the foreground), "
                            "init-influxdb (InfluxDB's users from the secrets, and the databases; start does it), "
                            "init-kafka-acls (the gateways' and the alerts' topics, and what each Kafka principal "
                            "may do on them and on the device topics; start does it), "
                            "init-kapacitor (Kapacitor's users, with the kapacitord on PATH, for docker-compose; "
                            "start does it natively), or shard (one shard in the foreground, numbered by the first "
                            "free slot: docker-compose's scaled shard service)")
    stack.add_argument("services", nargs="*", metavar="SERVICE",
                       help="only these services (default: all); with --shards, shardN names all of shard N's")
    stack.add_argument("--shards", type=int, metavar="N", default=None,
                       help="the sharded layout (docs/scaling-out.md): N shards, each a Telegraf in the shards' "
                            "Kafka consumer group, a Kapacitor with its UDF servers and the task list, with their "
                            "own ports and folders; start also starts the brokers and InfluxDB they share, stop "
                            "stops only the shards")
    stack.add_argument("--shards-conf", metavar="PATH", default=None,
                       help="the shards' settings (default: TICKML_SHARDS_CONF, or shards/shards.toml)")

    from tickml import tasks, task_watcher

    tasks.add_arguments(_subcommand(subs, "tasks", "define, enable and list the tasks of tick_scripts/tasks.json",
                                    _tasks, description=tasks.__doc__))

    from tickml import alerts

    alerts.add_arguments(_subcommand(subs, "alerts", "list the open alerts of Kapacitor's alert topics", _alerts,
                                     description=alerts.__doc__))

    devices = _subcommand(subs, "devices", "simulated devices publishing to the stack", None)
    device_subs = devices.add_subparsers(title="commands", required=True)
    from devices import options, simulator
    from tickml.sender_defaults import stack_defaults

    defaults = stack_defaults()
    options.add_arguments(_subcommand(device_subs, "simulate", "publish a simulated fleet", _devices,
                                      description=simulator.__doc__), defaults=defaults)
    options.add_arguments(_subcommand(device_subs, "replay", "replay a CSV or JSON-lines file of messages",
                                      _devices), replay=True, defaults=defaults)
    add = _subcommand(device_subs, "add", "let devices log in to the MQTT broker; prints each one's password "
                      "(its MQTT user name is its id)", _devices_add)
    add.add_argument("device_ids", nargs="+", metavar="DEVICE_ID")
    types = _subcommand(device_subs, "types", "list the device types of telegraf/device_types.toml: each one's "
                        "tags and readings, with their kinds and units, and the default mode", _devices_types)
    types.add_argument("--json", action="store_true",
                       help="print instead the one line of JSON Telegraf's validator gets (TICKML_DEVICE_SCHEMA)")

    senders = _subcommand(device_subs, "gateways", "list the gateways of mosquitto/gateways.toml: the ids each "
                          "may speak for, its MQTT logins and its own listeners", _devices_gateways)
    senders.add_argument("--telegraf", action="store_true",
                         help="print instead the gateways' own listeners as Telegraf configuration (the stack "
                         "runner writes it to .stack/run/telegraf-gateways.conf)")

    keys = _subcommand(subs, "secrets", "the stack's certificate authority, certificates and passwords "
                       "(.stack/secrets/)", _secrets)
    keys.add_argument("action", choices=["ensure", "rotate", "password", "login", "env"],
                      help="ensure: make what is missing, keep the rest (stack/install.sh runs it); rotate: new ones; "
                           "password: print an account's password (password influxdb|mqtt|http|kapacitor|dashboard "
                           "ACCOUNT); login: its user name and password (login dashboard: the dashboard's); "
                           "env: shell exports for the kapacitor and influx CLIs (env [INFLUXDB_ACCOUNT], "
                           "default tickml-dashboard, read only)")
    keys.add_argument("what", nargs="?", default="all",
                      help="what rotate replaces (passwords, certificates, all: the default), the service whose "
                           "password or login to print (influxdb, mqtt, http, kapacitor, dashboard), or env's "
                           "InfluxDB account")
    keys.add_argument("account", nargs="?", help="with password or login: the account, e.g. tickml-dashboard")

    udfs = _subcommand(subs, "udfs", "the socket UDF servers", None)
    udf_subs = udfs.add_subparsers(title="commands", required=True)
    status = _subcommand(udf_subs, "status", "whether each socket UDF of kapacitor.conf answers an Info request "
                         "(exit 3 when one does not)", _udfs_status)
    status.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for each answer (%(default)s)")
    metrics = _subcommand(udf_subs, "serve-metrics", "serve every UDF process's counters in Prometheus format, "
                          "summed, where Telegraf scrapes them (the stack runs it as the udf-metrics service)",
                          _udfs_serve_metrics)
    metrics.add_argument("--listen", metavar="HOST:PORT",
                         help="default: the address of [[inputs.prometheus]] in telegraf/telegraf.conf")
    metrics.add_argument("--folder", help="the processes' counter files (PROMETHEUS_MULTIPROC_DIR); "
                                          "default: .stack/run/udf-metrics")

    from tickml.dashboard import server as dashboard_server

    dashboard_server.add_arguments(_subcommand(subs, "dashboard", "serve the dashboard app (the stack runs it as "
                                               "the dashboard service)", _dashboard,
                                               description=dashboard_server.__doc__))

    from tickml.history import cli as history

    history.add_arguments(_subcommand(subs, "history", "run tasks over history (backfill, predictions, gap "
                                      "repair) with Kapacitor's replay; publish recorded sessions", None,
                                      description=history.__doc__))

    from tickml import models

    group = _subcommand(subs, "models", "a device's models: list, show, history, pin, roll back, delete, export "
                        "and import", None, description=models.__doc__)
    model_subs = group.add_subparsers(title="commands", required=True)
    for action, help in (
            ("list", "every champion, with its version, algorithm, score and pin"),
            ("show", "the champion's document (JSON)"),
            ("history", "every version deployed and every challenger kept out, with its score, window and reason"),
            ("pin", "keep the champion whatever a challenger scores (the trained point says Reason=pinned)"),
            ("unpin", "let the next better challenger replace the champion again"),
            ("rollback", "make an earlier version champion again (default: the one deployed before it)"),
            ("delete", "delete the champion and its history; the next window trains a first model"),
            ("export", "write every champion of a model to a .tar.gz of signed JSON documents"),
            ("import", "make the documents of an export champions, every one checked before any is written")):
        command = _subcommand(model_subs, action, help, _models)
        command.set_defaults(action=action)
        if action == "list":
            command.add_argument("--model", help="only this model")
            command.add_argument("--device", help="only this device (entity key)")
        elif action == "import":
            command.add_argument("file", metavar="FILE.tar.gz")
        else:
            command.add_argument("model", metavar="M", help="the model's name, as the task's model option says")
            if action == "export":
                command.add_argument("file", metavar="FILE.tar.gz")
            else:
                command.add_argument("device", metavar="D", help="the device (entity key)")
        if action == "rollback":
            command.add_argument("--version", type=int, help="the version to restore (tickml models history)")
        if action in ("rollback", "import"):
            command.add_argument("--publish", action="store_true",
                                 help="also send the new champion(s) to the model topics every shard applies "
                                      "(TICKML_MODEL_KAFKA and the rest, else the stack's shards)")
            command.add_argument("--shards-conf", help="with --publish: the shards' settings (default "
                                 "TICKML_SHARDS_CONF, else stack/shards.toml)")
        if action in ("list", "history"):
            command.add_argument("--json", action="store_true", help="JSON, for scripts")
        if action in ("pin", "unpin", "rollback", "delete", "import"):
            command.add_argument("--no-record", action="store_true",
                                 help="do not write the action to InfluxDB (measurement model_actions)")
        else:
            command.set_defaults(no_record=True)
        command.add_argument("--root", help="the model root (default: TICKML_MODEL_ROOT, else .stack/data/models)")

    task_watcher.add_arguments(_subcommand(subs, "watch", "re-enable tasks whose UDF came back, and fill their gap "
                                           "(the stack runs it as the task-watcher service)", _watch,
                                           description=task_watcher.__doc__))
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except BrokenPipeError:  # `tickml stack status | head`: the reader left, which is no error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
