#!/usr/bin/env bash
# Install what is missing, start the stack, define every task of the task list
# and run the simulated device fleet until Ctrl-C (or for --duration seconds).
#
#   stack/demo.sh [simulator options, e.g. --devices 60 --interval 0.5 --protocol kafka]
#
# The fleet is 18 devices of every type (thermostats,
# barometers, hygrometers, heart-rate meters, room sensors, power meters)
# publishing every second over MQTT with TLS, each logged in as itself, so
# that every task has data; options given change what they name.
#
# The stack keeps running afterwards; stop it with `.venv/bin/tickml stack stop`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
stack/install.sh
TICKML="${TICKML_VENV:-.venv}/bin/tickml"
"$TICKML" stack start
"$TICKML" tasks define
# Its address; how to log in (on stderr) is said below.
DASHBOARD_URL="$("$TICKML" dashboard --url 2>/dev/null)"
sed "s|DASHBOARD_URL|$DASHBOARD_URL|" <<'MSG'

The stack runs on loopback, with logins and TLS (docs/security.md). For the
influx and kapacitor commands below, take the read-only InfluxDB login, the
admin's Kapacitor login and the stack's CA into your shell first:
  eval "$(.venv/bin/tickml secrets env)"
Where to look:
  dashboard          DASHBOARD_URL   (the fleet, each device, the tasks and UDFs; dashboards/README.md)
                     log in as tickml-viewer; its password: .venv/bin/tickml secrets login dashboard
  raw device data    .stack/bin/influx -ssl -host 127.0.0.1 -port 18086 -database telemetry -execute 'SELECT * FROM device_message ORDER BY time DESC LIMIT 10'
  10 s aggregates    .stack/bin/influx -ssl -host 127.0.0.1 -port 18086 -database telemetry -execute 'SELECT * FROM device_aggregates ORDER BY time DESC LIMIT 10'
  rejected messages  .stack/bin/influx -ssl -host 127.0.0.1 -port 18086 -database telemetry -execute 'SELECT * FROM device_reject ORDER BY time DESC LIMIT 10'
  preprocessed       .stack/bin/influx -ssl -host 127.0.0.1 -port 18086 -database telemetry -execute 'SELECT * FROM power_preprocessed ORDER BY time DESC LIMIT 5'
  models             .stack/bin/influx -ssl -host 127.0.0.1 -port 18086 -database telemetry -execute 'SELECT device_id, model, Status, Forecastaccuracy FROM trained_models ORDER BY time DESC LIMIT 10'
  predictions        .stack/bin/influx -ssl -host 127.0.0.1 -port 18086 -database telemetry -execute 'SELECT device_id, model, Hyperprediction, Answeredby FROM predictions ORDER BY time DESC LIMIT 10'
  forecasts          .stack/bin/influx -ssl -host 127.0.0.1 -port 18086 -database telemetry -execute "SELECT device_id, Hyperprediction, Answeredby FROM predictions WHERE model = 'power_next' ORDER BY time DESC LIMIT 10"   (the next window's mean power, from this window's statistics: the device page draws it)
  tasks              .venv/bin/tickml tasks list   (or .stack/bin/kapacitor list tasks)
  logs               .stack/logs/
  command line       source .venv/bin/activate; tickml --help   (tickml stack stop stops it all)
Publishing the simulated fleet now (Ctrl-C stops the devices, not the stack).
MSG
# The demo fleet, unless the options given say otherwise (the last of a repeated option wins).
set -- --devices 18 --types thermostat,barometer,hygrometer,heart_rate_meter,temp_sensor,power_meter --per-device "$@"
exec "$TICKML" devices simulate "$@"
