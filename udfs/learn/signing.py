"""Model records in Kafka carry an HMAC: a shard applies only champions a tickml process published.

The model topics are writable by any client of the broker, and every shard
applies what they hold (a ``fleet`` record reaches every device of every
shard). So each record is signed with a key the stack's processes share:
HMAC-SHA256 over the topic name, the record key and the value (a tombstone's
absent value too: deleting a champion needs the key as much as writing one),
carried in the record header ``SIGNATURE_HEADER``. The topic and the record
key are inside the MAC, so a signed record copied to another key or another
model's topic does not verify there.

The key is 32 random bytes, written as hex in a file readable by the
service's user only; ``KEY_FILE_VARIABLE`` names that file. The stack makes
it (``.stack/secrets/``) and hands its path to every process that has
``TICKML_MODEL_KAFKA`` set; ``topic.TopicSettings.from_environment`` reads it
once when the process starts, and refuses to start without it (fail closed:
an unsigned shared home would apply anything).

One HMAC per record, one-shot in C (``hmac.digest``): a few microseconds for
a model document, against the milliseconds its decode and write cost.
"""

from __future__ import annotations

import hmac
import os
import struct
from pathlib import Path

KEY_FILE_VARIABLE = "TICKML_MODEL_KEY_FILE"
KEY_BYTES = 32
SIGNATURE_HEADER = "tickml-hmac-sha256"

# The MAC's input names what it is for: a tag from another use of the same key can never verify here.
_CONTEXT = b"tickml model record v1\0"
_TOMBSTONE, _VALUE = b"\0", b"\1"


def new_key() -> str:
    """A fresh key, as the key file holds it (hex)."""
    return os.urandom(KEY_BYTES).hex()


def read_key(path: str | os.PathLike) -> bytes:
    """The key in file ``path``; ValueError naming the file and what is wrong with it."""
    try:
        text = Path(path).read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"model signing key file {str(path)!r} cannot be read: {exc}") from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"model signing key file {str(path)!r} must hold {KEY_BYTES} bytes as hex") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"model signing key file {str(path)!r} must hold {KEY_BYTES} bytes as hex, "
                         f"got {len(key)} bytes")
    return key


def key_from_environment(environ=os.environ) -> bytes | None:
    """The key of the file ``TICKML_MODEL_KEY_FILE`` names, or None when it names none.

    >>> key_from_environment({}) is None
    True
    """
    path = environ.get(KEY_FILE_VARIABLE, "").strip()
    return read_key(path) if path else None


class RecordSigner:
    """Signs and verifies the records of the model topics under one key.

    >>> signer = RecordSigner(bytes(32))
    >>> headers = signer.headers("tickml-models.power", b"e/pm-7", b"{}")
    >>> signer.problem("tickml-models.power", b"e/pm-7", b"{}", headers) is None
    True
    >>> signer.problem("tickml-models.power", b"fleet", b"{}", headers)
    'bad signature (another key, or the record was changed)'
    >>> signer.problem("tickml-models.power", b"e/pm-7", None, None)
    'no signature (header tickml-hmac-sha256)'
    """

    __slots__ = ("_key",)

    def __init__(self, key: bytes):
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            raise ValueError(f"a model signing key is {KEY_BYTES} bytes")
        self._key = key

    def __repr__(self) -> str:
        return "RecordSigner(<key>)"  # never the key itself, in a log or a traceback

    def signature(self, topic: str, key: bytes | None, value: bytes | None) -> bytes:
        topic_bytes, key = topic.encode(), key or b""
        # Lengths first, so no two (topic, key) pairs frame to the same bytes.
        framed = b"".join((_CONTEXT, struct.pack(">II", len(topic_bytes), len(key)), topic_bytes, key,
                           _TOMBSTONE if value is None else _VALUE, value or b""))
        return hmac.digest(self._key, framed, "sha256")

    def headers(self, topic: str, key: bytes | None, value: bytes | None) -> list[tuple[str, bytes]]:
        """The headers a record needs to be applied: its signature."""
        return [(SIGNATURE_HEADER, self.signature(topic, key, value))]

    def problem(self, topic: str, key: bytes | None, value: bytes | None, headers) -> str | None:
        """Why a record read from ``topic`` must not be applied, or None when its signature is good.

        ``headers`` as the Kafka client gives them: a list of (name, value), or None.
        """
        found = [v for name, v in headers or () if name == SIGNATURE_HEADER]
        if not found:
            return f"no signature (header {SIGNATURE_HEADER})"
        if len(found) > 1:
            return f"{len(found)} signatures (header {SIGNATURE_HEADER}); a record has one"
        if not isinstance(found[0], bytes) or not hmac.compare_digest(found[0], self.signature(topic, key, value)):
            return "bad signature (another key, or the record was changed)"
        return None
