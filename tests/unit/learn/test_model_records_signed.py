"""Model records through Kafka: signed (HMAC), and bounded once decoded; a bad one is skipped, never applied.

Signing and bounds are our own code and are tested here without a broker;
the materialiser's ``_apply`` gets small stand-in records. The same on the
real broker: tests/integration/test_model_topics.py.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from udfs.learn import CompiledModel, ModelStore
from udfs.learn.algorithms import GradientBoosting, NeuralNetwork
from udfs.learn.algorithms.gradient_boosting import MAX_DEPTH, MAX_PADDED_NODES
from udfs.learn.document import MAX_DOCUMENT_BYTES, decode, encode, supersedes, validate
from udfs.learn.fleet import FLEET_KEY
from udfs.learn.materialise import Materialiser
from udfs.learn.signing import KEY_BYTES, SIGNATURE_HEADER, RecordSigner, key_from_environment, new_key, read_key
from udfs.learn.topic import ModelTopic, TopicSettings, record_key

ROOT = Path(__file__).resolve().parents[3]
KEY = bytes(range(KEY_BYTES))
TOPIC = "t-models.power"
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

DOC = {"schema": 1, "key": "dev-1", "version": 1, "algorithm": "linear", "task": "regression", "target": "y",
       "features": ["x"], "transform": "", "min": [0.0], "max": [1.0], "params": {"coef": [2.0], "intercept": 1.0},
       "hyper": {}, "metric": {"mape": 0.01}, "rows": 30, "window_rows": 40, "created": "2026-01-01T00:00:00.000Z"}
# A tree of three nodes, in scikit-learn's layout: the root splits feature 0, two leaves (-1; feature -2).
STUMP = {"feature": [0, -2, -2], "threshold": [0.5, -2.0, -2.0], "left": [1, -1, -1], "right": [2, -1, -1],
         "value": [0.0, 1.0, 2.0]}


def doc_of(algorithm: str, params: dict, features=("a", "b"), **fields) -> dict:
    k = len(features)
    return dict(DOC, algorithm=algorithm, params=params, features=list(features), min=[0.0] * k, max=[1.0] * k,
                **fields)


def gbm(*trees, features=("a",)) -> dict:
    return doc_of("gradient_boosting", {"init": 0.0, "learning_rate": 0.1, "link": "identity",
                                        "trees": [copy.deepcopy(t) for t in trees]}, features)


def chain(depth: int) -> dict:
    """A tree whose deepest leaf is ``depth`` levels down: each split's right child splits again."""
    n = 2 * depth + 1
    left = [i + 1 if i % 2 == 0 and i < n - 1 else -1 for i in range(n)]
    right = [i + 2 if i % 2 == 0 and i < n - 1 else -1 for i in range(n)]
    return {"feature": [0 if c >= 0 else -2 for c in left], "threshold": [0.5] * n, "left": left, "right": right,
            "value": [0.0] * n}


def fitted_documents() -> dict[str, dict]:
    rng = np.random.default_rng(1)
    X = rng.random((60, 2))
    y = X[:, 0] + 2 * X[:, 1]
    return {
        "linear": doc_of("linear", {"coef": [1.0, 2.0], "intercept": 0.5}),
        "log-log linear": doc_of("linear", {"coef": [1.0, 0.5], "intercept": 0.1}, transform="log-log"),
        "logistic": doc_of("logistic", {"coef": [3.0, -1.0], "intercept": 0.0}, task="classification"),
        "quadratic": doc_of("quadratic", {"coef": [1.0, 2.0], "coef2": [0.5, 0.0], "intercept": 1.0}),
        "gradient_boosting": doc_of("gradient_boosting",
                                    GradientBoosting(n_estimators=4, max_depth=2).fit(X, y).params_),
        "neural_network": doc_of("neural_network",
                                 NeuralNetwork(hidden_layer_sizes=[3, 2], max_iter=30).fit(X, y).params_),
    }


VALID = fitted_documents()


def usable(doc: dict) -> None:
    """What a reader does with a document decode returned: none of it may raise."""
    k = len(doc["features"])
    with np.errstate(all="ignore"):  # an extreme model may overflow to inf: a number, not an error
        CompiledModel(doc).predict_rows(np.full((3, k), 2.0))
    assert supersedes(dict(doc, version=doc["version"] + 1), doc) and decode(encode(doc)) == doc


# -- the signature ---------------------------------------------------------------------------------------------


