#!/usr/bin/env bash
# Re-pin the Python dependencies in requirements.lock after pyproject.toml changed.
#
#   stack/lock.sh             # keep every pin that still fits, add what is new
#   stack/lock.sh --upgrade   # move every pin to the newest release that fits
#
# stack/install.sh installs with `pip install -c requirements.lock`, so a fresh
# install a month later gets the versions the tests passed with. The lock is
# universal (markers for other Pythons and platforms), resolved by uv.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${TICKML_VENV:-$ROOT/.venv}/bin/python"
[[ -x "$PY" ]] || { echo "no virtual environment at ${PY%/bin/python}: run stack/install.sh first" >&2; exit 2; }
"$PY" -m uv --version >/dev/null 2>&1 || "$PY" -m pip install -q uv
cd "$ROOT"
"$PY" -m uv pip compile pyproject.toml --extra test --extra bench \
  --universal --python-version 3.11 --quiet \
  --custom-compile-command "stack/lock.sh" -o requirements.lock "$@"
