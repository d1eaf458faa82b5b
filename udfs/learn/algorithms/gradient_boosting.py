"""Gradient boosting (scikit-learn), exported as flat arrays per tree.

Exported params::

    {"init": raw start value, "learning_rate": lr, "link": "identity" | "logistic",
     "trees": [{"feature": [...], "threshold": [...], "left": [...],
                "right": [...], "value": [...]}, ...]}

Leaves have ``left == right == -1``. ``run`` walks all trees at once over
padded arrays, one tree level per step.

What a stored model may hold (``check``): each tree in scikit-learn's layout,
parents before children, so a child's index is greater than its parent's (no
walk can loop) and within its tree; every node but the root the child of
exactly one node; at most ``MAX_DEPTH`` levels; split features among the
model's; and at most ``MAX_PADDED_NODES`` nodes once every tree is padded to
the largest, which is what ``prepare`` holds in memory.
"""

from __future__ import annotations

from itertools import chain

import numpy as np

from .base import CLASSIFICATION, REGRESSION, Algorithm, number, numbers, sigmoid

# The hyperparameter search goes to depth 4 and 100 trees (3,100 nodes); these leave room for more.
MAX_DEPTH = 10
MAX_PADDED_NODES = 2**18
_ARRAYS = ("feature", "threshold", "left", "right", "value")
_INDICES = ("feature", "left", "right")
_LINKS = ("identity", "logistic")


def _export_tree(tree) -> dict:
    t = tree.tree_
    return {
        "feature": t.feature.tolist(),
        "threshold": t.threshold.tolist(),
        "left": t.children_left.tolist(),
        "right": t.children_right.tolist(),
        "value": t.value.reshape(-1).tolist(),
    }


class GradientBoosting(Algorithm):
    """Boosted regression trees; for classification, boosted log-odds.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((200, 2))
    >>> y = np.where(X[:, 0] > 0.5, 3.0, -1.0)
    >>> m = GradientBoosting(n_estimators=30).fit(X, y)
    >>> np.round(m.predict(np.array([[0.9, 0.1], [0.1, 0.9]]))).tolist()
    [3.0, -1.0]
    """

    key = "gradient_boosting"
    label = "Gradient Boosting"
    code = "gbm"
    tasks = (REGRESSION, CLASSIFICATION)
    seeded = True
    flexible = True

    def __init__(self, task: str = REGRESSION, n_estimators: int = 50, max_depth: int = 3,
                 learning_rate: float = 0.1, seed: int = 0):
        self.task = task
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.seed = seed

    def fit(self, X, y):
        # Imported here: a process that only predicts (udfs.predict) never loads scikit-learn.
        from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor

        self._check_task()
        common = dict(n_estimators=self.n_estimators, max_depth=self.max_depth,
                      learning_rate=self.learning_rate, random_state=self.seed)
        if self.task == CLASSIFICATION:
            model = GradientBoostingClassifier(**common).fit(X, y)
            p1 = float(model.init_.class_prior_[1])
            init, link = float(np.log(p1 / (1.0 - p1))), "logistic"
        else:
            model = GradientBoostingRegressor(**common).fit(X, y)
            init, link = float(model.init_.constant_.reshape(-1)[0]), "identity"
        self.params_ = {
            "init": init,
            "learning_rate": float(model.learning_rate),
            "link": link,
            "trees": [_export_tree(est) for est in model.estimators_[:, 0]],
        }
        return self

    @staticmethod
    def check(params, n_features):
        number(params["init"], "init")
        number(params["learning_rate"], "learning_rate")
        if not isinstance(params["link"], str) or params["link"] not in _LINKS:
            raise ValueError(f"link must be one of {', '.join(_LINKS)}, got {params['link']!r}")
        trees = params["trees"]
        if not isinstance(trees, list) or not trees:
            raise ValueError("trees must be a non-empty list")
        for i, tree in enumerate(trees):  # a loop over trees, never nodes
            if not isinstance(tree, dict) or not all(isinstance(tree.get(a), list) for a in _ARRAYS) \
                    or not tree["value"] or any(len(tree[a]) != len(tree["value"]) for a in _ARRAYS):
                raise ValueError(f"trees[{i}] must have {', '.join(_ARRAYS)}: lists of one length, not empty")
        sizes = np.array([len(tree["value"]) for tree in trees])
        if len(trees) * int(sizes.max()) > MAX_PADDED_NODES:
            raise ValueError(f"{len(trees)} trees of up to {sizes.max()} nodes: more than {MAX_PADDED_NODES} "
                             f"nodes once padded for prediction")
        flat = {a: numbers(list(chain.from_iterable(tree[a] for tree in trees)), f"trees' {a}",
                           integer=a in _INDICES) for a in _ARRAYS}
        _check_layout(flat, sizes, n_features)

    @staticmethod
    def prepare(params):
        trees = params["trees"]
        width = max(len(t["value"]) for t in trees)

        def padded(name, fill, dtype):
            out = np.full((len(trees), width), fill, dtype=dtype)
            for i, t in enumerate(trees):
                out[i, : len(t[name])] = t[name]
            return out

        feature = padded("feature", 0, np.intp)
        left = padded("left", -1, np.intp)
        right = padded("right", -1, np.intp)
        leaf = left < 0
        own = np.broadcast_to(np.arange(width), left.shape)
        # Leaves point to themselves, so a walk of fixed length parks on them.
        left = np.where(leaf, own, left)
        right = np.where(leaf, own, right)
        feature = np.where(leaf, 0, feature)
        return {
            "feature": feature, "threshold": padded("threshold", 0.0, float),
            "left": left, "right": right, "value": padded("value", 0.0, float),
            "depth": _max_depth(left, right, leaf), "init": float(params["init"]),
            "learning_rate": float(params["learning_rate"]), "link": params["link"],
        }

    @staticmethod
    def run(prepared, X):
        # scikit-learn's trees compare float32 inputs with float64 thresholds;
        # doing the same keeps predictions identical at split boundaries.
        X32 = np.asarray(X, dtype=np.float32).astype(float)
        feature, threshold = prepared["feature"], prepared["threshold"]
        left, right = prepared["left"], prepared["right"]
        n_trees = feature.shape[0]
        trees = np.arange(n_trees)[None, :]
        node = np.zeros((X32.shape[0], n_trees), dtype=np.intp)
        row = np.arange(X32.shape[0])[:, None]
        for _ in range(prepared["depth"]):
            go_left = X32[row, feature[trees, node]] <= threshold[trees, node]
            node = np.where(go_left, left[trees, node], right[trees, node])
        raw = prepared["init"] + prepared["learning_rate"] * prepared["value"][trees, node].sum(axis=1)
        return sigmoid(raw) if prepared["link"] == "logistic" else raw

    @classmethod
    def sample_hyperparameters(cls, rng, task):
        return {
            "n_estimators": int(rng.choice([20, 50, 100])),
            "max_depth": int(rng.choice([2, 3, 4])),
            "learning_rate": float(rng.choice([0.05, 0.1, 0.2])),
        }