def test_a_signed_record_and_a_signed_tombstone_verify():
    signer = RecordSigner(KEY)
    for value in (encode(DOC), None, b""):
        assert signer.problem(TOPIC, b"e/dev-1", value, signer.headers(TOPIC, b"e/dev-1", value)) is None
    assert signer.problem(TOPIC, b"e/dev-1", b"v", [("other", b"x"), *signer.headers(TOPIC, b"e/dev-1", b"v")]) \
        is None


@pytest.mark.parametrize("change, reason", [
    (lambda r: dict(r, value=r["value"][:10] + bytes([r["value"][10] ^ 1]) + r["value"][11:]), "bad signature"),
    (lambda r: dict(r, headers=RecordSigner(bytes(32)).headers(TOPIC, r["key"], r["value"])), "bad signature"),
    (lambda r: dict(r, topic="t-models.failure_prob"), "bad signature"),
    (lambda r: dict(r, key=b"fleet"), "bad signature"),
    (lambda r: dict(r, value=None), "bad signature"),  # a tombstone under a record's signature
    (lambda r: dict(r, headers=[]), "no signature"),
    (lambda r: dict(r, headers=None), "no signature"),
    (lambda r: dict(r, headers=r["headers"] * 2), "2 signatures"),
    (lambda r: dict(r, headers=[(SIGNATURE_HEADER, None)]), "bad signature"),
], ids=["flipped byte", "wrong key", "another topic", "another key", "made a tombstone", "no header",
        "no headers", "two signatures", "empty header"])
def test_a_record_changed_or_signed_otherwise_is_refused(change, reason):
    signer = RecordSigner(KEY)
    record = {"topic": TOPIC, "key": b"e/dev-1", "value": encode(DOC)}
    record["headers"] = signer.headers(**record)
    changed = change(record)
    assert reason in signer.problem(changed["topic"], changed["key"], changed["value"], changed["headers"])


def test_an_unsigned_tombstone_is_refused():
    assert RecordSigner(KEY).problem(TOPIC, b"e/dev-1", None, None).startswith("no signature")


def test_the_key_file_holds_32_bytes_as_hex_and_each_fault_is_named(tmp_path):
    path = tmp_path / "model.hex"
    path.write_text(new_key() + "\n")
    assert len(read_key(path)) == KEY_BYTES
    assert key_from_environment({"TICKML_MODEL_KEY_FILE": str(path)}) == read_key(path)
    for text, reason in [("zz" * 32, "as hex"), ("ab" * 16, "got 16 bytes")]:
        path.write_text(text)
        with pytest.raises(ValueError, match=reason):
            read_key(path)
    with pytest.raises(ValueError, match="cannot be read"):
        read_key(tmp_path / "absent")


def test_a_shared_home_without_a_key_does_not_start(tmp_path):
    with pytest.raises(ValueError, match="TICKML_MODEL_KAFKA is set but TICKML_MODEL_KEY_FILE is not"):
        TopicSettings.from_environment({"TICKML_MODEL_KAFKA": "127.0.0.1:9"})
    (tmp_path / "k").write_text(KEY.hex())
    settings = TopicSettings.from_environment({"TICKML_MODEL_KAFKA": "127.0.0.1:9",
                                               "TICKML_MODEL_KEY_FILE": str(tmp_path / "k")})
    assert settings.signing_key == KEY and KEY.hex() not in repr(settings) and str(KEY) not in repr(settings)
    # Settings made in code need a key as well: nothing is published or applied unsigned.
    for make in (lambda s: ModelTopic(s, "power"), lambda s: Materialiser(tmp_path / "models", s)):
        with pytest.raises(ValueError, match="no signing key"):
            make(TopicSettings("127.0.0.1:9", "t-models."))


@pytest.mark.parametrize("module", ["udfs.learn.materialise", "udfs.train"])
def test_the_processes_refuse_to_start_without_the_key(module):
    env = {k: v for k, v in os.environ.items() if k != "TICKML_MODEL_KEY_FILE"}
    env["TICKML_MODEL_KAFKA"] = "127.0.0.1:9"
    done = subprocess.run([sys.executable, "-m", module], input=b"", capture_output=True, cwd=ROOT, env=env,
                          timeout=120)
    assert done.returncode != 0
    assert "TICKML_MODEL_KAFKA is set but TICKML_MODEL_KEY_FILE is not" in done.stderr.decode()


# -- the bounds ------------------------------------------------------------------------------------------------


def deep(depth: int) -> dict:
    return gbm(chain(depth))


