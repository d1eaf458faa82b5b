"""Telegraf's processors (telegraf/senders.star, telegraf/device_message.star) make every point of the message's
own metric or of a copy that keeps its delivery tracking, never of a new ``Metric()``.

MQTT acknowledges a message, and Kafka commits its offset, once Telegraf has written every tracked point made of
it; a point made with ``Metric()`` carries no tracking, so the message was acknowledged as soon as the processor
dropped it and lost by a ``kill -9`` of Telegraf before its next write (``bench/faults.py``, the telegraf row).
Starlark is close enough to Python for its parser to read the scripts; what they do is tried against the real
Telegraf in tests/integration/test_device_schema.py and test_hostile_devices.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TELEGRAF = Path(__file__).resolve().parents[2] / "telegraf"
SCRIPTS = ["senders.star", "device_message.star"]


def _calls(script: str, name: str) -> list[ast.Call]:
    tree = ast.parse((TELEGRAF / script).read_text(), filename=script)
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name]


@pytest.mark.parametrize("script", SCRIPTS)
def test_no_point_is_made_with_Metric(script):
    made = [f"line {c.lineno}" for c in _calls(script, "Metric")]
    assert not made, f"{script} makes a point with Metric(), which loses the message's delivery tracking: {made}"


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_copy_keeps_the_tracking(script):
    untracked = [f"line {c.lineno}" for c in _calls(script, "deepcopy")
                 if not any(k.arg == "track" and isinstance(k.value, ast.Constant) and k.value.value is True
                            for k in c.keywords)]
    assert not untracked, f"{script} copies a message without track=True: {untracked}"


def test_the_validator_copies_with_tracking():
    """The validator's points beyond the first are tracked copies (a check that the one above checks anything)."""
    assert _calls("device_message.star", "deepcopy")
