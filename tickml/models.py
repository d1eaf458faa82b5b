"""A model's whole life on the command line (``tickml models``): list, show, history, pin, rollback, delete,
export and import the per-device champions of the model stores.

    tickml models list [--model M] [--device D]    every champion: version, algorithm, score, pinned
    tickml models show M D                         the champion's document (JSON)
    tickml models history M D                      every version deployed, every challenger kept out, and why
    tickml models pin M D | unpin M D              a pinned champion stays whatever a challenger scores
    tickml models rollback M D [--version N]       an earlier version (default: the one before) is champion again
    tickml models delete M D                       the champion and its history; the next window trains anew
    tickml models export M FILE.tar.gz             every champion of model M, signed
    tickml models import FILE.tar.gz               checked whole (every signature, every document) before any write

``M`` is a model's name as tasks give it (``@train().model()``, default the
target): the folder ``<model root>/<M>/`` (``udfs.learn.paths``). The model
root is ``--root``, else ``TICKML_MODEL_ROOT``, else the stack's
``.stack/data/models``, where the UDF servers keep them. ``D`` is the entity
key, the device's id for tasks grouped by ``device_id``.

A running stack sees a change at the next point: the predict UDF re-reads a
champion whose file changed (``ModelStore``'s ``refresh``, 1 s by default),
the train UDF judges the next window against it. A restored version (rollback,
import) takes the next version number, so versions only go up.

Every action (pin, unpin, rollback, delete, import) is also a point in
InfluxDB, measurement ``model_actions`` (tags ``model`` and ``device_id``,
fields ``action`` and ``version``), unless ``--no-record``; when InfluxDB does
not answer, the action is done all the same and a warning says it was not
recorded.

Exports are signed like the model topics' records (``udfs.learn.signing``,
the key of ``TICKML_MODEL_KEY_FILE``, else the stack's
``.stack/secrets/model-signing-key.hex``): an HMAC per document over the
model's name, the entity and the document. An import refuses the whole file,
naming the document, when one does not load or its signature fails.

On shards, ``rollback --publish`` and ``import --publish`` also send what
they made champion to the model's shared topic (``udfs.learn.topic``), signed,
where every shard's materialiser applies it: its version is the highest, so
it supersedes the copy every shard holds, whichever shard trains the device.
The topic settings are the train UDF's (``TICKML_MODEL_KAFKA`` and the rest),
else the stack's shards' (``stack/shards.toml``).
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
from pathlib import Path

from udfs.confine import is_plain_name, NAME_RULE
from udfs.learn.document import MAX_DOCUMENT_BYTES, decode, encode
from udfs.learn.fleet import FLEET_KEY, FLEET_NAME
from udfs.learn.paths import MODEL_ROOT_VARIABLE
from udfs.learn.signing import RecordSigner, key_from_environment, read_key
from udfs.learn.store import ModelStore

MEASUREMENT = "model_actions"
EXPORT_KIND = "tickml.models.export"
EXPORT_SCHEMA = 1
MANIFEST = "manifest.json"
MAX_EXPORT_DOCUMENTS = 1_000_000
_BATCH = 5_000  # points per InfluxDB write


class ModelsError(Exception):
    """What a models command cannot do, said in a sentence the CLI prints."""


def publish(settings, model: str, champions: list[tuple[str | None, dict]], timeout: float = 10.0) -> int:
    """Send ``(device, document)`` champions (device None: the fleet model) to model ``model``'s shared topic,
    each acknowledged by Kafka; ModelsError when one is not (nothing is taken back: the ones before it are out)."""
    from udfs.learn.topic import ModelTopic, ensure_topic

    ensure_topic(settings, model)
    topic = ModelTopic(settings, model, timeout=timeout)
    try:
        for device, doc in champions:
            if not topic.publish(FLEET_KEY if device is None else device, encode(doc)):
                raise ModelsError(f"Kafka did not acknowledge {model!r} {device or 'fleet'} version {doc['version']} "
                                  f"on {topic.topic} within {timeout:.0f} s; the local store has it, publish again")
    finally:
        topic.close()
    return len(champions)


# -- where ---------------------------------------------------------------------


def model_root(given: str | None = None) -> Path:
    """``given``, else ``TICKML_MODEL_ROOT``, else the stack's model root (where its UDF servers keep models)."""
    if given:
        return Path(given)
    if os.environ.get(MODEL_ROOT_VARIABLE):
        return Path(os.environ[MODEL_ROOT_VARIABLE])
    from tickml.paths import DATA

    return DATA / "models"


