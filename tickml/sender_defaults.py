"""What the simulator and the replay default to on this machine: the native stack's addresses and logins.

The device library (devices/) reads nothing of the stack's own; ``tickml
devices simulate|replay`` and ``tickml history session publish`` hand it these
(:func:`stack_defaults`). Each piece is read where this machine has it: a
secrets folder made before a login existed still gives the others.
"""

from __future__ import annotations

import logging

from devices.options import Defaults
from tickml import secrets
from tickml import config
from tickml.stack import kafka

log = logging.getLogger("tickml.sender_defaults")


def stack_addresses() -> dict[str, str]:
    """The native stack's addresses, read from its configuration files (fallback: their usual ports)."""
    out = Defaults().addresses
    try:
        host, port = config.mosquitto_tls_port()
        out["mqtt"] = f"mqtts://{host}:{port}"
        host, port = config.telegraf_http_address()
        out["http"] = f"https://{host}:{port}/devices"
        out["kafka"] = kafka.kafka_bootstrap()
        host, port = config.telegraf_otlp_address()
        out["otlp"] = f"https://{host}:{port}"
    except (OSError, KeyError, ValueError, config.StackError) as exc:
        log.debug("stack addresses not read from the configuration files: %s", exc)
    return out


def stack_defaults() -> Defaults:
    """The simulator's gateway's MQTT login, the HTTP sender's, the OTLP and Kafka senders' client certificates
    and the CA, from the stack's secrets; a device's password and registration for ``--per-device``."""
    out = Defaults(addresses=stack_addresses(), device_password=secrets.device_password,
                   register=secrets.register_devices)
    login = out.logins
    try:
        login["mqtt_user"], login["mqtt_password"] = secrets.mqtt_login("tickml-gateway")
        out.mqtt_logins = secrets.gateway("tickml-gateway").logins
        login["http_user"], login["http_password"] = secrets.http_login()
        login["ca"] = str(secrets.ca_file())
        # Secrets made before the gRPC listener have no client certificate yet; the other logins still hold.
        login["otlp_cert"], login["otlp_key"] = map(str, secrets.client_certificate())
    except secrets.SecretsError as exc:  # no secrets here: give the logins and --ca
        log.debug("not every login from the stack's secrets: %s", exc)
    try:  # on its own: secrets made before Kafka wanted logins lack it, and the others still hold
        login["kafka_cert"], login["kafka_key"] = map(str, secrets.client_certificate(kafka.SENDER))
    except secrets.SecretsError as exc:
        log.debug("no Kafka client certificate from the stack's secrets: %s", exc)
    return out
