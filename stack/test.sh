#!/usr/bin/env bash
# Run the tests: install what is missing (stack/install.sh, seconds when it is
# all there), then pytest from the project's virtual environment. The
# end-to-end tests start the real stack once and stop what they started.
#
#   stack/test.sh                        # everything: unit, doctests, then tests/integration (about 11 minutes)
#   stack/test.sh -x -q                  # everything, with any pytest options
#   stack/test.sh tests/unit -q          # the paths given only, with any pytest arguments
#
# Plain `pytest` runs the unit tests and doctests alone (pyproject.toml's
# testpaths leave tests/integration out, so that it never starts the stack);
# here testpaths gains tests/integration, which pytest reads only when no path
# is given.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
stack/install.sh >&2
# The unit tests and doctests first, while the stack starts (tests/conftest.py), then the stack's tests; side by
# side in TICKML_TEST_WORKERS processes (pytest-xdist; 0: in this one), a module to a worker, the tests marked
# serial alone on the stack. Collection order is kept, so the unit tests go first.
# Three on two cores. Four made the warm CI 11 min 30 s instead of 11 min 51 s, but in one run of three, two tests
# that time the stack failed beside the fourth (the silence alert 14 s after the silence, bound 12 s; a `tickml
# stack status` during a Telegraf reload).
workers="${TICKML_TEST_WORKERS:-3}"
exec "${TICKML_VENV:-.venv}/bin/python" -m pytest -o testpaths="tests/unit udfs devices tickml tests/integration" \
  -n "$workers" --dist loadfile --no-loadscope-reorder "$@"
