"""Run the native TICK stack on loopback: start, stop, status (``tickml stack``).

The services run from the binaries ``stack/install.sh`` put in ``.stack/bin``
(Mosquitto from Debian's package) with the project's own configuration files;
their data, logs, pid files and UDF sockets live under ``.stack/``. Ports and
socket paths are read from those configuration files, so editing a file is
enough to move a service.

The modules, in the order a reader needs them: ``config`` (what the files
say), ``catalog`` (the services, in data-flow order), ``probes`` (health),
``kafka`` (the broker's storage and topics), ``supervision`` (the socket UDF
servers under supervisord), ``service`` (what a service is), ``process``
(starting and stopping one), ``runner`` (start, stop, status). This package
gathers the names tests, benchmarks and the command line use.
"""

from tickml.paths import BIN, DATA, LOGS, ROOT, RUN, STATE
from tickml.stack.config import (
    StackError, influxdb_address, kapacitor_address, mosquitto_port, read_toml, socket_udfs,
    subscribed_databases, telegraf_http_address, telegraf_otlp_address, udf_sockets,
)
from tickml.stack.kafka import kafka_address, kafka_bootstrap, kafka_create_topics, kafka_metadata, kafka_topics
from tickml.stack.runner import create_databases, start, status, stop
from tickml.stack.process import start_service, stop_service
from tickml.stack.catalog import services
from tickml.stack.service import Service
from tickml.stack.supervision import supervised_process, supervisor

__all__ = [
    "BIN", "DATA", "LOGS", "ROOT", "RUN", "STATE", "Service", "StackError", "create_databases", "influxdb_address",
    "kafka_address", "kafka_bootstrap", "kafka_create_topics", "kafka_metadata", "kafka_topics",
    "kapacitor_address", "mosquitto_port", "read_toml", "services", "socket_udfs", "start",
    "start_service", "status", "stop", "stop_service", "subscribed_databases", "supervised_process",
    "supervisor", "telegraf_http_address", "telegraf_otlp_address", "udf_sockets",
]
