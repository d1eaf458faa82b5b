"""Gateways declared in mosquitto/gateways.toml, and the logins a sending process claims."""

from __future__ import annotations

import os

import pytest

from devices import logins
from tickml import gateways


def test_the_shipped_file_declares_the_simulators_gateway():
    shipped = gateways.load()
    assert shipped["tickml-gateway"].any_id and shipped["tickml-gateway"].logins >= 16


@pytest.mark.parametrize("spec, problem", [
    ({"ids": ["*", "pump-1"]}, '"*" stands alone'),
    ({"ids": []}, "ids must be a list"),
    ({"ids": ["a/b"]}, "are not device ids"),
    ({"ids": ["*"], "logins": 0}, "logins must be an integer"),
    ({"ids": ["*"], "logins": True}, "logins must be an integer"),
    ({"ids": ["*"], "login": 2}, "unknown keys ['login']"),
])
def test_a_bad_declaration_names_the_gateway_and_the_key(spec, problem):
    with pytest.raises(gateways.GatewayError) as caught:
        gateways.parse({"gateways": {"edge-1": spec}})
    assert "[gateways.edge-1]" in str(caught.value) and problem in str(caught.value)


def test_an_account_that_is_not_a_user_name_is_refused():
    with pytest.raises(gateways.GatewayError, match=r"\[gateways\.a\+b\] is not a user name"):
        gateways.parse({"gateways": {"a+b": {"ids": ["*"]}}})


def test_each_process_claims_a_login_of_its_own_until_none_is_left(tmp_path):
    first, fd1 = logins.claim("gw", 2, folder=tmp_path)
    second, fd2 = logins.claim("gw", 2, folder=tmp_path)
    assert (first, second) == ("gw", "gw.1")
    with pytest.raises(logins.NoFreeLogin, match="all 2 MQTT logins of gw"):
        logins.claim("gw", 2, folder=tmp_path)
    os.close(fd1)  # a process that ends gives its login back
    assert logins.claim("gw", 2, folder=tmp_path)[0] == "gw"
    os.close(fd2)
