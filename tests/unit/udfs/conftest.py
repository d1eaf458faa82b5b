"""Fixtures of the UDF suites: a model root of the test's own for the UDFs that keep models."""

from __future__ import annotations

import pytest

import udfs.learn.paths
from udfs.confine import Root


@pytest.fixture
def model_root(tmp_path, monkeypatch):
    """A fresh model root, as the UDF service's TICKML_MODEL_ROOT would set it.

    The in-process handlers read the root when they check a task's options;
    without this they would judge (and write) against the running stack's
    ``.stack/data/models`` under the working directory.
    """
    root = tmp_path / "models"
    root.mkdir()
    monkeypatch.setattr(udfs.learn.paths, "MODEL_ROOT",
                        Root("model root", str(root), udfs.learn.paths.MODEL_ROOT_VARIABLE))
    return root
