"""The queue between a connection's reader and its worker, bounded in bytes, and what travels on it.

The reader puts one list of requests per read, weighed by the bytes read;
the worker gets them in order. In a list, a data request (``begin``,
``point``, ``end``) is the bytes it came in, told apart by its first byte
(:data:`BEGIN`, :data:`POINT`, :data:`END`), and any other request is a
decoded ``udf_pb2.Request``. Two markers end the stream: :data:`EOF`
(Kapacitor closed its side, or the connection broke) and :class:`Fatal`
(the byte stream cannot be read on; the worker answers it with an
``ErrorResponse``). Separate from the reader and the worker because it is
the one thing both threads touch, and its back-pressure (the reader waits
while the queue is full, so Kapacitor's writes wait instead of this process
growing) is easiest to check on its own.

Examples
--------
>>> q = ByteQueue(max_bytes=10)
>>> q.put(["a"], 6); q.put(["b"], 4); q.put(EOF)
>>> q.bytes, q.peak
(10, 10)
>>> q.get(), q.get(), q.get() is EOF, q.empty()
(['a'], ['b'], True, True)
"""

from __future__ import annotations

import queue
import threading

__all__ = ["BEGIN", "DATA_KEYS", "DEFAULT_MAX_QUEUED_BYTES", "END", "EOF", "POINT", "ByteQueue", "Fatal"]

#: Bytes of read but unhandled requests one connection holds before it stops reading.
DEFAULT_MAX_QUEUED_BYTES = 32 * 1024 * 1024

# First byte of the key of Request.begin/point/end (fields 16, 17, 18,
# length-delimited); the second byte is 0x01 for all three.
BEGIN, POINT, END = 0x82, 0x8A, 0x92
DATA_KEYS = frozenset((BEGIN, POINT, END))


class Fatal:
    """The reader's last item when the byte stream broke: the worker sends ``message`` as an error."""

    __slots__ = ("message",)

    def __init__(self, message: str):
        self.message = message


#: The reader's last item when the input ended.
EOF = object()


class ByteQueue:
    """A FIFO bounded by the bytes it holds: ``put`` waits while it is over ``max_bytes``.

    An item is always taken when the queue is empty, so one read larger than
    the bound still passes. Sentinels (``size`` 0) never wait. One thread
    puts (the reader) and one gets (the worker): each owns one counter, the
    items travel through C's SimpleQueue, and a lock is taken only when the
    reader has to wait, so the common case costs what SimpleQueue does.
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.peak = 0
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._put_bytes = 0   # written by the reader only
        self._got_bytes = 0   # written by the worker only
        self._room = threading.Condition(threading.Lock())
        self._waiting = False

    @property
    def bytes(self) -> int:
        return self._put_bytes - self._got_bytes

    def put(self, item, size: int = 0) -> None:
        if size and self._put_bytes - self._got_bytes + size > self.max_bytes:
            with self._room:
                self._waiting = True
                while self._put_bytes != self._got_bytes and \
                        self._put_bytes - self._got_bytes + size > self.max_bytes:
                    self._room.wait()
                self._waiting = False
        self._put_bytes += size
        self.peak = max(self.peak, self._put_bytes - self._got_bytes)
        self._queue.put((item, size))

    def get(self):
        item, size = self._queue.get()
        if size:
            self._got_bytes += size
            if self._waiting:
                with self._room:
                    self._room.notify()
        return item

    def empty(self) -> bool:
        return self._queue.empty()
