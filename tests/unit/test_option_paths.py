"""Options that name files stay inside the roots the service sets, never a task (issue 13).

``model_dir`` and ``model`` (train, predict) must resolve inside the model
root, ``data_set`` (rfc_classifier) inside the data set root. Each UDF runs
in a real process, as Kapacitor runs it, with the roots set by the
environment variables the service would set. A refused task fails ``init``
with a message naming the option, the value and the root, and leaves
nothing on disk.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import shutil
from pathlib import Path

import pytest

from agent.udf_client import run_process_udf
from udfs.agent import Handler, encode_frame, parse_options, udf_pb2

REPO = Path(__file__).resolve().parents[2]
DATA_SET = REPO / "training_data_sets" / "room_climate.csv"
TRAIN = {"independentvariables": "voltage,current", "dependentvariable": "power"}
PREDICT = {"model": "power"}


def _value(v) -> udf_pb2.OptionValue:
    if isinstance(v, bool):
        return udf_pb2.OptionValue(type=udf_pb2.BOOL, boolValue=v)
    if isinstance(v, int):
        return udf_pb2.OptionValue(type=udf_pb2.INT, intValue=v)
    if isinstance(v, float):
        return udf_pb2.OptionValue(type=udf_pb2.DOUBLE, doubleValue=v)
    return udf_pb2.OptionValue(type=udf_pb2.STRING, stringValue=v)


def init(module: str, options: dict, cwd: Path) -> udf_pb2.InitResponse:
    request = udf_pb2.InitRequest(taskID="t", nodeID="n")
    for name, value in options.items():
        request.options.add(name=name, values=[_value(value)])
    responses, log = run_process_udf(module, encode_frame(udf_pb2.Request(init=request).SerializeToString()),
                                     cwd=cwd)
    assert responses and responses[0].WhichOneof("message") == "init", log
    return responses[0].init


def init_each(calls: list[tuple[str, dict, Path]]) -> list[udf_pb2.InitResponse]:
    """``init`` of each (module, options, cwd), every one a process of its own, all at once: the random forest's
    processes each take a second or two to start and train, and share nothing."""
    with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: init(*call), calls))


def tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.fixture
def roots(tmp_path, monkeypatch):
    """A model root and a data set root set by the environment, a folder outside both, a CSV outside,
    and the UDF's working directory (so that whatever a refused task might create lands in ``tmp_path``)."""
    models, sets, outside = tmp_path / "models", tmp_path / "sets", tmp_path / "outside"
    for folder in (models, sets, outside, tmp_path / "cwd"):
        folder.mkdir()
    shutil.copy(DATA_SET, sets / "room_climate.csv")
    shutil.copy(DATA_SET, tmp_path / "elsewhere.csv")
    monkeypatch.setenv("TICKML_MODEL_ROOT", str(models))
    monkeypatch.setenv("TICKML_DATA_SET_ROOT", str(sets))
    return models, sets, outside


def _refused(answer, option: str, value: str, root: Path, variable: str) -> None:
    assert not answer.success, "the task was accepted"
    assert f"option {option!r}" in answer.error, answer.error
    assert repr(value) in answer.error, answer.error
    assert str(root.resolve()) in answer.error and variable in answer.error, answer.error


# -- model_dir and model ----------------------------------------------------------

@pytest.mark.parametrize("module, options", [("udfs.train", TRAIN), ("udfs.predict", PREDICT)])
@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink"])
def test_a_model_dir_outside_the_model_root_fails_init_and_creates_nothing(roots, tmp_path, module, options, how):
    models, _, outside = roots
    if how == "symlink":
        (models / "link").symlink_to(outside, target_is_directory=True)
    value = {"absolute": str(outside), "dotdot": f"{models}/../outside", "symlink": str(models / "link")}[how]
    before = tree(tmp_path)
    answer = init(module, {**options, "model_dir": value}, tmp_path / "cwd")
    _refused(answer, "model_dir", value, models, "TICKML_MODEL_ROOT")
    assert tree(tmp_path) == before


