"""Start, stop and report the services of the native stack (``tickml stack``): the single node's, or the
sharded layout's. One service's process is process.py's business."""

from __future__ import annotations

import concurrent.futures

from tickml.names import pick
from tickml.config import StackError
from tickml.stack.catalog import services
from tickml.stack.process import private_state, start_service, stop_service
from tickml.stack.service import Service
from tickml.stack.shards import ShardSet, bridge_service, prepare


def _shard_set(shards: int | None, shards_conf: str | None) -> ShardSet | None:
    """The sharded layout's settings, read once per command (None for the single node)."""
    if shards is None:
        return None
    if shards < 1:
        raise StackError(f"--shards wants at least 1, got {shards}")
    return ShardSet.load(shards_conf)


def select(names: list[str], shards: int | None = None, shard_set: ShardSet | None = None) -> list[Service]:
    if shard_set is None:
        found = pick(services(), names, "service", StackError)
        # Every other service runs under it: stopped, they stop; started, it starts none. So all of them, in order.
        return services() if "udf-supervisor" in {s.name for s in found} else found
    found = sharded_services(shards, shard_set)
    if not names:
        return found
    chosen = [s for s in found if any(s.name == n or s.name.startswith(f"{n}-") for n in names)]
    unknown = [n for n in names if not any(s.name == n or s.name.startswith(f"{n}-") for s in found)]
    if unknown:
        raise StackError(f"unknown service {', '.join(unknown)}; the sharded layout has "
                         f"{', '.join(sorted({s.name for s in found}))}")
    return chosen


def sharded_services(count: int, shard_set: ShardSet) -> list[Service]:
    """The sharded layout: the brokers and InfluxDB the shards share (with the single node's supervisord, which
    runs them), the MQTT bridge if configured, and shards 1..``count``."""
    shared = {"udf-supervisor", "kafka", "influxdb"} | ({"mosquitto"} if shard_set.bridge_mqtt else set())
    out = [s for s in services() if s.name in shared]
    if shard_set.bridge_mqtt:
        out.append(bridge_service(shard_set))
    for number in range(1, count + 1):
        out += shard_set.shard(number).services()
    return out


def start(names: list[str] | None = None, shards: int | None = None, shards_conf: str | None = None) -> None:
    """Start the single node's services (``shards`` None), or the sharded layout with that many shards."""
    private_state()
    shard_set = _shard_set(shards, shards_conf)
    chosen = select(names or [], shards, shard_set)
    if shard_set is not None:
        _refuse_double_processing(shard_set)
    groups: dict[str | None, list[Service]] = {}
    for service in chosen:
        groups.setdefault(_shard_of(service), []).append(service)
    _start_in_order(groups.pop(None, []))  # the single node's services, or what the shards share
    if not groups:
        return
    prepare(shard_set)
    # The shards share nothing but the brokers and InfluxDB started above: each starts its processes in
    # order, all of them at once (two shards up in the time of one).
    with concurrent.futures.ThreadPoolExecutor(len(groups)) as pool:
        for done in [pool.submit(_start_in_order, group) for group in groups.values()]:
            done.result()


def _shard_of(service: Service) -> str | None:
    """The shard a service of the sharded layout belongs to (``shard2`` for ``shard2-kapacitor``), or None."""
    head = service.name.split("-", 1)[0]
    return head if head.startswith("shard") and head[5:].isdigit() else None


def _start_in_order(services: list[Service]) -> None:
    for service in services:
        print(f"{service.name:28s} {start_service(service)}", flush=True)


def _refuse_double_processing(shard_set: ShardSet) -> None:
    """The single node's Kapacitor subscribes to what shards would write to InfluxDB: every point twice."""
    single = {s.name: s for s in services()}["kapacitor"]
    if single.pid() is not None and shard_set.retention_policy in ("", "autogen"):
        raise StackError(
            "the single node's Kapacitor runs and subscribes to telemetry.autogen, where shards write: it would "
            "process every shard's points again. Stop it (tickml stack stop kapacitor telegraf task-watcher), or "
            f"give the shards a retention policy of their own ([influxdb] in {shard_set.conf})")


def stop(names: list[str] | None = None, shards: int | None = None, shards_conf: str | None = None) -> None:
    """Stop services; with ``shards``, the shards (and the MQTT bridge), never the services they share."""
    chosen = select(names or [], shards, _shard_set(shards, shards_conf))
    if shards is not None:
        chosen = [s for s in chosen if s.name.startswith("shard") or s.name == "mqtt-kafka"]
    for service in reversed(chosen):
        print(f"{service.name:28s} {stop_service(service)}", flush=True)


def status(shards: int | None = None, shards_conf: str | None = None) -> bool:
    all_up = True
    chosen = select([], shards, _shard_set(shards, shards_conf))
    width = max(28, *(len(s.name) + 1 for s in chosen))
    for service in chosen:
        pid = service.pid()
        where = ", ".join(f"{h}:{p}" for h, p in service.ports) or str(service.socket_path or "")
        if pid is None:
            state, all_up = "stopped", False
        elif service.healthy():
            state = f"running (pid {pid})"
        else:
            state, all_up = f"UNHEALTHY (pid {pid})", False
        print(f"{service.name:{width}s} {state:24s} {where}")
    return all_up
