"""Shared builders for the learn tests."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def linear_window(rng, n=200, coef=(2.0, -1.0, 0.5), intercept=10.0, noise=0.01):
    X = rng.uniform(1.0, 5.0, size=(n, len(coef)))
    y = intercept + X @ np.asarray(coef) + rng.normal(0, noise, n)
    return X, y


def columns(X, y, names=("a", "b", "c"), target="y"):
    out = {name: X[:, i] for i, name in enumerate(names[: X.shape[1]])}
    out[target] = y
    return out