def test_the_default_model_root_is_the_projects_state_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("TICKML_MODEL_ROOT", raising=False)
    answer = init("udfs.predict", {**PREDICT, "model_dir": str(tmp_path)}, REPO)
    _refused(answer, "model_dir", str(tmp_path), REPO / ".stack/data/models", "TICKML_MODEL_ROOT")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "../escape", "a\\b", "a\x00b", "ABSOLUTE", "x" * 256])
def test_an_odd_model_name_fails_init_and_creates_nothing(roots, tmp_path, name):
    if name == "ABSOLUTE":
        name = str(tmp_path / "absolute")
    before = tree(tmp_path)
    answer = init("udfs.predict", {"model": name}, tmp_path / "cwd")
    assert not answer.success and "option 'model'" in answer.error and repr(name) in answer.error, answer.error
    answer = init("udfs.train", {**TRAIN, "model": name} if name else {**TRAIN, "dependentvariable": "../escape"},
                  tmp_path / "cwd")
    assert not answer.success and "option 'model'" in answer.error, answer.error
    assert (repr(name) if name else "'../escape'") in answer.error, answer.error
    assert tree(tmp_path) == before


def test_a_model_folder_linked_out_of_the_root_fails_init(roots, tmp_path):
    models, _, outside = roots
    (models / "power").symlink_to(outside, target_is_directory=True)
    before = tree(tmp_path)
    for module, options in (("udfs.train", TRAIN), ("udfs.predict", PREDICT)):
        answer = init(module, {**options, "model": "power", "model_dir": str(models)}, tmp_path / "cwd")
        _refused(answer, "model", "power", models, "TICKML_MODEL_ROOT")
    assert tree(tmp_path) == before


def test_every_bad_path_option_is_named_in_one_message(roots, tmp_path):
    models, _, outside = roots
    answer = init("udfs.train", {**TRAIN, "model": "../x", "model_dir": str(outside)}, tmp_path / "cwd")
    assert not answer.success
    assert "option 'model_dir'" in answer.error and "option 'model'" in answer.error, answer.error


def test_model_dirs_inside_the_root_keep_working(tmp_path, monkeypatch):
    # The root relative to the UDF's working directory, as the default is.
    (tmp_path / "state" / "models").mkdir(parents=True)
    monkeypatch.setenv("TICKML_MODEL_ROOT", "state/models")
    calls = [(module, dict(options) if model_dir is None else {**options, "model_dir": model_dir}, tmp_path)
             for module, options in (("udfs.train", TRAIN), ("udfs.predict", PREDICT))
             for model_dir in (None, "state/models", "state/models/team", "state/models/a/../team",
                               str(tmp_path / "state/models/abs"))]
    for (module, given, _), answer in zip(calls, init_each(calls)):
        assert answer.success, (module, given, answer.error)
    assert (tmp_path / "state/models/power").is_dir() and (tmp_path / "state/models/team/power").is_dir()
    assert sorted(os.listdir(tmp_path)) == ["state"]


# -- data_set -------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink"])
def test_a_data_set_outside_the_data_set_root_fails_init(roots, tmp_path, how):
    _, sets, _ = roots
    outside = tmp_path / "elsewhere.csv"  # a good CSV: the old code trained from it
    if how == "symlink":
        (sets / "link.csv").symlink_to(outside)
    value = {"absolute": str(outside), "dotdot": f"{sets}/../elsewhere.csv", "symlink": str(sets / "link.csv")}[how]
    answer = init("udfs.rfc_classifier", {"data_set": value}, tmp_path / "cwd")
    _refused(answer, "data_set", value, sets, "TICKML_DATA_SET_ROOT")
    assert "columns are" not in answer.error  # nothing of the file is read, so nothing of it is told


