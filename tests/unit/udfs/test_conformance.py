"""Every registered UDF against the same contract, as scikit-learn's check_estimator runs every estimator.

Parametrised over ``udfs/registry.py``, so a UDF added there is checked here
with nothing else to write but its golden cases. For each UDF:

- its command line, ``python -m udfs.<name>``, answers ``info`` with the edges the registry says;
- init succeeds with its sample options;
- each golden case (``udfs/<name>/golden/*.json``) gives its expected output and bad point count;
- a snapshot restored into a new connection snapshots the same, and both go on alike;
- a point with a field missing, NaN or of the wrong type is dealt with as the registry's
  ``bad_input`` says, without a handler error, and the UDF goes on answering as before;
- two entities (group-by tag values) fed interleaved do not change each other's answers;
- keepalives are answered while points flow, ahead of the work queued behind them.

The checks after the command line run the agent's Connection in this process (``inprocess.py``):
the same threads and handler code Kapacitor reaches, with the counters in reach.
"""

from __future__ import annotations

import copy
import json
import math
import re

import pytest

from unit.agent.udf_client import REPO, run_process_udf

from udfs import registry
from udfs.agent import encode_frame, udf_pb2

import golden
from inprocess import InProcessUdf, run, run_case, with_model_dir

UDFS = [pytest.param(udf, id=udf.name) for udf in registry.UDFS]
CASES = [pytest.param(udf, path, id=f"{udf.name}/{path.stem}") for udf in registry.UDFS for path in udf.golden_cases()]
# Entity names the checks add beside a case's own; no golden case uses them.
BAD_ENTITY = "conformance-bad"
OTHER_ENTITY = "conformance-other"


def primary_case(udf) -> dict:
    """The UDF's first golden case of good input (cases of bad input are named ``bad_*``): what the generic
    checks build on."""
    for path in udf.golden_cases():
        if not path.name.startswith("bad"):
            return golden.load(path)
    raise AssertionError(f"{udf.name} has no golden case of good input in {udf.folder / 'golden'}")


def assert_same(expected: list[dict], got: list[dict], case: dict) -> None:
    problems = golden.differences(expected, got, case["ignore_fields"], case["tolerance"])
    assert not problems, "\n".join(problems)


def entity_of(item: dict) -> str:
    return json.dumps(item["batch"]["tags"] if "batch" in item else item["tags"], sort_keys=True)


def retagged(items: list[dict], entity: str) -> list[dict]:
    """``items`` as another entity's: every tag value replaced by ``entity``."""
    out = copy.deepcopy(items)
    for item in out:
        holder = item["batch"] if "batch" in item else item
        holder["tags"] = {k: entity for k in holder.get("tags", {})}
    return out


def shifted(items: list[dict], by: int) -> list[dict]:
    """``items`` ``by`` nanoseconds later."""
    out = copy.deepcopy(items)
    for item in out:
        if "batch" in item:
            for p in item["batch"]["points"]:
                p["time"] += by
            if "tmax" in item["batch"]:
                item["batch"]["tmax"] += by
        else:
            item["time"] += by
    return out


def span(items: list[dict]) -> int:
    """Nanoseconds from the first to one second past the last time in ``items``."""
    times = [p["time"] for item in items for p in (item["batch"]["points"] if "batch" in item else [item])]
    return max(times) - min(times) + 10**9


def first_point(item: dict) -> dict:
    return item["batch"]["points"][0] if "batch" in item else item


def output_time(item: dict) -> int:
    return item["batch"]["tmax"] if "batch" in item else item["time"]


# -- the command line ----------------------------------------------------------

@pytest.mark.parametrize("udf", UDFS)
def test_its_command_line_serves_what_the_registry_says(udf, tmp_path, monkeypatch):
    """``python -m udfs.<name>``, as kapacitor.conf and the supervisor start it, answers info and init."""
    monkeypatch.setenv("TICKML_MODEL_ROOT", str(tmp_path))
    stdin = encode_frame(udf_pb2.Request(info=udf_pb2.InfoRequest()).SerializeToString())
    stdin += encode_frame(udf_pb2.Request(init=udf_pb2.InitRequest(
        options=golden.option_messages(udf.sample_options), taskID="conformance", nodeID=udf.name)).SerializeToString())
    responses, log = run_process_udf(udf.module, stdin, cwd=REPO)
    assert [r.WhichOneof("message") for r in responses] == ["info", "init"], log
    info, init = responses[0].info, responses[1].init
    edges = {udf_pb2.STREAM: "stream", udf_pb2.BATCH: "batch"}
    assert (edges[info.wants], edges[info.provides]) == (udf.wants, udf.provides)
    assert init.success, init.error


