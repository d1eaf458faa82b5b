#!/usr/bin/env python3
"""Generate room_climate.csv, the data set the rfc_classifier sample trains from.

    python3 training_data_sets/generate_room_climate.py > training_data_sets/room_climate.csv

Provenance: synthetic, made by this script with seed 20261123. Each row is one
reading of a room sensor (the Edge Insights seed's mqtt-temp-sensor):
temperature in °C uniform on [10, 35], relative humidity in % uniform on
[10, 90]. The label is 1 ("needs attention") when the temperature is outside
the 20–25 °C comfort band (py_classifier's band) or the humidity is above 60 %,
else 0; 3 % of the labels are flipped, so a model cannot be perfect and its
probabilities mean something.
"""

import sys

import numpy as np

SEED = 20261123
ROWS = 1500


def main() -> None:
    rng = np.random.default_rng(SEED)
    temperature = rng.uniform(10.0, 35.0, ROWS)
    humidity = rng.uniform(10.0, 90.0, ROWS)
    label = ((temperature < 20.0) | (temperature > 25.0) | (humidity > 60.0)).astype(int)
    flip = rng.random(ROWS) < 0.03
    label[flip] = 1 - label[flip]
    out = sys.stdout
    out.write("temperature,humidity,label\n")
    for t, h, y in zip(temperature, humidity, label):
        out.write(f"{t:.2f},{h:.2f},{y}\n")


if __name__ == "__main__":
    main()
