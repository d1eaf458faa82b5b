"""What the ACL costs a gateway: messages per second through Mosquitto as the registered devices grow.

A gateway declared with ``ids = ["*"]`` (the simulator's, tickml/gateways.py)
has a ``deny`` line in the ACL for every registered device, and Mosquitto
walks a login's ACL lines on every publish. This bench starts a private
Mosquitto (a port of its own, the stack's settings that matter here: logins,
the ACL, ``use_username_as_clientid``), registers N devices in its ACL,
publishes ``--messages`` QoS 1 messages as the gateway under
``devices/<type>/<id>`` of unregistered ids, and times them until a
subscriber holds every one. It prints the rate per N beside the rate with no
ACL at all (the reference: an anonymous broker), in one run.

Run: ``python bench/acl_cost.py [--registered 0 100 1000 10000] [--messages 20000]``.
Needs Mosquitto (stack/install.sh installs it), not the stack.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from devices.transports import MqttTransport
from tickml import gateways
from tickml.secrets import mosquitto_hash

PASSWORD = "bench-password"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """A private Mosquitto: with ``registered`` None, anonymous and without an ACL; else with the gateway's ACL."""

    def __init__(self, folder: Path, registered: list[str] | None):
        self.port = _free_port()
        # As the stack's runner: the broker stays the user who starts it (as root it would drop to its own user,
        # who cannot read the files written here).
        lines = [f"listener {self.port} 127.0.0.1", f"user {pwd.getpwuid(os.geteuid()).pw_name}", "persistence false",
                 "max_queued_messages 1000000", "max_inflight_messages 1000", "log_dest stderr", "log_type error"]
        if registered is None:
            lines.insert(2, "allow_anonymous true")
        else:
            (folder / "passwd").write_text("".join(f"{user}:{mosquitto_hash(PASSWORD)}\n" for user in ("gw", "reader")))
            acl = ["user reader", "topic read devices/#", ""]
            acl += gateways.acl_lines(gateways.Gateway("gw", (gateways.ANY,)), registered)
            (folder / "acl").write_text("\n".join(acl) + "\n")
            lines.insert(0, "per_listener_settings true")
            lines[3:3] = ["allow_anonymous false", f"password_file {folder / 'passwd'}",
                          f"acl_file {folder / 'acl'}", "use_username_as_clientid true"]
        (folder / "mosquitto.conf").write_text("\n".join(lines) + "\n")
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.process = subprocess.Popen([binary, "-c", str(folder / "mosquitto.conf")], stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not _listening(self.port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"the private Mosquitto did not start: {self.process.stderr.read().decode()}")
            time.sleep(0.05)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class Counter:
    """A subscriber to devices/# counting what it gets."""

    def __init__(self, port: int, login: bool):
        self.n = 0
        self.done = threading.Event()
        self.want = 0
        subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="reader")
        if login:
            self.client.username_pw_set("reader", PASSWORD)
        self.client.on_connect = lambda c, u, f, rc, p=None: c.subscribe("devices/#", qos=1)
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_message = self._got
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not subscribed.wait(10):
            raise RuntimeError("the counter could not subscribe")

    def _got(self, client, userdata, message) -> None:
        self.n += 1
        if self.n >= self.want:
            self.done.set()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def rate(registered: list[str] | None, messages: int) -> float:
    """Messages per second from the gateway's first publish until the subscriber holds every one."""
    with tempfile.TemporaryDirectory() as folder:
        broker = Broker(Path(folder), registered)
        try:
            login = registered is not None
            counter = Counter(broker.port, login)
            counter.want = messages
            sender = MqttTransport(f"tcp://127.0.0.1:{broker.port}", client_id="gw",
                                   username="gw" if login else None, password=PASSWORD if login else None)
            payloads = [(f"devices/thermostat/sim-{i % 500}", b'{"temperature": 21.5}') for i in range(messages)]
            started = time.perf_counter()
            sender.send_many(payloads)
            sender.flush()
            if not counter.done.wait(120):
                raise RuntimeError(f"only {counter.n} of {messages} messages arrived")
            seconds = time.perf_counter() - started
            sender.close()
            counter.close()
            return messages / seconds
        finally:
            broker.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--registered", type=int, nargs="+", default=[0, 100, 1000, 10000],
                        help="registered devices in the ACL, one run each (%(default)s)")
    parser.add_argument("--messages", type=int, default=20000, help="messages per run (%(default)s)")
    args = parser.parse_args(argv)
    reference = rate(None, args.messages)
    print(f"{'registered devices':>20s} {'messages/s':>11s} {'x no ACL':>9s}")
    print(f"{'no login, no ACL':>20s} {reference:11.0f} {1.0:9.2f}")
    for n in args.registered:
        r = rate([f"reg-{i}" for i in range(n)], args.messages)
        print(f"{n:20d} {r:11.0f} {r / reference:9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
