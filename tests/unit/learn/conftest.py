"""Shared fixtures for the learn tests."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A fixed generator: every test is deterministic."""
    return np.random.default_rng(12345)
