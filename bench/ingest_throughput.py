"""Sustained device messages per second into InfluxDB, per protocol, through the real stack.

One script above 350 lines on purpose: it is read beside what it prints, and
every figure shares one run's setup and reference.

For each protocol (MQTT, HTTP, Kafka, gRPC/OTLP) the simulator's library
sends N messages (one reading each) as fast as the transport takes them, from
as many sending processes as the simulator uses (``--processes``), through
the running Telegraf into InfluxDB; the clock stops when InfluxDB counts all N.
The rate is N / that time: what landed, not what was sent. Side by side, in
the same run, the same points are written to InfluxDB directly as line
protocol in batches of Telegraf's metric_batch_size (and of 4x that), one
request at a time as Telegraf's output does, best of three: InfluxDB's own
ceiling here.

The live runs measure the sender too. To see what Telegraf and the broker
take without the Python sender in the way, the drain runs first fill the
broker (MQTT: a persistent session's queue; Kafka: a topic of its own) while a
second, private Telegraf (this repository's telegraf.conf with its own client
id, consumer group and topics) is stopped, then start it and time from its
first landed point to its last, with metric_batch_size as configured and 4x.

Where the limit is shows in these figures per run:
- sender/s: how fast the simulator handed messages over (broker or listener
  acknowledged). HTTP and gRPC answer once Telegraf has taken the messages
  in, so there it cannot run ahead of Telegraf; MQTT and Kafka brokers take
  them at once. In a drain run it is the fill: the broker alone taking them;
- sender us/msg: the sender's CPU per message (this script, which hands the
  messages to the sending processes, and theirs), and sender 1 core/s, its
  inverse: what the sender hands over with one core of its own, and x landed,
  that over the landed rate. Five times the landed rate or more, the sender is
  not the limit;
- vs direct: the landed rate over the direct-write rate; near 1, InfluxDB is
  the limit, far below, Telegraf or the broker;
- cores: CPU seconds of all of them over the run's seconds; near the
  machine's core count, the machine is the limit;
- CPU seconds each process spent during the run (telegraf, influxd, kafka,
  mosquitto, kapacitord, this script as the simulator): on a 2-core machine
  the one that burns the most is the bottleneck.

Usage (the stack must run: tickml stack start)::

    python bench/ingest_throughput.py [--messages 50000] [--devices 1000]
        [--protocols mqtt mqtt-plain http kafka otlp] [--batch 1000] [--processes N] [--no-drain] [--keep]
        [--smoke]

``--smoke``: 500 messages from 50 devices, every protocol and drain at Telegraf's batch size only, without
waiting for the stack to fall idle between runs, seconds (tests/integration/test_bench_ingest_throughput.py
runs it, so that the bench cannot rot).

Points are written under device ids ``bench-<run>-...`` stamped a day ago and
deleted at the end (unless ``--keep``).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# This checkout's code, not an installed copy's (an editable install may point at another work tree); the
# sending processes inherit the path.
sys.path.insert(0, str(REPO))
from tickml import paths
from tickml.stack.catalog import services
from tickml import secrets
from tickml import config
from tickml.stack import kafka
from tickml.stack.telegraf import PRIVATE_LISTENERS, derived_config
from tickml.stack.telegraf import environment as telegraf_environment
from tickml.influx import Influx
from tickml.sender_defaults import stack_addresses

from devices import transports  # noqa: E402
from devices.options import DEFAULT_PROCESSES
from devices.otlp import OtlpTransport
from devices.parallel import ParallelTransport
from devices.simulator import build_fleet, fleet_ticks
from devices.transports import envelope  # noqa: E402

TYPES = ["thermostat", "barometer"]
PROCESSES = ["telegraf", "influxdb", "kafka", "mosquitto", "kapacitor"]


def telegraf_batch_size() -> int:
    return int(config.read_toml(REPO / "telegraf" / "telegraf.conf")["agent"]["metric_batch_size"])


def cpu_seconds(pid: int | None) -> float:
    """utime + stime of a process and its waited-for children, in seconds."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    ticks = sum(int(x) for x in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def cpu_snapshot() -> dict[str, float]:
    by_name = {s.name: s for s in services()}
    out = {name: cpu_seconds(by_name[name].pid()) for name in PROCESSES if name in by_name}
    out["simulator"] = time.process_time()
    return out


def count(influx: Influx, prefix: str) -> int:
    rows = influx.query(f"SELECT count(value) FROM device_message WHERE device_id =~ /^{prefix}/")
    return rows[0]["count"] if rows else 0


