"""tickml's tooling: the ``tickml`` command, the native stack runner, the task list.

The UDFs themselves live in the ``udfs`` package (``python -m udfs.<name>``,
as Kapacitor's configuration names them) and the device simulator in
``devices``; this package runs the stack around them.
"""
