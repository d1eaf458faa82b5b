"""Who may read the dashboard: the middleware in front of the app (Host allowlist, then the login), its settings,
and the login's place among the stack's secrets. No stack: the middleware is called as a WSGI server would."""

from __future__ import annotations

import base64
import wsgiref.util

import pytest

from tickml import cli, secrets
from tickml.dashboard import guard, settings
from tickml import config

HOSTS = ("127.0.0.1:18050", "localhost:18050")


def _app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"the dashboard"]


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def call(authorization: str | None = None, host: str | None = "127.0.0.1:18050", path: str = "/",
         method: str = "GET") -> tuple[str, dict, bytes]:
    """Status, headers and body of one request through a guard for tickml-viewer/s3cret."""
    environ = {"PATH_INFO": path, "REQUEST_METHOD": method}
    wsgiref.util.setup_testing_defaults(environ)
    environ.pop("HTTP_HOST")
    if host is not None:
        environ["HTTP_HOST"] = host
    if authorization is not None:
        environ["HTTP_AUTHORIZATION"] = authorization
    answered = {}

    def start_response(status, headers):
        answered.update(status=status, headers=dict(headers))

    body = b"".join(guard.Guard(_app, "tickml-viewer", "s3cret", HOSTS)(environ, start_response))
    return answered["status"], answered["headers"], body


@pytest.mark.parametrize("path", ["/", "/device/x", "/_dash-layout", "/_dash-update-component",
                                  "/_dash-component-suites/dash/dcc/dash_core_components.js", "/assets/dashboard.css"])
def test_no_credentials_is_a_401_with_a_basic_challenge(path):
    status, headers, body = call(path=path, method="POST" if "update" in path else "GET")
    assert status == "401 Unauthorized"
    assert headers["WWW-Authenticate"] == 'Basic realm="tickml dashboard", charset="UTF-8"'
    assert body != b"the dashboard" and b"tickml secrets login dashboard" in body


@pytest.mark.parametrize("authorization", [
    _basic("tickml-viewer", "wrong"), _basic("tickml-viewer", "s3cret "), _basic("tickml-viewer", "s3cre"),
    _basic("someone", "s3cret"), _basic("", ""), "Basic " + base64.b64encode(b"tickml-viewers3cret").decode(),
    "Basic not-base64!", "Bearer s3cret", "tickml-viewer:s3cret", "",
])
def test_a_wrong_or_malformed_login_is_a_401(authorization):
    assert call(authorization)[0] == "401 Unauthorized"


def test_the_right_login_reaches_the_app():
    status, _, body = call(_basic("tickml-viewer", "s3cret"))
    assert (status, body) == ("200 OK", b"the dashboard")
    assert call("basic " + _basic("tickml-viewer", "s3cret").split()[1])[0] == "200 OK", "the scheme has no case"


def test_user_and_password_are_both_compared_in_constant_time(monkeypatch):
    compared = []

    def compare(a, b):
        compared.append((a, b))
        return a == b

    monkeypatch.setattr(guard.hmac, "compare_digest", compare)
    assert call(_basic("someone", "s3cret"))[0] == "401 Unauthorized"
    assert compared == [(b"someone", b"tickml-viewer"), (b"s3cret", b"s3cret")], "a wrong user name stops nothing early"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:18050", "127.0.0.1", "localhost",
                                  "127.0.0.1:18051", "localhost.:18050", "127.0.0.1.nip.io:18050", "[::1]:18050",
                                  "", None])
def test_a_foreign_host_is_a_400_login_or_not(host):
    for authorization in (None, _basic("tickml-viewer", "s3cret")):
        status, _, body = call(authorization, host=host)
        assert status == "400 Bad Request", (host, authorization)
        assert b"allowed-hosts" in body and body != b"the dashboard"


@pytest.mark.parametrize("host", ["127.0.0.1:18050", "localhost:18050", "LocalHost:18050"])
def test_an_allowed_host_with_the_login_reaches_the_app(host):
    assert call(_basic("tickml-viewer", "s3cret"), host=host)[0] == "200 OK"
    assert call(host=host)[0] == "401 Unauthorized"


# ---------------------------------------------------------------------------
# The allowlist's settings


