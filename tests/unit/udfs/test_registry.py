"""The registry is the one list of UDFs: kapacitor.conf, the folders and the stack's supervision agree with it.

kapacitor.conf is a shipped file that users edit and that Kapacitor (native,
in Docker, or on a production host) reads as it is, so it is not generated:
this test holds its ``[udf.functions]`` to the registry instead, both ways.
"""

from __future__ import annotations

import tomllib

import pytest

from tickml.config import KAPACITOR_CONF, StackError, udf_sockets
from udfs import registry

FUNCTIONS = tomllib.loads(KAPACITOR_CONF.read_text())["udf"]["functions"]


def test_kapacitor_conf_configures_exactly_the_registered_udfs():
    assert sorted(FUNCTIONS) == registry.names()


@pytest.mark.parametrize("udf", registry.UDFS, ids=lambda u: u.name)
def test_kapacitor_conf_serves_each_as_the_registry_says(udf):
    spec = FUNCTIONS[udf.name]
    assert spec["timeout"] == udf.timeout
    if udf.kind == "socket":
        assert spec.get("socket") == udf.socket and "prog" not in spec, spec
    else:
        assert (spec.get("prog"), spec.get("args")) == ("python3", ["-m", udf.module]) and "socket" not in spec, spec


def test_every_udf_folder_is_registered():
    """A folder with a ``__main__`` is a UDF; one without a registry line would be served and tested by nothing."""
    folders = sorted(p.parent.name for p in registry.FOLDER.glob("*/__main__.py"))
    assert folders == registry.names()


def test_the_stack_supervises_the_registered_socket_udfs():
    assert sorted(udf_sockets()) == registry.names("socket")
    for name, path in udf_sockets().items():
        assert path.name == f"{name}.sock"


def test_a_socket_function_the_registry_does_not_know_is_refused(tmp_path, monkeypatch):
    conf = tmp_path / "kapacitor.conf"
    conf.write_text(KAPACITOR_CONF.read_text() + '\n  [udf.functions.my_own]\n    socket = ".stack/run/udf/my_own.sock"\n'
                                                  '    timeout = "10s"\n')
    monkeypatch.setattr("tickml.config.KAPACITOR_CONF", conf)
    with pytest.raises(StackError, match="my_own.*udfs/registry.py"):
        udf_sockets()


def test_the_handler_declares_the_registered_edges():
    for udf in registry.UDFS:
        cls = udf.handler_class()
        assert (cls.name, cls.wants, cls.provides) == (udf.name, udf.wants, udf.provides), udf.name