def wait_for(influx: Influx, prefix: str, n: int, timeout: float) -> float | None:
    """Poll until ``n`` points of ``prefix`` are in InfluxDB; the monotonic time they were, or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if count(influx, prefix) >= n:
            return time.monotonic()
        time.sleep(0.05)
    return None


def samples(args, prefix: str):
    start_ns = time.time_ns() - 86_400 * 10**9
    fleet, chain, run = build_fleet(
        args.devices, TYPES, seed=1, prefix=prefix, start_ns=start_ns, interval=1.0, messages=args.messages
    )
    return [s for _, batch in fleet_ticks(fleet, chain, **run) for s in batch]


def open_sender(protocol: str, prefix: str, args):
    """The simulator's transport for ``protocol``, in ``args.processes`` sending processes as the simulator runs it."""
    addresses = stack_addresses()
    if protocol in ("mqtt", "mqtt-plain"):
        make = functools.partial(bench_mqtt, protocol, f"tickml-bench-{prefix}")
    elif protocol == "http":
        make = functools.partial(transports.HttpTransport, addresses["http"], batch_size=args.batch,
                                 username=secrets.http_login()[0], password=secrets.http_login()[1],
                                 ca_file=str(secrets.ca_file()))
    elif protocol == "otlp":
        crt, key = secrets.client_certificate()
        make = functools.partial(OtlpTransport, addresses["otlp"], ca_file=str(secrets.ca_file()),
                                 client_cert=str(crt), client_key=str(key), batch_size=args.batch)
    else:
        make = kafka_sender(addresses["kafka"])
    if args.processes == 1:
        return make()
    return ParallelTransport(make, args.processes, with_message=protocol == "otlp")


def kafka_sender(bootstrap: str, **options):
    """The simulator's Kafka transport as the stack's senders log in (their client certificate)."""
    ca, cert, key = kafka.tls_files(kafka.SENDER)
    return functools.partial(transports.KafkaTransport, bootstrap, ca_file=ca, client_cert=cert, client_key=key,
                             **options)


def run_protocol(protocol: str, args, influx: Influx) -> dict:
    prefix = f"bench-{uuid.uuid4().hex[:6]}-{protocol}-"
    # Built and encoded before the clock starts: the sender's rate is the transport's.
    envelopes = [envelope(s.message()) for s in samples(args, prefix)]
    transport = open_sender(protocol, prefix, args)

    def send() -> None:
        for i in range(0, len(envelopes), 5000):
            transport.send_envelopes(envelopes[i : i + 5000])
        transport.flush()

    try:
        result = timed_landing(protocol, prefix, len(envelopes), send, influx, args.timeout)
    finally:
        transport.close()
    # The sending processes' CPU beside this script's (which hands them the messages).
    result["handover_cpu"] = result["cpu"]["simulator"] if hasattr(transport, "cpu_seconds") else None
    result["cpu"]["simulator"] += getattr(transport, "cpu_seconds", 0.0)
    return result


def timed_landing(name: str, prefix: str, n: int, send, influx: Influx, timeout: float) -> dict:
    """Run ``send()``, then wait until ``n`` points of ``prefix`` landed: the seconds to each, and the CPU spent."""
    cpu0 = cpu_snapshot()
    t0 = time.monotonic()
    send()
    t_sent = time.monotonic()
    landed_at = wait_for(influx, prefix, n, timeout=timeout)
    cpu1 = cpu_snapshot()
    return {
        "name": name,
        "prefix": prefix,
        "n": n,
        "sent_s": t_sent - t0,
        "landed_s": None if landed_at is None else landed_at - t0,
        "landed_n": count(influx, prefix),
        "cpu": {k: cpu1[k] - cpu0[k] for k in cpu0},
    }


def line(s) -> str:
    sensor, value = next((k, v) for k, v in s.readings.items())
    return (
        f"device_message,device_id={s.device_id},device_type={s.device_type.replace('_', '')},sensor={sensor} "
        f"value={float(value)!r} {s.time_ns}"
    )


def run_direct(args, influx: Influx, batch: int) -> dict:
    prefix = f"bench-{uuid.uuid4().hex[:6]}-direct-"
    lines = [line(s) for s in samples(args, prefix)]

    def send() -> None:
        for i in range(0, len(lines), batch):
            influx.write(lines[i : i + batch])

    return timed_landing(f"direct, batch {batch}", prefix, len(lines), send, influx, args.timeout)