def test_the_default_allowlist_is_loopback_on_the_port_listened_on():
    shipped = settings.load()
    assert shipped.allowed_hosts == ()
    assert shipped.hosts == (f"127.0.0.1:{shipped.port}", f"localhost:{shipped.port}")
    assert shipped.replace(port=40001).hosts == ("127.0.0.1:40001", "localhost:40001"), "--listen moves it"
    assert shipped.replace(host="0.0.0.0").hosts == shipped.hosts, "all addresses is no name to allow"


def test_allowed_hosts_are_read_and_checked(tmp_path):
    text = config.DASHBOARD_CONF.read_text()
    assert "\n  allowed-hosts = []\n" in text
    conf = tmp_path / "dashboard.toml"
    conf.write_text(text.replace("allowed-hosts = []", 'allowed-hosts = ["Dash.Example.lan:443", "[::1]:18050"]'))
    loaded = settings.load(conf)
    assert loaded.hosts == ("dash.example.lan:443", "[::1]:18050")
    assert loaded.replace(port=1).hosts == loaded.hosts, "listed names are kept as listed"
    for bad in ('"localhost:18050"', '["localhost"]', '["http://localhost:18050"]', '["a b:1"]', "[18050]"):
        conf.write_text(text.replace("allowed-hosts = []", f"allowed-hosts = {bad}"))
        with pytest.raises(config.StackError, match=r"\[http\] allowed-hosts must be a list of HOST:PORT"):
            settings.load(conf)
    conf.write_text(text.replace("  allowed-hosts = []\n", ""))
    assert settings.load(conf).hosts == settings.load().hosts, "a dashboard.toml of before takes the defaults"


# ---------------------------------------------------------------------------
# The login among the stack's secrets


@pytest.fixture
def folder(secrets_folder):
    return secrets_folder


def test_the_dashboard_login_is_made_with_the_other_secrets_and_kept(folder):
    import json

    secrets.ensure()
    user, password = secrets.dashboard_login()
    assert user == "tickml-viewer" and len(password) >= 32
    assert json.loads((folder / "credentials.json").read_text())["dashboard"] == {user: password}
    assert guard.authorization() == _basic(user, password)
    with pytest.raises(secrets.SecretsError, match="no dashboard account 'admin'"):
        secrets.dashboard_login("admin")


def test_credentials_of_before_gain_the_dashboard_login_and_keep_the_rest(folder):
    import json

    secrets.ensure()
    creds = json.loads((folder / "credentials.json").read_text())
    del creds["dashboard"]
    (folder / "credentials.json").write_text(json.dumps(creds))
    with pytest.raises(secrets.SecretsError, match="tickml secrets ensure"):
        secrets.dashboard_login()
    assert "credentials.json" in secrets.ensure()
    again = json.loads((folder / "credentials.json").read_text())
    assert {k: v for k, v in again.items() if k != "dashboard"} == creds
    assert secrets.dashboard_login()[1] == again["dashboard"]["tickml-viewer"]


def test_the_cli_prints_the_dashboard_login(folder, capsys):
    secrets.ensure()
    user, password = secrets.dashboard_login()
    assert cli.main(["secrets", "login", "dashboard"]) == 0
    assert capsys.readouterr().out == f"user:     {user}\npassword: {password}\n"
    assert cli.main(["secrets", "password", "dashboard", user]) == 0
    assert capsys.readouterr().out == f"{password}\n"
    assert cli.main(["secrets", "login", "influxdb"]) == 2, "InfluxDB has several accounts: name one"
    assert "login influxdb|mqtt ACCOUNT" in capsys.readouterr().err
    assert cli.main(["secrets", "login", "influxdb", "tickml-dashboard"]) == 0
    assert capsys.readouterr().out.startswith("user:     tickml-dashboard\n")


def test_dashboard_url_says_how_to_log_in(capsys):
    assert cli.main(["dashboard", "--url"]) == 0
    out, err = capsys.readouterr()
    assert out == f"http://127.0.0.1:{settings.load().port}/\n", "the address alone on stdout, for scripts"
    assert "log in as tickml-viewer" in err and "tickml secrets login dashboard" in err and "credentials.json" in err