def model_names(root: Path) -> list[str]:
    """The models under ``root``: its folders with plain names (the hidden ones are not models)."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and not p.is_symlink())


def open_store(root: Path, model: str, create: bool = False) -> ModelStore:
    """Model ``model``'s store under ``root``; ModelsError naming the models there when it has none."""
    if not is_plain_name(model) or model.startswith("."):
        raise ModelsError(f"model name {model!r} must be {NAME_RULE}, not hidden")
    folder = root / model
    if not create and not folder.is_dir():
        raise ModelsError(f"no model {model!r} in {root}; its models: {', '.join(model_names(root)) or 'none'}")
    return ModelStore(folder)


def _champion(store: ModelStore, model: str, device: str) -> dict:
    doc = store.document(device)
    if doc is None:
        raise ModelsError(f"model {model!r} has no champion for device {device!r}")
    return doc


# -- reading ---------------------------------------------------------------------


def listing(root: Path, model: str | None = None, device: str | None = None) -> list[dict]:
    """One row per champion (of ``model`` and ``device`` when given): model, device, version, algorithm,
    metric, value, created, pinned."""
    rows = []
    for name in [model] if model else model_names(root):
        store = open_store(root, name)
        for key in [device] if device else store.keys():
            doc = store.document(key)
            if doc is None:
                continue
            metric = doc.get("primary_metric") or ("accuracy" if doc["task"] == "classification" else "mape")
            rows.append({"model": name, "device": key, "version": doc["version"], "algorithm": doc["algorithm"],
                         "metric": metric, "value": doc["metric"].get(metric), "created": doc["created"],
                         "pinned": store.pinned(key)})
    return rows


def show(root: Path, model: str, device: str) -> dict:
    """The champion's document."""
    return _champion(open_store(root, model), model, device)


def history(root: Path, model: str, device: str) -> dict:
    """The device's history: ``pinned``, ``keep`` (its bound) and ``records``, oldest first."""
    store = open_store(root, model)
    found = store.history(device).read()
    if not found["records"] and store.document(device) is None:
        raise ModelsError(f"model {model!r} has no champion and no history for device {device!r}")
    return found


# -- actions -----------------------------------------------------------------------


def pin(root: Path, model: str, device: str, pinned: bool = True) -> dict:
    """Pin (or unpin) the champion; the history's record."""
    try:
        return open_store(root, model).pin(device, pinned)
    except KeyError:
        raise ModelsError(f"model {model!r} has no champion for device {device!r} to "
                          f"{'pin' if pinned else 'unpin'}") from None


def rollback(root: Path, model: str, device: str, version: int | None = None) -> tuple[int, dict]:
    """An earlier version (default: the one deployed before the champion) becomes champion: the version
    restored and the champion's document (under the next version number)."""
    store = open_store(root, model)
    try:
        doc = store.restore(device, version)
        return store.records(device)[-1]["from"], doc
    except KeyError:
        raise ModelsError(f"model {model!r} has no champion for device {device!r} to roll back") from None
    except ValueError as exc:
        raise ModelsError(str(exc)) from None


def delete(root: Path, model: str, device: str) -> int:
    """Delete the champion and its history; the version deleted."""
    store = open_store(root, model)
    version = _champion(store, model, device)["version"]
    store.forget(device)
    return version


# -- export and import ------------------------------------------------------------------


def signing_key() -> bytes:
    """The key exports are signed with: ``TICKML_MODEL_KEY_FILE``'s, else the stack's."""
    try:
        key = key_from_environment()
        if key is not None:
            return key
        from tickml import secrets

        return read_key(secrets.model_key_file())
    except Exception as exc:  # a SecretsError or ValueError naming the file
        raise ModelsError(f"exports are signed, and there is no model signing key: {exc}") from None


def _signature(signer: RecordSigner, model: str, key: str | None, blob: bytes) -> str:
    # "export/<model>" can never be a Kafka topic's name ('/'), so an export's signature is no record's.
    return signer.signature(f"export/{model}", b"fleet" if key is None else b"e/" + key.encode(), blob).hex()