@pytest.mark.parametrize("doc, named", [
    (dict(DOC, version=2**63), "version must be a whole number in [0, 2**62), got 9223372036854775808"),
    (dict(DOC, version=2**62), "version must be a whole number in [0, 2**62)"),
    (dict(DOC, version=-1), "version must be a whole number"),
    (dict(DOC, version=True), "version must be a whole number"),
    (dict(DOC, rows=2**70), "rows must be a whole number in [0, 2**62), got an integer of 71 bits"),
    (dict(DOC, until=2**64), "until must be a finite number of nanoseconds within int64"),
    (gbm(dict(STUMP, left=[5, -1, -1])), "trees[0] node 0: a child index outside the tree's nodes"),
    (gbm(STUMP, dict(STUMP, right=[2, -1, 7])), "trees[1] node 2: a node has two children or none"),
    (gbm(dict(STUMP, feature=[0, 0, -2], left=[1, 0, -1], right=[2, 2, -1])),
     "trees[0] node 1: a child index not greater than its parent's (a cycle)"),
    (gbm({"feature": [0, 0, 0, -2, -2], "threshold": [0.5] * 5, "left": [1, 3, 3, -1, -1],
          "right": [2, 4, 4, -1, -1], "value": [0.0] * 5}),
     "trees[0] node 3: not the child of exactly one node (unreachable, or shared)"),
    (gbm(STUMP, {k: v + [-1 if k in ("left", "right") else 0] for k, v in STUMP.items()}),
     "trees[1] node 3: not the child of exactly one node"),
    (deep(MAX_DEPTH + 1), f"deeper than {MAX_DEPTH} levels"),
    (gbm(dict(STUMP, feature=[1, -2, -2])), "trees[0] node 0: a split feature outside the model's 1"),
    (gbm(*[{k: v[:1] for k, v in STUMP.items()}] * 128, {k: [0] * 2049 for k in STUMP}),
     f"129 trees of up to 2049 nodes: more than {MAX_PADDED_NODES} nodes once padded"),
    (gbm(dict(STUMP, threshold=[0.5, 1e308 * 10, 0.0])), "trees' threshold must be finite numbers"),
    (gbm(dict(STUMP, left=[1.0, -1, -1])), "trees' left must be a list of whole numbers"),
    (gbm(dict(STUMP, left=[2**64 - 1, -1, -1])), "trees' left must be a list of whole numbers"),
    (gbm(dict(STUMP, value=[])), "trees[0] must have feature, threshold, left, right, value"),
    (gbm(), "trees must be a non-empty list"),
    (doc_of("linear", {"coef": [1.0], "intercept": 0.0}), "coef has 1 coefficients for 2 features"),
    (doc_of("linear", {"coef": [1.0, "2"], "intercept": 0.0}), "coef must be a list of numbers"),
    (doc_of("linear", {"coef": [1.0, 2.0]}), "params of a linear model lack 'intercept'"),
    (doc_of("linear", {"coef": [1.0, 2.0], "intercept": float("inf")}), "intercept must be a finite number"),
    (doc_of("quadratic", {"coef": [1.0, 2.0], "coef2": [1.0], "intercept": 0.0}), "coef2 has 1 coefficients"),
    (doc_of("neural_network", {"weights": [[[1.0], [1.0]]], "biases": [[0.0, 0.0]], "activation": "relu",
                               "output": "identity"}), "layer 0 has weights (2, 1) and biases (2,)"),
    (doc_of("neural_network", {"weights": [[[1.0]] * 2] + [[[1.0]]] * 16, "biases": [[0.0]] * 17,
                               "activation": "relu", "output": "identity"}), "lists of 1 to 16 layers"),
    (doc_of("neural_network", {"weights": [[[1.0], [1.0]]], "biases": [[0.0]], "activation": "softmax",
                               "output": "identity"}), "activation must be one of"),
    (dict(DOC, min=[float("-inf")]), "min must be finite numbers"),
    (dict(DOC, features=[1]), "features must be names (strings)"),
    (dict(DOC, metric={"mape": float("inf")}), "metric holds a number that is NaN or infinite"),
], ids=lambda v: v[:40] if isinstance(v, str) else None)
def test_a_document_out_of_bounds_is_refused_naming_the_bound(doc, named):
    with pytest.raises(ValueError) as refused:
        validate(doc)  # what every decode, store write and snapshot restore calls
    assert named in str(refused.value)
    with pytest.raises(ValueError):  # NaN and infinity as a forger would write them: refused as they are read
        decode(json.dumps(doc, allow_nan=True).encode())


