"""Subsets and splits that keep the class proportions."""

from __future__ import annotations

import numpy as np

from ..errors import UserError

AUTO_VAL_FRACTION, AUTO_VAL_MAX = 10, 5000   # data.val_size=null: a tenth of the training examples, at most 5000


def stratified_order(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A permutation of positions whose every prefix holds the classes in (near) their overall proportion:
    each class is shuffled, then the classes are interleaved by relative rank."""
    key = np.empty(len(labels))
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        key[rng.permutation(members)] = (np.arange(len(members)) + rng.uniform(size=len(members))) / len(members)
    return np.argsort(key, kind="stable")


def split_sizes(cfg, n: int) -> tuple[int, int]:
    """(training, validation) examples taken from the `n` of the training split. data.val_size=null holds out a tenth
    (at most AUTO_VAL_MAX); a val_size that leaves nothing to train on says which value would fit. The user data
    loaders call it too, before decoding anything, so that these errors leave no cache behind."""
    val_size = min(AUTO_VAL_MAX, n // AUTO_VAL_FRACTION) if cfg.val_size is None else cfg.val_size
    if cfg.train_size is None and val_size >= n:
        raise UserError(f"data.val_size={val_size} leaves none of the {n} training examples of {cfg.name} to train "
                        f"on; set data.val_size lower (a tenth: data.val_size={n // AUTO_VAL_FRACTION}), or null "
                        f"for a tenth")
    train_size = cfg.train_size if cfg.train_size is not None else n - val_size
    if train_size + val_size > n:
        raise UserError(f"data.train_size={train_size} plus data.val_size={val_size} exceeds the "
                        f"{n} training examples of {cfg.name}; lower one of them")
    return train_size, val_size
