"""tests/stackturns.py across processes (pytest-xdist workers are processes): a serial test's turn excludes every
other test; a serial test waiting is not overtaken by tests that come after it; a name is held by one at a time."""

from __future__ import annotations

import multiprocessing
import time

from stackturns import StackTurns


def _hold(folder, kind: str, seconds: float, log, start_after: float = 0.0):
    time.sleep(start_after)
    turns = StackTurns(folder)
    turn = {"shared": turns.shared, "shared2": turns.shared, "alone": turns.alone}.get(kind)
    with (turn() if turn else turns.holding([kind])):
        log.put((kind, "in", time.monotonic()))
        time.sleep(seconds)
        log.put((kind, "out", time.monotonic()))


def _run(folder, plan):
    ctx = multiprocessing.get_context("fork")
    log = ctx.Queue()
    procs = [ctx.Process(target=_hold, args=(folder, kind, seconds, log, after)) for kind, seconds, after in plan]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    events = [log.get(timeout=5) for _ in range(2 * len(plan))]
    return {(k, what): t for k, what, t in events}, events


def test_a_serial_turn_waits_for_the_shared_one_and_a_later_shared_one_waits_for_it(tmp_path):
    times, _ = _run(tmp_path, [("shared", 1.0, 0.0), ("alone", 0.5, 0.4), ("shared2", 0.1, 0.8)])
    # shared2 is a shared turn asked for after the serial one: it must not overtake it.
    assert times[("alone", "in")] >= times[("shared", "out")]
    assert times[("shared2", "in")] >= times[("alone", "out")]


def test_two_tests_holding_one_name_never_overlap(tmp_path):
    _, events = _run(tmp_path, [("alerts", 0.5, 0.0), ("alerts", 0.5, 0.1)])
    assert [what for _, what, _ in sorted(events, key=lambda e: e[2])] == ["in", "out", "in", "out"]
