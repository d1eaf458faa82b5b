"""The stack's secrets: a local certificate authority, server certificates and credentials.

Made at install (``tickml secrets ensure``, which ``stack/install.sh`` runs),
never in the repository: everything lives in ``.stack/secrets/`` (mode 0700,
files 0600). A second run keeps what is there; ``tickml secrets rotate``
makes new ones (the running services pick them up at their next start, and
Mosquitto at once).

- ``ca.crt`` / ``ca.key``: the certificate authority every client trusts.
- ``<service>.crt`` / ``<service>.key``: a server certificate per service
  (Mosquitto's TLS listener now; InfluxDB, Kapacitor and Telegraf's HTTP
  listener share the scheme), valid for ``localhost`` and ``127.0.0.1``.
- ``sender.crt`` / ``sender.key``: a client certificate, the login senders
  show Telegraf's OpenTelemetry (gRPC) listener, which takes no other;
  ``gateway-<account>.crt`` / ``.key``: a gateway's own, for its own OTLP
  listener and Kafka topic (``otlp``, ``kafka`` in mosquitto/gateways.toml;
  Kafka's principal ``gateway-<account>``). A client certificate names
  its holder as a DNS name (:func:`client_dns_name`), which a listener
  allows (Telegraf's ``tls_allowed_dns_names``).
- ``kafka.crt`` / ``kafka.key``: Kafka's client listener's;
  ``kafka-controller.crt`` / ``.key``: the controller listener's, which
  signs itself and is the one certificate that listener trusts (the broker
  shows it to the controller it holds, so for clients too);
  ``kafka-<role>.crt`` / ``.key``: a client certificate per
  Kafka principal (``KAFKA_PRINCIPALS``), the principal its CN's last word.
  Each Kafka certificate also as ``<name>.pem``, key and certificate in one
  file: the keystore Kafka's Java side reads (``ssl.keystore.type=PEM``).
- ``credentials.json``: a random password per service account and the
  secret device passwords are derived from.
- ``model-signing-key.hex``: the key the model records in Kafka are signed
  with (``udfs/learn/signing.py``); kept by ``rotate``.
- ``mosquitto.passwd`` (hashed as ``mosquitto_passwd`` does) and
  ``mosquitto.acl``: who may log in, and publish or read which topics.
- ``telegraf-senders.conf``: Telegraf's senders' processor with the ids each
  sending account may name (tickml/gateways.py), rewritten with the ACL, and
  reread by Telegraf on SIGHUP as Mosquitto rereads the ACL.

MQTT accounts: ``tickml-telegraf`` reads ``devices/#`` (and ``tickml-bridge``,
the MQTT-to-Kafka bridge of the shards); ``tickml-kapacitor`` (Kapacitor's
MQTT alert handler, kapacitor/kapacitor.conf ``[[mqtt]]``) publishes under
``alerts/#`` and ``tickml-alerts-reader`` reads there, the only two logins
besides the operator that may; a device, whose user name is its id,
may publish under ``devices/<type>/<its id>`` and read nothing; a gateway
(``mosquitto/gateways.toml``, the simulator's ``tickml-gateway`` among them)
publishes for the ids it declares (tickml/gateways.py); ``tickml-operator`` may
do anything (tests, benchmarks), and is the only login of the loopback tools
listener (``mosquitto-tools.passwd``).
A device's password is an HMAC of its id under the device secret, so the
fleet's passwords are never stored in plain text; ``tickml devices add ID``
registers a device and prints its password.

The cryptography is the ``cryptography`` package's (keys, X.509) and the
standard library's (``secrets``, ``hmac``, ``hashlib.pbkdf2_hmac``).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import ipaddress
import json
import os
import secrets as _random
import signal
import time
from pathlib import Path

from tickml import gateways
from tickml.paths import LOGS, RUN, STATE

SECRETS = STATE / "secrets"
# The broker's certificate on the controller listener, signed by itself, not the CA (kafka/server.properties).
KAFKA_CONTROLLER = "kafka-controller"
SERVICES = ("mosquitto", "telegraf", "influxdb", "kapacitor", "kafka")
# Client certificates: the login of a sender where the listener takes no other (Telegraf's OpenTelemetry
# input over gRPC wants a client certificate the stack's CA signed), and each Kafka principal's.
# Kafka's principals (kafka/server.properties maps a certificate to one by its CN; tickml/stack/kafka.py grants
# each its ACLs): the admin (the runner, tools, tests; a super user), Telegraf (reads the device topics in its
# groups), senders (write the device topics only: simulator, gateways, the MQTT bridge), the train UDF servers
# (write the model topics), the shards' materialisers (read them) and Kapacitor (its alert handler writes the
# alerts' topic, kapacitor/kapacitor.conf [[kafka]]).
KAFKA_PRINCIPALS = ("kafka-admin", "kafka-telegraf", "kafka-sender", "kafka-udf", "kafka-materialiser",
                    "kafka-kapacitor")
CLIENTS = ("sender", *KAFKA_PRINCIPALS)
# The service accounts; the gateways' accounts come from mosquitto/gateways.toml (``mqtt_accounts``).
# Kapacitor's alert handler publishes alerts (kapacitor/kapacitor.conf [[mqtt]]); the alerts' reader is the login
# a person's or a system's subscriber reads them with.
MQTT_SERVICE_ACCOUNTS = ("tickml-telegraf", "tickml-bridge", "tickml-operator", "tickml-kapacitor",
                         "tickml-alerts-reader")
# Logins of the plain loopback listener (tools on this machine): no device or gateway may connect there,
# where client ids are not bound to user names.
MQTT_TOOLS_ACCOUNTS = ("tickml-operator",)
# Senders that POST device messages to Telegraf's HTTP listener (basic auth; the listener takes one), and the
# session publisher, the one login of the sessions listener (the only one whose messages name a database).
HTTP_ACCOUNTS = ("tickml-sender", "tickml-sessions")
TELEGRAF_SENDERS = "telegraf-senders.conf"
# Kapacitor's users (tickml/stack/kapacitor_users.py): the tools' admin, the one useful account.
# Kapacitor's own permissions are coarse, and its `api` permission covers every path under
# /kapacitor/v1 but /write and /config, /users included: a task-tooling user could make itself an
# admin (tried on 1.8.3). Writing points to a database needs database privileges that only InfluxDB
# Enterprise's meta service grants.
KAPACITOR_ACCOUNTS = {"tickml-admin": "admin"}
# The dashboard app's login (tickml/dashboard/guard.py): who may read its pages.
DASHBOARD_ACCOUNTS = ("tickml-viewer",)
# InfluxDB's users and what each may do (tickml/stack/influx_users.py applies them).
INFLUXDB_ACCOUNTS = {
    "tickml-admin": "ALL",  # the runner and operators' tools: users, databases
    "tickml-telegraf": "WRITE telemetry, WRITE telegraf",
    # Kapacitor creates its subscriptions, which InfluxDB 1.x allows admins only.
    "tickml-kapacitor": "ALL",
    # The dashboard app: the tasks' results, Telegraf's metrics with the UDF counters, Kapacitor's statistics.
    "tickml-dashboard": "READ telemetry, READ telegraf, READ _kapacitor",
}
_CREDENTIALS = SECRETS / "credentials.json"
_DEVICES = SECRETS / "devices.txt"  # registered device ids, one a line
# The key model records in Kafka are signed with (udfs/learn/signing.py): 32 random bytes as hex. Not a
# ``.key`` file, which ``rotate`` replaces with the certificates: a new key would make every shard refuse
# every record the model topics hold, so the key outlives rotations.
MODEL_KEY_NAME = "model-signing-key.hex"
_DAYS = {"ca": 3650, "server": 825}
# A gateway's own client certificate (its OTLP listener's login): gateway-<account>.
GATEWAY_CERT_PREFIX = "gateway-"

ACL_HEAD = """\
# Written by tickml/secrets.py from mosquitto/gateways.toml and the registered
# devices; regenerated with the password files.
# Telegraf, and the shards' MQTT-to-Kafka bridge, read what devices publish.
user tickml-telegraf
topic read devices/#

