"""Only the right tool gets into Kapacitor's API: its own users, against the real server.

Kapacitor's refusals: HTTP 401 without a valid login, 403 for what a user's
permissions leave out; no TLS handshake for a client that does not trust the
stack's CA, 400 for plain HTTP.
"""

from __future__ import annotations

import pytest

from stackutil import assert_tls_only
from tickml.kapacitor import Kapacitor

pytestmark = pytest.mark.stack


def _refused(call) -> str:
    with pytest.raises(RuntimeError) as refused:
        call()
    return str(refused.value)


def test_no_login_a_wrong_password_and_an_unknown_user_get_401(stack):
    for login in (("tickml-admin", "not-the-password"), ("nobody", "x")):
        assert "HTTP 401" in _refused(lambda: Kapacitor(login=login).tasks())
    anonymous = Kapacitor(login=None)
    assert "HTTP 401" in _refused(anonymous.tasks)
    assert "HTTP 401" in _refused(lambda: anonymous.write(["intruder value=1"]))


def test_a_user_without_the_task_permission_can_neither_list_nor_define_tasks(stack, run_id):
    admin = Kapacitor()
    name, password = f"{run_id}config", "a-password-for-the-test"
    admin._call("POST", "/users", {"name": name, "password": password, "type": "normal",
                                   "permissions": ["config_api"]})
    try:
        limited = Kapacitor(login=(name, password))
        assert "HTTP 403" in _refused(limited.tasks)
        script = 'dbrp "telemetry"."autogen"\nstream\n    |from().measurement(\'x\')\n'
        assert "HTTP 403" in _refused(lambda: limited._call("POST", "/tasks", {
            "id": f"{run_id}forged", "type": "stream", "status": "disabled", "script": script}))
        assert "HTTP 403" in _refused(lambda: limited.write(["intruder value=1"]))
    finally:
        admin._call("DELETE", f"/users/{name}")
    assert admin.task(f"{run_id}forged") is None


def test_it_speaks_https_only_with_the_stacks_certificate(stack, kapacitor):
    assert kapacitor.url.startswith("https://")
    assert_tls_only(f"{kapacitor.url}/ping")


def test_the_admin_lists_the_tasks(stack):
    assert {t["id"] for t in Kapacitor().tasks()} >= {"device_aggregates"}
