"""History: tasks run over what InfluxDB holds (``tickml history``).

- ``timerange``: ``--since 30d`` or ``--from``/``--to`` as nanoseconds
- ``chunks``: the range cut into chunks on a fixed grid, each read with a window's lead-in
- ``backfill``: a task's TICKscript and UDFs run over history with Kapacitor's replay of a query,
  chunk by chunk, with progress, stop and resume (backfill, predictions for history, gap repair)
- ``summary``: what the replayed task wrote: windows deployed, kept, bad and why, entities trained
- ``sessions``: a file of device messages published as a named session with a state
- ``cli``: the ``tickml history`` command
"""
