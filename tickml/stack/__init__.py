"""Run the native TICK stack on loopback: start, stop, status (``tickml stack``).

The services run from the binaries ``stack/install.sh`` put in ``.stack/bin``
(Mosquitto from Debian's package) with the project's own configuration files;
their data, logs, pid files and UDF sockets live under ``.stack/``. Ports and
socket paths are read from those configuration files (``tickml.config``), so
editing a file is enough to move a service.

The modules, from the ground up: ``probes`` (health), ``service`` (what a
service is), ``process`` (starting and stopping one), ``supervision`` (the
services under supervisord), ``kafka`` (the broker's storage and
topics), ``telegraf`` and ``kapacitor_users`` (what those services need before
they start), ``catalog`` (the services, in data-flow order), ``shards`` (more
InfluxDB and Kapacitor pairs), ``runner`` (start, stop, status),
``foreground`` (one service without supervisord: systemd's). Import the
module you need; this package re-exports nothing.
"""
