"""Scaling out (issue 16): one shard's capacity, one versus two shards, and a million entities.

One script above 350 lines on purpose: it is read beside what it prints, and
the paper estimate is computed from the figures the same run measured.

1. **Capacity of one shard** (``capacity``): one shard (``tickml stack start
   --shards 1`` with settings of this run's own: device topic, consumer
   group, model topics, retention policy, ports, folder) runs every task of
   the task list; a simulated fleet of every device type, one message per
   device per second, grows step by step. At each step the end-to-end lag is
   sampled: the wall clock minus the device time of the newest power
   prediction in InfluxDB, and the consumer group's backlog in Kafka. A step
   whose backlog or lag keeps growing (least squares over the step's second
   half) is past capacity; the capacity is the last step before it. The CPU
   each process spent during each step names the limit.
2. **One versus two shards** (``shards``): the same fleet (the last step one
   shard sustained) on one shard, then with a second shard started, the CPU
   of every process of each, in one run.
3. **A million entities** (``simulation``, no stack): the model store's own
   code with 1,000,000 entity models: materialising them (what a new shard
   does with the model topic), their size on disk and in the topic, memory
   per resident model, the partitions of 1,000,000 keys over 64 partitions
   (Telegraf's and the simulator's FNV-1a hash) and 16 shards, which keys a
   shard loss moves with the range and the sticky balance strategies, and
   what the shard that takes a partition pays the first time it predicts
   for a moved device (a cold read from its store) against the next time.
4. **The paper estimate**: shards, memory, topic size and InfluxDB writes for
   a million devices, from the figures above and a direct write to InfluxDB
   measured in the same run (its ceiling).

Usage (sections 1, 2 and 4 need the stack: tickml stack start)::

    python bench/scale_out.py [--sections capacity shards simulation] [--steps 250 500 1000 ...]
        [--step-seconds 75] [--keys 1000000] [--keep]

Figures move by tens of per cent on a shared 2-core machine: the script
prints the load average before and after.

``--smoke``: the simulation with 2,000 keys, seconds (tests/unit/test_bench_scale_out_smoke.py runs it, and
tests/integration/test_bench_scale_out.py the stack figures the capacity section starts with, at small sizes).
The capacity and shards sections have no smoke size: starting a shard of its own takes a minute, and a step
must run long enough for lag and backlog to show a trend; tests/integration/test_shards.py starts shards.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SECOND = 10**9
TYPES = "thermostat,barometer,hygrometer,heart_rate_meter,temp_sensor,power_meter"


# ---------------------------------------------------------------------------
# Processes and their CPU


def cpu_seconds(pid: int) -> float | None:
    """utime + stime (and its waited-for children's) of a process; None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def label(pid: int) -> str:
    """What a shard's process is, from its command line."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except FileNotFoundError:
        return "gone"
    text = " ".join(argv)
    for needle, name in (("telegraf-results.conf", "telegraf (results)"), ("telegraf.conf", "telegraf (Kafka)"),
                         ("kapacitord", "kapacitord"), ("udfs.learn.materialise", "materialiser"),
                         ("tickml watch", "task watcher"), ("supervisord", "supervisord")):
        if needle in text:
            return name
    if "-m udfs." in text:
        return "udf " + text.split("-m udfs.", 1)[1].split()[0] + (" (process)" if "--socket" not in text else "")
    return Path(argv[0]).name


class Shards:
    """A private set of N shards for the span of a ``with`` block (settings, topics, rp, folder its own)."""

    def __init__(self, run: str, tasks: list[str] | None = None, keep: bool = False):
        from tickml.stack.shards import ShardSet

        self.run, self.keep = run, keep
        self.folder = Path(tempfile.mkdtemp(prefix=f"scale-{run}-"))
        self.conf = self.folder / "shards.toml"
        self.conf.write_text(f"""
state = ".stack/shards-bench-{run}"
port_base = {free_port_base()}
[kafka]
topic = "{run}-devices"
partitions = 8
group = "{run}"
model_topic_prefix = "{run}-models."
model_topic_partitions = 8
[influxdb]
retention_policy = "{run}"
retention_duration = "2h"
[tasks]
only = {json.dumps(tasks or [])}
[bridge]
mqtt = false
""")
        self.set = ShardSet.load(self.conf)
        self.started = 0

    def start(self, count: int) -> float:
        from tickml.stack import runner

        t0 = time.monotonic()
        with contextlib.redirect_stdout(open(os.devnull, "w")):
            runner.start(shards=count, shards_conf=str(self.conf))
        self.started = count
        wait(lambda: len(self.members()) == count and all(self.members().values()), 120, "the group to settle")
        return time.monotonic() - t0

    def members(self) -> dict[str, int]:
        from tickml.stack import kafka

        return {client: len(parts) for client, parts in kafka.group_members(self.set.kafka_group)}

    def processes(self, number: int) -> dict[int, str]:
        return {p: label(p) for p in self.set.shard(number).pids()}

    def backlog(self) -> int | None:
        """Messages of the device topic not yet committed by the shards' consumer group; None when Kafka does
        not say (the broker is shared: another user may be restarting it)."""
        from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaException, TopicPartition
        from confluent_kafka.admin import AdminClient

        from tickml.stack import kafka

        admin = AdminClient(kafka.client_config(kafka.ADMIN, log_level=0))
        consumer = Consumer(kafka.client_config(kafka.ADMIN, **{"group.id": "unused", "log_level": 0}))
        try:
            (future,) = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(self.set.kafka_group)]).values()
            committed = {tp.partition: tp.offset for tp in future.result().topic_partitions}
            ends = {p: consumer.get_watermark_offsets(TopicPartition(self.set.kafka_topic, p), timeout=10)[1]
                    for p in range(self.set.kafka_partitions)}
        except KafkaException:
            return None
        finally:
            consumer.close()
        return sum(max(0, end - max(committed.get(p, 0), 0)) for p, end in ends.items())

    def __enter__(self) -> "Shards":
        return self

    def __exit__(self, *exc) -> None:
        from tickml.influx import Influx
        from tickml.stack import kafka, runner

        if self.keep:
            print(f"kept: shards of {self.conf}")
            return
        # Each step on its own: the broker or InfluxDB may be away (restarted by another user of the stack),
        # which must neither keep the rest from being cleaned nor hide why the run stopped.
        steps = [
            lambda: runner.stop(shards=max(self.started, 1), shards_conf=str(self.conf)),
            lambda: kafka.delete_topics([t for t in kafka.kafka_metadata(*kafka.kafka_address())["topics"]
                                         if t.startswith(self.run)]),
            lambda: kafka.delete_acls(self.set.kafka_acls()),
            lambda: Influx().execute(f'DROP RETENTION POLICY "{self.run}" ON "telemetry"'),
        ]
        for step in steps:
            try:
                with contextlib.redirect_stdout(open(os.devnull, "w")):
                    step()
            except Exception as error:
                print(f"cleaning up {self.run}: {error} (remove it by hand)", file=sys.stderr)
        shutil.rmtree(self.set.state, ignore_errors=True)
        shutil.rmtree(self.folder, ignore_errors=True)


def free_port_base() -> int:
    from tickml.stack import probes

    for base in range(19600, 20000, 50):
        if not any(probes.port_in_use("127.0.0.1", base + n) for n in (10, 11, 20, 21)):
            return base
    raise RuntimeError("no free ports for two shards between 19600 and 20000")


def wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def fleet(shards: Shards, devices: int, prefix: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "devices.simulator", "--protocol", "kafka", "--kafka-topic", shards.set.kafka_topic,
         "--types", TYPES, "--devices", str(devices), "--interval", "1", "--duration", "3600", "--prefix", prefix,
         "-q"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def growth(samples: list[tuple[float, float]]) -> float:
    """How fast a sampled value grows, per second: the mean of the second half of the samples against the
    first's. Means over halves, not a fitted line: the newest prediction in InfluxDB advances in steps of
    influxDBOut's 10 s flush, which a line through a few samples would take for growth."""
    if len(samples) < 4:
        return 0.0
    first, second = samples[: len(samples) // 2], samples[len(samples) // 2:]
    (t1, v1), (t2, v2) = np.mean(first, axis=0), np.mean(second, axis=0)
    return float((v2 - v1) / (t2 - t1))


def measure(shards: Shards, prefix: str, seconds: float, devices: int) -> dict:
    """Sample lag and backlog for ``seconds``; CPU of every process of every started shard and the shared ones."""
    from tickml.influx import Influx
    from tickml.stack import services

    influx = Influx()
    shared = {s.name: s.pid() for s in services() if s.name in ("kafka", "influxdb")}
    procs = {(n, pid): name for n in range(1, shards.started + 1) for pid, name in shards.processes(n).items()}
    procs |= {(0, pid): f"{name} (shared with every user of the stack)" for name, pid in shared.items() if pid}
    seen: dict[tuple[int, str], int] = {}
    for key in sorted(procs):  # two processes of one name (a process UDF per task): numbered
        seen[(key[0], procs[key])] = seen.get((key[0], procs[key]), 0) + 1
        if seen[(key[0], procs[key])] > 1:
            procs[key] += f" #{seen[(key[0], procs[key])]}"
    before = {key: cpu_seconds(key[1]) for key in procs}
    t0, wall0 = time.monotonic(), time.time_ns()
    lags, backlogs = [], []
    while time.monotonic() - t0 < seconds:
        time.sleep(5)
        rows = influx.query(f'SELECT last(Hyperprediction) FROM "telemetry"."{shards.run}"."predictions" '
                            f"WHERE model = 'power' AND device_id =~ /^{prefix}/ AND time > now() - 10m")
        if rows:
            lags.append((time.monotonic() - t0, time.time() - rows[0]["time"] / 1e9))
        backlog = shards.backlog()
        if backlog is not None:
            backlogs.append((time.monotonic() - t0, backlog))
    elapsed = time.monotonic() - t0
    after = {key: cpu_seconds(key[1]) for key in procs}
    # A process that died during the step (the shared broker restarted by another user of the stack, say)
    # spoils it: the step says so, and the caller measures it again.
    gone = sorted({procs[key] for key in procs if before[key] is None or after[key] is None})
    cpu = {key: (after[key] - before[key]) / elapsed for key in procs if key not in gone and after[key] is not None
           and before[key] is not None}
    # Points written for the step's device times, once the slowest results for them have landed.
    counted = (wall0 + 10 * SECOND, time.time_ns() - 10 * SECOND)
    time.sleep(25)
    return {
        "devices": devices, "seconds": elapsed, "lag": lags[-1][1] if lags else float("nan"), "gone": gone,
        "lag_slope": growth(lags), "backlog": int(backlogs[-1][1]) if backlogs else -1,
        "backlog_slope": growth(backlogs),
        "cpu": {f"{'shard ' + str(n) if n else 'shared'}: {procs[(n, pid)]}": c for (n, pid), c in cpu.items()},
        "rss": {f"{'shard ' + str(n) if n else 'shared'}: {procs[(n, pid)]}": rss_mb(pid) for (n, pid) in procs},
        "points_per_s": count_points(influx, shards, prefix, *counted) / ((counted[1] - counted[0]) / SECOND),
    }


def count_points(influx, shards: Shards, prefix: str, since_ns: int, until_ns: int) -> int:
    """Points the shards wrote to InfluxDB, raw and results, for devices of ``prefix`` and device times in
    [since, until)."""
    total = 0
    for row in influx.query('SHOW MEASUREMENTS ON "telemetry"'):
        rows = influx.query(f'SELECT count(*) FROM "telemetry"."{shards.run}"."{row["name"]}" WHERE device_id =~ '
                            f"/^{prefix}/ AND time >= {since_ns} AND time < {until_ns}")
        if rows:
            total += max(v or 0 for k, v in rows[0].items() if k.startswith("count_"))
    return total


def measured(shards: Shards, prefix: str, seconds: float, devices: int, tries: int = 3) -> dict:
    """``measure``, again when a process died during it (at most ``tries`` times)."""
    for attempt in range(tries):
        step = measure(shards, prefix, seconds, devices)
        if not step["gone"]:
            return step
        print(f"  ({devices} devices: {', '.join(step['gone'])} restarted during the step; measured again)", flush=True)
    return step


def saturated(step: dict) -> bool:
    """Lag or backlog growing: more than 0.2 s of lag, or 5 % of the offered messages, per second."""
    return step["lag_slope"] > 0.2 or step["backlog_slope"] > 0.05 * step["devices"]


def cpu_table(steps: list[dict], title: str) -> None:
    names = sorted({name for s in steps for name in s["cpu"]}, key=lambda n: -max(s["cpu"].get(n, 0) for s in steps))
    print(f"\n{title}: CPU of each process, in cores (1.00 = one core busy all the time)")
    print("| process | " + " | ".join(s.get("title", f"{s['devices']} devices") for s in steps) + " |")
    print("|---|" + "---:|" * len(steps))
    for name in names:
        if max(s["cpu"].get(name, 0) for s in steps) >= 0.005:
            print(f"| {name} | " + " | ".join(f"{s['cpu'].get(name, 0):.2f}" for s in steps) + " |")
    print("| **all** | " + " | ".join(f"{sum(s['cpu'].values()):.2f}" for s in steps) + " |")


# ---------------------------------------------------------------------------
# 1 and 2: capacity, one versus two shards


def run_capacity(args, out: dict) -> None:
    run = f"so{uuid.uuid4().hex[:6]}"
    with Shards(run, keep=args.keep) as shards:
        print(f"one shard with every task of the task list: up and consuming in {shards.start(1):.0f} s")
        time.sleep(30)  # the process UDFs (random forests) train at start
        steps, prefix, proc = [], f"{run}-", None
        try:
            for devices in (args.steps if "capacity" in args.sections else [args.load or args.steps[0]]):
                if proc is not None:
                    proc.terminate()
                    proc.wait(30)
                proc = fleet(shards, devices, prefix)
                step = measured(shards, prefix, args.step_seconds, devices)
                steps.append(step)
                top = max(step["cpu"], key=step["cpu"].get)
                print(f"  {devices:6d} devices: lag {step['lag']:5.1f} s ({step['lag_slope']:+.2f} s/s), backlog "
                      f"{step['backlog']:7d} ({step['backlog_slope']:+.0f}/s), {sum(step['cpu'].values()):.2f} cores, "
                      f"busiest {top} {step['cpu'][top]:.2f}", flush=True)
                if saturated(step):
                    break
            sustained = [s for s in steps if not saturated(s)] or ([steps[0]] if args.load else [])
            out["capacity"] = sustained[-1]["devices"] if sustained else 0
            out["capacity_step"] = sustained[-1] if sustained else steps[0]
            out["limit_step"] = steps[-1] if saturated(steps[-1]) else None
            print("\n| devices (1 msg/s each) | end-to-end lag s | lag growth s/s | Kafka backlog | backlog growth msg/s "
                  "| cores used | points/s into InfluxDB | sustained |")
            print("|---:|---:|---:|---:|---:|---:|---:|---|")
            for s in steps:
                print(f"| {s['devices']} | {s['lag']:.1f} | {s['lag_slope']:+.2f} | {s['backlog']} | "
                      f"{s['backlog_slope']:+.0f} | {sum(s['cpu'].values()):.2f} | {s['points_per_s']:.0f} | "
                      f"{'no' if saturated(s) else 'yes'} |")
            cpu_table(steps, "Capacity ramp, one shard")
            if "shards" in args.sections:
                load = out["capacity"] or args.steps[0]
                proc.terminate()
                proc.wait(30)
                proc = fleet(shards, load, prefix)
                wait(lambda: (shards.backlog() or 0) < 5 * load, 600, "the saturated step's backlog to drain")
                if saturated(steps[-1]):  # what Kapacitor still holds of it drains for a step more
                    measure(shards, prefix, args.step_seconds, load)
                time.sleep(20)
                one = measured(shards, prefix, args.step_seconds, load) | {"title": f"1 shard, {load} devices"}
                print(f"\nstarting a second shard: up and sharing in {shards.start(2):.0f} s")
                time.sleep(20)
                two = measured(shards, prefix, args.step_seconds, load) | {"title": f"2 shards, {load} devices"}
                out["one_two"] = (one, two)
                print("\n| layout | end-to-end lag s | lag growth s/s | backlog | cores used |")
                print("|---|---:|---:|---:|---:|")
                for s in (one, two):
                    print(f"| {s['title']} | {s['lag']:.1f} | {s['lag_slope']:+.2f} | {s['backlog']} | "
                          f"{sum(s['cpu'].values()):.2f} |")
                cpu_table([one, two], "One versus two shards")
                print("\nresident memory (MB) with two shards:")
                for name, mb in sorted(two["rss"].items()):
                    print(f"  {name:40s} {mb:7.1f}")
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(30)


def direct_write_rate(run: str, points: int = 100_000) -> float:
    """InfluxDB's own ceiling here: line protocol in batches of 5,000, one request at a time, best of 3."""
    from tickml.influx import Influx

    influx = Influx()
    influx.execute(f'CREATE RETENTION POLICY "{run}" ON "telemetry" DURATION 1h REPLICATION 1')
    try:
        base = time.time_ns() - 1200 * SECOND
        best = 0.0
        for attempt in range(3):
            lines = [f"bench_direct,device_id={run}-{i % 1000} value={i}.5 {base + attempt * 300 * SECOND + i * 1000}"
                     for i in range(points)]
            t0 = time.monotonic()
            for i in range(0, len(lines), 5000):
                influx._request("/write", {"db": "telemetry", "rp": run, "precision": "ns"},
                                data="\n".join(lines[i:i + 5000]).encode())
            best = max(best, len(lines) / (time.monotonic() - t0))
        return best
    finally:
        influx.execute(f'DROP RETENTION POLICY "{run}" ON "telemetry"')


def publish_latency(samples: int = 300) -> tuple[float, float]:
    """Median and 90th percentile of one champion published and acknowledged (the train UDF's wait), ms."""
    from tickml.stack import kafka
    from udfs.learn.topic import ModelTopic, TopicSettings, ensure_topic

    settings = TopicSettings(kafka.kafka_bootstrap(), f"so{uuid.uuid4().hex[:6]}-models.", 8, os.urandom(32),
                             tls=kafka.tls_files(kafka.ADMIN))
    ensure_topic(settings, "power")
    try:
        topic, blob, times = ModelTopic(settings, "power"), model_blob(), []
        for i in range(samples):
            t0 = time.perf_counter()
            topic.publish(f"dev-{i}", blob)
            times.append((time.perf_counter() - t0) * 1e3)
        return float(np.median(times)), float(np.percentile(times, 90))
    finally:
        kafka.delete_topics([settings.topic("power")])


def partitioner_agrees(keys: list[str], partitions: int = 64) -> tuple[int, int]:
    """How many keys librdkafka's fnv1a partitioner (the simulator's) puts where ``fnv1a_partition`` says."""
    from confluent_kafka import Producer

    from tickml.stack import kafka

    topic = f"so{uuid.uuid4().hex[:6]}-partitions"
    kafka.create_topics([(topic, partitions, {})])
    try:
        placed: dict[str, int] = {}
        producer = Producer(kafka.client_config(kafka.ADMIN, partitioner="fnv1a"))
        for key in keys:
            producer.produce(topic, b"", key.encode(),
                             on_delivery=lambda err, msg: placed.__setitem__(msg.key().decode(), msg.partition()))
        producer.flush(30)
        return sum(placed.get(k) == fnv1a_partition(k, partitions) for k in keys), len(keys)
    finally:
        kafka.delete_topics([topic])


# ---------------------------------------------------------------------------
# 3: a million entities in the store's own code


def fnv1a_partition(key: str, partitions: int) -> int:
    """The partition Telegraf's Kafka output (Sarama's hash) and librdkafka's ``fnv1a`` give a key.

    >>> [fnv1a_partition(k, 8) for k in ("a", "power_meter-1")]  # as librdkafka placed them (the stack section checks more)
    [4, 6]
    """
    h = 0x811C9DC5
    for byte in key.encode():
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    signed = h - (1 << 32) if h >= 1 << 31 else h
    return abs(signed) % partitions


def range_assignment(members: list[int], partitions: int) -> dict[int, int]:
    """Partition -> member as Sarama's range strategy deals them (members in their sorted order)."""
    step = partitions / len(members)
    out = {}
    for i, member in enumerate(members):
        for p in range(int(np.floor(i * step + 0.5)), int(np.floor((i + 1) * step + 0.5))):
            out[p] = member
    return out


def sticky_after_loss(before: dict[int, int], lost: int) -> dict[int, int]:
    """Sticky: the survivors keep theirs, the lost member's go one by one to the least loaded."""
    after = {p: m for p, m in before.items() if m != lost}
    load = {m: sum(1 for x in after.values() if x == m) for m in set(after.values())}
    for p in sorted(p for p, m in before.items() if m == lost):
        member = min(load, key=lambda m: (load[m], m))
        after[p] = member
        load[member] += 1
    return after


def model_doc(key: str = "pm-0", version: int = 1) -> dict:
    """A real power model document: the shipped power_train's linear model, trained on a window."""
    from udfs.learn import ModelStore, TrainConfig, Trainer

    rng = np.random.default_rng(0)
    voltage, current = rng.normal(230, 4, 60), rng.normal(5, 1.2, 60)
    trainer = Trainer(TrainConfig(["voltage", "current"], "power", algorithm="linear"), ModelStore(),
                      fleet_retrain_every=0)
    outcome = trainer.train_window(key, {"voltage": voltage, "current": current,
                                         "power": voltage * current * 0.95 + rng.normal(0, 1, 60)},
                                   times=np.arange(60) * SECOND)
    return dict(outcome.challenger, version=version)


def model_blob() -> bytes:
    from udfs.learn.document import encode

    return encode(model_doc())


def run_simulation(args, out: dict) -> None:
    from udfs.learn import ModelStore
    from udfs.learn.document import decode, encode

    n, partitions, shards_n = args.keys, 64, 16
    template = model_doc()
    folder = Path(tempfile.mkdtemp(prefix="scale-store-", dir=args.store_dir))
    try:
        keys = [f"device-{i:07d}" for i in range(n)]
        # What the model topic holds: one compacted record per key, key b"e/<entity>" and the document.
        records = ((f"e/{k}".encode(), encode(dict(template, key=k))) for k in keys)
        store = ModelStore(folder / "power", max_resident=100_000)
        t0 = time.monotonic()
        topic_bytes = 0
        for i, (record_key, value) in enumerate(records):
            topic_bytes += len(record_key) + len(value)
            store.offer(decode(value), keys[i])  # the materialiser's path: decode, then offer under the lock
            if (i + 1) % 250_000 == 0:
                print(f"  materialised {i + 1:,} models in {time.monotonic() - t0:.0f} s", flush=True)
        materialise_s = time.monotonic() - t0
        disk = sum(e.stat().st_blocks * 512 for e in os.scandir(folder / "power"))
        # Memory per resident model: a fresh store (the predict process) holding 100,000.
        sample = keys[:: max(1, n // 100_000)][:100_000]
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        reader = ModelStore(folder / "power", max_resident=len(sample), refresh_seconds=3600)
        before_kb = current_rss_kb()
        for k in sample:
            reader.model(k)
        per_model = (current_rss_kb() - before_kb) * 1024 / len(sample)
        del rss0

        # Partitions and owners: 16 shards, shard 7 lost, range against sticky.
        part = np.fromiter((fnv1a_partition(k, partitions) for k in keys), dtype=np.int16, count=n)
        keys_per_partition = np.bincount(part, minlength=partitions)
        members = list(range(shards_n))
        before = range_assignment(members, partitions)
        lost = 7
        after_range = range_assignment([m for m in members if m != lost], partitions)
        after_sticky = sticky_after_loss(before, lost)
        moved_range = [p for p in range(partitions) if before[p] != after_range[p]]
        moved_sticky = [p for p in range(partitions) if before[p] != after_sticky[p]]
        keys_range = int(keys_per_partition[moved_range].sum())
        keys_sticky = int(keys_per_partition[moved_sticky].sum())
        gainers = {after_sticky[p] for p in moved_sticky}
        busiest = max(gainers, key=lambda m: sum(keys_per_partition[p] for p in moved_sticky if after_sticky[p] == m))
        moved_keys = [k for k, p in zip(keys, part) if before[p] == lost and after_sticky[p] == busiest]
        # The shard that takes them predicts for each at once: a cold read from its store, then from memory.
        predictor_store = ModelStore(folder / "power", max_resident=100_000, refresh_seconds=3600)
        row = [230.0, 5.0]
        t0 = time.perf_counter()
        for k in moved_keys:
            predictor_store.model(k).predict_row(row)
        cold = (time.perf_counter() - t0) / len(moved_keys)
        t0 = time.perf_counter()
        for k in moved_keys:
            predictor_store.model(k).predict_row(row)
        warm = (time.perf_counter() - t0) / len(moved_keys)
        out["simulation"] = {
            "keys": n, "materialise_s": materialise_s, "doc_bytes": len(encode(template)), "topic_bytes": topic_bytes,
            "disk": disk, "per_model": per_model, "keys_range": keys_range, "keys_sticky": keys_sticky,
            "partitions_range": len(moved_range), "partitions_sticky": len(moved_sticky), "cold": cold, "warm": warm,
            "moved_to_busiest": len(moved_keys), "per_partition": (int(keys_per_partition.min()),
                                                                    int(keys_per_partition.max())),
        }
        s = out["simulation"]
        print(f"\n| {n:,} power models, one shard's store (udfs.learn.store) | figure |")
        print("|---|---:|")
        print(f"| materialise the topic (decode + offer each record) | {materialise_s:.0f} s, "
              f"{n / materialise_s:,.0f} records/s |")
        print(f"| one document (JSON) / the compacted topic | {s['doc_bytes']} B / {topic_bytes / 2**20:,.0f} MiB |")
        print(f"| on disk (a file per model, whole blocks) | {disk / 2**30:.2f} GiB |")
        print(f"| memory per resident model ({len(sample):,} held) | {per_model / 1024:.2f} KiB |")
        print(f"| keys per partition (64 partitions, FNV-1a) | {s['per_partition'][0]:,} to {s['per_partition'][1]:,} |")
        print("\n| shard 7 of 16 lost | partitions moved | keys moved | of all keys |")
        print("|---|---:|---:|---:|")
        print(f"| range (Telegraf's default) | {len(moved_range)} | {keys_range:,} | {keys_range / n:.0%} |")
        print(f"| sticky (the shards' setting) | {len(moved_sticky)} | {keys_sticky:,} | {keys_sticky / n:.0%} |")
        print(f"\nfirst prediction on the shard that took the most moved keys ({len(moved_keys):,}): "
              f"{cold * 1e6:.0f} µs each from its store on disk, then {warm * 1e6:.1f} µs from memory "
              f"(all of them: {cold * len(moved_keys):.1f} s)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def current_rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# ---------------------------------------------------------------------------
# 4: the paper estimate


def paper(out: dict) -> None:
    sim, capacity = out.get("simulation"), out.get("capacity")
    if not sim or not capacity:
        print("\n(the paper estimate needs both the capacity and the simulation sections)")
        return
    step = out["capacity_step"]
    devices = 1_000_000
    shards_needed = int(np.ceil(devices / capacity))
    points_per_device = step["points_per_s"] / step["devices"]
    write_rate = points_per_device * devices
    cores_per_shard = sum(step["cpu"].values()) - sum(v for k, v in step["cpu"].items() if k.startswith("shared"))
    per_thousand = cores_per_shard / step["devices"] * 1000
    models = 2  # power and failure_prob per power meter
    print("\n| a million devices at one message per second | from | figure |")
    print("|---|---|---:|")
    print(f"| shards of this machine's capacity | one shard sustained {capacity:,} devices here | {shards_needed:,} |")
    print(f"| CPU of a shard's processes | {cores_per_shard:.2f} cores at {step['devices']:,} devices | "
          f"{per_thousand:.2f} cores per 1,000 devices |")
    print(f"| cores for the shards' processes | {per_thousand:.2f} per 1,000 devices | "
          f"{per_thousand * devices / 1000:,.0f} |")
    print(f"| partitions of the device topic | at least one per shard | {shards_needed:,} or more |")
    print(f"| models per shard's store (every shard holds all) | {models} per power meter | "
          f"{devices * models:,} |")
    print(f"| disk per shard for them | the simulation, {sim['disk'] / sim['keys']:.0f} B per model | "
          f"{sim['disk'] / sim['keys'] * devices * models / 2**30:,.1f} GiB |")
    resident = min(100_000, devices // shards_needed * models)
    print(f"| memory per shard for the resident models | its own devices' models ({resident:,}), "
          f"{sim['per_model'] / 1024:.2f} KiB each | {resident * sim['per_model'] / 2**20:,.0f} MiB |")
    print(f"| model topics (compacted) | {sim['doc_bytes']} B per document | "
          f"{sim['topic_bytes'] / sim['keys'] * devices * models / 2**30:,.1f} GiB |")
    print(f"| a new shard materialising them | {sim['keys'] / sim['materialise_s']:,.0f} records/s | "
          f"{devices * models / (sim['keys'] / sim['materialise_s']) / 60:,.0f} min |")
    print(f"| InfluxDB writes | {points_per_device:.1f} points per device and second (raw and results) | "
          f"{write_rate:,.0f} points/s |")
    if out.get("influx_ceiling"):
        print(f"| InfluxDB's ceiling here | direct line protocol, batches of 5,000 | "
              f"{out['influx_ceiling']:,.0f} points/s ({write_rate / out['influx_ceiling']:.0f}x short) |")
    if out.get("publish"):
        median, p90 = out["publish"]
        print(f"| a champion published and acknowledged | the train UDF waits for Kafka | "
              f"{median:.1f} ms (90 %: {p90:.1f} ms) |")


def main(argv: list[str] | None = None) -> dict:
    """Run; the figures printed, by section (``simulation``, ``capacity``, ``one_two``, ``influx_ceiling``, ...)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", nargs="+", default=["capacity", "shards", "simulation"],
                        choices=["capacity", "shards", "simulation"])
    parser.add_argument("--steps", nargs="+", type=int, default=[250, 500, 1000, 1500, 2000, 3000, 4000, 6000],
                        help="fleet sizes of the capacity ramp (%(default)s)")
    parser.add_argument("--step-seconds", type=float, default=75.0, help="seconds per step (%(default)s)")
    parser.add_argument("--keys", type=int, default=1_000_000, help="entity models in the simulation (%(default)s)")
    parser.add_argument("--store-dir", default=None, help="where the simulation's store goes (default: /tmp)")
    parser.add_argument("--load", type=int, default=None,
                        help="devices for one versus two shards without the capacity ramp (with --sections shards)")
    parser.add_argument("--keep", action="store_true", help="leave the shards running (and their data)")
    parser.add_argument("--smoke", action="store_true", help="the simulation with 2,000 keys: that it runs, "
                        "not a figure")
    args = parser.parse_args(argv)
    if args.smoke:
        args.sections, args.keys = ["simulation"], 2_000
    print(f"load average before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} "
          f"on {os.cpu_count()} cores")
    out: dict = {}
    if "capacity" in args.sections or "shards" in args.sections:
        out["influx_ceiling"] = direct_write_rate(f"so{uuid.uuid4().hex[:6]}")
        out["publish"] = publish_latency()
        agree, total = partitioner_agrees([f"device-{i:07d}" for i in range(1000)])
        print(f"InfluxDB direct writes: {out['influx_ceiling']:,.0f} points/s; a champion published: "
              f"{out['publish'][0]:.1f} ms median; partitions as fnv1a_partition says: {agree}/{total}")
        run_capacity(args, out)
    if "simulation" in args.sections:
        run_simulation(args, out)
    paper(out)
    print(f"\nload average after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    return out


if __name__ == "__main__":
    main()
