"""Gateways declared in mosquitto/gateways.toml, and the logins a sending process claims."""

from __future__ import annotations

import json
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


@pytest.mark.parametrize("doc, problem", [
    ({"a": {"ids": ["p-1"], "http": 80}}, "http must be a port number from 1024 to 65535, got 80"),
    ({"a": {"ids": ["p-1"], "otlp": "18318"}}, "otlp must be a port number"),
    ({"a": {"ids": ["p-1"], "http": 19001}, "b": {"ids": ["p-2"], "otlp": 19001}},
     "[gateways.b] otlp port 19001 is also [gateways.a] http's"),
    ({"a": {"ids": ["p-1"]}, "b": {"ids": ["p-1"]}}, "[gateways.b] and [gateways.a] both declare id 'p-1'"),
    ({"a": {"ids": ["p-1"], "kafka": "yes"}}, "kafka must be true or false, got 'yes'"),
])
def test_listeners_take_ports_of_their_own_and_an_id_has_one_gateway(doc, problem):
    with pytest.raises(gateways.GatewayError) as caught:
        gateways.parse({"gateways": doc})
    assert problem in str(caught.value)


def test_the_shipped_edge_gateway_has_listeners_of_its_own_and_the_shared_inputs_speak_as_the_simulators():
    shipped = gateways.load()
    edge = shipped["edge-demo"]
    assert edge.http and edge.otlp and edge.kafka_topic == "device_messages.edge-demo" and not edge.any_id
    assert gateways.SHARED_SENDER in shipped
    constant = json.loads(gateways.telegraf_constant(shipped, ["pm-1"]))
    assert constant["senders"]["edge-demo"] == list(edge.ids)
    assert set(edge.ids) | {"pm-1"} <= set(constant["reserved"])
