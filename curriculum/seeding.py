"""Separate random streams derived from one seed, so that changing one choice (the sampler, the subset)
never shifts another (the initialisation, the label noise). Library code never reseeds the global RNG."""

import zlib

import numpy as np
import torch

# Scoring members draw from "init" and "order" (seed + k for member k); the target from "target_init" and
# "target_batches"; orderings (random order, tie shuffles) from "ordering"; data=folder's test hold-out from
# "holdout"; the stratified order's deal from "stratified"; artificial out-of-distribution images from
# "artificial". A target never shares a stream with a member, whatever the seed numbers of the score and train runs.
# Augmentation: "augment" (members) and "target_augment", drawn afresh at each step from step_seed. Folds: "folds",
# cleanlab's cross-validation (study/cross_validation.py) and ensemble.folds: the same seed and K, the same folds.
# data.noise=instance's cross-fit halves: "noise_model".
STREAMS = ("init", "order", "subset", "noise", "holdout", "synthetic", "target_init", "target_batches", "ordering",
           "augment", "target_augment", "folds", "stratified", "artificial", "noise_model", "skipping")


def stream_seed(seed: int, stream: str) -> int:
    """A 63-bit seed for `stream`, independent of every other stream of the same `seed`."""
    assert stream in STREAMS, f"unknown random stream {stream!r}"
    return _seed63([int(seed), zlib.crc32(stream.encode())])


def step_seed(seed: int, step: int) -> int:
    """A 63-bit seed for step `step` of a stream seeded by `seed` (a stream_seed): each step's draws are a function
    of the step alone, so resuming at any step needs no generator state."""
    return _seed63([int(seed), int(step)])


def _seed63(entropy: list[int]) -> int:
    """A 63-bit integer (a valid torch and numpy seed) mixed from `entropy` by numpy's SeedSequence."""
    words = np.random.SeedSequence(entropy).generate_state(2, dtype=np.uint32).astype(np.uint64)
    return int(words @ np.array([1 << 31, 1], dtype=np.uint64))


def numpy_rng(seed: int, stream: str) -> np.random.Generator:
    return np.random.default_rng(stream_seed(seed, stream))


def torch_generator(seed: int, stream: str, device: str | torch.device = "cpu") -> torch.Generator:
    return torch.Generator(device=device).manual_seed(stream_seed(seed, stream))
