"""Only the right service and person gets into InfluxDB: logins and least-privilege users, against the real server.

Each refusal is InfluxDB's own answer: HTTP 401 without a valid login, 403
(or an InfluxQL error naming the missing privilege) for what a user may not do.
"""

from __future__ import annotations

import time

import pytest

from stackutil import assert_tls_only
from tickml import secrets
from tickml.influx import Influx, InfluxError

pytestmark = pytest.mark.stack


def _as(account: str) -> Influx:
    username, password = secrets.influxdb_login(account)
    return Influx(username=username, password=password)


def _refused(call) -> str:
    with pytest.raises(InfluxError) as refused:
        call()
    return str(refused.value)


def test_no_login_and_a_wrong_password_are_refused(stack):
    for client in (Influx(username=None), Influx(username="tickml-admin", password="not-the-password"),
                   Influx(username="nobody", password="x")):
        assert "HTTP 401" in _refused(lambda: client.query("SHOW DATABASES"))
        assert "HTTP 401" in _refused(lambda: client.write(["intruder value=1"]))


def test_it_speaks_https_only_with_the_stacks_certificate(stack, influx):
    assert influx.url.startswith("https://")
    assert_tls_only(f"{influx.url}/ping")


def test_the_dashboard_reads_and_can_do_nothing_else(stack, influx, run_id):
    influx.write([f"security_probe,run={run_id} value=1 {time.time_ns()}"])
    dashboard = _as("tickml-dashboard")
    assert [r["value"] for r in dashboard.query(f"SELECT value FROM security_probe WHERE run = '{run_id}'")] == [1]
    assert "HTTP 403" in _refused(lambda: dashboard.write([f"security_probe,run={run_id} value=2"]))
    assert "admin privilege" in _refused(lambda: dashboard.execute('DROP DATABASE "telemetry"'))
    assert "admin privilege" in _refused(lambda: dashboard.execute("CREATE USER mallory WITH PASSWORD 'x' WITH ALL PRIVILEGES"))
    assert "telemetry" in {r["name"] for r in influx.query("SHOW DATABASES")}


def test_telegraf_writes_its_databases_only_and_reads_nothing(stack, influx, run_id):
    telegraf = _as("tickml-telegraf")
    telegraf.write([f"security_probe,run={run_id} value=3 {time.time_ns()}"])
    assert [r["value"] for r in influx.query(f"SELECT value FROM security_probe WHERE run = '{run_id}'")] == [3]
    assert "not authorized" in _refused(lambda: telegraf.query("SELECT * FROM security_probe LIMIT 1"))
    influx.execute('CREATE DATABASE "security_other"')
    assert "HTTP 403" in _refused(lambda: telegraf.write(["security_probe value=4"], database="security_other"))
    assert "admin privilege" in _refused(lambda: telegraf.execute('DROP DATABASE "telemetry"'))


def test_every_account_of_the_secrets_logs_in(stack):
    for account in secrets.INFLUXDB_ACCOUNTS:
        client = _as(account)
        if account in ("tickml-telegraf",):
            client.write([f"security_probe,account={account} value=5 {time.time_ns()}"])
        else:
            client.query("SELECT * FROM security_probe LIMIT 1")