def test_the_bounds_themselves_are_allowed():
    for doc in (dict(DOC, version=2**62 - 1), deep(MAX_DEPTH), gbm(dict(STUMP, feature=[0, -2, -2])),
                gbm(*[STUMP] * 10)):
        usable(decode(json.dumps(doc).encode()))


@pytest.mark.parametrize("blob, named", [
    (json.dumps(dict(DOC, target="y" * MAX_DOCUMENT_BYTES)).encode(),
     "more than MAX_DOCUMENT_BYTES (4,194,304 bytes)"),
    (encode(DOC).replace(b'"intercept":1.0', b'"intercept":NaN'), "holds NaN"),
    (encode(DOC).replace(b'{"mape":0.01}', b'{"mape":-Infinity}'), "holds -Infinity"),
    (encode(DOC).replace(b'"coef":[2.0]', b'"coef":[1e999]'), "coef must be finite numbers"),
    (encode(DOC).replace(b'"until"', b'"x"').replace(b'"rows":30', b'"rows":30,"until":1e999'),
     "until must be a finite number"),
    (b"[" * 100_000, "nested too deeply"),
    (encode(DOC).replace(b'"version":1', b'"version":' + b"9" * 5000), "version"),
], ids=["oversize", "NaN", "-Infinity", "1e999 in params", "1e999 in until", "nesting", "5000 digits"])
def test_bytes_out_of_bounds_are_refused_naming_the_bound(blob, named):
    with pytest.raises(ValueError) as refused:
        decode(blob)
    assert named in str(refused.value) or named == "version" and "digits" in str(refused.value)


def test_a_document_too_large_is_not_stored_either():
    with pytest.raises(ValueError, match=r"more than MAX_DOCUMENT_BYTES \(4,194,304 bytes\)"):
        ModelStore().put(dict(DOC, target="y" * MAX_DOCUMENT_BYTES))


# -- fuzzing decode: a usable document or a ValueError, nothing else --------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(-3, 40) | st.floats() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=10)


def decoded_or_refused(blob: bytes) -> None:
    try:
        doc = decode(blob)
    except ValueError:
        return
    usable(doc)


@FUZZ
@given(st.binary(max_size=300) | st.sampled_from([encode(d) for d in VALID.values()]).flatmap(
    lambda blob: st.builds(lambda cut, junk: blob[:cut] + junk + blob[cut + len(junk):],
                           st.integers(0, len(blob)), st.binary(min_size=1, max_size=4))))
def test_decode_of_arbitrary_or_damaged_bytes_gives_a_usable_document_or_a_value_error(blob):
    decoded_or_refused(blob)


@FUZZ
@given(st.sampled_from(sorted(VALID)), st.data())
def test_decode_of_mutated_documents_gives_a_usable_document_or_a_value_error(name, data):
    doc = copy.deepcopy(VALID[name])
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        # Half the time into the parameters, where the arrays and the trees are, and mostly deep down.
        fields = st.sampled_from(sorted(doc)) | st.just("params") if "params" in doc else st.sampled_from(sorted(doc))
        parent, key = doc, data.draw(fields, label="field")
        while isinstance(parent[key], (dict, list)) and parent[key] and data.draw(st.integers(0, 4), label="deeper"):
            parent = parent[key]
            key = data.draw(st.sampled_from(sorted(parent) if isinstance(parent, dict) else range(len(parent))))
        action = data.draw(st.sampled_from(["replace", "index", "delete", "grow"]), label="action")
        if action == "delete":
            del parent[key]
        elif action == "index":  # indices a little out of range, where tree arrays hold them
            parent[key] = data.draw(st.integers(-3, 40))
        elif action == "grow" and isinstance(parent[key], list):
            parent[key] = parent[key] + parent[key][:1]
        else:
            parent[key] = data.draw(JSON, label="value")
        if not doc:
            break
    decoded_or_refused(json.dumps(doc, allow_nan=True).encode())


def test_every_fitted_document_is_valid_and_usable():
    for doc in VALID.values():
        usable(decode(encode(doc)))


# -- the materialiser applies signed, bounded records and skips the others ---------------------------------------


