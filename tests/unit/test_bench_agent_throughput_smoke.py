"""bench/agent_throughput.py at its smoke size (2,000 points, one run): every handler through every harness got
all its points back, in order, for our agent and for Kapacitor's official one when the stack's install left its
source, with a rate for each, so that the bench cannot rot."""

from __future__ import annotations

import agent_throughput


def test_the_smoke_run_has_a_rate_for_every_handler_harness_and_agent():
    figures = agent_throughput.main(["--smoke"])
    agents = ["tickml"] + (["official"] if figures["official"] is None else [])
    for handler in ("passthrough", "filter"):
        for harness in ("pipe", "socket"):
            for agent in agents:
                wall, _ = figures[handler, harness, agent]
                assert wall > 0, (handler, harness, agent)
