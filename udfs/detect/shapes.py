"""The memory of past shapes and the novelty of a new one: its distance to the nearest remembered shape."""

from __future__ import annotations

import base64
import math

import numpy as np

LEVELS = 255  # a coordinate is kept as one byte: 1/255 of the range is finer than any window's noise


class ShapeMemory:
    """A ring of past shapes, each coordinate in [0, 1] of the range seen when it was taken, one byte each.

    Shapes are not renormalised when the range grows: an old shape then sits where it sat, which is what
    makes a value beyond the old range read as new.
    """

    def __init__(self, capacity: int, dims: int) -> None:
        self.capacity, self.dims = capacity, dims
        # The distance is taken on the decoded bytes, so a memory restored from its state answers exactly as
        # the one saved.
        self.shapes = np.zeros((capacity, dims), dtype=np.float64)
        self.count = 0
        self.pos = 0

    @staticmethod
    def encode(shape: np.ndarray) -> np.ndarray:
        # A shape lies in [0, 1] (the range includes every value it holds), up to rounding: + 0.5 then
        # truncation rounds, and cannot leave 0..255.
        return (shape * LEVELS + 0.5).astype(np.uint8)

    def add(self, code: np.ndarray) -> None:
        np.multiply(code, 1.0 / LEVELS, out=self.shapes[self.pos])
        self.pos = (self.pos + 1) % self.capacity
        self.count = min(self.count + 1, self.capacity)

    def nearest(self, shape: np.ndarray) -> tuple[float, int]:
        """(distance, row) of the nearest remembered shape; (0, -1) while the memory is empty."""
        if not self.count:
            return 0.0, -1
        diff = (self.shapes if self.count == self.capacity else self.shapes[: self.count]) - shape
        d2 = np.einsum("ij,ij->i", diff, diff)
        row = int(d2.argmin())
        return math.sqrt(d2[row]), row  # the same correctly rounded root as np.sqrt, cheaper on a scalar

    def state(self) -> dict:
        codes = np.rint(self.shapes[: self.count] * LEVELS).astype(np.uint8)
        return {"codes": base64.b64encode(codes.tobytes()).decode("ascii"),
                "pos": self.pos}

    @classmethod
    def restore(cls, doc: dict, capacity: int, dims: int) -> "ShapeMemory":
        mem = cls(capacity, dims)
        codes = np.frombuffer(base64.b64decode(doc["codes"]), dtype=np.uint8)
        if codes.size % dims or codes.size // dims > capacity:
            raise ValueError(f"shape memory of {codes.size} bytes does not fit {capacity} x {dims}")
        mem.count = codes.size // dims
        mem.shapes[: mem.count] = codes.reshape(mem.count, dims) * (1.0 / LEVELS)
        mem.pos = int(doc["pos"])
        if not 0 <= mem.pos < capacity:
            raise ValueError(f"shape memory position {mem.pos} outside 0..{capacity - 1}")
        return mem
