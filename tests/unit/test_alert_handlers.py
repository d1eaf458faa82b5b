"""The alert topics' handlers file (kapacitor/alert_handlers.json) as `tickml tasks define` reads it."""

from __future__ import annotations

import json

import pytest

from tickml import tasks


def test_the_shipped_handlers_name_topics_the_shipped_tasks_publish_to():
    scripts = {t.name: t.script for t in tasks.load_tasks()}
    handlers = tasks.load_handlers()
    assert handlers, "no handler shipped"
    for handler in handlers:
        assert any(f"var topic = '{handler.topic}'" in script for script in scripts.values()), handler


def test_a_log_handlers_path_is_made_absolute_under_the_log_folder(tmp_path):
    path = tmp_path / "handlers.json"
    path.write_text(json.dumps({"handlers": [
        {"topic": "t", "id": "log", "kind": "log", "options": {"path": "alerts.log"}},
        {"topic": "t", "id": "hook", "kind": "post", "options": {"url": "https://example.invalid/hook"}}]}))
    log, post = tasks.load_handlers(path, logs=tmp_path / "logs")
    assert log.options == {"path": str(tmp_path / "logs" / "alerts.log")}
    assert post.options == {"url": "https://example.invalid/hook"}


@pytest.mark.parametrize("text, named", [("{", "JSONDecodeError"), ('{"handlers": [{"topic": "t"}]}', "KeyError"),
                                         ('{"other": []}', "KeyError")])
def test_a_broken_handlers_file_is_an_error_naming_it(tmp_path, text, named):
    path = tmp_path / "handlers.json"
    path.write_text(text)
    with pytest.raises(tasks.TaskListError, match=rf"{path}: {named}"):
        tasks.load_handlers(path)
