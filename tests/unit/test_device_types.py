"""The device types (telegraf/device_types.toml): the loader names every bad declaration with its type and key,
the shipped file declares the fleet and the sample tracker, the JSON Telegraf gets is what the validator reads,
and ``tickml devices types`` lists them.

The validator's rules themselves run in Telegraf's Starlark, which Python cannot run: they are tried against the
real Telegraf in tests/integration/test_device_schema.py.
"""

from __future__ import annotations

import copy
import json
import re

import pytest

from tickml import cli, device_types
from tickml.device_types import DeviceTypesError, parse

GOOD = {
    "default_mode": {"enabled": True, "max_sensors_per_device": 32, "max_devices": 1000},
    "strings": {"max_length": 1024},
    "types": {
        "thermostat": {"tags": ["Thermostat"], "fields": {"temperature": {"kind": "number", "unit": "°C"}}},
        "tracker": {"tags": ["Tracker", "GPS-Tracker"], "fields": {
            "status": {"kind": "string", "unit": ""},
            "position": {"kind": "position", "unit": "degrees", "latitude": "lat", "longitude": "lon"}}},
    },
}


def changed(path: str, value) -> dict:
    """GOOD with the value at a dotted path replaced (``...`` deletes it)."""
    doc = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    node = doc
    for key in parents:
        node = node[key]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return doc


def problem(doc: dict) -> str:
    with pytest.raises(DeviceTypesError) as raised:
        parse(doc, "types.toml")
    return str(raised.value)


def test_a_good_declaration_parses_into_types_readings_and_settings():
    schema = parse(GOOD)
    tracker = schema.types["tracker"]
    assert tracker.tags == ("Tracker", "GPS-Tracker")
    assert [(r.name, r.kind, r.unit, r.keys) for r in tracker.readings] == [
        ("status", "string", "", ("status",)), ("position", "position", "degrees", ("lat", "lon"))]
    assert (schema.default_mode, schema.max_sensors_per_device, schema.max_devices, schema.max_string_length) == (
        True, 32, 1000, 1024)
    # A tag is matched without regard to case, and a type's own name (an MQTT topic's type) means it too.
    assert schema.type_of("gps-tracker") is tracker and schema.type_of("tracker") is tracker
    assert schema.type_of("Lamp") is None


