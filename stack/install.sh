#!/usr/bin/env bash
# Install everything the native TICK stack and the UDFs need, idempotently.
#
#   stack/install.sh
#
# - Mosquitto (broker and clients), protoc: Debian packages.
# - InfluxDB 1.12 (influxd, influx), Kapacitor 1.8 (kapacitord, kapacitor) and
#   a custom Telegraf 1.39 with only the plugins the project uses: built with
#   `go` from the Go module proxy into .stack/bin (git-ignored). InfluxDB and
#   Kapacitor link libflux, which the influxdata/pkg-config wrapper builds with
#   cargo from crates.io.
# - Apache Kafka (broker and tools, KRaft mode): the jars of the version pinned
#   in stack/kafka/pom.xml, from Maven Central with `mvn`, into
#   .stack/kafka/libs; Java and Maven from Debian's packages if missing.
# - This Python package with its test and benchmark dependencies, editable, in
#   the virtual environment .venv, pinned by requirements.lock.
# - The stack's secrets: a local CA, server certificates, passwords (.stack/secrets/).
#
# A second run checks version stamps and skips what is already there: seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${TICKML_STATE_DIR:-$ROOT/.stack}"
BIN="$STATE/bin"
# The state folder holds the secrets, data and logs: its owner's alone.
mkdir -p "$BIN"
chmod 700 "$STATE"

# Pinned versions. Change them here only.
INFLUXDB_VERSION=v1.12.2
KAPACITOR_VERSION=v1.8.3   # also in stack/go/kapacitor/go.mod
TELEGRAF_VERSION=v1.39.3
PKG_CONFIG_VERSION=v0.2.14
TELEGRAF_PLUGINS="custom,inputs.mqtt_consumer,inputs.http_listener_v2,inputs.kafka_consumer,inputs.opentelemetry,inputs.prometheus,inputs.internal,outputs.influxdb,outputs.kafka,processors.starlark,parsers.json,parsers.json_v2,parsers.influx,parsers.value,serializers.influx,serializers.template"

log() { printf '[install] %s\n' "$*"; }

# `stamp_ok NAME VALUE`: true when NAME was built as VALUE and its binary exists.
stamp_ok() { [[ -x "$BIN/$1" && -f "$BIN/.$1.stamp" && "$(cat "$BIN/.$1.stamp")" == "$2" ]]; }
stamp_set() { printf '%s' "$2" > "$BIN/.$1.stamp"; }

