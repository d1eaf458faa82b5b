"""docker-compose.yml, checked without a Docker engine.

- It validates against the Compose Specification's JSON schema, the copy that
  check-jsonschema ships (``check_jsonschema/builtin_schemas/vendor/compose-spec.json``,
  kept current by that package; nothing is vendored here), and a broken copy
  of it does not.
- Every service reads the repository's own configuration files, the very files
  the native stack (``tickml/stack/``) starts the same service with, and keeps
  its data on a volume.
- Every port it uses or lists is one the native configuration files define,
  read from those files by the native stack's own parsers.
- Every image is pinned to an explicit version, the one the native stack builds.
"""

from __future__ import annotations

import copy
import importlib.resources
import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path, PurePosixPath

import jsonschema
import pytest
import yaml

from tickml.paths import ROOT, STATE
from tickml import paths
from tickml import config
from tickml.stack import catalog, kafka, supervision
from tickml.stack.catalog import services

COMPOSE_FILE = ROOT / "docker-compose.yml"
COMPOSE = yaml.safe_load(COMPOSE_FILE.read_text())
SERVICES: dict[str, dict] = COMPOSE["services"]
# Where the services see the repository (a bind mount of ".").
REPO = PurePosixPath("/tickml")
# The compose services that run a service of the native stack, by the same name.
NATIVE = ["mosquitto", "kafka", "influxdb", "kapacitor", "telegraf"]
# Services of the native stack that are this package's own commands, run by a Python image.
APPS = ["udf-metrics", "dashboard"]


def _strings(value) -> list[str]:
    """Every string in a (nested) compose value, keys of mappings included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _on_host(value: str) -> str:
    """A value as the native stack would have it: the container's /tickml is the repository, and its
    .stack the state folder."""
    return value.replace(f"{REPO}/.stack/", f"{STATE}/").replace(f"{REPO}/", f"{ROOT}/")


def _scripts(service: dict) -> list[str]:
    """The shell scripts a service runs (``sh -c SCRIPT``), with Compose's ``$$`` unescaped."""
    words = [*(service.get("entrypoint") or []), *(service.get("command") or [])]
    return [words[i + 1].replace("$$", "$") for i, w in enumerate(words[:-1]) if w == "-c"]


# ---------------------------------------------------------------------------
# (a) The Compose Specification


def _schema() -> dict:
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads(vendor.joinpath("compose-spec.json").read_text())


def schema_errors(document: dict) -> list[str]:
    schema = _schema()
    validator = jsonschema.validators.validator_for(schema)
    validator.check_schema(schema)
    return sorted(f"{'/'.join(map(str, e.absolute_path)) or '<top>'}: {e.message}"
                  for e in validator(schema).iter_errors(document))


def test_the_schema_is_the_compose_specification():
    schema = _schema()
    assert schema["title"] == "Compose Specification"
    assert {"services", "volumes", "networks"} <= set(schema["properties"])


def test_docker_compose_yml_follows_the_compose_specification():
    assert schema_errors(COMPOSE) == []


def _misspelt_key(doc):
    doc["services"]["telegraf"]["imgae"] = doc["services"]["telegraf"].pop("image")


def _wrong_type(doc):
    doc["services"]["influxdb"]["network_mode"] = 5


def _unknown_condition(doc):
    doc["services"]["kapacitor"]["depends_on"]["influxdb-users"]["condition"] = "service_ready"


def _unknown_top_level(doc):
    doc["servics"] = doc.pop("services")


def _bad_volume(doc):
    doc["services"]["influxdb"]["volumes"].append({"type": "bind", "target": "/x", "bogus": True})


@pytest.mark.parametrize("breakage", [_misspelt_key, _wrong_type, _unknown_condition, _unknown_top_level,
                                      _bad_volume], ids=lambda f: f.__name__.strip("_"))
def test_a_broken_copy_fails_the_schema(breakage):
    broken = copy.deepcopy(COMPOSE)
    breakage(broken)
    assert schema_errors(broken), f"{breakage.__name__} passed the schema"


# ---------------------------------------------------------------------------
# (b) The same configuration files as the native stack


