"""A recorded campaign published as a named session: ``tickml history session publish NAME FILE``.

The file is what ``tickml devices replay`` reads (CSV or JSON lines of device
messages), and it is published the same way, at any speed (``--speed 1``,
``10``, ``0`` for as fast as the transport goes) over MQTT, HTTP or Kafka,
so its messages go through Telegraf's validation like any device's. Each
message carries ``session: NAME``, which Telegraf keeps as a tag on every
point it makes of it (``telegraf/device_message.star``), rejects included.

Where it lands: by default the ``telemetry`` database, where the live tasks
run on it (their outputs keep the tag where the task's grouping does);
``--database DB`` puts it in a database of its own instead, which Kapacitor
does not subscribe to: a session kept apart, for replays into tasks of its
own. Such a session is posted to Telegraf's sessions listener with its own
login (``tickml-sessions``), the one input whose messages may name a database
(their ``tickml_database`` key); no device's message can.

Its state is a point of the ``sessions`` measurement in that database, tag
``session``: ``open`` when publishing starts (with ``first`` and ``last``, the
times of its first and last message as they will be stamped, and
``messages``, the file's count), then ``closed`` when every message was sent,
or ``truncated`` when it ended early (Ctrl-C, ``--duration``, a transport that
failed), with ``sent``. A dashboard opened later finds an open session and
reads from its ``first``.
"""

from __future__ import annotations

import argparse
import sys
import time

SESSION_TAG = "session"
DATABASE_TAG = "tickml_database"  # the sessions output's database_tag in telegraf.conf
MEASUREMENT = "sessions"
OPEN, CLOSED, TRUNCATED = "open", "closed", "truncated"


def add_arguments(subs) -> None:
    session = subs.add_parser("session", help="publish a recorded campaign (a file of device messages) as a "
                              "named session, and see its state", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = session.add_subparsers(title="commands", required=True)
    from devices import options
    from tickml.sender_defaults import stack_defaults

    publish = actions.add_parser("publish", help="publish FILE as session NAME (the options of tickml devices replay)")
    publish.add_argument("name", help="the session's name (letters, digits, - _ .)")
    options.add_arguments(publish, replay=True, defaults=stack_defaults())
    publish.add_argument("--database", default="telemetry", help="where it lands (default telemetry, through the "
                         "live tasks; another database keeps it apart)")
    publish.set_defaults(run=run_publish, parser=publish)
    status = actions.add_parser("status", help="each session's last state")
    status.add_argument("name", nargs="?", help="only this session")
    status.add_argument("--database", default="telemetry")
    status.set_defaults(run=run_status)


def state_line(name: str, state: str, time_ns: int, **fields) -> str:
    """The ``sessions`` point of one state.

    >>> state_line("c-7", "open", 5, messages=10, first=1, last=4)
    'sessions,session=c-7 state="open",messages=10i,first=1i,last=4i 5'
    """
    from tickml.influx import line

    return line(MEASUREMENT, {SESSION_TAG: name}, {"state": state, **fields}, time_ns)


def states(influx, database: str, name: str | None = None) -> list[dict]:
    """Each session's newest state point."""
    where = f" WHERE {SESSION_TAG} = '{name}'" if name else ""
    fields = ", ".join(f'last("{f}") AS "{f}"' for f in ("state", "messages", "sent", "first", "last"))
    return influx.query(f'SELECT {fields} FROM "{MEASUREMENT}"{where} GROUP BY "{SESSION_TAG}"', database=database)


def publish(args: argparse.Namespace, influx) -> str:
    """Publish ``args.file`` as session ``args.name``; the state it ended in."""
    import re

    from devices import simulator
    from devices.replay import read_records

    if not re.fullmatch(r"[\w.-]+", args.name):
        raise ValueError(f"a session's name is letters, digits, '-', '_' and '.', got {args.name!r}")
    records = list(read_records(args.file, args.id_key, args.time_key))
    times = [r.time_ns for r in records if r.time_ns is not None]
    now = time.time_ns()
    first, last = (min(times), max(times)) if times else (now, now)
    if args.restamp:
        first, last = now, now + (last - first)
    args.extra_keys = {SESSION_TAG: args.name}
    if args.database != "telemetry":
        _to_sessions_listener(args)
        _database_for_telegraf(influx, args.database)
        args.extra_keys[DATABASE_TAG] = args.database
    influx.write(state_line(args.name, OPEN, now, messages=len(records), first=first, last=last,
                            speed=float(args.speed), file=str(args.file)), database=args.database)
    rc = 1
    try:
        rc = simulator.run(args, args.parser)
    finally:
        sent = getattr(args, "sent", 0)
        state = CLOSED if rc == 0 and sent == len(records) else TRUNCATED
        influx.write(state_line(args.name, state, time.time_ns(), messages=len(records), sent=sent),
                     database=args.database)
    return state


def _to_sessions_listener(args: argparse.Namespace) -> None:
    """Post to Telegraf's sessions listener, the one input that may name a database, with its login."""
    from tickml import secrets
    from tickml import config

    # mqtt is --protocol's default: a session kept apart goes over HTTP whatever the default says.
    if args.protocol not in ("http", "mqtt"):
        raise ValueError(f"a session kept in a database of its own is posted over HTTP to Telegraf's sessions "
                         f"listener, not sent over {args.protocol}")
    host, port = config.telegraf_sessions_address()
    args.protocol, args.http = "http", f"https://{host}:{port}/sessions"
    args.http_user, args.http_password = secrets.http_login("tickml-sessions")


def _database_for_telegraf(influx, database: str) -> None:
    """A database Telegraf may write a session into (it may not create one, nor write where it was not granted)."""
    from tickml import secrets

    user = secrets.influxdb_login("tickml-telegraf")[0]
    influx.execute(f'CREATE DATABASE "{database}"')
    influx.execute(f'GRANT WRITE ON "{database}" TO "{user}"')


def run_publish(args: argparse.Namespace) -> int:
    from tickml.influx import Influx

    try:
        state = publish(args, Influx())
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"session {args.name}: {state}")
    return 0 if state == CLOSED else 3


def run_status(args: argparse.Namespace) -> int:
    from tickml.influx import Influx

    for row in states(Influx(), args.database, args.name):
        print(f"{row[SESSION_TAG]:24s} {row['state']:10s} messages={row.get('messages')} sent={row.get('sent')}")
    return 0
