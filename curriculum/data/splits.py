"""Subsets and splits that keep the class proportions."""

from __future__ import annotations

import numpy as np

from ..errors import UserError

AUTO_VAL_ONE_IN, AUTO_VAL_MAX = 10, 5000   # data.val_size=null: one training example in ten, at most 5000


def stratified_order(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A permutation of positions whose every prefix holds the classes in (near) their overall proportion:
    each class is shuffled, then the classes are interleaved by relative rank."""
    key = np.empty(len(labels))
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        key[rng.permutation(members)] = (np.arange(len(members)) + rng.uniform(size=len(members))) / len(members)
    return np.argsort(key, kind="stable")


def stratified_folds(labels: np.ndarray, folds: int, rng: np.random.Generator) -> np.ndarray:
    """(N,) fold of each example for K-fold cross-validation: every example in exactly one fold, each class dealt
    round-robin over the folds after a shuffle (a class's count differs by at most 1 between folds), and the deal
    carried on from class to class, so the folds' sizes differ by at most 1 too."""
    labels = np.asarray(labels)
    if not 2 <= folds <= len(labels):
        raise ValueError(f"folds={folds} must be at least 2 and at most the {len(labels)} examples")
    fold = np.empty(len(labels), dtype=np.int64)
    dealt = 0
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        fold[members] = (dealt + np.arange(len(members))) % folds
        dealt += len(members)
    return fold


def split_sizes(cfg, n: int) -> tuple[int, int]:
    """(training, validation) examples taken from the `n` of the training split. data.val_size=null holds out a tenth
    (at most AUTO_VAL_MAX); a val_size that leaves nothing to train on says which value would fit. The user data
    loaders call it too, before decoding anything, so that these errors leave no cache behind."""
    val_size = min(AUTO_VAL_MAX, n // AUTO_VAL_ONE_IN) if cfg.val_size is None else cfg.val_size
    if cfg.train_size is None and val_size >= n:
        raise UserError(f"data.val_size={val_size} leaves none of the {n} training examples of {cfg.name} to train "
                        f"on; set data.val_size lower (a tenth: data.val_size={n // AUTO_VAL_ONE_IN}), or null "
                        f"for a tenth")
    train_size = cfg.train_size if cfg.train_size is not None else n - val_size
    if train_size + val_size > n:
        raise UserError(f"data.train_size={train_size} plus data.val_size={val_size} exceeds the "
                        f"{n} training examples of {cfg.name}; lower one of them")
    return train_size, val_size