def settle(seconds: float = 30.0) -> None:
    """Wait until Kapacitor (which gets every point by subscription) and InfluxDB are idle again, at most
    ``seconds`` (0: not at all)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        before = cpu_snapshot()
        time.sleep(0.5)
        after = cpu_snapshot()
        if all(after[k] - before[k] < 0.05 for k in ("kapacitor", "influxdb", "telegraf") if k in after):
            return


def bench_telegraf_config(batch: int, kafka_topic: str, group: str) -> Path:
    """telegraf.conf for a private Telegraf: own MQTT client id and topics, own Kafka topic and group."""
    path = paths.RUN / "bench-telegraf.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(derived_config(mqtt_topics=["bench/#"], mqtt_client_id="tickml-bench-telegraf",
                                   kafka_topic=kafka_topic, kafka_group=group, batch_size=batch))
    return path


@contextlib.contextmanager
def bench_telegraf(config: Path):
    env = {**os.environ, **telegraf_environment("tickml-operator"), **PRIVATE_LISTENERS}
    log = open(paths.LOGS / "bench-telegraf.log", "ab")
    proc = subprocess.Popen([str(paths.BIN / "telegraf"), "--config", str(config)], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def drain_time(influx: Influx, prefix: str, n: int, started: float, timeout: float) -> float | None:
    """Seconds from ``started`` (the private Telegraf's start) until n points of ``prefix`` landed."""
    landed_at = wait_for(influx, prefix, n, timeout=timeout)
    return None if landed_at is None else landed_at - started


def run_drain(protocol: str, batch: int, args, influx: Influx) -> dict:
    run = uuid.uuid4().hex[:6]
    prefix = f"bench-{run}-drain-{protocol}-"
    envelopes = [envelope(s.message()) for s in samples(args, prefix)]
    kafka_topic = f"bench_{run}"
    config = bench_telegraf_config(batch, kafka_topic if protocol == "kafka" else "device_messages_unused", f"bench-{run}")
    addresses = stack_addresses()
    if protocol == "mqtt":
        # A first connection makes the broker keep a session for the private Telegraf.
        log = paths.LOGS / "bench-telegraf.log"
        offset = log.stat().st_size if log.exists() else 0
        with bench_telegraf(config):
            deadline = time.monotonic() + 20
            while b"[inputs.mqtt_consumer] Connected" not in log.read_bytes()[offset:]:
                if time.monotonic() > deadline:
                    raise RuntimeError("the private Telegraf did not connect to the broker; see bench-telegraf.log")
                time.sleep(0.1)
        transport = bench_mqtt("mqtt", f"tickml-bench-{prefix}", operator=True)
        fill0 = time.monotonic()
        transport.send_many((f"bench/{e.device_type}/{e.device_id}", e.payload) for e in envelopes)
    else:
        kafka.create_topics([(kafka_topic, 4, {})])
        kafka.ensure_acls(kafka.device_topic_acls(kafka_topic, [f"bench-{run}"]))  # the private Telegraf's group
        transport = kafka_sender(addresses["kafka"], topic=kafka_topic)()
        fill0 = time.monotonic()
        transport.send_envelopes(envelopes)
    transport.close()
    # The hand-over to the broker with nothing else running: one sending process's rate.
    fill_s = time.monotonic() - fill0
    settle(args.settle)
    cpu0 = cpu_snapshot()
    started = time.monotonic()
    with bench_telegraf(config) as proc:
        seconds = drain_time(influx, prefix, len(envelopes), started, args.timeout)
        cpu1 = cpu_snapshot()
        telegraf_cpu = cpu_seconds(proc.pid)
    if protocol == "kafka":
        kafka.delete_topics([kafka_topic])
        kafka.delete_acls(kafka.device_topic_acls(kafka_topic, [f"bench-{run}"]))
    cpu = {k: cpu1[k] - cpu0[k] for k in cpu0}
    cpu["telegraf"] = telegraf_cpu  # the private one; the stack's Telegraf sits idle
    return {
        "name": f"{protocol} drain, batch {batch}",
        "prefix": prefix,
        "n": len(envelopes),
        "sent_s": None,
        "fill_s": fill_s,
        "landed_s": seconds,
        "landed_n": count(influx, prefix),
        "cpu": cpu,
    }


def forget_bench_session() -> None:
    """Drop the private Telegraf's persistent MQTT session (a clean-session connect clears it)."""
    import paho.mqtt.client as mqtt

    host, port = config.mosquitto_port()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="tickml-bench-telegraf", clean_session=True)
    client.username_pw_set(*secrets.mqtt_login("tickml-operator"))
    client.connect(host, port)
    client.loop_start()
    time.sleep(0.5)
    client.loop_stop()


