"""Valid credentials used in bad faith, with a fleet publishing: every trick of bench/hostile.py at a smoke size.

Each trick runs while four honest devices publish through the simulator's
gateway; it must be refused or confined, produce nothing where it must not
(another device's readings, another database), and cost the fleet nothing.
``python bench/hostile.py`` prints the same table at a larger size.
"""

from __future__ import annotations

import pytest

from hostile import Arena, table

# Reads Telegraf's log and the fleet's losses around each trick: nobody else's faults may show there.
pytestmark = [pytest.mark.stack, pytest.mark.serial]

TRICKS = ["forged_id", "other_topic", "kafka_forged", "gateway_for_registered", "route_database", "route_database_http",
          "http_forged", "otlp_forged", "kafka_gateway_forged", "take_telegrafs_client_id", "oversized_packet", "no_credentials", "influx_debug", "state_folder"]


@pytest.fixture(scope="module")
def arena(stack, influx):
    # No lead-in: each trick starts once the fleet's first messages are acknowledged, and the fleet goes on
    # until after it ends.
    return Arena(influx, seconds=3.0, fleet=4, lead_in=0.0)


def test_the_suite_names_every_trick(arena):
    assert sorted(arena.all()) == sorted(TRICKS)


@pytest.mark.parametrize("trick", TRICKS)
def test_the_trick_is_refused_or_confined_and_the_fleet_loses_nothing(arena, trick):
    (outcome,) = arena.run_tricks([trick])
    print("\n" + table([outcome]))
    assert outcome.verdict in ("refused", "confined"), outcome
    assert outcome.sent > 0 and outcome.lost == 0, outcome
    assert outcome.extra == 0, outcome
