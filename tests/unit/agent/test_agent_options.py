"""Option tables: info generated from the table, every bad option reported at once."""

from dataclasses import dataclass, field

import pytest

from udfs.agent import REQUIRED, Duration, Handler, Option, OptionsError, parse_options
from udfs.agent import udf_pb2
from udfs.agent.options import build_config, field_options

from .agent_test_handlers import Strict

# The table Strict serves as a real socket UDF in the session tests.
TABLE = Strict.options


def test_defaults_and_conversions():
    opts = parse_options(TABLE, {"label": [("a",)], "ratio": [(1,)], "tag": [("x",), ("y",)],
                                 "window": [(Duration(2),)], "limit": [("f", 2.5)]})
    assert vars(opts) == {"label": "a", "ratio": 1.0, "mode": "fast", "odd": 1, "window": 2,
                          "limit": ("f", 2.5), "tag": ("x", "y")}
    assert type(opts.ratio) is float


def test_every_problem_in_one_message():
    with pytest.raises(OptionsError) as err:
        parse_options(TABLE, {
            "nope": [(1,)],
            "ratio": [(1.5,)],
            "mode": [("slow",)],
            "odd": [(4,)],
            "window": [(10,)],           # an int where a duration is expected
            "limit": [("x",)],           # one argument of two
            "mode2": [("a",)],
        })
    problems = err.value.problems
    assert problems == [
        "unknown option 'nope' (known: label, limit, mode, odd, ratio, tag, window)",
        "unknown option 'mode2' (known: label, limit, mode, odd, ratio, tag, window)",
        "missing required option 'label'",
        "option 'ratio' must be <= 1.0, got 1.5",
        "option 'mode' must be one of 'fast', 'exact', got 'slow'",
        "option 'odd' must be an odd number, got 4",
        "option 'window' must be a duration, got int 10",
        "option 'limit' takes 2 argument(s) (string, double), got 1",
    ]
    assert str(err.value) == "; ".join(problems)


def test_wrong_types_and_repeats():
    with pytest.raises(OptionsError) as err:
        parse_options(TABLE, {"label": [(True,)], "ratio": [("high",)], "odd": [(1,), (3,)],
                              "mode": [(float("nan"),)]})
    assert err.value.problems == [
        "option 'label' must be a string, got bool True",
        "option 'ratio' must be a double, got string 'high'",
        "option 'mode' must be a string, got double nan",
        "option 'odd' may be given once, got 2 times",
    ]


def test_nan_double_is_refused():
    with pytest.raises(OptionsError, match="option 'ratio' must be a number, got nan"):
        parse_options(TABLE, {"label": [("a",)], "ratio": [(float("nan"),)]})


def test_bad_table_rows_fail_at_class_definition():
    with pytest.raises(ValueError, match="type must be"):
        Option("x", "float", 1.0)
    with pytest.raises(ValueError, match="default must be <= 1"):
        Option("x", "double", 2.0, max=1.0)
    with pytest.raises(TypeError, match="declares x more than once"):
        type("Dup", (Handler,), {"options": (Option("x", "int", 1), Option("x", "int", 2))})
    with pytest.raises(TypeError, match="wants must be 'stream' or 'batch'"):
        type("Bad", (Handler,), {"wants": "streams"})


def test_info_generated_from_table():
    cls = type("T", (Handler,), {"options": TABLE, "wants": "batch", "provides": "stream"})
    info = cls.info_response().info
    assert info.wants == udf_pb2.BATCH and info.provides == udf_pb2.STREAM
    types = {name: list(o.valueTypes) for name, o in info.options.items()}
    assert types == {
        "label": [udf_pb2.STRING], "ratio": [udf_pb2.DOUBLE], "mode": [udf_pb2.STRING],
        "odd": [udf_pb2.INT], "window": [udf_pb2.DURATION], "limit": [udf_pb2.STRING, udf_pb2.DOUBLE],
        "tag": [udf_pb2.STRING],
    }


@dataclass(frozen=True)
class Settings:
    """A library's settings, declared once as fields; ``derived`` is no option."""

    label: str = field(metadata={"option": {"type": "string", "help": "Required: no default."}})
    ratio: float = field(default=0.5, metadata={"option": {"type": "double", "min": 0.0, "max": 1.0}})
    window: int = field(default=10_000_000_000, metadata={"option": {"type": "duration"}})
    mode: str = field(default="fast", metadata={"option": {"type": "string", "choices": ("fast", "exact")}})
    derived: int = field(default=0, init=False)


def test_a_dataclass_declares_its_options_once():
    table = field_options(Settings)
    assert [(o.name, o.type, o.default) for o in table] == [
        ("label", "string", REQUIRED), ("ratio", "double", 0.5), ("window", "duration", 10_000_000_000),
        ("mode", "string", "fast")]
    cls = type("S", (Handler,), {"options": table})
    assert {n: list(o.valueTypes) for n, o in cls.info_response().info.options.items()} == {
        "label": [udf_pb2.STRING], "ratio": [udf_pb2.DOUBLE], "window": [udf_pb2.DURATION],
        "mode": [udf_pb2.STRING]}
    built = build_config(Settings, parse_options(table, {"label": [("x",)], "window": [(Duration(5),)]}))
    assert built == Settings("x", 0.5, 5, "fast")
    with pytest.raises(OptionsError) as err:
        parse_options(table, {"ratio": [(2.0,)], "mode": [("slow",)]})
    assert err.value.problems == ["missing required option 'label'", "option 'ratio' must be <= 1.0, got 2.0",
                                  "option 'mode' must be one of 'fast', 'exact', got 'slow'"]