def test_the_default_data_set_root_is_training_data_sets(tmp_path, monkeypatch):
    monkeypatch.delenv("TICKML_DATA_SET_ROOT", raising=False)
    shutil.copy(DATA_SET, tmp_path / "room_climate.csv")
    refused, accepted = init_each([("udfs.rfc_classifier", {"data_set": str(tmp_path / "room_climate.csv")}, REPO),
                                   ("udfs.rfc_classifier", {"data_set": "training_data_sets/room_climate.csv"}, REPO)])
    _refused(refused, "data_set", str(tmp_path / "room_climate.csv"), REPO / "training_data_sets",
             "TICKML_DATA_SET_ROOT")
    assert accepted.success, accepted.error


def test_data_sets_inside_the_root_keep_working(tmp_path, monkeypatch):
    (tmp_path / "sets" / "more").mkdir(parents=True)
    shutil.copy(DATA_SET, tmp_path / "sets" / "room_climate.csv")
    shutil.copy(DATA_SET, tmp_path / "sets" / "more" / "rooms.csv")
    monkeypatch.setenv("TICKML_DATA_SET_ROOT", "sets")
    given = [{}, {"data_set": "sets/more/rooms.csv"}, {"data_set": "sets/more/../room_climate.csv"},
             {"data_set": str(tmp_path / "sets/room_climate.csv")}]
    for options, answer in zip(given, init_each([("udfs.rfc_classifier", options, tmp_path) for options in given])):
        assert answer.success, (options, answer.error)


# -- the shipped TICKscripts --------------------------------------------------------------

_CALL = re.compile(r"@(\w+)\(\)((?:\s*\.\w+\([^)]*\))*)")
_OPTION = re.compile(r"\.(\w+)\(([^)]*)\)")
_ARG = re.compile(r"'((?:[^'\\]|\\.)*)'|(TRUE|FALSE)|(-?\d+\.\d*(?:e-?\d+)?)|(-?\d+)(?![\w.])")


def _args(text: str, declared: dict[str, str]) -> tuple:
    if text.strip() in declared:  # a var of the script: its declared value (a task may replace it)
        return _args(declared[text.strip()], declared)
    values = []
    for string, boolean, double, integer in _ARG.findall(text):
        if boolean:
            values.append(boolean == "TRUE")
        elif double:
            values.append(float(double))
        elif integer:
            values.append(int(integer))
        else:
            values.append(string.replace("\\'", "'"))
    return tuple(values)


def _udf_calls():
    for script in sorted((REPO / "tick_scripts").glob("*.tick")):
        text = re.sub(r"//[^\n]*", "", script.read_text())
        declared = dict(re.findall(r"^\s*var\s+(\w+)\s*=\s*(.+?)\s*$", text, re.MULTILINE))
        for call in _CALL.finditer(text):
            given: dict[str, list] = {}
            for name, args in _OPTION.findall(call.group(2)):
                given.setdefault(name, []).append(_args(args, declared))
            yield pytest.param(call.group(1), given, id=f"{script.stem}-{call.group(1)}")


def _handler(name: str) -> type[Handler]:
    module = __import__(f"udfs.{name}", fromlist=["_"])
    found = [v for v in vars(module).values()
             if isinstance(v, type) and issubclass(v, Handler) and v is not Handler and v.name == name]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("udf, given", list(_udf_calls()))
def test_every_shipped_tickscript_passes_the_option_checks(udf, given, monkeypatch):
    monkeypatch.chdir(REPO)  # where the UDF servers run, so the default roots are the shipped ones
    handler = _handler(udf)
    opts = parse_options(handler.options, given)
    assert list(handler().check_options(opts) or ()) == []


def test_the_shipped_tickscripts_use_the_confined_options():
    # So that the parametrised test above checks something.
    names = {p.values[0] for p in _udf_calls()}
    assert {"train", "predict", "rfc_classifier"} <= names
