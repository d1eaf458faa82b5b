"""``python -m tickml`` is the ``tickml`` command (how the stack runner starts its own services)."""

import sys

from tickml.cli import main

sys.exit(main())
