"""Paths that task options name, kept inside folders the service sets (issue 13).

A TICKscript is written by whoever may define tasks; where a UDF reads and
writes files is the UDF service's decision. So every option that names a
file or folder (``model_dir`` and ``model`` of train and predict,
``data_set`` of rfc_classifier) must resolve inside a :class:`Root`: a
folder the service's environment sets when the process starts, never a
task. The roots and their variables:

=====================  ====================  ==========================================
root                   variable              default (relative to the working directory)
=====================  ====================  ==========================================
model root             TICKML_MODEL_ROOT     ``.stack/data/models`` (``udfs.learn.store``)
data set root          TICKML_DATA_SET_ROOT  ``training_data_sets`` (``udfs.rfc_classifier``)
=====================  ====================  ==========================================

How a path is judged: relative paths are taken from the UDF's working
directory (as before), then the path and the root are both resolved
(``Path.resolve``: symlinks followed, ``..`` collapsed) and the path must be
the root or below it (``os.path.commonpath``, whole path components, no
string prefixes). So an absolute path elsewhere, a ``..`` that climbs out
and a symlink that points out are refused alike; a symlink that stays inside
is fine. A name that becomes one path component (a model's folder) must be
a plain name: not empty, not ``.`` or ``..``, without ``/``, ``\\`` or NUL,
at most 255 bytes.

The check runs when a task starts (``init``), before anything is read or
created. Someone who can change the file system under a running UDF can
still move a folder after the check; the roots guard against tasks, not
against local users.

Examples
--------
>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     root = Root("model root", tmp, "TICKML_MODEL_ROOT")
...     root.problem("model_dir", tmp + "/power") is None
...     root.problem("model_dir", tmp + "/../elsewhere").startswith(
...         "option 'model_dir' must name a folder inside the model root")
True
True
>>> name_problem("model", "../x")
"option 'model' must be a plain name (not empty, not '.' or '..', no '/', '\\\\' or NUL, at most 255 bytes), got '../x'"
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

NAME_RULE = "a plain name (not empty, not '.' or '..', no '/', '\\' or NUL, at most 255 bytes)"
_NAME_MAX = 255  # bytes in one path component on Linux file systems


def is_plain_name(name: str) -> bool:
    """True if ``name`` is one path component that stays where it is put.

    >>> [is_plain_name(n) for n in ("power", "failure_prob", "", "..", "a/b", "a\\\\b", "a\\x00b")]
    [True, True, False, False, False, False, False]
    """
    return (name not in ("", ".", "..") and not any(c in name for c in "/\\\x00")
            and len(name.encode("utf-8", "surrogatepass")) <= _NAME_MAX)


def name_problem(option: str, name: str) -> str | None:
    """What is wrong with ``name`` as the value of ``option`` naming one folder, or None."""
    return None if is_plain_name(name) else f"option {option!r} must be {NAME_RULE}, got {name!r}"


def resolve(path: str | os.PathLike) -> Path:
    """``path`` made absolute from the working directory, symlinks followed and ``..`` collapsed.

    ValueError for a path that cannot be resolved (a NUL byte, a symlink loop).
    """
    text = os.fspath(path)
    if "\x00" in text:
        raise ValueError("it contains a NUL byte")
    try:
        return Path(text).resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python < 3.13)
        raise ValueError(str(exc)) from None


def is_within(path: Path, root: Path) -> bool:
    """True if the resolved ``path`` is ``root`` or below it (both absolute and resolved).

    >>> is_within(Path("/srv/models/power"), Path("/srv/models")), is_within(Path("/srv/models2"), Path("/srv/models"))
    (True, False)
    """
    return os.path.commonpath([path, root]) == str(root)


@dataclass(frozen=True)
class Root:
    """A folder that task options may name paths inside.

    Parameters
    ----------
    what
        What it holds, for messages ("model root").
    path
        The folder, absolute or relative to the working directory.
    variable
        The environment variable that sets it.
    """

    what: str
    path: str
    variable: str

    @classmethod
    def from_environment(cls, what: str, variable: str, default: str) -> "Root":
        """The root ``variable`` sets (when set and not empty), else ``default``."""
        return cls(what, os.environ.get(variable) or default, variable)

    def resolved(self) -> Path:
        return resolve(self.path)

    def problem(self, option: str, value: str, kind: str = "folder", *, given: str | None = None) -> str | None:
        """None if ``value`` resolves inside the root, else the message that refuses it.

        ``given`` is what the task wrote, when ``value`` was made from it
        (a model's folder from its name); the message quotes it.
        """
        root = self.resolved()
        shown = value if given is None else given
        where = (f"{kind} inside the {self.what} {str(root)!r} (set by the UDF service's "
                 f"{self.variable}, not by a task)")
        try:
            target = resolve(value) if value else None
        except ValueError as exc:
            return f"option {option!r} must name a {where}, got {shown!r}, which cannot be resolved: {exc}"
        if target is not None and is_within(target, root):
            return None
        resolved = "" if target is None or str(target) == shown else f" (resolves to {str(target)!r})"
        return f"option {option!r} must name a {where}, got {shown!r}{resolved}"