def _check_layout(flat: dict[str, np.ndarray], sizes: np.ndarray, n_features: int) -> None:
    """ValueError naming the first tree and node that breaks the layout ``prepare`` and ``run`` rely on.

    ``flat`` holds every tree's arrays end to end, ``sizes`` each tree's node count; all trees are
    checked at once, each rule one numpy expression over every node.
    """
    first = np.repeat(np.cumsum(sizes) - sizes, sizes)  # each node's tree's root, in ``flat``
    size = np.repeat(sizes, sizes)
    node = np.arange(len(first)) - first  # each node's index in its own tree
    left, right, feature = flat["left"], flat["right"], flat["feature"]
    inner = left != -1

    def refuse(bad: np.ndarray, why: str) -> None:
        if bad.any():
            at = int(np.argmax(bad))
            tree = int(np.searchsorted(np.cumsum(sizes), at, side="right"))
            raise ValueError(f"trees[{tree}] node {int(node[at])}: {why}")

    refuse(inner != (right != -1), "a node has two children or none (-1)")
    refuse(inner & ((left < 0) | (left >= size) | (right < 0) | (right >= size)),
           "a child index outside the tree's nodes")
    refuse(inner & ((left <= node) | (right <= node)), "a child index not greater than its parent's (a cycle)")
    refuse(inner & ((feature < 0) | (feature >= n_features)), f"a split feature outside the model's {n_features}")
    children = np.concatenate([(first + left)[inner], (first + right)[inner]])
    refuse((node > 0) & (np.bincount(children, minlength=len(node)) != 1),
           "not the child of exactly one node (unreachable, or shared)")
    # Now each tree is a tree: following parents from any node reaches its root, in as many steps as its depth.
    parent = np.arange(len(node))
    parent[children] = np.tile(np.nonzero(inner)[0], 2)
    up = np.arange(len(node))
    for _ in range(MAX_DEPTH):
        up = parent[up]
    refuse(node[up] != 0, f"deeper than {MAX_DEPTH} levels")


def _max_depth(left: np.ndarray, right: np.ndarray, leaf: np.ndarray) -> int:
    """Deepest leaf over all trees (number of steps a walk needs)."""
    depth = np.zeros(left.shape, dtype=np.intp)
    # Children always have larger indices than parents in scikit-learn trees.
    for j in range(left.shape[1]):
        inner = ~leaf[:, j]
        for child in (left[:, j], right[:, j]):
            rows = np.nonzero(inner)[0]
            depth[rows, child[rows]] = depth[rows, j] + 1
    return int(depth.max())