@pytest.mark.parametrize("path, value, said", [
    # The file's tables and settings.
    ("lamps", {}, "unknown tables ['lamps']"),
    ("default_mode", ..., "[default_mode] is missing or not a table"),
    ("default_mode.enabled", "yes", "[default_mode] enabled must be true or false, got 'yes'"),
    ("default_mode.max_sensors_per_device", True,
     "[default_mode] max_sensors_per_device must be an integer, got True"),
    ("default_mode.max_sensors_per_device", 0, "[default_mode] max_sensors_per_device must be from 1 to 1,000, got 0"),
    ("default_mode.max_devices", 10**9, "[default_mode] max_devices must be from 1 to 10,000,000"),
    ("default_mode.cap", 3, "[default_mode] has unknown keys ['cap']"),
    ("strings.max_length", 100_000, "[strings] max_length must be from 1 to 65,536, got 100000"),
    ("strings", ..., "[strings] is missing or not a table"),
    ("types", {}, "[types] must hold at least one [types.<name>] table"),
    # A type.
    ("types.Pump", {"tags": ["Pump"], "fields": {"flow": {"kind": "number", "unit": "l/min"}}},
     "[types.Pump] is not a type name (lower-case letters, digits and _)"),
    ("types.pump", "Pump", "[types.pump] must be a table with tags and fields"),
    ("types.thermostat.topic", "x", "[types.thermostat] has unknown keys ['topic']"),
    ("types.thermostat.tags", ..., "[types.thermostat] tags must be a list of at least one non-empty string, got None"),
    ("types.thermostat.tags", [], "[types.thermostat] tags must be a list of at least one non-empty string, got []"),
    ("types.thermostat.tags", ["Thermostat", ""], "[types.thermostat] tags must be a list of at least one non-empty"),
    ("types.thermostat.tags", ["T" * 65], "[types.thermostat] tags must be at most 64 characters"),
    ("types.thermostat.fields", {}, "[types.thermostat] fields must hold at least one reading"),
    # A reading.
    ("types.thermostat.fields.temperature", "number", "[types.thermostat] fields.temperature must be a table"),
    ("types.thermostat.fields.temperature.kind", "bool",
     "[types.thermostat] fields.temperature: kind must be one of number, string, position, got 'bool'"),
    ("types.thermostat.fields.temperature.kind", ..., "fields.temperature: kind must be one of"),
    ("types.thermostat.fields.temperature.unit", ...,
     "[types.thermostat] fields.temperature: unit is missing (write unit = \"\" for a reading without one)"),
    ("types.thermostat.fields.temperature.unit", 1, "[types.thermostat] fields.temperature: unit must be a string"),
    ("types.thermostat.fields.temperature.scale", 10,
     "[types.thermostat] fields.temperature has unknown keys ['scale']"),
    ("types.thermostat.fields.temperature.latitude", "lat",
     "fields.temperature has unknown keys ['latitude']; the keys are kind, unit (latitude and longitude are a "
     "position's)"),
    ("types.thermostat.fields.value", {"kind": "number", "unit": ""},
     "[types.thermostat] fields.value: the name 'value' is never a reading (reserved: device_id, tag, timestamp"),
    ("types.thermostat.fields.device_id", {"kind": "string", "unit": ""}, "the name 'device_id' is never a reading"),
    ("types.thermostat.fields.temp rature", {"kind": "number", "unit": ""},
     "[types.thermostat] fields.temp rature: the name 'temp rature' is not a reading's key"),
    ("types.thermostat.fields." + "t" * 65, {"kind": "number", "unit": ""}, "is not a reading's key (at most 64"),
    # A position.
    ("types.tracker.fields.position.latitude", ...,
     "[types.tracker] fields.position: a position names its message keys, latitude = \"...\" is missing"),
    ("types.tracker.fields.position.longitude", "lat",
     "[types.tracker] fields.position: latitude and longitude are the same key 'lat'"),
    ("types.tracker.fields.position.longitude", "tag", "fields.position: longitude 'tag' is never a reading"),
    ("types.tracker.fields.lat", {"kind": "number", "unit": "degrees"},
     "[types.tracker] fields.lat: the message key 'lat' is already fields.position's"),
])
def test_each_bad_declaration_is_named_with_its_type_and_key(path, value, said):
    assert said in problem(changed(path, value))


def test_across_types_a_tag_means_one_type_and_a_name_one_kind():
    doc = copy.deepcopy(GOOD)
    doc["types"]["pump"] = {"tags": ["THERMOSTAT", "tracker"], "fields": {
        "status": {"kind": "number", "unit": ""}, "lat": {"kind": "number", "unit": "degrees"}}}
    said = problem(doc)
    assert "[types.pump] tags: 'thermostat' (case aside) already means [types.thermostat]" in said
    assert "[types.pump] tags: 'tracker' (case aside) already means [types.tracker]" in said
    assert ("[types.pump] fields.status: 'status' is a number here and a string in [types.tracker] "
            "(a name means one thing in every type)") in said
    assert "[types.pump] fields.lat: 'lat' is a number here and a half of position position in [types.tracker]" in said


def test_every_problem_comes_in_one_message_naming_the_file():
    doc = changed("types.thermostat.fields.temperature.unit", ...)
    doc["default_mode"]["enabled"] = 1
    doc["types"]["tracker"]["tags"] = []
    said = problem(doc)
    assert said.startswith("types.toml: ")
    assert said.count("; ") == 2, said
    for part in ("[default_mode] enabled", "[types.thermostat] fields.temperature: unit", "[types.tracker] tags"):
        assert part in said


def test_a_file_that_is_not_toml_or_missing_is_named(tmp_path):
    bad = tmp_path / "device_types.toml"
    bad.write_text("[types.thermostat\n")
    with pytest.raises(DeviceTypesError, match=re.escape(str(bad))):
        device_types.load(bad)
    with pytest.raises(DeviceTypesError, match="no such file"):
        device_types.load(tmp_path / "none.toml")


