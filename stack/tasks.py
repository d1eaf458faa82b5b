#!/usr/bin/env python3
"""Moved: the task list tool is ``tickml tasks define|disable|delete|list`` (tickml/tasks.py)."""
import sys

print("stack/tasks.py moved: run `tickml tasks " + " ".join(sys.argv[1:] or ["--help"]) + "` "
      "(.venv/bin/tickml after stack/install.sh)", file=sys.stderr)
sys.exit(2)