def _repo_files(strings: list[str], root) -> set[str]:
    """Repository-relative paths of the files under ``root`` named in ``strings`` (``--opt=PATH`` too),
    the state folder left out."""
    found = set()
    for string in strings:
        for word in re.split(r"[\s=\"']+", string):
            word = word.rstrip(";,)")
            # The state folder (.stack/: secrets, data) is made at install, not shipped.
            if word.startswith(f"{root}/") and not word.startswith((f"{ROOT / '.stack'}/", f"{root}/.stack/")):
                found.add(str(PurePosixPath(word).relative_to(root)))
    return found


def test_every_service_that_reads_the_repository_mounts_it_at_tickml():
    for name, service in SERVICES.items():
        if any(str(REPO) in s for s in _strings({k: v for k, v in service.items() if k != "volumes"})):
            binds = [v for v in service.get("volumes", []) if isinstance(v, dict) and v.get("type") == "bind"]
            assert {"type": "bind", "source": ".", "target": str(REPO)} in binds, name


def test_every_file_a_service_names_is_in_the_repository():
    named = {name: _repo_files(_strings(service), REPO) for name, service in SERVICES.items()}
    assert all(named[name] for name in NATIVE), named
    for name, files in named.items():
        for file in files:
            assert (ROOT / file).exists(), f"{name}: /tickml/{file} is not in the repository"


def test_every_native_service_reads_the_same_configuration_files(tmp_path, monkeypatch):
    # The native broker reads a copy of kafka/server.properties with log.dirs
    # appended (kafka.effective_properties); it is written under RUN, here a
    # temporary folder, never the running stack's.
    monkeypatch.setattr(kafka, "RUN", tmp_path / "run")
    monkeypatch.setattr(kafka, "DATA", tmp_path / "data")
    effective = kafka.effective_properties()
    assert effective.read_text().startswith((kafka.KAFKA_DIR / "server.properties").read_text())
    # Mosquitto likewise reads a copy of mosquitto.conf (its secrets' paths in the state folder).
    copies = {str(effective): str(kafka.KAFKA_DIR / "server.properties"),
              str(catalog.RUN / "mosquitto.conf"): str(config.MOSQUITTO_CONF)}
    native = {}
    for service in services():
        words = [*service.command, *service.env.values()]
        words = [copies.get(w, w) for w in words]
        native[service.name] = _repo_files(words, ROOT)
    for name in NATIVE:
        compose = _repo_files(_strings(SERVICES[name]), REPO)
        assert compose == native[name], f"{name}: compose reads {sorted(compose)}, the native stack {sorted(native[name])}"


def test_environment_agrees_with_the_native_stack():
    natives = {s.name: s for s in services()}
    # The UDF servers (run by supervisord natively) and Kapacitor's process UDFs write their counters where
    # the udf-metrics service reads them.
    assert _on_host(_environment(SERVICES["udfs"])["PROMETHEUS_MULTIPROC_DIR"]) == str(paths.UDF_METRICS)
    assert f'PROMETHEUS_MULTIPROC_DIR="{paths.UDF_METRICS}"' in supervision.supervisor_config()
    for name in NATIVE:
        env = _environment(SERVICES[name])
        for key, value in natives[name].env.items():
            if key in env:
                assert _on_host(env[key]) == value, f"{name}: {key}"
    # Telegraf's addresses come from ${VAR:-default} in telegraf.conf: compose
    # may set only those the native runner sets too (the configuration's folder).
    telegraf_vars = set(re.findall(r"\$\{(\w+):-", config.TELEGRAF_CONF.read_text()))
    assert telegraf_vars & set(_environment(SERVICES["telegraf"])) <= set(natives["telegraf"].env)
    assert _environment(SERVICES["kafka"])["KAFKA_HEAP_OPTS"] == kafka.KAFKA_HEAP