class Record:
    """A record as the Kafka client hands one over: only the accessors ``_apply`` reads."""

    def __init__(self, key: bytes, value: bytes | None, offset: int, *, signer: RecordSigner | None = None,
                 topic: str = TOPIC):
        self._topic, self._key, self._value, self._offset = topic, key, value, offset
        self._headers = signer.headers(topic, key, value) if signer else None

    def topic(self):
        return self._topic

    def partition(self):
        return 0

    def offset(self):
        return self._offset

    def key(self):
        return self._key

    def value(self):
        return self._value

    def headers(self):
        return self._headers


@pytest.fixture
def materialiser(tmp_path):
    # A real consumer, of a broker that is not there: _apply never reads from it.
    m = Materialiser(tmp_path, TopicSettings("127.0.0.1:9", "t-models.", signing_key=KEY))
    yield m
    m._consumer.close()


def test_the_materialiser_applies_signed_records_and_skips_forged_or_unbounded_ones(materialiser, tmp_path, caplog):
    signer, forger = RecordSigner(KEY), RecordSigner(bytes(32))
    fleet = encode(dict(DOC, key="__fleet__", version=5))
    unbounded = json.dumps(dict(DOC, version=2**63)).encode()
    bad_tree = json.dumps(dict(gbm(dict(STUMP, left=[9, -1, -1])), key="dev-2")).encode()
    records = [
        Record(b"fleet", fleet, 0),  # unsigned
        Record(b"fleet", fleet, 1, signer=forger),  # another key
        Record(b"e/dev-1", unbounded, 2, signer=signer),  # signed, but out of bounds
        Record(b"e/dev-2", bad_tree, 3, signer=signer),
        Record(b"e/dev-1", encode(DOC), 4, signer=signer),
        Record(b"e/dev-1", None, 5),  # an unsigned tombstone
        Record(record_key("dev-1"), encode(dict(DOC, version=2)), 6, signer=signer),
    ]
    with caplog.at_level(logging.WARNING, logger="udfs.learn.materialise"):
        for record in records:
            materialiser._apply(record)
    store = ModelStore(tmp_path / "power")
    assert (materialiser.bad, materialiser.applied) == (5, 2)
    assert store.model(FLEET_KEY) is None and store.model("dev-1").version == 2 and store.keys() == ["dev-1"]
    lines = [r.getMessage() for r in caplog.records]
    # Each problem once: the unsigned tombstone is the unsigned fleet record's problem again, held back.
    assert len(lines) == 4 and all("\n" not in line for line in lines)
    assert lines[0] == f"skipped record {TOPIC}[0]@0: no signature (header {SIGNATURE_HEADER})"
    assert lines[1].startswith(f"skipped record {TOPIC}[0]@1: bad signature")
    assert "@2: " in lines[2] and "version must be a whole number in [0, 2**62)" in lines[2]
    assert "@3: " in lines[3] and "a child index outside the tree's nodes" in lines[3]
    # A flood of one forged record is one line a minute, every record counted.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="udfs.learn.materialise"):
        for offset in range(100, 200):
            materialiser._apply(Record(b"fleet", fleet, offset))
    assert materialiser.bad == 105 and len(caplog.records) == 0

    materialiser._apply(Record(b"e/dev-1", None, 7, signer=signer))  # a signed tombstone deletes
    assert ModelStore(tmp_path / "power").keys() == []


# -- where the key comes from: the stack's secrets, handed to every process of a shared model home -------------


def test_the_stack_makes_the_key_once_owner_only_and_keeps_it_through_rotations(secrets_folder):
    from tickml import secrets

    assert secrets.MODEL_KEY_NAME in secrets.ensure()
    path = secrets.model_key_file()
    assert path.parent == secrets_folder and oct(path.stat().st_mode & 0o777) == "0o600"
    key = read_key(path)  # the format the UDF processes read
    assert secrets.MODEL_KEY_NAME not in secrets.ensure()
    secrets.rotate("all")  # new passwords and certificates; a new key would orphan every record in the topics
    assert read_key(path) == key


def test_every_shard_process_given_the_model_topics_is_given_the_key(secrets_folder, tmp_path):
    import dataclasses

    from tickml import secrets
    from tickml.stack import shards

    secrets.ensure()
    shard_set = dataclasses.replace(shards.ShardSet.load(shards.SHARDS_CONF), state=tmp_path / "state")
    programs = shard_set.shard(1).supervisor().programs
    shared = {p.name: p.env for p in programs if "TICKML_MODEL_KAFKA" in p.env}
    assert {"materialiser", "udf-train"} <= set(shared)
    assert {env["TICKML_MODEL_KEY_FILE"] for env in shared.values()} == {str(secrets.model_key_file())}
