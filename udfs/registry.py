"""Every UDF of the project, one line each: what Kapacitor calls, how it is served, what it takes.

The one list of UDFs. Its readers: ``tickml/config.py`` (which socket
UDF servers the stack supervises, ``udf_sockets``), the unit test that holds
``kapacitor/kapacitor.conf``'s ``[udf.functions]`` to it
(``tests/unit/udfs/test_registry.py``), the fuzz suite
(``tests/unit/agent/test_agent_fuzz.py``) and the conformance suite
(``tests/unit/udfs/test_conformance.py``), which runs every UDF here with its
sample options and its golden cases.

A UDF is a folder ``udfs/<name>/`` (``handler.py``, ``__main__.py``,
``README.md``, ``golden/*.json``) plus one line below; ``CONTRIBUTING.md``
has the steps. Nothing is imported here but the standard library, so the
stack's tools read the table without loading numpy or scikit-learn; the
handler class is imported only when asked for (:meth:`Udf.handler_class`).

Examples
--------
>>> get("moving_average").module, get("moving_average").socket
('udfs.moving_average', '.stack/run/udf/moving_average.sock')
>>> [u.name for u in UDFS if u.kind == "process"]
['rfc_classifier']
>>> get("nope")
Traceback (most recent call last):
...
KeyError: "no UDF 'nope' in udfs/registry.py; registered: anomaly, humidity_classifier, moving_average, null_batch, null_stream, predict, preprocess, py_classifier, rfc_classifier, train"
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["FOLDER", "SOCKET_DIR", "UDFS", "Udf", "get", "names"]

#: Where the UDF folders are.
FOLDER = Path(__file__).resolve().parent
#: Where the native stack's socket UDFs listen, relative to the project's root (kapacitor.conf's paths).
SOCKET_DIR = ".stack/run/udf"

_EDGES = ("stream", "batch")
_KINDS = ("socket", "process")
_BAD_INPUT = ("counted", "reported", "not_read")


@dataclass(frozen=True)
class Udf:
    """One UDF: the ``@name()`` Kapacitor calls and everything the tools need to serve and test it.

    Attributes
    ----------
    name
        The function's name in TICKscripts and kapacitor.conf; also its folder and its module, ``udfs.<name>``.
    kind
        ``socket``: a server the stack supervises, on ``.stack/run/udf/<name>.sock``; ``process``:
        Kapacitor starts ``python3 -m udfs.<name>`` per task node and speaks over stdin/stdout.
    wants, provides
        ``stream`` or ``batch``: the edges in and out, as its handler declares them.
    handler
        ``module:Class`` of its handler, imported only by :meth:`handler_class`.
    timeout
        kapacitor.conf's keepalive ``timeout`` for it.
    sample_options
        Options that init succeeds with, as a shipped TICKscript gives them; train and predict name the same model.
    sample_tick
        The shipped TICKscript that calls it (relative to the project's root), or None.
    bad_input
        What it does with a point whose field is missing, NaN or of the wrong type: ``counted`` (left out of
        the answer and counted in the agent's bad point counter, the rule), ``reported`` (a window UDF:
        the window is answered and the answer says what was wrong, as preprocess's ``Skippedvalues`` and
        train's ``Status=bad``), ``not_read`` (it reads no field, so no point is bad to it).
    """

    name: str
    kind: str
    wants: str
    provides: str
    handler: str
    timeout: str
    sample_options: dict[str, Any] = field(default_factory=dict)
    sample_tick: str | None = None
    bad_input: str = "counted"

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"{self.name}: kind must be one of {_KINDS}, got {self.kind!r}")
        if self.bad_input not in _BAD_INPUT:
            raise ValueError(f"{self.name}: bad_input must be one of {_BAD_INPUT}, got {self.bad_input!r}")
        for edge in (self.wants, self.provides):
            if edge not in _EDGES:
                raise ValueError(f"{self.name}: wants and provides must be one of {_EDGES}, got {edge!r}")

    @property
    def module(self) -> str:
        """What ``python -m`` runs: the UDF's folder."""
        return f"udfs.{self.name}"

    @property
    def folder(self) -> Path:
        return FOLDER / self.name

    @property
    def socket(self) -> str | None:
        """The socket kapacitor.conf names for a socket UDF (relative to the project's root); None for a process UDF."""
        return f"{SOCKET_DIR}/{self.name}.sock" if self.kind == "socket" else None

    def handler_class(self) -> type:
        """The handler class (imports its module, with whatever that loads)."""
        module, _, cls = self.handler.partition(":")
        return getattr(importlib.import_module(module), cls)

    def golden_cases(self) -> list[Path]:
        """Its golden case files, ``udfs/<name>/golden/*.json``, in name order."""
        return sorted((self.folder / "golden").glob("*.json"))


UDFS: tuple[Udf, ...] = (
    # The ceiling: handlers that do no work (bench/udf_ceiling.py); also the smallest examples.
    Udf("null_stream", "socket", "stream", "stream", "udfs.agent.null:NullStream", "20s", bad_input="not_read"),
    Udf("null_batch", "socket", "batch", "stream", "udfs.agent.null:NullBatch", "20s", bad_input="not_read"),
    # The Edge Insights samples.
    Udf("py_classifier", "socket", "stream", "stream", "udfs.py_classifier.handler:PyClassifier", "20s",
        {"field": "value", "low": 20.0, "high": 25.0}, "tick_scripts/py_point_classifier.tick"),
    Udf("humidity_classifier", "socket", "stream", "stream", "udfs.humidity_classifier.handler:HumidityClassifier",
        "20s", {"field": "value"}, "tick_scripts/humidity_classifier.tick"),
    # Trains a forest at start, before it can answer a keepalive: a longer timeout.
    Udf("rfc_classifier", "process", "batch", "batch", "udfs.rfc_classifier.handler:RfcClassifier", "60s",
        {"features": "temperature,humidity", "data_set": "training_data_sets/room_climate.csv"},
        "tick_scripts/rfc_task.tick"),
    Udf("moving_average", "socket", "stream", "stream", "udfs.moving_average.handler:MovingAverage", "20s",
        {"field": "value", "size": 5}, "tick_scripts/moving_average.tick"),
    # Per-entity learning; a window's training can take seconds (keepalives are answered meanwhile).
    Udf("preprocess", "socket", "batch", "stream", "udfs.preprocess.handler:Preprocess", "30s",
        {"fields": "voltage,current,power", "types": "avg,min,max,trend,anomprob"},
        "tick_scripts/power_preprocess.tick", bad_input="reported"),
    Udf("train", "socket", "batch", "stream", "udfs.train.handler:Train", "30s",
        {"independentvariables": "voltage,current", "dependentvariable": "power", "islogistic": False,
         "algorithm": "linear", "model": "power"}, "tick_scripts/power_train.tick", bad_input="reported"),
    Udf("predict", "socket", "stream", "stream", "udfs.predict.handler:Predict", "30s",
        {"model": "power"}, "tick_scripts/power_predict.tick"),
    # Per-entity anomaly score of every point (udfs/detect).
    Udf("anomaly", "socket", "stream", "stream", "udfs.anomaly.handler:Anomaly", "20s",
        {"field": "value"}, "tick_scripts/device_anomaly.tick"),
)

_BY_NAME = {udf.name: udf for udf in UDFS}
if len(_BY_NAME) != len(UDFS):
    raise ValueError("udfs/registry.py names a UDF twice")


def get(name: str) -> Udf:
    """The UDF called ``name``; KeyError naming the registered ones."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no UDF {name!r} in udfs/registry.py; registered: {', '.join(names())}") from None


def names(kind: str | None = None) -> list[str]:
    """The registered names (of one ``kind``), sorted.

    >>> names("process")
    ['rfc_classifier']
    """
    return sorted(u.name for u in UDFS if kind is None or u.kind == kind)