# --- Debian packages ---------------------------------------------------------
need_apt=()
command -v mosquitto >/dev/null 2>&1 || [[ -x /usr/sbin/mosquitto ]] || need_apt+=(mosquitto)
command -v mosquitto_pub >/dev/null 2>&1 || need_apt+=(mosquitto-clients)
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
# protoc: the agent's tests compare udf.proto with Kapacitor's, field by field.
command -v protoc >/dev/null 2>&1 || need_apt+=(protobuf-compiler)
# chromium: the real browser the dashboard's tests drive with Playwright
# (Playwright's own browser download is not reachable here).
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if ((${#need_apt[@]})); then
  log "apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
# The Debian package starts no broker here (no systemd); `tickml stack`
# runs our own on a port of its own.

# --- Go builds ----------------------------------------------------------------
export CGO_ENABLED=1
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"
# libflux: built by the pkg-config wrapper with cargo. flux pins an old Rust in
# rust-toolchain.toml; use the toolchain installed here instead, with lints
# capped (stack/tools/rustc-cap-lints says why).
export PKG_CONFIG="$BIN/pkg-config"
export RUSTUP_TOOLCHAIN="${TICKML_RUST_TOOLCHAIN:-stable}"
export RUSTC_WRAPPER="$ROOT/stack/tools/rustc-cap-lints"

if ! stamp_ok pkg-config "$PKG_CONFIG_VERSION"; then
  log "building influxdata/pkg-config $PKG_CONFIG_VERSION"
  GOBIN="$BIN" go install "github.com/influxdata/pkg-config@$PKG_CONFIG_VERSION"
  stamp_set pkg-config "$PKG_CONFIG_VERSION"
fi

# Linked binaries are kept in a build cache keyed by everything they are built from (the version, the
# flags, the module folder's files, Go's version and platform): a fresh clone on a machine that built
# them before copies them in a second, where linking again from Go's cache takes half a minute.
BUILD_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/tickml/bin"
GO_ID="$(go env GOVERSION GOOS GOARCH | tr '\n' ' ')"
cache_dir() { printf '%s/%s' "$BUILD_CACHE" "$(printf '%s' "$1" | sha256sum | cut -c1-24)"; }
# `from_cache KEY`: copy the binaries built as KEY into .stack/bin (each renamed into place, so a running
# one keeps its file); false when there are none.
from_cache() {
  local d f; d="$(cache_dir "$1")"
  [[ -f "$d/.complete" ]] || return 1
  for f in "$d"/*; do cp -p "$f" "$BIN/.${f##*/}.new" && mv -f "$BIN/.${f##*/}.new" "$BIN/${f##*/}" || return 1; done
}
# `to_cache KEY NAME...`: keep the named binaries of .stack/bin as KEY (whole, or not at all).
to_cache() {
  local d tmp key="$1"; shift
  d="$(cache_dir "$key")"; tmp="$d.tmp.$$"
  mkdir -p "$tmp" && for name in "$@"; do cp -p "$BIN/$name" "$tmp/"; done && touch "$tmp/.complete" \
    && rm -rf "$d" && mv "$tmp" "$d" || rm -rf "$tmp"
}

# `link_binaries KEY WHAT "NAME..." COMMAND...`: the binaries NAME... in .stack/bin as built for KEY:
# kept while their stamp says KEY, else copied from the build cache, else built by COMMAND and cached.
link_binaries() {
  local key="$1" what="$2" names="$3"; shift 3
  stamp_ok "${names%% *}" "$key" && return 0
  if from_cache "$key"; then
    log "$what from the build cache"
  else
    log "building $what"
    "$@"
    to_cache "$key" $names
  fi
  stamp_set "${names%% *}" "$key"
}

# Kapacitor with our patches (stack/go/kapacitor/patches/, README.md there says what each is for), built
# by stack/go/kapacitor/build.sh from the release's module; TICKML_KAPACITOR_STOCK=1 builds the release as
# published instead (the bench compares the two: bench/udf_ceiling.py --stock).
kapacitor_build="patched"
[[ -n "${TICKML_KAPACITOR_STOCK:-}" ]] && kapacitor_build="stock"
build_kapacitor() {
  log "(the first build on a machine compiles libflux with cargo: a few minutes)"
  if [[ "$kapacitor_build" == stock ]]; then
    "$ROOT/stack/go/kapacitor/build.sh" --stock "$BIN"
  else
    "$ROOT/stack/go/kapacitor/build.sh" "$BIN"
  fi
}
# Every file of the module folder is in the key: go.mod, go.sum, build.sh and the patches.
kapacitor_module="$(cd "$ROOT/stack/go/kapacitor" && find . -type f | sort | xargs cat | sha256sum | cut -c1-16)"
link_binaries "kapacitor $KAPACITOR_VERSION $kapacitor_build $kapacitor_module $GO_ID" \
  "kapacitord and kapacitor $KAPACITOR_VERSION ($kapacitor_build)" \
  "kapacitord kapacitor" build_kapacitor

link_binaries "influxdb $INFLUXDB_VERSION $GO_ID" "influxd and influx $INFLUXDB_VERSION" "influxd influx" \
  env GOBIN="$BIN" go install -ldflags "-X main.version=${INFLUXDB_VERSION#v} -X main.branch=release -X main.commit=module" \
    "github.com/influxdata/influxdb/cmd/influxd@$INFLUXDB_VERSION" "github.com/influxdata/influxdb/cmd/influx@$INFLUXDB_VERSION"

link_binaries "telegraf $TELEGRAF_VERSION $TELEGRAF_PLUGINS $GO_ID" "telegraf $TELEGRAF_VERSION with $TELEGRAF_PLUGINS" telegraf \
  env GOBIN="$BIN" go install -tags "$TELEGRAF_PLUGINS" \
    -ldflags "-X github.com/influxdata/telegraf/internal.Version=${TELEGRAF_VERSION#v}" \
    "github.com/influxdata/telegraf/cmd/telegraf@$TELEGRAF_VERSION"

# --- Kafka --------------------------------------------------------------------
# The broker runs from its jars (tickml/stack/kafka.py: java -cp '.stack/kafka/libs/*'
# kafka.Kafka); the stamp is the pom's hash, so changing the version there is
# enough. Storage is formatted by the runner at the first start.
KAFKA_LIBS="$STATE/kafka/libs"
kafka_stamp="$(sha256sum "$ROOT/stack/kafka/pom.xml" | cut -c1-16)"
if [[ ! -f "$STATE/kafka/.libs.stamp" || "$(cat "$STATE/kafka/.libs.stamp")" != "$kafka_stamp" ]] \
   || ! compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" >/dev/null; then
  log "downloading the Kafka jars of stack/kafka/pom.xml with maven"
  # Into a fresh folder, swapped in at the end: jars of another version never mix.
  rm -rf "$KAFKA_LIBS.new"
  mvn -q -B -Dstyle.color=never -f "$ROOT/stack/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$KAFKA_LIBS.new"
  rm -rf "$KAFKA_LIBS"
  mv "$KAFKA_LIBS.new" "$KAFKA_LIBS"
  printf '%s' "$kafka_stamp" > "$STATE/kafka/.libs.stamp"
fi

# --- Python -------------------------------------------------------------------
# A project virtual environment, .venv: Debian's and Ubuntu's Pythons refuse
# system-wide pip installs (PEP 668), and elsewhere our pins would mix with the
# system's. Versions come from requirements.lock (stack/lock.sh re-pins).
VENV="${TICKML_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { log "python3 is $(python3 --version 2>&1); tickml needs 3.11 or newer"; exit 2; }
if [[ ! -x "$PY" ]]; then
  log "creating the virtual environment $VENV"
  if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
    # Debian's python3 ships venv without ensurepip; python3-venv adds it.
    rm -rf "$VENV"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    python3 -m venv "$VENV"
  fi
fi
py_stamp="$(cat "$ROOT/pyproject.toml" "$ROOT/requirements.lock" | sha256sum | cut -c1-16) $("$PY" --version)"
if [[ ! -f "$VENV/.tickml.stamp" || "$(cat "$VENV/.tickml.stamp")" != "$py_stamp" ]] \
   || ! "$PY" -c 'import udfs, tickml, devices, numpy, sklearn, google.protobuf, paho.mqtt, confluent_kafka, supervisor, pytest, statsmodels, linearmodels, hypothesis' 2>/dev/null; then
  log "install -e .[test,bench] into $VENV, pinned by requirements.lock"
  # uv installs the pinned set from its cache in seconds where pip takes most of a minute (a fresh
  # clone's CI); pip is the fallback wherever uv cannot be had or fails. --native-tls: the system's
  # certificates, as pip is configured to use here.
  if ! { "$PY" -m pip install -q uv >/dev/null 2>&1 \
         && "$PY" -m uv pip install -q --native-tls --python "$PY" -c "$ROOT/requirements.lock" -e "$ROOT[test,bench]"; }; then
    log "uv unavailable or failed: pip instead"
    "$PY" -m pip install -q -c "$ROOT/requirements.lock" -e "$ROOT[test,bench]"
  fi
  printf '%s' "$py_stamp" > "$VENV/.tickml.stamp"
fi

# --- Secrets --------------------------------------------------------------------
# The certificate authority, server certificates and passwords, in
# .stack/secrets/ (mode 0700); a second install keeps them (tickml/secrets.py).
"$PY" -m tickml secrets ensure | sed 's/^/[install] /'

kafka_jar="$(compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" | head -1)"
kafka_version="${kafka_jar##*/kafka_2.13-}"
log "ready: $("$BIN/influxd" version 2>/dev/null | head -1); $("$BIN/kapacitord" version 2>/dev/null | head -1); $("$BIN/telegraf" --version 2>/dev/null); Kafka ${kafka_version%.jar}"
