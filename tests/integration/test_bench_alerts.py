"""bench/alerts.py at its smoke size: a fleet through the stack, one incident of each kind, the alerts read back.

What is asserted is what the alert tasks must do whatever the detector: the table names every kind; the
silent device is alerted by device_silence once, between one and three silences after it fell silent (two, and
one for the way in); no healthy device is called silent; every alert the run's tasks wrote to InfluxDB reached
the topic's log handler; the first alert after the incident of each faulted device that was alerted arrived
through every shipped handler of device-alerts (log, mqtt, kafka, webhook, email, copied onto the run's topic,
each to its real receiver); and the device whose level shifted by 8 sd is flagged (a new anomaly alert at or
after the shift, or one still CRITICAL when it came). The anomaly alerts on healthy devices are printed, named, not asserted:
the detector is being reworked (bench/alerts.py's table gives the figures).
"""

from __future__ import annotations

import pytest

import alerts

# The alert receivers listen on fixed ports (tests/alert_receivers.py), and the tests count what reaches them: not
# beside the other tests of alerts.
pytestmark = [pytest.mark.stack, pytest.mark.exclusive("alerts")]


@pytest.fixture(scope="module")
def result(stack):
    return alerts.run(alerts.SMOKE, out=print)


def _device(result, kind: str) -> str:
    (device,) = [d for d, (incident, _) in result.incidents.items() if incident.kind == kind]
    return device


def test_the_table_names_every_fault_and_the_false_alerts(result):
    text = alerts.table(result)
    print("\n" + text)
    rows = [line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| ")]
    assert [r for r in rows if r in alerts.INCIDENT_KINDS] == list(alerts.INCIDENT_KINDS)
    assert f"false alerts: {len(result.false_alerts())} in " in text
    assert len(result.incidents) == 5 and len(result.healthy) == 5


def test_the_silent_device_is_alerted_once_within_three_silences(result):
    device = _device(result, "silence")
    after = result.after(device)
    assert [a["alert"] for a in after] == ["silence"], after
    seconds = (after[0]["time"] - result.incidents[device][1]) / 1e9
    silence = result.settings.silence
    # The deadman counts a device's messages every `silence`: the first empty count ends one to two silences
    # after the last message reached Kapacitor (and the simulator's clock may lead the wall's by up to a second).
    # That message reaches Kapacitor after Telegraf's 1-s flush and the stack's own lag: on a loaded 2-core
    # machine the alert came 14 and 16 s after the silence of 5 s, so a third silence is allowed for the way in.
    assert silence - 1 <= seconds <= 3 * silence, seconds


def test_no_device_that_kept_sending_is_called_silent(result):
    silent = [a for a in result.false_alerts() if a["alert"] == "silence"]
    assert silent == []
    others = [a for a in result.critical() if a["alert"] == "silence" and _device(result, "silence") != a["device_id"]]
    assert others == []


def test_every_alert_in_influxdb_reached_the_log_handler(result):
    assert result.alerts and result.logged == len(result.alerts)


def test_each_alerted_faulted_device_was_alerted_through_every_handler(result):
    assert result.handlers == ["log", "mqtt", "kafka", "webhook", "email"]
    alerted = [d for d in result.incidents if result.after(d)]
    assert alerted, "no faulted device alerted"
    assert result.unreached() == [], {d: result.not_reached(result.after(d)[0]) for d in result.unreached()}


def test_a_large_level_shift_is_flagged(result):
    device = _device(result, "shift")
    assert result.after(device) or "anomaly pressure" in result.open_at(device), (
        f"{device} not CRITICAL during its shift; highest score after it {result.max_scores[device]}")