@pytest.mark.parametrize("udf", UDFS)
def test_the_folder_has_what_a_udf_needs(udf):
    for part in ("__init__.py", "__main__.py", "README.md"):
        assert (udf.folder / part).is_file(), f"udfs/{udf.name}/{part} is missing"
    assert udf.golden_cases(), f"udfs/{udf.name}/golden/ has no case"
    assert udf.sample_tick is None or (REPO / udf.sample_tick).is_file(), udf.sample_tick
    readme = (udf.folder / "README.md").read_text()
    # Its options table: a row per option the handler declares, with the option's name and type first.
    missing = [o.name for o in udf.handler_class().options
               if f"| `{o.name}` | {o.type if isinstance(o.type, str) else ', '.join(o.type)} |" not in readme]
    assert not missing, f"udfs/{udf.name}/README.md has no options table row for {missing}"
    broken = [target for target in re.findall(r"\]\(([^)#:]+)\)", readme) if not (udf.folder / target).exists()]
    assert not broken, f"udfs/{udf.name}/README.md links to files that do not exist: {broken}"


# -- init ----------------------------------------------------------------------

@pytest.mark.parametrize("udf", UDFS)
def test_init_succeeds_with_the_sample_options(udf, model_root):
    cls = udf.handler_class()
    conn = InProcessUdf(cls)
    answer = conn.init(with_model_dir(cls, udf.sample_options, model_root))
    conn.finish()
    assert answer.success, answer.error


# -- golden cases --------------------------------------------------------------

@pytest.mark.parametrize("udf, path", CASES)
def test_golden_case(udf, path, model_root):
    case = golden.load(path)
    out, conn = run_case(udf, case, model_root)
    assert_same(case["expected"], out, case)
    assert conn.stats["bad_points"] == case.get("bad_points", 0), dict(conn.stats)
    assert conn.stats["handler_errors"] == 0, dict(conn.stats)


# -- snapshot and restore ------------------------------------------------------

SNAPSHOT = udf_pb2.Request(snapshot=udf_pb2.SnapshotRequest())


@pytest.mark.parametrize("udf", UDFS)
def test_a_restored_snapshot_snapshots_the_same_and_goes_on_alike(udf, model_root):
    case = primary_case(udf)
    cls = udf.handler_class()
    options = with_model_dir(cls, case["options"], model_root)
    for step in case["before"]:
        before = registry.get(step["udf"]).handler_class()
        run(before, with_model_dir(before, step["options"], model_root), step["input"])

    first = InProcessUdf(cls)
    assert first.init(options).success
    first.send(golden.requests(case["input"]))
    taken = first.request(SNAPSHOT, "snapshot")[-1].snapshot.snapshot

    second = InProcessUdf(cls)
    assert second.init(options).success
    restored = second.request(udf_pb2.Request(restore=udf_pb2.RestoreRequest(snapshot=taken)), "restore")[-1].restore
    assert restored.success, restored.error
    again = second.request(SNAPSHOT, "snapshot")[-1].snapshot.snapshot
    assert json.loads(again) == json.loads(taken)

    # Both go on from the same state: the same input, later, gets the same answers. (Each connection's
    # answers to what came before the snapshot were read with it.)
    later = golden.requests(shifted(case["input"], span(case["input"])))
    answers = []
    for conn in (first, second):
        conn.send(later)
        answers.append(golden.items(conn.finish()))
    original, resumed = answers
    assert original, "the later input got no answer: nothing shows that the state carried over"
    assert_same(original, resumed, case)


# -- bad points ----------------------------------------------------------------