def test_kafka_starts_with_the_native_properties_plus_its_data_dir(tmp_path):
    """Run the kafka service's start script with stand-ins for the image's tools."""
    (script,) = _scripts(SERVICES["kafka"])
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("kafka-storage.sh", "kafka-server-start.sh"):
        (tools / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> {tmp_path}/calls\n')
        (tools / tool).chmod(0o755)
    data = re.search(r"log\.dirs=([^\"\s;]+)", script).group(1)
    script = (script.replace("/opt/kafka/bin/", f"{tools}/").replace("/tmp/server.properties", f"{tmp_path}/props")
              .replace(data, str(tmp_path / "data")))
    subprocess.run(["sh", "-c", _on_host(script)], check=True, timeout=30)
    calls = (tmp_path / "calls").read_text().splitlines()
    # The storage is formatted (a fresh data folder) with the same properties the broker starts with.
    assert any(c.startswith(f"kafka-storage.sh format --config {tmp_path}/props ") for c in calls), calls
    assert calls[-1] == f"kafka-server-start.sh {tmp_path}/props"
    started = config.read_properties(tmp_path / "props")
    native = config.read_properties(kafka.KAFKA_DIR / "server.properties")
    assert started == {**native, "log.dirs": str(tmp_path / "data")}


def test_kafka_topics_creates_the_native_topics(tmp_path):
    """Run the kafka-topics service's script with a stand-in for kafka-topics.sh."""
    (script,) = _scripts(SERVICES["kafka-topics"])
    stub = tmp_path / "kafka-topics.sh"
    stub.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" "--" >> {tmp_path}/calls\n')
    stub.chmod(0o755)
    # The admin's client settings go to the test's folder, not the host's /tmp.
    script = script.replace("/tmp/admin.properties", f"{tmp_path}/admin.properties")
    subprocess.run(["sh", "-c", _on_host(script.replace("/opt/kafka/bin/kafka-topics.sh", str(stub)))],
                   check=True, timeout=30)
    created = []
    for call in (tmp_path / "calls").read_text().split("--\n")[:-1]:
        words = call.splitlines()
        option = {w: words[i + 1] for i, w in enumerate(words[:-1]) if w.startswith("--") and w != "--config"}
        configs = dict(words[i + 1].split("=", 1) for i, w in enumerate(words[:-1]) if w == "--config")
        assert option["--bootstrap-server"] == kafka.kafka_bootstrap()
        created.append((option["--topic"], int(option["--partitions"]), configs))
    assert created == kafka.kafka_topics()


def test_data_directories_are_on_volumes():
    """What the configuration files write to is a named volume, not the container's throw-away layer."""
    def volume_targets(name):
        return [PurePosixPath(v.split(":")[1]) for v in SERVICES[name].get("volumes", [])
                if isinstance(v, str) and v.split(":")[0] in COMPOSE.get("volumes", {})]

    influxdb = config.read_toml(config.INFLUXDB_CONF)
    kapacitor = config.read_toml(config.KAPACITOR_CONF)
    (log_dirs,) = re.findall(r"log\.dirs=([^\"\s;]+)", "".join(_scripts(SERVICES["kafka"])))
    wanted = {
        "influxdb": [influxdb["meta"]["dir"], influxdb["data"]["dir"], influxdb["data"]["wal-dir"]],
        "kapacitor": [kapacitor["data_dir"], kapacitor["replay"]["dir"], kapacitor["task"]["dir"],
                      kapacitor["storage"]["boltdb"]],
        "kafka": [log_dirs],
    }
    for name, folders in wanted.items():
        targets = volume_targets(name)
        for path in map(PurePosixPath, folders):
            assert any(path == t or t in path.parents for t in targets), f"{name}: {path} is on no volume"


def _python_modules() -> list[tuple[str, str, list[str]]]:
    """(service, module, arguments) of every ``python -m MODULE ...`` the services run."""
    found = []
    for name, service in SERVICES.items():
        for script in _scripts(service):
            for segment in re.split(r"&&|\|\||;|\|", script):
                words = shlex.split(segment)
                for i, word in enumerate(words[:-2]):
                    if re.fullmatch(r"python3?", word) and words[i + 1] == "-m":
                        args = []
                        for arg in words[i + 3:]:
                            if ">" in arg or "$" in arg:
                                break
                            args.append(arg)
                        found.append((name, words[i + 2], args))
    return found


def test_every_python_command_exists_in_the_repository():
    modules = _python_modules()
    assert {name for name, _, _ in modules} >= {"udfs", "task-watcher", "tasks", "simulator"}
    from tickml import cli

    for name, module, args in modules:
        spec = importlib.util.find_spec(module)
        assert spec is not None and ROOT in Path(spec.origin).parents, f"{name}: no module {module} here"
        if module == "tickml":
            cli.parser().parse_args(args)  # exits (fails the test) on a command it does not know


# ---------------------------------------------------------------------------
# (c) The ports of the native configuration files


def native_ports() -> dict[str, set[int]]:
    ports = {s.name: {port for _, port in s.ports} for s in services() if s.name in NATIVE + APPS}
    # Telegraf's HTTP listeners: the runner probes the first one, the mapped input is the second; the
    # runner also holds the OpenTelemetry (gRPC) listener's port.
    listeners = config.read_toml(config.TELEGRAF_CONF)["inputs"]["http_listener_v2"]
    ports["telegraf"] |= {config.split_address(config.expand(l["service_address"]))[1] for l in listeners}
    return ports


def test_the_packages_own_services_run_the_native_command():
    """The exporter of the UDF counters and the dashboard: the same `python -m tickml ...` as natively."""
    natives = {s.name: s for s in services()}
    commands = {name: (module, args) for name, module, args in _python_modules()}
    for name in APPS:
        native = natives[name].command
        assert native[1:3] == ["-m", "tickml"], native
        assert commands[name] == ("tickml", native[3:]), name
        assert SERVICES[name]["image"] == SERVICES["udfs"]["image"]


def test_native_ports_are_read_from_the_configuration_files():
    ports = native_ports()
    assert ports["mosquitto"] == {port for _, port, _ in config.mosquitto_listeners()}
    assert config.mosquitto_port()[1] in ports["mosquitto"] and config.mosquitto_tls_port()[1] in ports["mosquitto"]
    assert ports["kafka"] == {port for _, port in kafka.kafka_listeners().values()}
    assert ports["influxdb"] == {config.influxdb_address()[1], config.influxdb_rpc_address()[1]}
    assert ports["kapacitor"] == {config.kapacitor_address()[1]}
    assert len(ports["telegraf"]) == 4 and config.telegraf_otlp_address()[1] in ports["telegraf"]
    assert config.telegraf_sessions_address()[1] in ports["telegraf"]
    assert ports["udf-metrics"] == {config.udf_metrics_address()[1]}
    assert ports["dashboard"] == {config.dashboard_address()[1]}


def test_services_share_the_hosts_network_and_publish_nothing_of_their_own():
    # With host networking a service listens where its configuration file says;
    # `ports` would be ignored (or remap nothing), so none may appear.
    for name, service in SERVICES.items():
        assert service.get("network_mode") == "host", name
        assert "ports" not in service and "expose" not in service, name


def test_every_address_compose_uses_is_a_native_port():
    ports = native_ports()
    every = set().union(*ports.values())
    for name, service in SERVICES.items():
        for host, port in re.findall(r"\b(127\.0\.0\.1|localhost):(\d+)", " ".join(_strings(service))):
            assert int(port) in every, f"{name} uses {host}:{port}, a port no native configuration file defines"
        # A health check probes the service's own port.
        test = " ".join(_strings(service.get("healthcheck", {}).get("test", [])))
        for port in re.findall(r"\b(?:127\.0\.0\.1|localhost):(\d+)", test):
            assert int(port) in ports[name], f"{name}'s health check probes port {port}"


def test_the_header_lists_the_native_ports():
    header = "".join(line for line in COMPOSE_FILE.read_text().splitlines(True) if line.startswith("#"))
    listed = {name: {int(p) for p in ports.split("/")} for name, ports in
              re.findall(r"\b(mosquitto|kafka|influxdb|kapacitor|telegraf|udf-metrics|dashboard) (\d{4,5}(?:/\d{4,5})*)\b",
                         header)}
    assert listed == native_ports()


def test_kapacitor_keeps_its_configured_hostname():
    # The image's entrypoint exports KAPACITOR_HOSTNAME=$HOSTNAME unless it is
    # set, and the variable overrides kapacitor.conf's hostname, the address
    # InfluxDB sends subscription writes to.
    hostname = config.read_toml(config.KAPACITOR_CONF)["hostname"]
    assert _environment(SERVICES["kapacitor"]).get("KAPACITOR_HOSTNAME") == hostname


def test_grafana_reads_the_native_influxdb():
    provisioning = [s for s in _strings(SERVICES["grafana"]) if s.startswith(f"{REPO}/")]
    urls = [url for folder in provisioning for file in (ROOT / _on_host(folder)).rglob("*.yml")
            for url in re.findall(r"https?://[\w.]+:\d+", file.read_text())]
    assert urls and all(url.endswith(f":{config.influxdb_address()[1]}") for url in urls), urls


# ---------------------------------------------------------------------------
# (d) Images pinned to the versions the native stack builds

VERSION_TAG = re.compile(r"\d+\.\d+\.\d+(-[a-z0-9.-]+)?")


def _split_image(image: str) -> tuple[str, str | None]:
    name, _, tag = image.rpartition(":")
    return (name, tag) if name and "/" not in tag else (image, None)


def images() -> dict[str, str]:
    """Service -> image; a built one's by its Dockerfile's stages."""
    out = {}
    for name, service in SERVICES.items():
        if "build" in service:
            build = service["build"]
            dockerfile = ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")
            # The first stage is the service's own image (its binaries are copied
            # from it); the last is what they run on.
            stages = re.findall(r"^FROM\s+(\S+)", dockerfile.read_text(), re.MULTILINE)
            out[name] = stages[0]
            if len(stages) > 1:
                out[f"{name} (runs on)"] = stages[-1]
        else:
            out[name] = service["image"]
    return out


def test_every_image_is_pinned_to_a_version():
    for name, image in images().items():
        _, tag = _split_image(image)
        assert tag is not None, f"{name}: {image} has no tag"
        assert tag != "latest" and VERSION_TAG.fullmatch(tag), f"{name}: {image} is not pinned to a version"


def native_versions() -> dict[str, str]:
    install = (ROOT / "stack" / "install.sh").read_text()
    versions = {name.lower(): version for name, version in
                re.findall(r"^(INFLUXDB|KAPACITOR|TELEGRAF)_VERSION=v?([\d.]+)", install, re.MULTILINE)}
    (versions["kafka"],) = re.findall(r"<kafka\.version>([\d.]+)</kafka\.version>",
                                      (ROOT / "stack" / "kafka" / "pom.xml").read_text())
    return versions


def test_images_are_the_versions_the_native_stack_builds():
    versions = native_versions()
    assert set(versions) == {"influxdb", "kapacitor", "telegraf", "kafka"}
    pinned = {name: _split_image(image) for name, image in images().items()}
    assert pinned["influxdb"] == ("influxdb", versions["influxdb"])
    assert pinned["kapacitor"] == ("kapacitor", versions["kapacitor"])
    assert pinned["telegraf"] == ("telegraf", versions["telegraf"])
    assert pinned["kafka"] == ("apache/kafka", versions["kafka"])
    assert pinned["kafka-topics"] == pinned["kafka"]


def test_python_images_run_the_projects_python():
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    (minimum,) = re.findall(r">=\s*(\d+\.\d+)", requires)
    for name, image in images().items():
        repository, tag = _split_image(image)
        if repository == "python":
            assert ".".join(tag.split(".")[:2]) == minimum, f"{name}: {image}, the project runs Python {minimum}"


@pytest.mark.skipif(not shutil.which("mosquitto"), reason="no native Mosquitto installed")
def test_mosquitto_image_is_the_native_brokers_release_series():
    banner = subprocess.run([shutil.which("mosquitto"), "-h"], capture_output=True, text=True, timeout=10).stdout
    (native,) = re.findall(r"mosquitto version (\d+\.\d+)\.", banner)
    repository, tag = _split_image(images()["mosquitto"])
    assert repository == "eclipse-mosquitto" and tag.startswith(f"{native}.")


# ---------------------------------------------------------------------------
# (e) The sharded layout


def test_the_shard_service_scales_and_stays_out_of_the_single_nodes_way():
    shard = SERVICES["shard"]
    # Only with --profile shards: next to the single node's Kapacitor every point would be processed twice.
    assert {name for name, service in SERVICES.items() if "profiles" in service} == {"shard", "mqtt-kafka"}
    assert shard["profiles"] == SERVICES["mqtt-kafka"]["profiles"] == ["shards"]
    # `--scale shard=N`: no fixed name; each container takes a free shard number, hence ports, itself.
    assert "container_name" not in shard
    assert shard["command"] == ["python", "-m", "tickml", "stack", "shard"]
    from tickml import cli

    assert cli.parser().parse_args(shard["command"][3:]).action == "shard"


def test_the_shard_image_carries_the_versions_the_native_stack_builds():
    dockerfile = ROOT / SERVICES["shard"]["build"]["dockerfile"]
    stages = re.findall(r"^FROM\s+(\S+)", dockerfile.read_text(), re.MULTILINE)
    versions = native_versions()
    assert f"kapacitor:{versions['kapacitor']}" in " ".join(stages)
    assert f"telegraf:{versions['telegraf']}" in " ".join(stages)
    assert _split_image(stages[-1])[0] == "python"
    for stage in stages:
        assert VERSION_TAG.fullmatch(_split_image(stage)[1] or ""), stage


def test_the_mqtt_bridge_runs_the_shipped_configuration_with_every_variable_it_needs():
    from tickml.stack import telegraf

    (script,) = _scripts(SERVICES["mqtt-kafka"])
    assert f"--config {REPO}/{telegraf.BRIDGE_CONF.relative_to(ROOT)}" in script
    needed = set(re.findall(r"\$\{(\w+)\}", telegraf.BRIDGE_CONF.read_text()))  # those without a default
    from tickml import secrets

    env_file = {line.split("=", 1)[0] for line in (secrets.SECRETS / "telegraf.env").read_text().splitlines()} \
        if (secrets.SECRETS / "telegraf.env").exists() else {"TICKML_MQTT_PASSWORD"}
    assert needed <= set(_environment(SERVICES["mqtt-kafka"])) | env_file, needed


def test_telegraf_gets_the_device_types_the_secrets_service_wrote(tmp_path):
    """Run the secrets service's script (its pip and secrets steps left out) and Telegraf's entrypoint with a
    stand-in for telegraf: the validator's constant arrives as tickml/device_types.py makes it."""
    import sys

    from tickml import device_types

    (secrets_script,) = _scripts(SERVICES["secrets"])
    steps = secrets_script.split(" && ")
    assert steps[1] == "python -m tickml secrets ensure"
    written = " && ".join(steps[2:]).replace("python ", f"{sys.executable} ").replace(f"{REPO}/.stack/", f"{tmp_path}/")
    (tmp_path / "secrets").mkdir()
    subprocess.run(["sh", "-c", written], check=True, timeout=60, cwd=ROOT)
    # The gateways' own listeners, as the native runner writes them.
    assert 'tickml_sender = "edge-demo"' in (tmp_path / "secrets" / "telegraf-gateways.conf").read_text()
    (tmp_path / "secrets" / "telegraf.env").write_text("TICKML_MQTT_PASSWORD=x\n")
    stub = tmp_path / "bin" / "telegraf"
    stub.parent.mkdir()
    stub.write_text(f'#!/bin/sh\nprintf %s "$TICKML_DEVICE_SCHEMA" > {tmp_path}/got\necho "$@" > {tmp_path}/args\n')
    stub.chmod(0o755)
    (entrypoint,) = _scripts(SERVICES["telegraf"])
    script = entrypoint.replace(f"{REPO}/.stack/", f"{tmp_path}/").replace("exec telegraf ", f"exec {stub} ")
    subprocess.run(["sh", "-c", script], check=True, timeout=30)
    assert (tmp_path / "got").read_text() == device_types.load().telegraf_constant()
    # Beside telegraf.conf: the senders' processor and the gateways' listeners, as natively.
    assert (tmp_path / "args").read_text().split()[1::2] == [
        f"{REPO}/telegraf/telegraf.conf", f"{tmp_path}/secrets/telegraf-senders.conf",
        f"{tmp_path}/secrets/telegraf-gateways.conf"]
    assert "'${TICKML_DEVICE_SCHEMA}'" in config.TELEGRAF_CONF.read_text()
    assert f"{device_types.ENVIRONMENT_VARIABLE}=$(cat {REPO}/.stack/device_schema.json)" in entrypoint
