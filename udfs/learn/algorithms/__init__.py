"""Learning algorithms: the registry ``ALGORITHMS`` maps option value to class.

To add an algorithm: write an ``Algorithm`` subclass (see ``base``) in a module
here and list it in ``ALGORITHMS`` below (the ``algorithm`` option takes its
key from there); ``tests/unit/learn/test_learn_algorithms.py`` runs every key,
and wants a test comparing the new one with an independent fit.

Every class fits with scikit-learn or numpy and exports a JSON-able
``params_``; predictions come from those params alone (see ``base``).
``auto`` is not a class: it is a search over candidates (``udfs.learn.selection``).
"""

from .base import CLASSIFICATION, REGRESSION, TASKS, Algorithm, sigmoid
from .gradient_boosting import GradientBoosting
from .linear import LinearRegression
from .logistic import LogisticRegression
from .neural_network import NeuralNetwork
from .quadratic import QuadraticRegression
from .ridge import RidgeRegression

ALGORITHMS: dict[str, type[Algorithm]] = {
    cls.key: cls
    for cls in (LogisticRegression, LinearRegression, GradientBoosting, RidgeRegression, NeuralNetwork,
                QuadraticRegression)
}
AUTO = "auto"


def algorithms_for(task: str) -> list[type[Algorithm]]:
    """Registered algorithms that support ``task``, in registry order.

    Examples
    --------
    >>> [a.key for a in algorithms_for("classification")]
    ['logistic', 'gradient_boosting', 'neural_network']
    """
    return [cls for cls in ALGORITHMS.values() if task in cls.tasks]


__all__ = [
    "ALGORITHMS", "AUTO", "Algorithm", "CLASSIFICATION", "GradientBoosting", "LinearRegression",
    "LogisticRegression", "NeuralNetwork", "QuadraticRegression", "REGRESSION", "RidgeRegression", "TASKS",
    "algorithms_for", "sigmoid",
]
