"""A shard's copy of the shared model topics, applied to its store on disk as records arrive.

One materialiser per shard (``python -m udfs.learn.materialise``, started
before the shard's Telegraf) reads every topic of the prefix
(``topic.MODEL_TOPICS``), every partition, from the start, in no consumer
group: each shard keeps every champion, not a share of them, so when a
partition of devices moves to it their champions are here already. Each
record goes into ``<root>/<model>/`` through ``ModelStore.offer``: only a
champion that supersedes the one on disk is written, so a record applied
twice, or one the train UDF here wrote first, changes nothing, and a version
never goes backwards. A tombstone (a record without a value) deletes its key.

Where it has got to is kept beside the models (``<root>/.materialised.json``,
the next offset of each partition), written after the records before it are
on disk: a restart goes on from there, a new machine's empty root reads
every topic from the start (compacted, so about one record per champion).

Caught up: once every record that was in the topics when it started is
applied (their high watermarks), it touches ``<root>/.materialised`` on every
pass; the shard's runner starts consuming device messages only then.

A record that is not a model document (not JSON, another schema, a key no
publisher writes, outside the document's bounds) is logged, counted and
skipped; the others are applied. So is a record, tombstones included,
without a good signature (``signing``): a forged ``fleet`` record would
reach every device of every shard, so the broker's ACLs (on the stack's
broker only the train UDF servers' principal writes the topics) are not the
only guard. A skipped record's offset advances like any other's,
so a bad record never holds up the ones behind it; a stream of them is
logged once per reason a minute, with the count of the rest.

A record the store cannot write (the disk full, a folder unwritable) is not
skipped: the pass stops there, the consumer goes back to it, and the next
pass tries it again, so nothing behind it is lost while the fault lasts.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from udfs.confine import is_plain_name
from udfs.ratelimit import RateLimitedLog

from .document import decode
from .paths import MODEL_ROOT
from .store import ModelStore
from .topic import MODEL_TOPICS, TopicSettings, store_key

log = logging.getLogger(__name__)
# Bad records and write failures repeat with every record of a flood: a line per reason a minute.
LOG_INTERVAL = 60.0

OFFSETS_FILE = ".materialised.json"
HEARTBEAT_FILE = ".materialised"


class Materialiser:
    """Applies every record of the model topics of ``settings.prefix`` to the stores under ``root``.

    Parameters
    ----------
    root
        The model root: model ``m``'s store is ``root/m``.
    settings
        The brokers and the topic prefix.
    max_resident
        Models each store keeps in memory; the materialiser only writes, so few.
    discover_seconds
        How often topics created since (a new model's) are looked for.
    """

    def __init__(self, root: str | os.PathLike, settings: TopicSettings, *, max_resident: int = 1000,
                 discover_seconds: float = 2.0):
        from confluent_kafka import Consumer

        self._signer = settings.signer()  # before anything is read: no key, nothing applied
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.settings = settings
        self.max_resident = max_resident
        self.discover_seconds = discover_seconds
        # A group id is required by the client, but no group is joined: partitions are assigned
        # by hand, offsets kept in the root, never committed. The stack's broker lets the materialisers'
        # principal use the groups of this prefix only (tickml/stack/kafka.py, model_topic_acls).
        self._consumer = Consumer(settings.client_config(**{
            "group.id": f"tickml-materialiser-{os.getpid()}",
            "enable.auto.commit": False, "enable.auto.offset.store": False, "auto.offset.reset": "earliest",
            "log_level": 3,
        }))
        self._stores: dict[str, ModelStore] = {}
        self._next: dict[tuple[str, int], int] = self._read_offsets()
        self._assigned: set[tuple[str, int]] = set()
        self._targets: dict[tuple[str, int], int] = {}  # high watermarks to reach before caught up
        self._discovered_at = float("-inf")
        self._limited = RateLimitedLog(log, interval=LOG_INTERVAL)
        self.caught_up = False
        self.applied = self.older = self.bad = 0

    # -- one pass --------------------------------------------------------------

    def step(self, timeout: float = 0.5) -> int:
        """Discover new topics when due, apply what arrived within ``timeout``; the records read."""
        if time.monotonic() - self._discovered_at >= self.discover_seconds:
            self.discover()
        messages = self._consumer.consume(1000, timeout) if self._assigned else []
        read = 0
        for k, message in enumerate(messages):
            if message.error() is not None:
                self._limited.warning("consumer error", str(message.error()), prefix="model topics: ")
                continue
            try:
                self._apply(message)
            except OSError as exc:
                self._retry_from(messages[k:], exc)
                break
            self._next[(message.topic(), message.partition())] = message.offset() + 1
            read += 1
        if read:
            self._write_offsets()
        if not self.caught_up and self._reached_targets():
            self.caught_up = True
            log.info("caught up with %d partition(s) of %d model topic(s): %d champions applied, %d older or "
                     "equal ones skipped, %d bad records", len(self._assigned), len({t for t, _ in self._assigned}),
                     self.applied, self.older, self.bad)
        if self.caught_up:
            (self.root / HEARTBEAT_FILE).touch()
        return read

    def discover(self) -> None:
        """Assign the partitions of model topics not read yet, from where the offsets file says."""
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition

        self._discovered_at = time.monotonic()
        metadata = self._consumer.list_topics(timeout=10)
        new = []
        for name, topic in metadata.topics.items():
            model = self.settings.model_of(name)
            if model is None or not is_plain_name(model) or topic.error is not None:
                continue
            for partition in topic.partitions:
                if (name, partition) not in self._assigned:
                    new.append(TopicPartition(name, partition, self._next.get((name, partition), OFFSET_BEGINNING)))
        if not new:
            return
        if not self.caught_up:
            for tp in new:
                _, high = self._consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=10)
                self._targets[(tp.topic, tp.partition)] = high
        self._consumer.incremental_assign(new)
        self._assigned |= {(tp.topic, tp.partition) for tp in new}
        log.info("reading %d new partition(s) of model topics: %s", len(new),
                 ", ".join(sorted({tp.topic for tp in new})))

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.step()
            except Exception as exc:  # Kafka away, say: the next pass tries again
                log.warning("pass failed: %s", exc)
                stop.wait(1.0)
        self._consumer.close()

    # -- internals -------------------------------------------------------------

    def _apply(self, message) -> None:
        model = self.settings.model_of(message.topic())
        try:
            problem = self._signer.problem(message.topic(), message.key(), message.value(), message.headers())
            if problem:
                raise ValueError(problem)
            key = store_key(message.key())
            store = self._stores.get(model)
            if store is None:
                store = self._stores[model] = ModelStore(self.root / model, max_resident=self.max_resident)
            if message.value() is None:
                store.delete(key)
                return
            doc = decode(message.value())
            if store.offer(doc, key):
                self.applied += 1
            else:
                self.older += 1
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            self.bad += 1
            # One line a minute per problem (a flood of one forged record), every different problem at once.
            self._limited.warning(f"{message.topic()}: {exc}", str(exc),
                                  title=f"skipped record {message.topic()}[{message.partition()}]@{message.offset()}")

    def _retry_from(self, unapplied: list, exc: OSError) -> None:
        """The store could not write: back to the first unapplied record of each partition, for the next pass."""
        from confluent_kafka import TopicPartition

        first: dict[tuple[str, int], int] = {}
        for message in unapplied:
            if message.error() is None:
                first.setdefault((message.topic(), message.partition()), message.offset())
        for (topic, partition), offset in first.items():
            self._consumer.seek(TopicPartition(topic, partition, offset))
        head = unapplied[0]
        self._limited.error("cannot write", f"{exc}; {head.topic()}[{head.partition()}]@{head.offset()} and "
                            f"the {len(unapplied) - 1} records read after it wait for the next pass",
                            prefix="model store: ")

    def _reached_targets(self) -> bool:
        if not self._assigned:
            return self._discovered_at > float("-inf")  # no model topic yet: nothing to catch up with
        return all(self._next.get(tp, 0) >= high for tp, high in self._targets.items())

    def _read_offsets(self) -> dict[tuple[str, int], int]:
        try:
            saved = json.loads((self.root / OFFSETS_FILE).read_text())
            return {(topic, int(p)): int(o) for topic, parts in saved.items() for p, o in parts.items()}
        except FileNotFoundError:
            return {}
        except (ValueError, AttributeError, TypeError) as exc:
            log.warning("ignoring unreadable %s (reading every model topic from the start): %s", OFFSETS_FILE, exc)
            return {}

    def _write_offsets(self) -> None:
        saved: dict[str, dict[str, int]] = {}
        for (topic, partition), offset in self._next.items():
            saved.setdefault(topic, {})[str(partition)] = offset
        path = self.root / OFFSETS_FILE
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(saved, sort_keys=True))
        os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m udfs.learn.materialise", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=None, help="the model root (default: TICKML_MODEL_ROOT, or the "
                                                     "default model root)")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if MODEL_TOPICS is None:
        print("error: TICKML_MODEL_KAFKA is not set: without a shared home there is nothing to materialise",
              file=sys.stderr)
        return 2
    root = Path(args.root) if args.root else MODEL_ROOT.resolved()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log.info("materialising model topics %s* from %s into %s", MODEL_TOPICS.prefix, MODEL_TOPICS.bootstrap, root)
    Materialiser(root, MODEL_TOPICS).run(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
