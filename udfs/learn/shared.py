"""A model store with a shared home: champions on disk here and in the model's Kafka topic.

On a shard the train UDF's store is a ``SharedModelStore``. Deploying a
champion takes the store directory's lock, checks that the champion
supersedes the one on disk (which the shard's materialiser may have just
replaced with another shard's), publishes it to the topic and waits for
Kafka's acknowledgement, and only then writes it here (``ModelStore.offer``).
So a champion is in the topic before any prediction here uses it: a shard
that dies leaves the next owner of its devices every champion it predicted
with, and versions never go backwards when a partition moves. When Kafka does
not answer, the champion is written here all the same and published again
with the next one (``topic.ModelTopic``).

Reading is the plain store's: the predict UDF and the trainer read the
directory, which the materialiser keeps in step with the topic.
"""

from __future__ import annotations

import os

from .fleet import FleetKey
from .store import ModelStore
from .topic import ModelTopic


class SharedModelStore(ModelStore):
    """A :class:`ModelStore` whose ``put`` publishes to a :class:`ModelTopic` first, and only a newer champion.

    ``put`` returns False, storing and publishing nothing, when the directory
    already holds a champion that supersedes ``doc`` (``document.supersedes``).
    """

    def __init__(self, directory: str | os.PathLike, topic: ModelTopic, **options):
        super().__init__(directory, **options)
        self.topic = topic

    def put(self, doc: dict, key: str | FleetKey | None = None) -> bool:
        return self.offer(doc, key, before_write=self.topic.publish)

    def close(self) -> None:
        self.topic.close()
