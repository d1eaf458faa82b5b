"""The Dash app: the shell of every page, the callbacks, the stylesheet in ``assets/``.

Dash serves its own JavaScript and Plotly's from the package (``serve_locally``),
so a page makes no request outside the machine.
"""

from __future__ import annotations

from pathlib import Path

import dash

from tickml.tasks import load_tasks

from . import callbacks, layout
from .source import Source


def create_app(source: Source) -> dash.Dash:
    app = dash.Dash(__name__, title="tickml", assets_folder=str(Path(__file__).with_name("assets")),
                    serve_locally=True, suppress_callback_exceptions=True, update_title=None)
    app.layout = layout.shell(source.settings)
    callbacks.register(app, source, [task.name for task in load_tasks()])
    return app
