"""Multi-layer perceptron (scikit-learn), exported as weight matrices and biases.

Exported params::

    {"weights": [[[...], ...], ...], "biases": [[...], ...],
     "activation": "relu" | "tanh" | "logistic" | "identity",
     "output": "identity" | "logistic"}

A stored network has at most ``MAX_LAYERS`` weight matrices: each costs a
matrix product per prediction, and the document's size alone would allow
thousands of tiny ones.
"""

from __future__ import annotations

import warnings

import numpy as np

from .base import CLASSIFICATION, REGRESSION, Algorithm, numbers, sigmoid

MAX_LAYERS = 16

_ACTIVATIONS = {
    "identity": lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "logistic": sigmoid,
}


class NeuralNetwork(Algorithm):
    """Feed-forward network; the last layer is linear (regression) or logistic.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((300, 2))
    >>> m = NeuralNetwork(hidden_layer_sizes=[8]).fit(X, X[:, 0] + X[:, 1])
    >>> bool(np.abs(m.predict(X) - (X[:, 0] + X[:, 1])).mean() < 0.1)
    True
    """

    key = "neural_network"
    label = "Neural Network"
    code = "mlp"
    tasks = (REGRESSION, CLASSIFICATION)
    seeded = True
    flexible = True

    def __init__(self, task: str = REGRESSION, hidden_layer_sizes: list[int] = (16,),
                 activation: str = "relu", alpha: float = 1e-4, solver: str = "lbfgs",
                 max_iter: int = 500, seed: int = 0):
        self.task = task
        self.hidden_layer_sizes = list(hidden_layer_sizes)
        self.activation = activation
        self.alpha = alpha
        # L-BFGS rather than Adam: windows are small, where it converges
        # faster and further (scikit-learn's own advice for small data sets).
        self.solver = solver
        self.max_iter = max_iter
        self.seed = seed

    def fit(self, X, y):
        # Imported here: a process that only predicts (udfs.predict) never loads scikit-learn.
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        self._check_task()
        cls = MLPClassifier if self.task == CLASSIFICATION else MLPRegressor
        model = cls(hidden_layer_sizes=tuple(self.hidden_layer_sizes), activation=self.activation,
                    alpha=self.alpha, solver=self.solver, max_iter=self.max_iter, random_state=self.seed)
        # A window is small and retrained often: an unconverged fit is normal
        # and is judged by its hold-out score, not by a warning.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y)
        self.params_ = {
            "weights": [w.tolist() for w in model.coefs_],
            "biases": [b.tolist() for b in model.intercepts_],
            "activation": model.activation,
            "output": model.out_activation_,
        }
        return self

    @staticmethod
    def check(params, n_features):
        weights, biases = params["weights"], params["biases"]
        if not isinstance(weights, list) or not isinstance(biases, list) or not 1 <= len(weights) <= MAX_LAYERS \
                or len(biases) != len(weights):
            raise ValueError(f"weights and biases must be lists of 1 to {MAX_LAYERS} layers, as many of each")
        width = n_features  # each layer takes the previous one's outputs; the first, the features
        for i, (w, b) in enumerate(zip(weights, biases)):
            w, b = numbers(w, f"weights[{i}]", 2), numbers(b, f"biases[{i}]")
            last = i == len(weights) - 1
            if w.shape[0] != width or w.shape[1] < 1 or last and w.shape[1] != 1 or b.shape != (w.shape[1],):
                raise ValueError(f"layer {i} has weights {w.shape} and biases {b.shape}, where it takes {width} "
                                 f"input(s){' and gives 1 output' if last else ''}")
            width = w.shape[1]
        for name in ("activation", "output"):
            if not isinstance(params[name], str) or params[name] not in _ACTIVATIONS:
                raise ValueError(f"{name} must be one of {', '.join(_ACTIVATIONS)}, got {params[name]!r}")

    @staticmethod
    def prepare(params):
        return {
            "weights": [np.asarray(w, dtype=float) for w in params["weights"]],
            "biases": [np.asarray(b, dtype=float) for b in params["biases"]],
            "activation": _ACTIVATIONS[params["activation"]],
            "output": _ACTIVATIONS[params["output"]],
        }

    @staticmethod
    def run(prepared, X):
        h = X
        layers = list(zip(prepared["weights"], prepared["biases"]))
        for w, b in layers[:-1]:
            h = prepared["activation"](h @ w + b)
        w, b = layers[-1]
        return prepared["output"](h @ w + b)[:, 0]

    @classmethod
    def sample_hyperparameters(cls, rng, task):
        sizes = [[8], [16], [32], [16, 8]]
        return {
            "hidden_layer_sizes": sizes[int(rng.integers(len(sizes)))],
            "activation": str(rng.choice(["relu", "tanh"])),
            "alpha": float(10 ** rng.uniform(-5, -1)),
        }
