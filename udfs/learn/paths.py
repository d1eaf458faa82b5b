"""Where a train or predict task's model store may be: inside the model root (issue 13).

A task's store is ``<model_dir>/<model>/``. Both options come from the
TICKscript, so both are checked against the *model root*, which the UDF
service sets and a task cannot: the environment variable
``TICKML_MODEL_ROOT`` when the process starts, else ``.stack/data/models``
(``DEFAULT_MODEL_DIR``), relative to the directory the UDF server runs in
(the project's root in the native stack). ``model_dir`` defaults to the root
(``store.StoreOptions``). :func:`store_problems` refuses a ``model_dir`` that
resolves outside the root (an absolute path elsewhere, ``..``, a symlink
out), a ``model`` that is not a plain folder name, and a model folder that is
a symlink out of the root; the train and predict UDFs call it from
``check_options``, so a refused task fails ``init`` with every problem in one
message before anything is created. How paths are judged: ``udfs.confine``.
"""

from __future__ import annotations

from pathlib import Path

from udfs.confine import NAME_RULE, Root, is_plain_name, name_problem, resolve

# The model root when TICKML_MODEL_ROOT is not set.
DEFAULT_MODEL_DIR = ".stack/data/models"
MODEL_ROOT_VARIABLE = "TICKML_MODEL_ROOT"
# Read once, when the process starts: the service's configuration, never a task's.
MODEL_ROOT = Root.from_environment("model root", MODEL_ROOT_VARIABLE, DEFAULT_MODEL_DIR)


def store_problems(model_dir: str, model: str | None, *, named_after: str = "") -> list[str]:
    """Why ``<model_dir>/<model>/`` may not be a task's store: every problem, for init's one message.

    ``named_after`` says what an empty ``model`` option took the name from
    (train names a model after its target); None checks ``model_dir`` alone.
    Nothing is created or read.

    >>> store_problems(MODEL_ROOT.path, "power")
    []
    >>> print(*store_problems(MODEL_ROOT.path, "../power"))
    option 'model' must be a plain name (not empty, not '.' or '..', no '/', '\\' or NUL, at most 255 bytes), got '../power'
    """
    problems = []
    outside = MODEL_ROOT.problem("model_dir", model_dir)
    if outside:
        problems.append(outside)
    if model is not None and not is_plain_name(model):
        problems.append(f"option 'model' is empty, so the model is named after {named_after} {model!r}, "
                        f"which must be {NAME_RULE}" if named_after else name_problem("model", model))
    elif model is not None and not outside:
        # The model's own folder may be a symlink that leads out of the root.
        linked = MODEL_ROOT.problem("model", str(Path(model_dir) / model), given=model)
        if linked:
            problems.append(linked)
    return problems


def store_directory(model_dir: str, model: str) -> Path:
    """``<model_dir>/<model>``, resolved; ValueError (every problem) if :func:`store_problems` finds any."""
    problems = store_problems(model_dir, model)
    if problems:
        raise ValueError("; ".join(problems))
    return resolve(Path(model_dir) / model)
