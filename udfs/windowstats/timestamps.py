"""Types over the window's timestamps: time span, mean interval, data age.

Every function takes ``times``, a 1-D int64 array of ns since the epoch (the
window's ``times`` view; every point counts, whatever its value).  The
definitions use the earliest and latest timestamps, so they do not depend on
the order of the points.
"""

import time

import numpy as np

NS_PER_UNIT = {
    "millisecond": 10**6,
    "second": 10**9,
    "minute": 60 * 10**9,
    "hour": 3600 * 10**9,
    "day": 86400 * 10**9,
}


def timediff(times):
    """Seconds between the earliest and latest timestamps; 0 for one point.

    >>> timediff(np.array([0, 1_500_000_000, 4_000_000_000]))
    4.0
    """
    return int(np.max(times) - np.min(times)) / 1e9


def avgtimediff(times):
    """Mean interval in seconds between consecutive timestamps,
    (latest - earliest) / (n - 1); needs 2 points.

    >>> avgtimediff(np.array([0, 1_500_000_000, 4_000_000_000]))
    2.0
    """
    return timediff(times) / (len(times) - 1)


def dataage(times, utcoffset=0.0, unit="minute", now=None):
    """Age of the latest timestamp: (now + utcoffset hours) - latest, in ``unit``.

    The seed's ``dataage_<utcoffset>_<unit>``: ``utcoffset`` shifts the
    current UTC time to the zone the stream's timestamps are written in (0
    for Kapacitor, whose times are UTC); ``unit`` is millisecond, second,
    minute, hour or day.  ``now`` is the current time in ns (default: the
    system clock), a parameter so that tests and replays are reproducible.
    Negative when the data claim to come from the future (clock skew).

    >>> dataage(np.array([0, 60 * 10**9]), unit="minute", now=180 * 10**9)
    2.0
    >>> dataage(np.array([0]), utcoffset=1, unit="hour", now=0)
    1.0
    """
    if now is None:
        now = time.time_ns()
    shifted_now = int(now) + round(utcoffset * NS_PER_UNIT["hour"])
    return (shifted_now - int(np.max(times))) / NS_PER_UNIT[unit]
