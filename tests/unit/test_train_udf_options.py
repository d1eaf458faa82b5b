"""The train UDF's options come from TrainConfig's fields: one declaration drives info, parsing and the config."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from agent.udf_client import run_process_udf
from udfs.agent import REQUIRED, OptionsError, encode_frame, parse_options, udf_pb2
from udfs.agent.options import KAPACITOR_TYPES, build_config
from udfs.learn import TrainConfig
from udfs.learn.paths import MODEL_ROOT
from udfs.train import Train

ROOT = Path(__file__).resolve().parents[2]

# The train UDF's table as TICKscripts have known it: names, types, defaults, bounds and choices.
EXPECTED = {
    "independentvariables": ("string", REQUIRED, None, None, None),
    "dependentvariable": ("string", "", None, None, None),
    "islogistic": ("bool", False, None, None, None),
    "algorithm": ("string", "", None, None, None),
    "modelruns": ("int", 10, 1, 1000, None),
    "seed": ("int", 0, None, None, None),
    "transformtype": ("string", "", None, None, ("", "log-lin", "lin-log", "log-log")),
    "processlogic": ("string", "", None, None, None),
    "holdout_fraction": ("double", 0.25, 0.05, 0.9, None),
    "metric": ("string", "", None, None, ("", "mape", "smape", "mae", "rmse")),
    "accuracythreshold": ("double", 0.0, 0.0, None, None),
    "shrinkage": ("string", "", None, None, None),
    "model": ("string", "", None, None, None),
    "model_dir": ("string", MODEL_ROOT.path, None, None, None),  # the model root: .stack/data/models unless set
    "max_resident": ("int", 100_000, 1, None, None),
    "snapshot_max_models": ("int", 1_000, 0, None, None),
    "fleet_retrain_every": ("int", 100, 1, None, None),
    "fleet_rows_per_window": ("int", 20, 1, None, None),
}

CONFIG_FIELDS = [f for f in dataclasses.fields(TrainConfig) if "option" in f.metadata]


def _value(kind, value):
    return udf_pb2.OptionValue(type=KAPACITOR_TYPES.index(kind), **{f"{kind}Value": value})


def test_the_table_is_what_tickscripts_know():
    assert {o.name: (o.type, o.default, o.min, o.max, o.choices) for o in Train.options} == EXPECTED


def test_every_init_field_of_train_config_is_an_option():
    # A field a TICKscript could not set would be a setting only Python has.
    assert [f.name for f in dataclasses.fields(TrainConfig) if f.init] == [f.name for f in CONFIG_FIELDS]


@pytest.mark.parametrize("field", CONFIG_FIELDS, ids=lambda f: f.name)
def test_info_answers_each_field_with_its_type_and_the_parse_gives_its_default(field):
    info = Train.info_response().info.options
    assert list(info[field.name].valueTypes) == [KAPACITOR_TYPES.index(field.metadata["option"]["type"])]
    if field.default is dataclasses.MISSING:
        with pytest.raises(OptionsError, match=f"missing required option '{field.name}'"):
            parse_options(Train.options, {})
    else:
        value = getattr(parse_options(Train.options, {"independentvariables": [("a",)]}), field.name)
        assert value == field.default and type(value) is type(field.default)


def test_parsed_options_build_the_same_config_as_python():
    given = {"independentvariables": [("a,b",)], "dependentvariable": [("y",)], "algorithm": [("auto",)],
             "modelruns": [(4,)], "holdout_fraction": [(0.3,)], "metric": [("mae",)], "shrinkage": [("8",)]}
    from_options = build_config(TrainConfig, parse_options(Train.options, given))
    assert from_options == TrainConfig("a,b", "y", algorithm="auto", modelruns=4, holdout_fraction=0.3,
                                       metric="mae", shrinkage="8")


@pytest.mark.parametrize("name, bad", [("modelruns", 0), ("modelruns", 1001), ("holdout_fraction", 0.95),
                                       ("holdout_fraction", 0.01)])
def test_a_bound_declared_once_is_enforced_for_tickscripts_and_python(name, bad):
    with pytest.raises(OptionsError, match=f"option '{name}' must be"):
        parse_options(Train.options, {"independentvariables": [("a",)], name: [(bad,)]})
    with pytest.raises(ValueError, match=f"{name} must be"):
        TrainConfig("a", "y", **{name: bad})


def test_init_names_every_bad_option_in_one_message():
    init = udf_pb2.InitRequest(taskID="t", nodeID="train1")
    init.options.add(name="modelruns", values=[_value("int", 0)])
    init.options.add(name="metric", values=[_value("string", "r2")])
    init.options.add(name="colour", values=[_value("string", "red")])
    responses, _ = run_process_udf("udfs.train", encode_frame(udf_pb2.Request(init=init).SerializeToString()),
                                   cwd=ROOT)
    answer = responses[0].init
    assert not answer.success
    for part in ["unknown option 'colour'", "missing required option 'independentvariables'",
                 "option 'modelruns' must be >= 1, got 0", "option 'metric' must be one of", "got 'r2'"]:
        assert part in answer.error


def test_options_that_pass_alone_but_not_together_fail_init_through_train_config():
    opts = parse_options(Train.options, {"independentvariables": [("a",)], "dependentvariable": [("y",)],
                                         "algorithm": [("logistic",)]})
    assert Train().check_options(opts) == [
        "bad training options: algorithm 'logistic' does not support regression (islogistic=0)"]


def test_a_model_name_kafka_refuses_as_a_topic_fails_init_where_models_are_shared(monkeypatch, tmp_path):
    # The UDF service of a shard shares its models (TICKML_MODEL_KAFKA) and signs them (the key file);
    # nothing is asked of Kafka before the options pass, so no broker needs to listen here.
    (tmp_path / "model.hex").write_text("ab" * 32)
    monkeypatch.setenv("TICKML_MODEL_KAFKA", "127.0.0.1:9")
    monkeypatch.setenv("TICKML_MODEL_KEY_FILE", str(tmp_path / "model.hex"))
    init = udf_pb2.InitRequest(taskID="t", nodeID="train1")
    init.options.add(name="independentvariables", values=[_value("string", "a")])
    init.options.add(name="dependentvariable", values=[_value("string", "y")])
    init.options.add(name="model", values=[_value("string", "power meter")])
    responses, _ = run_process_udf("udfs.train", encode_frame(udf_pb2.Request(init=init).SerializeToString()),
                                   cwd=ROOT)
    assert not responses[0].init.success
    assert ("model 'power meter' cannot be shared: a Kafka topic name has at most 249 of the characters "
            "a-z A-Z 0-9 . _ - (got 'tickml-models.power meter')") in responses[0].init.error
