"""Serve the dashboard: ``tickml dashboard`` (the stack's ``dashboard`` service).

Three pages, at the address of dashboards/dashboard.toml: the fleet (/), one
device (/device/<device id>, with a searchable picker) and the tasks and UDFs
(/tasks), each with a range and auto refresh. They read InfluxDB with InfluxQL
as the read-only account of dashboard.toml; the panels are defined in
tickml/dashboard/panels.py. Served by waitress, a production WSGI server,
behind a login and a Host allowlist (tickml/dashboard/guard.py): the user
tickml-viewer, with the password `tickml secrets login dashboard` prints.
"""

from __future__ import annotations

import argparse
import logging
import sys

from tickml import secrets
from tickml.secrets import SecretsError
from tickml.config import StackError, split_address
from tickml.tasks import TaskListError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--listen", metavar="HOST:PORT", help="default: [http] bind-address of dashboards/dashboard.toml")
    parser.add_argument("--influxdb-url", metavar="URL",
                        help="another InfluxDB than the stack's (influxdb/influxdb.conf), e.g. a test's own")
    parser.add_argument("--database", metavar="DB",
                        help="read every panel from this one database (a benchmark's synthetic fleet)")
    parser.add_argument("--url", action="store_true",
                        help="print the dashboard's address (and, on stderr, how to log in) and exit")


def login_hint() -> str:
    """How a person logs in to the dashboard, in a sentence."""
    user = secrets.DASHBOARD_ACCOUNTS[0]
    return (f"log in as {user} with the password `tickml secrets login dashboard` prints "
            f"(kept in {secrets.SECRETS / 'credentials.json'})")


def run(args: argparse.Namespace) -> int:
    import waitress

    from . import settings as settings_module
    from .app import create_app
    from .guard import Guard
    from .source import Source

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = settings_module.load()
        if args.listen:
            host, port = split_address(args.listen)
            settings = settings.replace(host=host, port=port)
        if args.url:
            print(f"http://{settings.host}:{settings.port}/")
            print(login_hint(), file=sys.stderr)
            return 0
        if args.database:
            settings = settings.replace(databases={key: args.database for key in settings.databases})
        source = Source(settings, url=args.influxdb_url)
        guarded = Guard(create_app(source).server, *secrets.dashboard_login(), settings.hosts)
    except (StackError, SecretsError, TaskListError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.getLogger(__name__).info("dashboard at http://%s:%d/ for %s, reading InfluxDB at %s; %s",
                                     settings.host, settings.port, ", ".join(sorted(guarded.hosts)), source.url,
                                     login_hint())
    waitress.serve(guarded, host=settings.host, port=settings.port, threads=settings.threads,
                   ident="tickml-dashboard")
    return 0