def export(root: Path, model: str, path: Path, key: bytes) -> int:
    """Write every champion of ``model`` (the fleet model's too) to ``path``, a gzipped tarball of JSON
    documents and a manifest of their signatures; how many."""
    store = open_store(root, model)
    signer = RecordSigner(key)
    entries, blobs = [], []
    for entity in [*store.keys(), FLEET_KEY]:
        doc = store.document(entity)
        if doc is None:
            continue
        blob = encode(doc)
        name = f"documents/{len(blobs):06d}.json"
        entity_key = None if entity is FLEET_KEY else entity
        entries.append({"file": name, "key": entity_key, "signature": _signature(signer, model, entity_key, blob)})
        blobs.append(blob)
    manifest = json.dumps({"kind": EXPORT_KIND, "schema": EXPORT_SCHEMA, "model": model, "documents": entries},
                          indent=1).encode()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tarfile.open(tmp, "w:gz") as tar:
            for name, blob in [(MANIFEST, manifest), *((e["file"], b) for e, b in zip(entries, blobs))]:
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = len(blob), int(time.time()), 0o600
                tar.addfile(info, io.BytesIO(blob))
        os.replace(tmp, path)  # a half-written tarball is never left under the name asked for
    finally:
        tmp.unlink(missing_ok=True)
    return len(blobs)


def read_export(path: Path, key: bytes) -> tuple[str, list[tuple[str | None, dict]]]:
    """The model name and ``(entity key or None for the fleet, document)`` of an export, every one checked:
    ModelsError naming the first document that does not load or whose signature fails."""
    signer = RecordSigner(key)
    try:
        with tarfile.open(path, "r:gz") as tar:
            files = {}
            for member in tar:
                if not member.isfile():
                    raise ModelsError(f"{path}: {member.name!r} is not a regular file; an export holds only files")
                if member.size > MAX_DOCUMENT_BYTES * 2:
                    raise ModelsError(f"{path}: {member.name!r} is {member.size:,} bytes, more than a document "
                                      f"may be")
                files[member.name] = tar.extractfile(member).read()
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise ModelsError(f"{path} is not a readable .tar.gz: {exc}") from None
    try:
        manifest = json.loads(files[MANIFEST])
        entries = manifest["documents"]
        model = manifest["model"]
        if manifest.get("kind") != EXPORT_KIND or manifest.get("schema") != EXPORT_SCHEMA or not isinstance(entries, list):
            raise ValueError(f"kind must be {EXPORT_KIND!r} and schema {EXPORT_SCHEMA}")
    except (KeyError, ValueError, TypeError) as exc:
        raise ModelsError(f"{path}: no readable {MANIFEST} of a tickml models export ({exc})") from None
    if not isinstance(model, str) or not is_plain_name(model) or model.startswith("."):
        raise ModelsError(f"{path}: the model name {model!r} must be {NAME_RULE}, not hidden")
    if len(entries) > MAX_EXPORT_DOCUMENTS:
        raise ModelsError(f"{path}: {len(entries):,} documents, more than {MAX_EXPORT_DOCUMENTS:,}")
    found, seen = [], set()
    for entry in entries:
        name = entry.get("file") if isinstance(entry, dict) else None
        entity = entry.get("key") if isinstance(entry, dict) else None
        what = f"{path}: document {name!r} ({'the fleet model' if entity is None else f'device {entity!r}'})"
        if not isinstance(name, str) or name not in files or not (entity is None or isinstance(entity, str) and entity):
            raise ModelsError(f"{what}: not in the tarball, or its manifest entry is malformed")
        if entity in seen:
            raise ModelsError(f"{what}: a second document for the same device")
        seen.add(entity)
        blob = files[name]
        signature = entry.get("signature")
        if not isinstance(signature, str) or signature != _signature(signer, model, entity, blob):
            raise ModelsError(f"{what}: bad signature (another key, or the document was changed); nothing imported")
        try:
            doc = decode(blob)
        except ValueError as exc:
            raise ModelsError(f"{what} does not load: {exc}; nothing imported") from None
        expected = FLEET_NAME if entity is None else entity
        if doc["key"] != expected:
            raise ModelsError(f"{what}: the document is for key {doc['key']!r}; nothing imported")
        found.append((entity, doc))
    return model, found


