#!/usr/bin/env python3
"""Moved: the stack runner is ``tickml stack start|stop|status|restart`` (tickml/stack/)."""
import sys

print("stack/tickstack.py moved: run `tickml stack " + " ".join(sys.argv[1:] or ["--help"]) + "` "
      "(.venv/bin/tickml after stack/install.sh)", file=sys.stderr)
sys.exit(2)
