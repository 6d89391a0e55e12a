"""Inputs from outside the training distribution, for measuring agreement where no label is right: the classes
data.classes leaves out (their test images), and artificial images (Hacohen, Choshen & Weinshall report that
members agree even on these): uniform noise and sinusoidal stripes, `data.artificial` of each."""

from __future__ import annotations

import numpy as np

from ..seeding import numpy_rng

ARTIFICIAL = ("noise", "stripes")


def artificial_images(kind: str, count: int, shape: tuple[int, int, int], seed: int) -> np.ndarray:
    """(count, C, H, W) uint8, a function of (kind, count, shape, seed) alone. noise: every pixel uniform in 0-255;
    stripes: a grating 127.5 (1 + sin(2 pi (x cos a + y sin a) / period + phase)) with a random angle a, period
    (3 pixels to half the image) and phase per image, the same in every channel."""
    rng = numpy_rng(seed, "artificial").spawn(len(ARTIFICIAL))[ARTIFICIAL.index(kind)]
    channels, height, width = shape
    if kind == "noise":
        return rng.integers(0, 256, size=(count, channels, height, width), dtype=np.uint8)
    angle = rng.uniform(0, np.pi, count)[:, None, None]
    period = rng.uniform(3, max(4, min(height, width) / 2), count)[:, None, None]
    phase = rng.uniform(0, 2 * np.pi, count)[:, None, None]
    y, x = np.mgrid[0:height, 0:width]
    wave = np.sin(2 * np.pi * (x * np.cos(angle) + y * np.sin(angle)) / period + phase)     # (count, H, W)
    image = np.round(127.5 * (1 + wave)).astype(np.uint8)
    return np.repeat(image[:, None], channels, axis=1)
