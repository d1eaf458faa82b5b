"""Types over (latitude, longitude) positions.

Every function takes ``positions``, an (m, 2) float array of valid
(latitude, longitude) pairs in degrees (the window's ``positions`` view).
"""

import numpy as np

# IUGG mean Earth radius: the usual sphere for great-circle distances.
EARTH_RADIUS_KM = 6371.0088


def geodiff(positions):
    """Great-circle distance in km between the first and the last position
    of the window (haversine formula on a sphere of the IUGG mean radius);
    0 for one position.

    >>> round(geodiff(np.array([[0.0, 0.0], [0.0, 1.0]])), 3)
    111.195
    """
    (lat1, lon1), (lat2, lon2) = np.radians(positions[0]), np.radians(positions[-1])
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return float(2 * EARTH_RADIUS_KM * np.arcsin(min(1.0, np.sqrt(h))))
