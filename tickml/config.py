"""What the services' configuration files say: addresses, UDF sockets, databases.

Every port and path the tooling uses is read here from the shipped files
(``mosquitto/``, ``influxdb/``, ``kapacitor/``, ``telegraf/``, ``kafka/``), so a
setting changed in a file moves the service, its health check and its clients
together.
"""

from __future__ import annotations

import os
import re
import tomllib
import urllib.parse
from pathlib import Path

from tickml.paths import ROOT, STATE
from udfs import registry

KAPACITOR_CONF = ROOT / "kapacitor" / "kapacitor.conf"
INFLUXDB_CONF = ROOT / "influxdb" / "influxdb.conf"
TELEGRAF_CONF = ROOT / "telegraf" / "telegraf.conf"
MOSQUITTO_CONF = ROOT / "mosquitto" / "mosquitto.conf"
DASHBOARD_CONF = ROOT / "dashboards" / "dashboard.toml"

_ENV_DEFAULT = re.compile(r"\$\{(\w+):-([^}]*)\}")


class StackError(RuntimeError):
    """A service could not be configured, started or stopped; the message says why."""


def expand(value: str) -> str:
    """Resolve Telegraf's ``${VAR:-default}`` the way Telegraf does.

    >>> expand("${TICKML_NO_SUCH_VARIABLE:-127.0.0.1:1}")
    '127.0.0.1:1'
    """
    return _ENV_DEFAULT.sub(lambda m: os.environ.get(m.group(1)) or m.group(2), value)


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (or ``:port``, meaning loopback) as a pair.

    >>> split_address(":8086"), split_address("0.0.0.0:9092")
    (('127.0.0.1', 8086), ('0.0.0.0', 9092))
    """
    host, _, port = address.rpartition(":")
    return host or "127.0.0.1", int(port)


def read_toml(path: Path) -> dict:
    with path.open("rb") as fh:
        return tomllib.load(fh)


def read_properties(path: Path) -> dict[str, str]:
    """Java properties, the simple form: ``key=value`` lines, ``#`` comments; the last one wins."""
    props: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")) and "=" in line:
            key, _, value = line.partition("=")
            props[key.strip()] = value.strip()
    return props


def mosquitto_listeners() -> list[tuple[str, int, bool]]:
    """(host, port, tls) of every ``listener`` in mosquitto.conf; a listener is TLS when a ``certfile`` follows it."""
    listeners: list[list] = []
    for line in MOSQUITTO_CONF.read_text().splitlines():
        words = line.split("#", 1)[0].split()
        if words[:1] == ["listener"]:
            listeners.append([words[2] if len(words) > 2 else "127.0.0.1", int(words[1]), False])
        elif words[:1] == ["certfile"] and listeners:
            listeners[-1][2] = True
    if not listeners:
        raise StackError("mosquitto/mosquitto.conf has no `listener PORT HOST` line")
    return [tuple(listener) for listener in listeners]


def mosquitto_port() -> tuple[str, int]:
    """The plain listener (loopback tools)."""
    for host, port, tls in mosquitto_listeners():
        if not tls:
            return host, port
    raise StackError("mosquitto/mosquitto.conf has no plain listener (one without certfile)")


def mosquitto_tls_port() -> tuple[str, int]:
    """The TLS listener, the one devices use."""
    for host, port, tls in mosquitto_listeners():
        if tls:
            return host, port
    raise StackError("mosquitto/mosquitto.conf has no TLS listener (a listener line followed by certfile)")


def in_state_folder(text: str) -> str:
    """A configuration file's text with its ``.stack/`` paths pointed at the state folder (``TICKML_STATE_DIR``).

    >>> in_state_folder("password_file .stack/secrets/p").endswith("/secrets/p")
    True
    """
    return re.sub(r"(?<![\w/.])\.stack/", f"{STATE}/", text)


def influxdb_address() -> tuple[str, int]:
    return split_address(read_toml(INFLUXDB_CONF)["http"]["bind-address"])


def influxdb_rpc_address() -> tuple[str, int]:
    """The backup/restore RPC port (top-level ``bind-address``)."""
    return split_address(read_toml(INFLUXDB_CONF)["bind-address"])


def kapacitor_address() -> tuple[str, int]:
    return split_address(read_toml(KAPACITOR_CONF)["http"]["bind-address"])


def _url(conf: Path) -> str:
    http = read_toml(conf)["http"]
    host, port = split_address(http["bind-address"])
    return f"{'https' if http.get('https-enabled') else 'http'}://{host}:{port}"