def spoiled(point: dict, how: str) -> dict:
    """``point`` with its numbers made unusable: gone, NaN, or strings."""
    point = copy.deepcopy(point)
    numbers = {k: v for k, v in point["fields"].items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    if how == "missing":
        point["fields"] = {k: v for k, v in point["fields"].items() if k not in numbers} or {"unrelated": "x"}
    else:
        point["fields"].update({k: math.nan if how == "nan" else "not a number" for k in numbers})
    return point


@pytest.mark.parametrize("how", ["missing", "nan", "string"])
@pytest.mark.parametrize("udf", UDFS)
def test_a_bad_point_is_dealt_with_and_the_udf_goes_on(udf, how, model_root):
    case = primary_case(udf)
    good = retagged(case["input"][:1], BAD_ENTITY)
    bad = copy.deepcopy(good)
    if "batch" in bad[0]:
        bad[0]["batch"]["points"][0] = spoiled(bad[0]["batch"]["points"][0], how)
    else:
        bad[0] = spoiled(bad[0], how)
    # The bad point is another entity's, so the case's own answers must come out as if it had never been.
    out, conn = run_case(udf, {**case, "input": bad + case["input"]}, model_root)
    ours = [item for item in out if entity_of(item) != entity_of(bad[0])]
    assert_same(case["expected"], ours, case)
    assert conn.stats["handler_errors"] == 0, dict(conn.stats)
    answer = [item for item in out if entity_of(item) == entity_of(bad[0])]
    spoilt = first_point(bad[0])
    if udf.bad_input == "counted":
        assert conn.stats["bad_points"] == 1, dict(conn.stats)
        answered = [p for item in answer for p in (item["batch"]["points"] if "batch" in item else [item])]
        assert all(p["time"] != spoilt["time"] for p in answered), f"the bad point was answered: {answer}"
    elif udf.bad_input == "reported":
        assert conn.stats["bad_points"] == 0, dict(conn.stats)
        # The same window unspoilt, in a model root of its own (train would skip a window it has judged).
        unspoilt, _ = run_case(udf, {**case, "input": good}, model_root / "unspoilt")
        assert unspoilt and answer and golden.differences(unspoilt, answer, case["ignore_fields"], case["tolerance"]), \
            f"the window's answer does not say that a value was unusable: {answer}"
    else:  # not_read: it reads no field, so the point is like any other
        assert conn.stats["bad_points"] == 0 and answer, dict(conn.stats)


# -- entities ------------------------------------------------------------------

def other_values(items: list[dict]) -> list[dict]:
    """``items`` with every number changed, so another entity's state would show in the answers."""
    out = copy.deepcopy(items)
    for item in out:
        for p in item["batch"]["points"] if "batch" in item else [item]:
            p["fields"] = {k: (v * 3 + 7 if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
                           for k, v in p["fields"].items()}
    return out


@pytest.mark.parametrize("udf", UDFS)
def test_two_entities_fed_together_answer_as_each_alone(udf, model_root):
    case = primary_case(udf)
    other = other_values(retagged(case["input"], OTHER_ENTITY))
    together = [item for pair in zip(case["input"], other) for item in pair]
    out, _ = run_case(udf, {**case, "input": together}, model_root)
    ours = [item for item in out if entity_of(item) != entity_of(other[0])]
    theirs = [item for item in out if entity_of(item) == entity_of(other[0])]
    assert_same(case["expected"], ours, case)
    if udf.name != "predict":  # predict answers an entity without a model of its own with the fleet's
        alone, _ = run_case(udf, {**case, "before": [], "input": other}, model_root / "alone")
        assert_same(alone, theirs, case)


# -- keepalive -----------------------------------------------------------------

CHUNKS = 6
COPIES = 20  # of the case's input per chunk: enough work that the worker is still busy when keepalives come


@pytest.mark.parametrize("udf", UDFS)
def test_keepalives_are_answered_ahead_of_the_points_queued_behind_them(udf, model_root):
    """Kapacitor sends a keepalive every timeout/2 whatever it is sending besides; the answer must not wait
    for the work queued before it, or a busy task is killed as hung."""
    case = primary_case(udf)
    cls = udf.handler_class()
    for step in case["before"]:
        before = registry.get(step["udf"]).handler_class()
        run(before, with_model_dir(before, step["options"], model_root), step["input"])
    step = span(case["input"])
    chunk_starts, requests = [], []
    for chunk in range(CHUNKS):
        start = (chunk * COPIES) * step
        chunk_starts.append(min(first_point(item)["time"] for item in case["input"]) + start)
        if chunk:
            requests.append(udf_pb2.Request(keepalive=udf_pb2.KeepaliveRequest(time=chunk)))
        for copy_ in range(COPIES):
            requests += golden.requests(shifted(case["input"], start + copy_ * step))
    conn = InProcessUdf(cls)
    assert conn.init(with_model_dir(cls, case["options"], model_root)).success
    conn.send(requests)
    responses = conn.finish(timeout=120)

    kinds = [r.WhichOneof("message") for r in responses]
    answered = [(i, r.keepalive.time) for i, r in enumerate(responses) if kinds[i] == "keepalive"]
    assert [t for _, t in answered] == list(range(1, CHUNKS)), "every keepalive answered once, in order"
    data = [(i, r.point.time if kinds[i] == "point" else r.end.tmax) for i, r in enumerate(responses)
            if kinds[i] in ("point", "end")]
    assert data, "no answer to the points: nothing flowed while the keepalives came"
    for at, keepalive in answered:
        # Answers to points sent after this keepalive come after its answer.
        late = [i for i, t in data if t >= chunk_starts[keepalive] and i < at]
        assert not late, f"keepalive {keepalive} answered behind {len(late)} answers to points sent after it"


def test_a_case_off_the_format_is_refused_naming_the_place(tmp_path):
    case = tmp_path / "case.json"
    case.write_text(json.dumps({"about": "x", "options": {}, "input": [{"tags": {}, "fields": {"v": 1.0}}],
                                "expected": [], "bad_point": 0}))
    with pytest.raises(golden.CaseError) as refused:
        golden.load(case)
    assert "'bad_point' was unexpected" in str(refused.value)
    assert "at input/0: 'time' is a required property" in str(refused.value)
