"""What every shipped TICKscript must say, read from the files."""

from __future__ import annotations

import re

import pytest

from tickml.paths import ROOT

SCRIPTS = sorted((ROOT / "tick_scripts").glob("*.tick"))


@pytest.mark.parametrize("path", [p for p in SCRIPTS if ".groupBy(" in p.read_text()], ids=lambda p: p.name)
def test_a_script_that_groups_by_device_forgets_a_silent_device(path):
    """Kapacitor keeps a group per device in every node for ever unless a barrier deletes it."""
    text = path.read_text()
    grouped = re.search(r"\|(?:from\(\)|query\(.*\))\n(?:\s+\..*\n)*?\s+\.groupBy\([^)]*\)\n(?:\s+\..*\n)*", text)
    assert grouped, "groupBy is a property of from() (a batch script's: of query())"
    after = text[grouped.end():]
    assert re.match(r"\s+\|barrier\(\)\n\s+\.idle\(idle\)\n\s+\.delete\(TRUE\)\n", after), \
        "the node after from() is |barrier().idle(idle).delete(TRUE)"
    assert re.search(r"^var idle = \d+m$", text, re.M), "idle is a var a task may shorten"
