"""One service of the single node in the foreground, as supervisord would run it: a systemd unit's command.

``python -m tickml.stack.foreground NAME`` runs the service's prepare hook (its
configuration, its logins from the secrets) and replaces itself with the
service's process, in the environment its supervisord program has;
``--after-start NAME`` waits until the service is healthy and runs its
after_start hook (InfluxDB's databases and users, Kafka's topics and ACLs; both
idempotent), the unit's ExecStartPost. stack/systemd/ has a unit per service.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from tickml.config import StackError
from tickml.stack.catalog import services
from tickml.stack.process import private_state
from tickml.stack.supervision import PROGRAM_ENV


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("service", help="a service of `tickml stack status` (not udf-supervisor)")
    parser.add_argument("--after-start", action="store_true", help="wait until it is healthy, run its after_start")
    args = parser.parse_args(argv)
    found = {s.name: s for s in services() if s.supervised}
    if args.service not in found:
        parser.error(f"no service {args.service!r}; the services are {', '.join(found)}")
    service = found[args.service]
    program = next(p for p in service.supervised_by.programs if p.name == service.name)
    try:
        if args.after_start:
            deadline = time.monotonic() + service.start_timeout
            while not service.healthy():
                if time.monotonic() > deadline:
                    raise StackError(f"not healthy after {service.start_timeout:.0f} s")
                time.sleep(0.5)
            if service.after_start is not None:
                service.after_start()
            return 0
        private_state()
        if service.prepare is not None:
            service.prepare()
        if service.socket_path is not None:
            service.socket_path.parent.mkdir(parents=True, exist_ok=True)
    except StackError as exc:
        print(f"{service.name}: {exc}", file=sys.stderr)
        return 1
    os.execve(program.command[0], program.command, {**os.environ, **PROGRAM_ENV, **program.env})


if __name__ == "__main__":
    sys.exit(main())
