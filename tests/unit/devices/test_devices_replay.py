"""File replay: parsing CSV and JSON lines, timestamps, pacing and restamping."""

from __future__ import annotations

import json

import pytest

from devices.replay import Record, normalise, parse_time, read_records, schedule

T = 1680033862 * 10**9  # 2023-03-28T20:04:22Z


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2023-03-28T20:04:22Z", T),
        ("2023-03-28T20:04:22.123456789Z", T + 123456789),
        ("2023-03-28T22:04:22.5+02:00", T + 500_000_000),
        ("2023-03-28T20:04:22", T),  # no offset: UTC
        ("2023-03-28 20:04:22", T),
        (1680033862, T),
        (1680033862.25, T + 250_000_000),
        (1680033862250, T + 250_000_000),  # milliseconds
        (1680033862250000, T + 250_000_000),  # microseconds
        (1680033862250000000, T + 250_000_000),  # nanoseconds
        ("1680033862", T),
        ("soon", None),
        ("", None),
        (None, None),
        (True, None),
        (float("nan"), None),
    ],
)
def test_parse_time(value, expected):
    assert parse_time(value) == expected


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_json_lines_with_a_bad_line_keep_it_raw(tmp_path):
    path = write(
        tmp_path,
        "readings.jsonl",
        '{"device_id": "1", "timestamp": "2023-03-28T20:04:22Z", "tag": "Thermostat", "temperature": 25.2}\n'
        "\n"
        "this is not json\n"
        '[1, 2]\n'
        '{"device_id": 2, "timestamp": 1680033863, "tag": "Barometer", "pressure": null}\n',
    )
    records = list(read_records(path))
    assert [r.line for r in records] == [1, 3, 4, 5]
    assert records[0].message == {"device_id": "1", "timestamp": "2023-03-28T20:04:22.000Z", "tag": "Thermostat",
                                  "temperature": 25.2}  # fmt: skip
    assert records[0].time_ns == T
    assert records[1] == Record(3, None, b"this is not json")
    assert records[2] == Record(4, None, b"[1, 2]")
    assert records[3].message == {"device_id": "2", "timestamp": "2023-03-28T20:04:23.000Z", "tag": "Barometer",
                                  "pressure": None}  # fmt: skip


def test_csv_cells_become_json_values(tmp_path):
    path = write(
        tmp_path,
        "readings.csv",
        "device_id,timestamp,tag,voltage,current,note\n"
        "007,2023-03-28T20:04:22Z,PowerMeter,230.5,5,ok\n"
        "007,2023-03-28T20:04:23Z,PowerMeter,,1e1,\n"
        ",,,,,\n"
        "008,2023-03-28T20:04:24Z,PowerMeter,high,nan,x\n",
    )
    messages = [r.message for r in read_records(path)]
    assert messages == [
        {"device_id": "007", "timestamp": "2023-03-28T20:04:22.000Z", "tag": "PowerMeter", "voltage": 230.5,
         "current": 5, "note": "ok"},
        {"device_id": "007", "timestamp": "2023-03-28T20:04:23.000Z", "tag": "PowerMeter", "voltage": None,
         "current": 10.0, "note": None},
        {"device_id": "008", "timestamp": "2023-03-28T20:04:24.000Z", "tag": "PowerMeter", "voltage": "high",
         "current": "nan", "note": "x"},
    ]  # fmt: skip
    # Every message encodes as JSON (no NaN sneaks in).
    for m in messages:
        json.dumps(m, allow_nan=False)


def test_other_key_names_are_mapped_to_the_schema(tmp_path):
    path = write(tmp_path, "tml.jsonl", '{"uid": "AC000W020496398", "ts": 1680033862000, "voltage": 120743}\n')
    (record,) = read_records(path, id_key="uid", time_key="ts")
    assert record.message == {"voltage": 120743, "device_id": "AC000W020496398", "timestamp": "2023-03-28T20:04:22.000Z"}
    assert record.time_ns == T


def test_an_unparseable_time_is_kept_as_it_is():
    message, time_ns = normalise({"device_id": "a", "timestamp": "yesterday"})
    assert message == {"device_id": "a", "timestamp": "yesterday"} and time_ns is None


def test_unknown_extensions_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"want a \.csv or JSON-lines"):
        list(read_records(write(tmp_path, "readings.xml", "<x/>")))


def records_at(*seconds):
    return [Record(i, {"device_id": "a", "timestamp": "?"}, None, None if s is None else T + int(s * 1e9))
            for i, s in enumerate(seconds)]  # fmt: skip


def test_schedule_paces_by_the_file_times_over_speed():
    assert [d for d, _ in schedule(records_at(0, 1, None, 3, 2, 10), speed=2)] == [0, 0.5, 0.5, 1.5, 1.5, 5.0]
    assert [d for d, _ in schedule(records_at(0, 1, 3), speed=0)] == [0, 0, 0]


def test_restamp_shifts_every_time_and_keeps_the_spacing():
    new_start = 1_800_000_000 * 10**9
    out = [r for _, r in schedule(records_at(0, 1.5, None, 4), speed=0, restamp_at_ns=new_start)]
    assert [r.time_ns for r in out] == [new_start, new_start + 1_500_000_000, None, new_start + 4 * 10**9]
    assert out[1].message["timestamp"] == "2027-01-15T08:00:01.500Z"
    assert out[2].message["timestamp"] == "?"


def test_a_negative_speed_is_refused():
    with pytest.raises(ValueError, match="speed must be 0"):
        list(schedule(records_at(0), speed=-1))