def bench_mqtt(protocol: str, client_id: str, operator: bool = False) -> transports.MqttTransport:
    """``mqtt``: TLS to the devices' port, as devices publish, with a login of the simulator's gateway (the
    broker binds a client id to its login there, so each sending process claims one, as the simulator's do);
    ``mqtt-plain``: the plain loopback port, the operator's, beside it to show what TLS and the ACL cost.
    ``operator``: the operator over TLS, one connection, which may publish to the private Telegraf's topics."""
    if protocol == "mqtt-plain":
        host, port = config.mosquitto_port()
        user, password = secrets.mqtt_login("tickml-operator")
        # One client id per sending process: the broker keeps one session per id.
        return transports.MqttTransport(f"tcp://{host}:{port}", client_id=f"{client_id}{os.getpid()}",
                                        username=user, password=password)
    host, port = config.mosquitto_tls_port()
    url, ca = f"mqtts://{host}:{port}", str(secrets.ca_file())
    if operator:
        user, password = secrets.mqtt_login("tickml-operator")
        return transports.MqttTransport(url, client_id=user, username=user, password=password, ca_file=ca)
    from devices import logins

    gateway = secrets.gateway("tickml-gateway")
    return logins.gateway_transport(url, gateway.account, gateway.logins, secrets.mqtt_login(gateway.account)[1], ca)


def drop(influx: Influx, prefix: str) -> None:
    influx.execute(f"DROP SERIES FROM device_message WHERE device_id =~ /^{prefix}/", database=influx.database)