def test_a_schema_too_large_for_an_environment_variable_is_refused():
    doc = copy.deepcopy(GOOD)
    doc["types"]["big"] = {"tags": ["Big"], "fields": {f"r{k:05d}": {"kind": "number", "unit": "u" * 20}
                                                       for k in range(4000)}}
    assert "declares more than Telegraf can be handed in one environment variable" in problem(doc)


def test_the_constant_is_one_line_of_json_without_a_single_quote():
    doc = changed("types.thermostat.fields.temperature.unit", "°C 'indoor'")
    constant = parse(doc).telegraf_constant()
    # It stands in a TOML literal string ('...') even where Telegraf substitutes before parsing.
    assert "'" not in constant and "\n" not in constant and constant.isascii()
    got = json.loads(constant)
    assert got["types"]["tracker"] == {"readings": {"status": "string"}, "positions": {"position": ["lat", "lon"]}}
    assert got["lookup"] == {"thermostat": "thermostat", "tracker": "tracker", "gps-tracker": "tracker"}
    assert got["numbers"] == ["temperature"]
    assert got["declared"] == ["lat", "lon", "position", "status", "temperature"]
    assert set(got["never"]) == {"device_id", "tag", "timestamp", "sensor", "session", "value", "tickml_database"}
    assert (got["default_mode"], got["max_sensors"], got["max_devices"], got["max_string"]) == (True, 32, 1000, 1024)


def test_the_shipped_file_declares_the_fleet_and_a_tracker_of_every_kind():
    schema = device_types.load()
    assert set(schema.types) == {"thermostat", "barometer", "hygrometer", "heartratemeter", "tempsensor",
                                 "powermeter", "tracker"}
    tracker = schema.types["tracker"]
    assert {r.kind for r in tracker.readings} == set(device_types.KINDS)
    assert schema.default_mode and schema.max_sensors_per_device == 32


def test_tickml_devices_types_lists_each_reading_with_its_kind_and_unit(capsys):
    assert cli.main(["devices", "types"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["type", "tags", "reading", "kind", "unit", "message", "keys"]
    rows = [line.split() for line in out[1:] if not line.startswith(("default mode", "strings"))]
    assert ["thermostat", "Thermostat", "temperature", "number", "°C", "temperature"] in rows
    assert ["current", "number", "A", "current"] in rows  # a type's further readings: its name left blank
    assert ["tracker", "Tracker", "status", "string", "-", "status"] in rows
    assert ["position", "position", "degrees", "lat,", "lon"] in rows
    assert any(line.startswith("default mode on: any other numeric key is a reading too, at most 32 names")
               for line in out)
    assert cli.main(["devices", "types", "--json"]) == 0
    assert capsys.readouterr().out == device_types.load().telegraf_constant() + "\n"


def test_tickml_devices_types_says_what_is_wrong_with_the_file(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "device_types.toml"
    bad.write_text('[default_mode]\nenabled = "yes"\n')
    monkeypatch.setattr(device_types, "DEVICE_TYPES_FILE", bad)
    assert cli.main(["devices", "types"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}: ") and "[default_mode] enabled must be true or false" in err


def test_the_telegraf_environment_carries_the_schema_and_a_broken_file_stops_the_start(tmp_path, monkeypatch):
    from tickml import config
    from tickml.stack import telegraf

    class NoSecrets:
        """Every login and file of the secrets a stand-in pair: only the device types matter here."""

        SECRETS = tmp_path
        MQTT_TOOLS_ACCOUNTS = ()

        def __getattr__(self, name):
            return lambda *args, **kwargs: (tmp_path / "a", tmp_path / "b")

    monkeypatch.setattr(telegraf, "secrets", NoSecrets())
    env = telegraf.environment()
    assert env["TICKML_DEVICE_SCHEMA"] == device_types.load().telegraf_constant()
    bad = tmp_path / "device_types.toml"
    bad.write_text("[types]\n")
    monkeypatch.setattr(device_types, "DEVICE_TYPES_FILE", bad)
    with pytest.raises(config.StackError, match="must hold at least one"):
        telegraf.environment()