def influxdb_url() -> str:
    """InfluxDB's HTTP API as its configuration serves it (``https`` when ``[http] https-enabled``)."""
    return _url(INFLUXDB_CONF)


def kapacitor_url() -> str:
    """Kapacitor's HTTP API as its configuration serves it (``https`` when ``[http] https-enabled``)."""
    return _url(KAPACITOR_CONF)


def telegraf_http_address() -> tuple[str, int]:
    conf = read_toml(TELEGRAF_CONF)
    return split_address(expand(conf["inputs"]["http_listener_v2"][0]["service_address"]))


def telegraf_sessions_address() -> tuple[str, int]:
    """The sessions listener of telegraf.conf (the ``[[inputs.http_listener_v2]]`` with alias ``sessions``)."""
    for listener in read_toml(TELEGRAF_CONF)["inputs"]["http_listener_v2"]:
        if listener.get("alias") == "sessions":
            return split_address(expand(listener["service_address"]))
    raise StackError("telegraf/telegraf.conf has no [[inputs.http_listener_v2]] with alias = \"sessions\"")


def udf_metrics_url() -> str:
    """Where Telegraf scrapes the UDF processes' counters (telegraf.conf's ``[[inputs.prometheus]]``)."""
    (prometheus,) = read_toml(TELEGRAF_CONF)["inputs"]["prometheus"]
    return expand(prometheus["urls"][0])


def udf_metrics_address() -> tuple[str, int]:
    """The exporter of the UDF counters listens where Telegraf scrapes them.

    >>> udf_metrics_address()[0]
    '127.0.0.1'
    """
    url = urllib.parse.urlsplit(udf_metrics_url())
    if url.scheme != "http" or url.port is None:
        raise StackError(f"telegraf/telegraf.conf: [[inputs.prometheus]] urls must be http://HOST:PORT/PATH "
                         f"for the UDF metrics exporter, not {udf_metrics_url()!r}")
    return url.hostname, url.port


def dashboard_config() -> dict:
    """dashboards/dashboard.toml: the dashboard app's address and what it reads."""
    return read_toml(DASHBOARD_CONF)


def dashboard_address() -> tuple[str, int]:
    return split_address(dashboard_config()["http"]["bind-address"])


def telegraf_otlp_address() -> tuple[str, int]:
    """The OpenTelemetry (gRPC) listener of telegraf.conf ([[inputs.opentelemetry]])."""
    conf = read_toml(TELEGRAF_CONF)
    return split_address(expand(conf["inputs"]["opentelemetry"][0]["service_address"]))


def socket_udfs(conf: Path | None = None) -> dict[str, Path]:
    """Socket path per UDF function name (``[udf.functions.<name>] socket``).

    ``conf`` defaults to the file ``TICKML_KAPACITOR_CONF`` names (a production
    host's /etc/kapacitor/kapacitor.conf) or the project's; relative socket
    paths are taken from the project's root, where the native stack runs Kapacitor,
    and those under ``.stack/`` from the state folder (``TICKML_STATE_DIR``), so
    a second checkout that shares a running stack's state finds its sockets.
    """
    conf = conf or Path(os.environ.get("TICKML_KAPACITOR_CONF", KAPACITOR_CONF))
    functions = read_toml(conf).get("udf", {}).get("functions", {})
    return {name: ROOT / in_state_folder(spec["socket"]) for name, spec in functions.items() if "socket" in spec}


def udf_sockets() -> dict[str, Path]:
    """Socket path per socket UDF server the stack runs, by UDF name (its module is ``udfs.<name>``).

    Which UDFs are socket servers is the registry's word (``udfs/registry.py``); where each listens is
    kapacitor.conf's, since Kapacitor connects there. A socket function kapacitor.conf names that the
    registry does not know has no server to start, so it is refused here rather than left to time out.
    """
    configured = socket_udfs(KAPACITOR_CONF)
    served = registry.names("socket")
    unknown = sorted(set(configured) - set(served))
    if unknown:
        raise StackError(f"{KAPACITOR_CONF} names socket UDF(s) {', '.join(unknown)}, which udfs/registry.py does "
                         f"not register as socket UDFs; add a line there (CONTRIBUTING.md, \"Adding a UDF\")")
    return {name: configured[name] for name in served if name in configured}


def subscribed_databases() -> list[str]:
    """The databases Kapacitor subscribes to (kapacitor.conf [influxdb.subscriptions])."""
    conf = read_toml(KAPACITOR_CONF)
    return sorted({db for cluster in conf.get("influxdb", []) for db in cluster.get("subscriptions", {})})