user tickml-bridge
topic read devices/#

# Tests, benchmarks and operators' tools.
user tickml-operator
topic readwrite #

# Alerts: Kapacitor's MQTT handler publishes them under alerts/ (alerts/<device id>,
# alerts/stack/<task>), and each deployed model under models/<model>/<device id>
# (tick_scripts/model_coefficients.tick); the alerts' reader reads both; no other
# login (devices and gateways included) may publish or read there.
user tickml-kapacitor
topic write alerts/#
topic write models/#

user tickml-alerts-reader
topic read alerts/#
topic read models/#

# Every other user is a device: its user name is its id, and it may publish
# under its own topic only (any device type), and read nothing.
pattern write devices/+/%u

# Gateways: each login may publish for the ids its gateway declares.
"""


class SecretsError(RuntimeError):
    """The secrets are missing or cannot be made; the message says what to run."""


def ensure() -> list[str]:
    """Make what is missing; returns the names of the files written (nothing when all was there)."""
    SECRETS.mkdir(parents=True, exist_ok=True)
    SECRETS.chmod(0o700)
    written = []
    if not (SECRETS / "ca.crt").exists() or not (SECRETS / "ca.key").exists():
        _write_ca()
        written += ["ca.crt", "ca.key"]
    clients = _clients()
    for name in (*SERVICES, KAFKA_CONTROLLER, *clients):
        files = [f"{name}.crt", f"{name}.key", *([f"{name}.pem"] if _keystore(name) else [])]
        client = name in clients
        # A client certificate made before certificates named their holder is made again: a listener that
        # allows one holder would refuse it.
        if not all((SECRETS / f).exists() for f in files) or client and not _names_holder(name):
            _write_certificate(name, client=client)
            written += files
    known = json.loads(_CREDENTIALS.read_text()) if _CREDENTIALS.exists() else {}
    complete = _complete_credentials(known)
    if complete != known:  # new, or an account added since it was made: the others are kept
        write_private(_CREDENTIALS, json.dumps(complete, indent=2).encode())
        written.append(_CREDENTIALS.name)
    if not model_key_file(must_exist=False).exists():
        write_private(model_key_file(must_exist=False), (_random.token_hex(32) + "\n").encode())
        written.append(MODEL_KEY_NAME)
    service_files = ("mosquitto.passwd", "mosquitto-tools.passwd", "mosquitto.acl", "telegraf.env", "bridge.env",
                     "kapacitor.env", "dashboard.env", TELEGRAF_SENDERS)
    if _CREDENTIALS.name in written or not all((SECRETS / name).exists() for name in service_files):
        write_service_files()
        written += list(service_files)
    else:  # gateways.toml edited since: the ACL and the senders' file follow it
        for name, text in _rule_files(gateways.load(), registered_devices()).items():
            if (SECRETS / name).read_text() != text:
                write_private(SECRETS / name, text.encode())
                written.append(name)
    return written


def rotate(what: str = "all") -> list[str]:
    """New passwords (``passwords``), new certificates (``certificates``) or both (``all``)."""
    if what not in ("passwords", "certificates", "all"):
        raise SecretsError(f"rotate passwords, certificates or all, not {what!r}")
    if what in ("certificates", "all"):
        for path in [*SECRETS.glob("*.crt"), *SECRETS.glob("*.key"), *SECRETS.glob("*.pem")]:
            path.unlink()
    if what in ("passwords", "all"):
        _CREDENTIALS.unlink(missing_ok=True)
    (SECRETS / "mosquitto.passwd").unlink(missing_ok=True)
    (SECRETS / "mosquitto-tools.passwd").unlink(missing_ok=True)
    written = ensure()
    reload_mosquitto()
    return written


def credentials() -> dict:
    try:
        creds = json.loads(_CREDENTIALS.read_text())
    except FileNotFoundError:
        raise SecretsError(f"no {_CREDENTIALS}: run stack/install.sh (or tickml secrets ensure)") from None
    if any(section not in creds for section in ("mqtt", "influxdb", "http", "kapacitor")):
        raise SecretsError(f"{_CREDENTIALS} lacks accounts added since it was made: run stack/install.sh "
                           f"(or tickml secrets ensure), which keeps the others")
    return creds


def _password(service: str, account: str) -> str:
    try:
        return credentials()[service][account]
    except KeyError:
        raise SecretsError(f"{_CREDENTIALS} has no {service} password for {account}, an account added since it "
                           f"was made: run stack/install.sh (or tickml secrets ensure), which keeps the others") from None


def model_key_file(must_exist: bool = True) -> Path:
    """The file of the key model records are signed with, which every process of a shared model home is handed
    (``TICKML_MODEL_KEY_FILE``)."""
    path = SECRETS / MODEL_KEY_NAME  # looked up on each call: tests move SECRETS
    if must_exist and not path.exists():
        raise SecretsError(f"no {path}: run stack/install.sh (or tickml secrets ensure)")
    return path


def ca_file() -> Path:
    path = SECRETS / "ca.crt"
    if not path.exists():
        raise SecretsError(f"no {path}: run stack/install.sh (or tickml secrets ensure)")
    return path


def _clients() -> tuple[str, ...]:
    """``CLIENTS`` and a certificate for each gateway with an OTLP listener of its own."""
    return CLIENTS + tuple(GATEWAY_CERT_PREFIX + g.account for g in gateways.load().values() if g.certificate)


def client_dns_name(name: str) -> str:
    """The DNS name a client certificate names its holder by, which a listener allows (Telegraf's
    ``tls_allowed_dns_names``): never a host's, so no server certificate has it.

    >>> client_dns_name("gateway-edge-1")
    'gateway-edge-1.client.tickml.invalid'
    """
    return f"{name}.client.tickml.invalid"


def _names_holder(name: str) -> bool:
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate((SECRETS / f"{name}.crt").read_bytes())
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (FileNotFoundError, ValueError, x509.ExtensionNotFound):
        return False
    return client_dns_name(name) in names.get_values_for_type(x509.DNSName)


def client_certificate(name: str = "sender") -> tuple[Path, Path]:
    """The certificate and key a client shows as its login (``CLIENTS``): Telegraf's gRPC listener wants one
    (``sender``, or ``gateway-<account>`` on a gateway's own), and Kafka one of ``KAFKA_PRINCIPALS``."""
    if name not in _clients():
        raise SecretsError(f"no client certificate {name!r}; the clients are {', '.join(_clients())}")
    paths = SECRETS / f"{name}.crt", SECRETS / f"{name}.key"
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise SecretsError(f"no {', '.join(missing)}: run stack/install.sh (or tickml secrets ensure)")
    return paths


def mqtt_accounts() -> tuple[str, ...]:
    """The service accounts and the gateways' accounts (mosquitto/gateways.toml)."""
    return MQTT_SERVICE_ACCOUNTS + tuple(gateways.load())


def mqtt_login(account: str) -> tuple[str, str]:
    """User name and password of a service or gateway account, or of one login of a gateway (``gw.3``)."""
    for gateway in gateways.load().values():
        if gateway.account_of(account):
            return account, _password("mqtt", gateway.account)
    if account not in MQTT_SERVICE_ACCOUNTS:
        raise SecretsError(f"no MQTT account {account!r}; the accounts are {', '.join(mqtt_accounts())}")
    return account, _password("mqtt", account)


def gateway(account: str) -> "gateways.Gateway":
    """A gateway of mosquitto/gateways.toml."""
    try:
        return gateways.load()[account]
    except KeyError:
        raise SecretsError(f"no gateway {account!r} in {gateways.GATEWAYS_FILE}") from None


def device_password(device_id: str) -> str:
    """The password of device ``device_id``: an HMAC of its id under the device secret."""
    key = bytes.fromhex(credentials()["device_secret"])
    digest = hmac.new(key, device_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def registered_devices() -> list[str]:
    try:
        return [line for line in _DEVICES.read_text().splitlines() if line]
    except FileNotFoundError:
        return []


def register_devices(device_ids) -> int:
    """Let these devices log in to Mosquitto; returns how many were new (the broker reloads when any were)."""
    known = set(registered_devices())
    new = sorted({str(d) for d in device_ids} - known)
    declared = gateways.load().values()
    taken = set(MQTT_SERVICE_ACCOUNTS) | {login for g in declared for login in g.login_names()}
    bad = [d for d in new if not gateways.valid_device_id(d) or d in taken]
    if bad:
        raise SecretsError(f"device ids cannot be MQTT user names: {bad[:5]} (no '/', '+', '#', ':', "
                           f"newline or NUL, and not a service or gateway login)")
    spoken = {d: g.account for g in declared if not g.any_id for d in g.ids if d in new}
    if spoken:
        raise SecretsError(f"gateways speak for these ids (mosquitto/gateways.toml): {spoken}; a device "
                           f"registered for itself cannot also be a gateway's")
    if not new:
        return 0
    write_private(_DEVICES, ("\n".join([*registered_devices(), *new]) + "\n").encode())
    write_service_files()
    reload_mosquitto()
    reload_telegraf()
    return len(new)


def write_service_files() -> None:
    """The password file (service accounts and registered devices, hashed) and the ACL, and the services'
    environment files."""
    creds = credentials()
    declared = gateways.load()
    devices = registered_devices()
    logins = [(account, creds["mqtt"][account]) for account in MQTT_SERVICE_ACCOUNTS]
    for g in declared.values():
        logins += [(login, _password("mqtt", g.account)) for login in g.login_names()]
    logins += [(device, device_password(device)) for device in devices]
    write_private(SECRETS / "mosquitto.passwd", "".join(f"{user}:{mosquitto_hash(pw)}\n" for user, pw in logins).encode())
    write_private(SECRETS / "mosquitto-tools.passwd",
                   "".join(f"{user}:{mosquitto_hash(pw)}\n" for user, pw in logins if user in MQTT_TOOLS_ACCOUNTS).encode())
    for name, text in _rule_files(declared, devices).items():
        write_private(SECRETS / name, text.encode())
    # Telegraf's, Kapacitor's and the dashboard's logins as environment files, for containers that cannot read JSON
    # (docker-compose.yml).
    write_private(SECRETS / "telegraf.env", (f"TICKML_MQTT_PASSWORD={creds['mqtt']['tickml-telegraf']}\n"
                                             f"TICKML_INFLUXDB_PASSWORD={creds['influxdb']['tickml-telegraf']}\n"
                                             f"TICKML_HTTP_PASSWORD={creds['http']['tickml-sender']}\n"
                                             f"TICKML_SESSIONS_PASSWORD={creds['http']['tickml-sessions']}\n").encode())
    write_private(SECRETS / "bridge.env", f"TICKML_MQTT_PASSWORD={creds['mqtt']['tickml-bridge']}\n".encode())
    write_private(SECRETS / "kapacitor.env",
                   (f"KAPACITOR_INFLUXDB_0_PASSWORD={creds['influxdb']['tickml-kapacitor']}\n"
                    f"KAPACITOR_MQTT_0_PASSWORD={creds['mqtt']['tickml-kapacitor']}\n").encode())
    write_private(SECRETS / "dashboard.env",
                   f"TICKML_INFLUXDB_DASHBOARD_PASSWORD={creds['influxdb']['tickml-dashboard']}\n".encode())


def _rule_files(declared: dict, devices: list[str]) -> dict[str, str]:
    """The files that say who may speak for which device, written from mosquitto/gateways.toml and the
    registered devices: Mosquitto's ACL and Telegraf's senders' processor."""
    return {"mosquitto.acl": acl(declared, devices), TELEGRAF_SENDERS: telegraf_senders(declared, devices)}


def acl(declared: dict, devices: list[str]) -> str:
    """Mosquitto's ACL: the service accounts, every device's own topic, each gateway's declared ids."""
    lines = [ACL_HEAD]
    reserved = gateways.reserved(declared, devices)
    for g in declared.values():
        lines += gateways.acl_lines(g, reserved)
    return "\n".join(lines)


def telegraf_senders(declared: dict, devices: list[str]) -> str:
    """Telegraf's senders' processor (telegraf/senders.star), with the ids each account may name as a literal
    constant: a file Telegraf rereads on SIGHUP (its environment it reads once)."""
    constant = gateways.telegraf_constant(declared, devices)
    # A TOML literal string holds anything but a single quote and a line break; the JSON of valid ids has neither.
    assert "'" not in constant and "\n" not in constant
    return (f"# Written by tickml/secrets.py from mosquitto/gateways.toml and the registered devices; regenerated\n"
            f"# with the ACL. Telegraf reads it beside telegraf/telegraf.conf (--config), and again on SIGHUP.\n"
            f"[[processors.starlark]]\n"
            f"  alias = \"senders\"\n"
            f"  ## Before the validator (order 2): a message that names an id its sender may not speak for never\n"
            f"  ## reaches it.\n"
            f"  order = 1\n"
            f"  namepass = [\"device_raw\"]\n"
            f"  script = \"${{TICKML_TELEGRAF_DIR:-/etc/telegraf}}/senders.star\"\n"
            f"  [processors.starlark.constants]\n"
            f"    senders = '{constant}'\n")


def mosquitto_hash(password: str, salt: bytes | None = None) -> str:
    """A password as Mosquitto 2's password file stores it: PBKDF2-HMAC-SHA512, 101 iterations, a 12-byte salt.

    The format ``mosquitto_passwd`` writes (``$7$iterations$salt$hash``, base64),
    computed with the standard library so that a container without Mosquitto
    can make the file; the stack's tests log in against the real broker.

    >>> mosquitto_hash("secret", bytes(12))[:24]
    '$7$101$AAAAAAAAAAAAAAAA$'
    """
    salt = _random.token_bytes(12) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 101)
    return f"$7$101${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


# What Telegraf logs once a reload has its inputs running again: its MQTT input back on the broker.
_TELEGRAF_RELOADED = ("Reloading Telegraf config", "[inputs.mqtt_consumer] Connected")


def reload_telegraf(timeout: float = 15.0) -> bool:
    """SIGHUP to the stack's Telegraf, which rereads its configuration files (the senders' among them), and
    wait until its inputs run again (its log says so), so that what is sent next meets the new files; False
    when it is not running."""
    log = LOGS / "telegraf.log"
    try:
        offset = log.stat().st_size
    except FileNotFoundError:
        offset = 0
    if not _signal_service("telegraf", signal.SIGHUP):
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with log.open("rb") as fh:
                fh.seek(offset)
                since = fh.read().decode(errors="replace")
        except FileNotFoundError:
            since = ""
        start = since.find(_TELEGRAF_RELOADED[0])
        if start >= 0 and _TELEGRAF_RELOADED[1] in since[start:]:
            return True
        time.sleep(0.1)
    return True  # signalled; its log did not show the reload in time (a slow broker), which its log will tell


def reload_mosquitto() -> bool:
    """SIGHUP to the stack's Mosquitto, which rereads its password and ACL files; False when it is not running."""
    return _signal_service("mosquitto", signal.SIGHUP)


def _signal_service(name: str, signum: int) -> bool:
    """``signum`` to the single node's service ``name``, by the pid its supervisord says (tickml/stack/supervision.py
    runs every service; asked here directly, as the stack's modules import this one); False when it is not
    running."""
    import xmlrpc.client

    from supervisor.xmlrpc import SupervisorTransport

    transport = SupervisorTransport(None, None, f"unix://{RUN / 'supervisor.sock'}")
    try:
        info = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor.getProcessInfo(name)
        if info["statename"] not in ("STARTING", "RUNNING"):
            return False
        os.kill(info["pid"], signum)
        return True
    except (OSError, xmlrpc.client.Fault):  # no supervisord, no such program, or gone meanwhile
        return False


def _complete_credentials(known: dict) -> dict:
    """``known`` with a random password for every account it lacks, and the device secret."""
    out = json.loads(json.dumps(known))
    for service, accounts in (("mqtt", mqtt_accounts()), ("influxdb", INFLUXDB_ACCOUNTS), ("http", http_accounts()),
                              ("kapacitor", KAPACITOR_ACCOUNTS), ("dashboard", DASHBOARD_ACCOUNTS)):
        section = out.setdefault(service, {})
        for account in accounts:
            section.setdefault(account, _random.token_urlsafe(24))
    out.setdefault("device_secret", _random.token_hex(32))
    return out


def http_accounts() -> tuple[str, ...]:
    """``HTTP_ACCOUNTS`` and each gateway with an HTTP listener of its own (its login there)."""
    return HTTP_ACCOUNTS + tuple(g.account for g in gateways.load().values() if g.http)


def http_login(account: str = "tickml-sender") -> tuple[str, str]:
    """User name and password a sender gives Telegraf's HTTP listener (a gateway's: its own listener's)."""
    if account not in http_accounts():
        raise SecretsError(f"no HTTP account {account!r}; the accounts are {', '.join(http_accounts())}")
    return account, _password("http", account)


def dashboard_login(account: str = "tickml-viewer") -> tuple[str, str]:
    """User name and password a person (or a tool) gives the dashboard app."""
    if account not in DASHBOARD_ACCOUNTS:
        raise SecretsError(f"no dashboard account {account!r}; the accounts are {', '.join(DASHBOARD_ACCOUNTS)}")
    return account, _password("dashboard", account)


def kapacitor_login(account: str = "tickml-admin") -> tuple[str, str]:
    """User name and password of a Kapacitor account (``KAPACITOR_ACCOUNTS``)."""
    if account not in KAPACITOR_ACCOUNTS:
        raise SecretsError(f"no Kapacitor account {account!r}; the accounts are {', '.join(KAPACITOR_ACCOUNTS)}")
    return account, _password("kapacitor", account)


def basic_auth(username: str, password: str) -> str:
    """An HTTP ``Authorization`` header's value for a login."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def influxdb_login(account: str) -> tuple[str, str]:
    """User name and password of an InfluxDB account (``INFLUXDB_ACCOUNTS``)."""
    if account not in INFLUXDB_ACCOUNTS:
        raise SecretsError(f"no InfluxDB account {account!r}; the accounts are {', '.join(INFLUXDB_ACCOUNTS)}")
    return account, _password("influxdb", account)


def write_private(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` readable by its owner only, replacing it whole: a reader sees the old file or
    the new one, never a part (the one writer of secrets and of configuration holding them)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data.encode() if isinstance(data, str) else data)
    tmp.replace(path)


def _write_ca() -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tickml local CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_DAYS["ca"]))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    _write_key_and_certificate("ca", key, cert)


def _write_certificate(name: str, client: bool = False) -> None:
    """A certificate the CA signs for a server (``client`` False) or for a client showing it as its login."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    usages = [ExtendedKeyUsageOID.CLIENT_AUTH] if client else [ExtendedKeyUsageOID.SERVER_AUTH]
    if name in ("kafka", KAFKA_CONTROLLER):  # the broker is a client of its own listeners too
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"tickml {name}")])
    if name == KAFKA_CONTROLLER:
        # Its own issuer: the controller listener trusts this one certificate, which only the broker holds. (A
        # certificate of the CA in a truststore of its own does not do: the listener would ask for a certificate
        # issued by that certificate's subject, and Java's client would find none and show none.)
        ca_key, issuer = key, subject
    else:
        ca_key = serialization.load_pem_private_key((SECRETS / "ca.key").read_bytes(), password=None)
        issuer = x509.load_pem_x509_certificate((SECRETS / "ca.crt").read_bytes()).subject
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_DAYS["server"]))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName(client_dns_name(name))] if client else
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    _write_key_and_certificate(name, key, cert)


def _write_key_and_certificate(name: str, key, cert) -> None:
    from cryptography.hazmat.primitives import serialization

    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    write_private(SECRETS / f"{name}.key", key_pem)
    write_private(SECRETS / f"{name}.crt", cert_pem)
    if _keystore(name):
        write_private(SECRETS / f"{name}.pem", key_pem + cert_pem)


def _keystore(name: str) -> bool:
    """Whether ``name``'s key and certificate are also kept as one PEM file: Kafka's Java side (the broker, and
    its tools as the admin) reads a PEM keystore from one file only."""
    return name in ("kafka", KAFKA_CONTROLLER) or name in KAFKA_PRINCIPALS