def main(argv: list[str] | None = None) -> dict[str, dict]:
    """Run; the figures printed, by run: ``landed`` (points that landed, points sent), ``rate`` (landed/s, NaN
    when not all landed in time), ``sender_rate`` (handed over/s; None for the direct writes) and ``cpu`` (CPU
    seconds by process)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=50_000, help="messages per protocol (%(default)s)")
    parser.add_argument("--devices", type=int, default=1000, help="devices sending them (%(default)s)")
    parser.add_argument("--protocols", nargs="+", default=["mqtt", "mqtt-plain", "http", "kafka", "otlp"],
                        choices=["mqtt", "mqtt-plain", "http", "kafka", "otlp"],
                        help="mqtt is TLS with a login, as devices publish; mqtt-plain the loopback port beside it; "
                        "otlp is gRPC (OpenTelemetry) with the sender's client certificate")
    parser.add_argument("--batch", type=int, default=1000, help="messages per HTTP POST or OTLP export (%(default)s)")
    parser.add_argument("--processes", type=int, default=DEFAULT_PROCESSES,
                        help="sending processes, as the simulator's --processes (%(default)s)")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for a run to land")
    parser.add_argument("--no-drain", action="store_true", help="skip the drain runs of a private Telegraf")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark's points in InfluxDB")
    parser.add_argument("--smoke", action="store_true",
                        help="500 messages, one batch size, no settling: that every run works, not a figure")
    args = parser.parse_args(argv)
    # Each run waits (up to this) for the stack to fall idle after the last one, so that runs do not overlap.
    args.settle = 30.0
    sizes = (telegraf_batch_size(), telegraf_batch_size() * 4)
    if args.smoke:
        args.messages, args.devices, args.timeout, args.settle, sizes = 500, 50, 60.0, 0.0, sizes[:1]

    # A moment's "down" is a service rereading its configuration (a device registered makes Telegraf reload):
    # what is down for half a minute is down.
    deadline = time.monotonic() + 30
    while down := [s.name for s in services() if s.name in ("telegraf", "influxdb", "kafka", "mosquitto")
                   and (s.pid() is None or not s.healthy())]:  # fmt: skip
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if down:
        raise SystemExit(f"error: not running: {', '.join(down)}; start the stack with tickml stack start")
    influx = Influx()
    batch = telegraf_batch_size()
    print(f"# {args.messages} messages per run from {args.devices} devices, one reading each; "
          f"Telegraf metric_batch_size {batch}; {os.cpu_count()} CPUs; live runs sent from {args.processes} "
          f"process(es)")  # fmt: skip
    results = []
    try:
        for size in sizes:
            # Direct writes take well under a second: the best of three is steadier than one.
            runs = []
            for _ in range(3):
                settle(args.settle)
                runs.append(run_direct(args, influx, size))
            best = min(runs, key=lambda r: r["landed_s"] or float("inf"))
            results.append(best)
            for r in runs:
                if r is not best:
                    drop(influx, r["prefix"])
        for protocol in args.protocols:
            settle(args.settle)
            results.append(run_protocol(protocol, args, influx))
        if not args.no_drain:
            for protocol in [p for p in args.protocols if p in ("mqtt", "kafka")]:
                for size in sizes:
                    results.append(run_drain(protocol, size, args, influx))
    finally:
        if not args.no_drain and "mqtt" in args.protocols:
            forget_bench_session()
        (paths.RUN / "bench-telegraf.conf").unlink(missing_ok=True)
    direct_rate = results[0]["n"] / results[0]["landed_s"] if results[0]["landed_s"] else float("nan")

    cpu_names = [k for k in ["telegraf", "influxdb", "kafka", "mosquitto", "kapacitor", "simulator"]]
    header = (f"{'run':24s} {'landed':>11s} {'sender/s':>9s} {'landed/s':>9s} {'sender 1 core/s':>15s} "
              f"{'x landed':>8s} {'sender us/msg':>13s} {'vs direct':>9s} {'cores':>6s}  CPU s: ") + " ".join(
        f"{n[:9]:>9s}" for n in cpu_names
    )
    print(header)
    for r in results:
        rate = r["n"] / r["landed_s"] if r["landed_s"] else float("nan")
        # Live runs: the hand-over while the stack ingests; drain runs: the fill, the broker alone taking it.
        sent_s = r.get("sent_s") or r.get("fill_s")
        sender = r["n"] / sent_s if sent_s else float("nan")
        cpu = " ".join(f"{r['cpu'].get(n, 0.0):9.2f}" for n in cpu_names)
        landed = f"{r['landed_n']}/{r['n']}"
        cores = sum(r["cpu"].values()) / r["landed_s"] if r["landed_s"] else float("nan")
        live = r.get("sent_s") and not r["name"].startswith("direct")
        sender_text = f"{sender:9.0f}" if sent_s and not r["name"].startswith("direct") else f"{'-':>9s}"
        # What the sender could hand over with one core of its own: its CPU per message, inverted.
        per_core = f"{r['n'] / r['cpu']['simulator']:15.0f}" if live else f"{'-':>15s}"
        # That capacity over the landed rate: 5 or more, the sender is not what limits the run.
        times = f"{r['n'] / r['cpu']['simulator'] / rate:8.1f}" if live else f"{'-':>8s}"
        per_message = f"{r['cpu']['simulator'] / r['n'] * 1e6:13.1f}" if live else f"{'-':>13s}"
        print(f"{r['name']:24s} {landed:>11s} {sender_text} {rate:9.0f} {per_core} {times} {per_message} "
              f"{rate / direct_rate:9.2f} {cores:6.2f}  CPU s: {cpu}")  # fmt: skip
    print()
    for r in results[len(sizes):]:
        cpu = {k: v for k, v in r["cpu"].items() if k != "simulator" or r.get("sent_s")}
        top = max(cpu, key=cpu.get)
        rate = r["n"] / r["landed_s"] if r["landed_s"] else float("nan")
        wall = r["landed_s"] or float("nan")
        print(f"{r['name']}: {rate:.0f} messages/s into InfluxDB, {rate / direct_rate:.2f} of direct writes; "
              f"busiest process {top} ({cpu[top]:.1f} CPU s of {wall:.1f} s, "
              f"{cpu[top] / wall:.0%} of one core)")  # fmt: skip
        if "handover_cpu" in r:
            total, handover = r["cpu"]["simulator"], r["handover_cpu"]
            times = r["n"] / total / rate
            split = ("" if handover is None else f" ({handover / r['n'] * 1e6:.1f} handing them to the sending "
                     f"processes, {(total - handover) / r['n'] * 1e6:.1f} sending)")
            print(f"  sender: {total / r['n'] * 1e6:.1f} us of CPU per message{split}; one core of it "
                  f"hands over {r['n'] / total:.0f}/s, {times:.1f}x the landed rate"
                  + ("" if times >= 5 else ": under 5x, the sender may be what limits this run"))  # fmt: skip

    if not args.keep:
        for r in results:
            drop(influx, r["prefix"])
    return {r["name"]: {"landed": (r["landed_n"], r["n"]),
                        "rate": r["n"] / r["landed_s"] if r["landed_s"] else float("nan"),
                        "sender_rate": None if r["name"].startswith("direct") else
                        r["n"] / (r.get("sent_s") or r["fill_s"]),
                        "cpu": r["cpu"]} for r in results}


if __name__ == "__main__":
    sys.exit(0 if all(landed == sent for landed, sent in (r["landed"] for r in main().values())) else 1)
