"""The stack's secrets: made once with owner-only modes, kept by a second run, replaced by a rotation."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import stat
import subprocess
import tomllib

import pytest
from cryptography import x509

from tickml import gateways, secrets


@pytest.fixture
def folder(secrets_folder):
    return secrets_folder


def _contents(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_made_once_owner_only_and_kept_by_a_second_run(folder):
    assert "ca.key" in secrets.ensure()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o600}
    before = _contents(folder)
    assert secrets.ensure() == []
    assert _contents(folder) == before


def test_server_certificates_chain_to_the_ca_and_name_loopback(folder):
    secrets.ensure()
    ca = x509.load_pem_x509_certificate((folder / "ca.crt").read_bytes())
    for service in secrets.SERVICES:
        cert = x509.load_pem_x509_certificate((folder / f"{service}.crt").read_bytes())
        cert.verify_directly_issued_by(ca)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert "localhost" in names.get_values_for_type(x509.DNSName)
        assert "127.0.0.1" in {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}


def test_the_client_certificate_chains_to_the_ca_and_is_for_clients_only(folder):
    from cryptography.x509.oid import ExtendedKeyUsageOID

    secrets.ensure()
    ca = x509.load_pem_x509_certificate((folder / "ca.crt").read_bytes())
    crt, key = secrets.client_certificate()
    assert (crt, key) == (folder / "sender.crt", folder / "sender.key") and key.exists()
    cert = x509.load_pem_x509_certificate(crt.read_bytes())
    cert.verify_directly_issued_by(ca)
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH]
    telegraf = x509.load_pem_x509_certificate((folder / "telegraf.crt").read_bytes())
    assert list(telegraf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH]
    with pytest.raises(secrets.SecretsError, match="no client certificate 'nobody'"):
        secrets.client_certificate("nobody")


def test_rotation_replaces_passwords_and_certificates_as_asked(folder):
    secrets.ensure()
    first = _contents(folder)
    secrets.rotate("passwords")
    second = _contents(folder)
    assert second["credentials.json"] != first["credentials.json"]
    assert second["ca.crt"] == first["ca.crt"] and second["mosquitto.key"] == first["mosquitto.key"]
    secrets.rotate("certificates")
    third = _contents(folder)
    assert third["ca.crt"] != second["ca.crt"] and third["credentials.json"] == second["credentials.json"]
    with pytest.raises(secrets.SecretsError):
        secrets.rotate("everything")


def test_an_account_added_later_gets_a_password_and_the_others_are_kept(folder):
    secrets.ensure()
    creds = json.loads((folder / "credentials.json").read_text())
    del creds["http"]
    (folder / "credentials.json").write_text(json.dumps(creds))
    secrets.ensure()
    again = json.loads((folder / "credentials.json").read_text())
    assert again["mqtt"] == creds["mqtt"] and again["influxdb"] == creds["influxdb"]
    assert again["http"]["tickml-sender"]


def test_the_password_file_has_each_login_hashed_as_mosquitto_passwd_does(folder):
    secrets.ensure()
    secrets.register_devices(["pm-1", "pm-2"])
    entries = dict(line.split(":", 1) for line in (folder / "mosquitto.passwd").read_text().splitlines())
    gateway_logins = {login for g in gateways.load().values() for login in g.login_names()}
    assert set(entries) == {*secrets.MQTT_SERVICE_ACCOUNTS, *gateway_logins, "pm-1", "pm-2"}
    _, seven, iterations, salt, digest = entries["pm-1"].split("$")
    expected = hashlib.pbkdf2_hmac("sha512", secrets.device_password("pm-1").encode(), base64.b64decode(salt),
                                   int(iterations))
    assert (seven, iterations) == ("7", "101") and base64.b64decode(digest) == expected
    assert secrets.device_password("pm-1") != secrets.device_password("pm-2")


@pytest.mark.skipif(not shutil.which("mosquitto_passwd"), reason="Mosquitto's tool is not installed")
def test_our_hash_reads_like_the_tools(tmp_path):
    plain = tmp_path / "pw"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(plain), "u", "secret"], check=True)
    _, salt, _ = plain.read_text().strip().split(":", 1)[1].rsplit("$", 2)
    assert secrets.mosquitto_hash("secret", base64.b64decode(salt)) == plain.read_text().strip().split(":", 1)[1]


def test_device_ids_that_cannot_be_user_names_are_refused(folder):
    secrets.ensure()
    for bad in ("a/b", "a+b", "#", "tickml-operator", "a:b"):
        with pytest.raises(secrets.SecretsError):
            secrets.register_devices([bad])


def test_the_tools_listener_takes_the_operator_only(folder):
    secrets.ensure()
    secrets.register_devices(["pm-1"])
    users = [line.split(":", 1)[0] for line in (folder / "mosquitto-tools.passwd").read_text().splitlines()]
    assert users == ["tickml-operator"]


def test_a_gateways_logins_share_its_password_and_ids_taken_by_gateways_are_refused(folder, tmp_path, monkeypatch):
    declared = tmp_path / "gateways.toml"
    declared.write_text('[gateways.edge-1]\nids = ["pump-1", "pump-2"]\nlogins = 2\n'
                        '[gateways.sim]\nids = ["*"]\nlogins = 3\n')
    monkeypatch.setattr(gateways, "GATEWAYS_FILE", declared)
    secrets.ensure()
    assert secrets.mqtt_login("sim.2")[1] == secrets.mqtt_login("sim")[1] != secrets.mqtt_login("edge-1")[1]
    for taken in ("sim.1", "edge-1.1", "pump-1", "tickml-bridge"):
        with pytest.raises(secrets.SecretsError):
            secrets.register_devices([taken])
    secrets.register_devices(["pm-1"])
    acl = (folder / "mosquitto.acl").read_text()
    # Every login of the any-id gateway is denied the registered device and the other gateway's ids before it
    # may write devices/+/+.
    for login in ("sim", "sim.1", "sim.2"):
        assert (f"user {login}\ntopic deny devices/+/pm-1\ntopic deny devices/+/pump-1\ntopic deny devices/+/pump-2\n"
                f"topic write devices/+/+\n") in acl
    assert "user edge-1.1\ntopic write devices/+/pump-1\ntopic write devices/+/pump-2\n" in acl
    assert "topic write devices/#" not in acl


def test_the_senders_file_holds_each_accounts_ids_and_follows_registrations(folder, tmp_path, monkeypatch):
    declared = tmp_path / "gateways.toml"
    declared.write_text('[gateways.edge-1]\nids = ["pump-1"]\nhttp = 19001\notlp = 19002\n'
                        '[gateways.sim]\nids = ["*"]\n')
    monkeypatch.setattr(gateways, "GATEWAYS_FILE", declared)
    secrets.ensure()

    def constant() -> dict:
        conf = tomllib.loads((folder / secrets.TELEGRAF_SENDERS).read_text())
        (processor,) = conf["processors"]["starlark"]
        assert processor["order"] == 1 and processor["script"].endswith("/senders.star")
        return json.loads(processor["constants"]["senders"])

    assert constant() == {"senders": {"edge-1": ["pump-1"], "sim": ["*"]}, "reserved": ["pump-1"]}
    secrets.register_devices(["pm-1"])
    assert constant()["reserved"] == ["pm-1", "pump-1"]
    # Its own listeners' logins: an HTTP password, a client certificate naming it.
    assert secrets.http_login("edge-1")[0] == "edge-1"
    crt, _ = secrets.client_certificate("gateway-edge-1")
    names = x509.load_pem_x509_certificate(crt.read_bytes()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert names == ["gateway-edge-1.client.tickml.invalid"]
    with pytest.raises(secrets.SecretsError, match="no HTTP account 'sim'"):
        secrets.http_login("sim")


def test_an_edit_of_the_gateways_reaches_the_acl_and_the_senders_file_at_the_next_ensure(folder, tmp_path,
                                                                                          monkeypatch):
    declared = tmp_path / "gateways.toml"
    declared.write_text('[gateways.edge-1]\nids = ["pump-1"]\n')
    monkeypatch.setattr(gateways, "GATEWAYS_FILE", declared)
    secrets.ensure()
    declared.write_text('[gateways.edge-1]\nids = ["pump-1", "pump-9"]\n')
    assert set(secrets.ensure()) == {"mosquitto.acl", secrets.TELEGRAF_SENDERS}
    assert "topic write devices/+/pump-9" in (folder / "mosquitto.acl").read_text()
    assert "pump-9" in (folder / secrets.TELEGRAF_SENDERS).read_text()
    assert secrets.ensure() == []


def test_a_client_certificate_made_before_it_named_its_holder_is_made_again(folder):
    secrets.ensure()
    (folder / "sender.crt").write_bytes((folder / "telegraf.crt").read_bytes())  # a certificate naming localhost
    assert "sender.crt" in secrets.ensure()
    assert secrets.ensure() == []
