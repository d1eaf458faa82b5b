#!/usr/bin/env bash
# Run the tests: install what is missing (stack/install.sh, seconds when it is
# all there), then pytest from the project's virtual environment. The
# end-to-end tests start the real stack once and stop what they started.
#
#   stack/test.sh                        # everything (about 10 minutes)
#   stack/test.sh tests/unit -q          # any pytest arguments
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
stack/install.sh >&2
exec "${TICKML_VENV:-.venv}/bin/python" -m pytest "$@"