def import_(root: Path, path: Path, key: bytes) -> tuple[str, list[tuple[str | None, dict]]]:
    """Import an export: every document checked first (``read_export``), then each made champion
    (``ModelStore.install``); the model name and what was installed."""
    model, found = read_export(path, key)
    store = open_store(root, model, create=True)
    installed = []
    for entity, doc in found:
        try:
            installed.append((entity, store.install(FLEET_KEY if entity is None else entity, doc)))
        except (OSError, ValueError) as exc:
            raise ModelsError(f"{path}: writing {entity or 'the fleet model'!r} failed after {len(installed)} of "
                              f"{len(found)} documents: {exc}") from None
    return model, installed


# -- InfluxDB ------------------------------------------------------------------------------


def record_actions(points: list[tuple[str, str, str, int]], influx=None) -> str | None:
    """Write ``(model, device, action, version)`` points to InfluxDB (measurement ``model_actions``); None
    when written, else a warning saying why not (the action itself stands)."""
    if not points:
        return None
    import requests

    from tickml import secrets
    from tickml.influx import Influx, InfluxError, line

    now = time.time_ns()
    lines = [line(MEASUREMENT, {"model": model, "device_id": device}, {"action": action, "version": version},
                  now + n) for n, (model, device, action, version) in enumerate(points)]
    influx = influx or Influx(timeout=5.0)
    try:
        for start in range(0, len(lines), _BATCH):  # an import of a whole fleet: InfluxDB's advised batches
            influx.write(lines[start:start + _BATCH])
    except (InfluxError, requests.RequestException, secrets.SecretsError, OSError, ValueError, KeyError) as exc:
        return (f"warning: the action is done, but not recorded in InfluxDB ({type(exc).__name__}: {exc}); "
                f"--no-record skips recording")
    return None


# -- printing ------------------------------------------------------------------------------


def _columns(header: tuple[str, ...], rows: list[tuple]) -> str:
    widths = [max(len(h), *(len(str(r[i])) for r in rows)) for i, h in enumerate(header)]
    return "\n".join("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip()
                     for row in [tuple(h.upper() for h in header), *rows])


def _number(value) -> str:
    return "" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)


def table(rows: list[dict]) -> str:
    """``listing``'s rows as aligned columns; a sentence when there are none.

    >>> print(table([{"model": "power", "device": "pm-1", "version": 3, "algorithm": "linear", "metric": "mape",
    ...               "value": 0.0123456789, "created": "2026-01-01T00:00:00.000Z", "pinned": True}]))
    MODEL  DEVICE  VERSION  ALGORITHM  METRIC  VALUE      CREATED                   PINNED
    power  pm-1    3        linear     mape    0.0123457  2026-01-01T00:00:00.000Z  pinned
    """
    if not rows:
        return "no model"
    return _columns(("model", "device", "version", "algorithm", "metric", "value", "created", "pinned"),
                    [(r["model"], r["device"], r["version"], r["algorithm"], r["metric"], _number(r["value"]),
                      r["created"], "pinned" if r["pinned"] else "") for r in rows])


def history_table(found: dict) -> str:
    """``history``'s records as aligned columns, oldest first, under a line saying the pin and the bound.

    >>> print(history_table({"pinned": False, "keep": 20, "records": [{"event": "deployed", "version": 1,
    ...     "time": "2026-01-01T00:00:00.000Z", "metric": "mape", "value": 0.5, "reason": "first",
    ...     "window": {"rows": 40, "window_rows": 40}}]}))
    not pinned; the last 20 versions (and 20 other records) kept
    EVENT     VERSION  TIME                      METRIC  VALUE  ROWS  REASON
    deployed  1        2026-01-01T00:00:00.000Z  mape    0.5    40    first
    """
    head = f"{'pinned' if found['pinned'] else 'not pinned'}; the last {found['keep']} versions (and " \
           f"{found['keep']} other records) kept"
    rows = []
    for r in found["records"]:
        reason = r.get("reason", "")
        if "from" in r:
            reason = f"from version {r['from']}"
        rows.append((r.get("event", ""), _number(r.get("version")), r.get("time", ""), r.get("metric", ""),
                     _number(r.get("value")), _number(r.get("window", {}).get("window_rows")), reason))
    if not rows:
        return head + "\nno records"
    return head + "\n" + _columns(("event", "version", "time", "metric", "value", "rows", "reason"), rows)
