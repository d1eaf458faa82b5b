"""The simulator's faults: pure, seeded, independent of each other."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from devices import faults
from devices.fleet import DEVICE_TYPES, Fleet, encode
from devices.simulator import build_fleet, fleet_messages, fleet_ticks

T0 = 1_700_000_000 * 10**9


def ticks(n_devices=50, n_ticks=40, types=("thermostat", "temp_sensor", "power_meter"), seed=3, **fault_options):
    fleet, chain, run = build_fleet(n_devices, list(types), seed=seed, start_ns=T0, ticks=n_ticks, **fault_options)
    return list(fleet_ticks(fleet, chain, **run))


def samples_of(result):
    return [s for _, batch in result for s in batch]


def test_no_fault_changes_nothing():
    plain = ticks()
    assert plain == ticks(missing=0.0)
    assert len(samples_of(plain)) == 50 * 40


@pytest.mark.parametrize(
    "options",
    [
        {"missing": 0.1},
        {"spikes": (0.05, 8.0)},
        {"drift": (0.2, 0.05)},
        {"onoff": (0.3, 5, 3)},
        {"late": (0.1, 3)},
        {"missing": 0.1, "spikes": (0.05, 8.0), "drift": (0.2, 0.05), "onoff": (0.3, 5, 3), "late": (0.1, 3)},
    ],
    ids=lambda o: "+".join(o),
)
def test_the_same_seed_gives_the_same_run(options):
    assert ticks(**options) == ticks(**options)
    assert ticks(seed=4, **options) != ticks(**options)


@pytest.mark.parametrize(
    "fault",
    [
        faults.MissingValues(0.5, seed=1),
        faults.Spikes(0.5, 8.0, seed=1),
        faults.Drift(1.0, 0.1, n_devices=3, seed=1),
        faults.OnOff(1.0, 1, 1, n_devices=3, seed=1),
        faults.Late(0.5, 2, seed=1),
    ],
    ids=lambda f: f.name,
)
def test_a_fault_never_changes_the_samples_it_is_given(fault):
    batch = Fleet.create(3, ["temp_sensor"], seed=0).samples(T0)
    before = copy.deepcopy(batch)
    for tick in range(5):
        fault.apply(tick, batch)
    assert batch == before


def test_enabling_one_fault_does_not_change_another():
    # The missing values fall on the same readings whether or not spikes are on.
    only = samples_of(ticks(missing=0.2))
    both = samples_of(ticks(missing=0.2, spikes=(0.1, 8.0)))
    assert [[v is None for v in s.readings.values()] for s in only] == [
        [v is None for v in s.readings.values()] for s in both
    ]


def test_missing_values_are_null_at_about_the_rate_asked():
    samples = samples_of(ticks(n_devices=200, n_ticks=50, missing=0.1))
    values = [v for s in samples for v in s.readings.values()]
    share = sum(v is None for v in values) / len(values)
    assert 0.09 < share < 0.11
    # A missing value is JSON null in the message.
    missing = next(s for s in samples if None in s.readings.values())
    assert b":null" in encode(missing.message())


def test_spikes_jump_by_size_standard_deviations():
    plain = samples_of(ticks())
    spiked = samples_of(ticks(spikes=(0.05, 8.0)))
    jumps = []
    for a, b in zip(plain, spiked):
        for name in a.readings:
            if a.readings[name] != b.readings[name]:
                sd = DEVICE_TYPES[a.device_type].sensors[name][1]
                jumps.append(abs(b.readings[name] - a.readings[name]) / sd)
    assert jumps and np.allclose(jumps, 8.0, atol=1e-3)
    assert 0.03 < len(jumps) / sum(len(s.readings) for s in plain) < 0.07


def test_drift_grows_linearly_on_the_chosen_devices_only():
    plain = ticks(n_devices=10, types=("barometer",))
    drifted = ticks(n_devices=10, types=("barometer",), drift=(0.3, 0.5))
    sd = DEVICE_TYPES["barometer"].sensors["pressure"][1]
    moved = set()
    for tick, ((_, a), (_, b)) in enumerate(zip(plain, drifted)):
        for x, y in zip(a, b):
            delta = y.readings["pressure"] - x.readings["pressure"]
            if delta:
                moved.add(x.device_id)
                assert delta == pytest.approx(0.5 * tick * sd, abs=2e-3)
    assert len(moved) == 3  # exactly 30 % of 10 devices


def test_onoff_devices_read_zero_in_their_pattern_and_nothing_else_does():
    result = ticks(n_devices=10, n_ticks=30, types=("power_meter",), onoff=(0.5, 4, 2))
    by_device: dict[str, list[bool]] = {}
    for _, batch in result:
        for s in batch:
            by_device.setdefault(s.device_id, []).append(all(v == 0.0 for v in s.readings.values()))
    switching = {d: offs for d, offs in by_device.items() if any(offs)}
    assert len(switching) == 5
    for offs in switching.values():
        # on 4, off 2, on 4 ...: from some phase of the 6-tick cycle
        patterns = [[(i + phase) % 6 >= 4 for i in range(len(offs))] for phase in range(6)]
        assert offs in patterns


def test_late_messages_arrive_after_newer_ones_and_none_is_lost():
    result = ticks(n_devices=20, n_ticks=30, types=("thermostat",), late=(0.2, 3))
    sent = samples_of(result)
    assert sorted((s.device_id, s.time_ns) for s in sent) == sorted(
        (s.device_id, s.time_ns) for s in samples_of(ticks(n_devices=20, n_ticks=30, types=("thermostat",)))
    )
    # Per device, some messages go out after a newer one: out of order.
    last_seen: dict[str, int] = {}
    out_of_order = 0
    for s in sent:
        if s.time_ns < last_seen.get(s.device_id, 0):
            out_of_order += 1
        last_seen[s.device_id] = max(last_seen.get(s.device_id, 0), s.time_ns)
    assert 0.1 * len(sent) < out_of_order < 0.3 * len(sent)
    # Nothing is later than 3 ticks.
    for tick, (_, batch) in enumerate(result[:30]):
        assert all(tick - (s.time_ns - T0) // 10**9 <= 3 for s in batch)


def test_message_count_is_exact_with_a_partial_last_tick_and_late_messages():
    messages = fleet_messages(devices=7, types=["thermostat"], messages=100, late=(0.3, 2), start_ns=T0)
    assert len(messages) == 100
    assert len({(m["device_id"], m["timestamp"]) for m in messages}) == 100


@pytest.mark.parametrize(
    "parse, spec, message",
    [
        (faults.parse_missing, "1.5", "P must be between 0 and 1, got 1.5"),
        (faults.parse_missing, "", "--missing wants P"),
        (faults.parse_spikes, "x", "P must be a float, got 'x'"),
        (faults.parse_drift, "0.1:0.2:3", "--drift wants FRACTION:[RATE]"),
        (faults.parse_onoff, "0.1:0:3", "--onoff: ON and OFF must be at least 1, got 0 and 3"),
        (faults.parse_late, "0.1:0", "TICKS must be at least 1, got 0"),
    ],
)
def test_bad_fault_specs_say_what_is_wrong(parse, spec, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse(spec)


def test_fault_specs_take_defaults_for_what_is_left_out():
    assert faults.parse_onoff("0.1:3") == (0.1, 3, 10)
    assert faults.parse_onoff("0.1") == (0.1, 30, 10)
    assert faults.parse_spikes("0.2") == (0.2, 8.0)
    assert faults.parse_late("0.2") == (0.2, 3)


# --- incidents: one chosen device, from one chosen tick ----------------------------------------------------


def _pressures(result) -> dict[str, list[float | None]]:
    """device -> its pressure readings, tick by tick (a tick it sends nothing: absent)."""
    out: dict[str, list] = {}
    for _, batch in result:
        for s in batch:
            out.setdefault(s.device_id, []).append(s.readings["pressure"])
    return out


@pytest.mark.parametrize("kind", faults.INCIDENT_KINDS)
def test_an_incident_changes_its_device_from_its_tick_and_nothing_else(kind):
    plain = _pressures(ticks(n_devices=4, n_ticks=12, types=("barometer",)))
    planted = _pressures(ticks(n_devices=4, n_ticks=12, types=("barometer",),
                               incidents=[faults.Incident(kind, 2, 5, 2.0)]))
    sd = DEVICE_TYPES["barometer"].sensors["pressure"][1]
    for device in ("barometer-0", "barometer-1", "barometer-3"):
        assert planted[device] == plain[device]
    before, after = plain["barometer-2"], planted["barometer-2"]
    assert after[:5] == before[:5]
    expected = {
        "spike": [before[5] + 2 * sd] + before[6:],
        "shift": [v + 2 * sd for v in before[5:]],
        "drift": [v + 2 * sd * (k + 1) for k, v in enumerate(before[5:])],
        "stuck": [before[5]] * 7,
        "silence": [],
    }[kind]
    assert after[5:] == pytest.approx(expected, abs=2e-3)


def test_incidents_are_reproducible_and_leave_the_other_faults_where_they_were():
    planted = [faults.Incident("shift", 1, 3, 4.0), faults.Incident("silence", 4, 2)]
    assert ticks(incidents=planted, missing=0.2) == ticks(incidents=planted, missing=0.2)
    # The random faults draw as they would without the incidents (their own generators).
    with_them = [s for s in samples_of(ticks(incidents=planted, missing=0.2)) if s.index not in (1, 4)]
    without = [s for s in samples_of(ticks(missing=0.2)) if s.index not in (1, 4)]
    assert with_them == without


def test_an_incident_never_changes_the_samples_it_is_given():
    fault = faults.Incidents([faults.Incident(k, i, 1, 3.0) for i, k in enumerate(faults.INCIDENT_KINDS)])
    batch = Fleet.create(5, ["temp_sensor"], seed=0).samples(T0)
    before = copy.deepcopy(batch)
    for tick in range(4):
        fault.apply(tick, batch)
    assert batch == before


def test_a_device_takes_one_incident_and_one_the_fleet_has():
    with pytest.raises(ValueError, match="device 1 has two incidents"):
        faults.Incidents([faults.Incident("shift", 1, 3), faults.Incident("spike", 1, 5)])
    with pytest.raises(ValueError, match="incident on device 9, but the fleet has devices 0 to 3"):
        ticks(n_devices=4, incidents=[faults.Incident("stuck", 9, 3)])


@pytest.mark.parametrize(
    "spec, message",
    [
        ("melt:1:5", "KIND must be one of spike, shift, drift, stuck, silence, got 'melt'"),
        ("shift:3", "--incident wants KIND:DEVICE:TICK[:SIZE], got 'shift:3'"),
        ("shift:x:3", "DEVICE must be a int, got 'x'"),
        ("shift:1:-3", "DEVICE and TICK must be 0 or more, got 1 and -3"),
    ],
)
def test_bad_incident_specs_say_what_is_wrong(spec, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        faults.parse_incident(spec)


def test_incident_specs_take_their_kinds_default_size():
    assert faults.parse_incident("spike:0:9") == faults.Incident("spike", 0, 9, 8.0)
    assert faults.parse_incident("drift:2:9") == faults.Incident("drift", 2, 9, 0.05)
    assert faults.parse_incident("stuck:2:9:5").size == 5.0  # accepted, unused
