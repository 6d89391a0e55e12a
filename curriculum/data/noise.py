"""Seeded label noise; the mask of flipped labels is kept.

Three kinds (`data.noise`), each with `data.label_noise` as the fraction:
- `symmetric`: exactly round(fraction * N) examples of the whole training set, each flipped to a uniformly drawn
  other class.
- `pairwise`: in every class c that the noise map sends somewhere, exactly round(fraction * N_c) of its N_c examples
  are flipped to map[c], the class it is most often confused with (the class-conditional noise of Patrini et al.
  2017, who flip a fraction of each mapped class). Classes the map leaves out never flip, so with a partial map
  (CIFAR-10, MNIST) fewer than fraction * N labels change; with a complete one (Fashion-MNIST, the default
  next-class map) it is fraction * N up to rounding per class.
- `instance`: instance-dependent noise (Chen et al. 2021, "Beyond Class-Conditional Assumption", AAAI): a separately
  trained noise model (noise_model.py) gives every training example class probabilities, and the round(fraction * N)
  examples with the highest probability of a wrong class (the most confusable ones) flip, each to its most probable
  wrong class, as annotators mislabel ambiguous images to the class they resemble.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import UserError

NOISES = ("symmetric", "pairwise", "instance")
ROUND_DECIMALS = 9   # instance: probabilities rounded to 1e-9 before ranking, below any BLAS wobble

# Per-dataset look-alike maps, class index -> the class its flipped examples get.
PAIRWISE_MAPS = {
    # Fashion-MNIST: T-shirt/top(0)<->Shirt(6), Pullover(2)<->Coat(4), Sneaker(7)<->Ankle boot(9) are the pairs a
    # CNN confuses most. The other four classes are paired so that the map is complete (every class flips, the
    # fraction is of the whole set): Trouser(1)<->Dress(3) (long, narrow, vertical silhouettes) and
    # Sandal(5)<->Bag(8) (the two least garment-like leftovers; Sandal's own look-alikes are taken by 7<->9).
    "fashion_mnist": {0: 6, 6: 0, 2: 4, 4: 2, 7: 9, 9: 7, 1: 3, 3: 1, 5: 8, 8: 5},
    # CIFAR-10 (Patrini et al. 2017): truck->automobile, bird->airplane, deer->horse, cat<->dog; others never flip.
    "cifar10": {9: 1, 2: 0, 4: 7, 3: 5, 5: 3},
    # MNIST (Patrini et al. 2017): 2->7, 3->8, 5<->6, 7->1; others never flip.
    "mnist": {2: 7, 3: 8, 5: 6, 6: 5, 7: 1},
}


def next_class_map(num_classes: int) -> dict[int, int]:
    """The default map of a dataset without its own (synthetic, cifar100, a user's folder or arrays): c -> c + 1,
    the last class to the first."""
    return {c: (c + 1) % num_classes for c in range(num_classes)}


def check_noise_map(mapping, num_classes: int | None = None) -> dict[int, int]:
    """`data.noise_map` as {int: int}: keys and values whole numbers, no class mapped to itself, and (once the number
    of classes is known) every class in [0, num_classes). One-line UserError otherwise."""
    if not isinstance(mapping, Mapping):
        raise UserError(f"data.noise_map={mapping!r} must map class numbers to class numbers, like {{0: 6, 6: 0}}, "
                        f"or be null for the dataset's own map")
    given = dict(mapping)
    shown = "{" + ", ".join(f"{k}: {v}" for k, v in given.items()) + "}"
    if not given:
        raise UserError("data.noise_map={} is empty; give class -> class pairs, like {0: 6, 6: 0}, or null for the "
                        "dataset's own map")
    if not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for pair in given.items() for x in pair):
        raise UserError(f"data.noise_map={shown} must map class numbers to class numbers, like {{0: 6, 6: 0}}")
    same = [k for k, v in given.items() if k == v]
    if same:
        raise UserError(f"data.noise_map={shown} maps class {same[0]} to itself; a flipped label must change class")
    if num_classes is not None:
        outside = [x for pair in given.items() for x in pair if not 0 <= x < num_classes]
        if outside:
            raise UserError(f"data.noise_map={shown} names class {outside[0]}, but the dataset has classes "
                            f"0 to {num_classes - 1}")
    return {int(k): int(v) for k, v in given.items()}


def noise_map(dataset: str, num_classes: int, given=None) -> dict[int, int]:
    """The effective pairwise map: the user's (`data.noise_map`, checked), else the dataset's, else next-class."""
    if given is not None:
        return check_noise_map(given, num_classes)
    if dataset in PAIRWISE_MAPS:
        return dict(PAIRWISE_MAPS[dataset])
    return next_class_map(num_classes)


def flip_labels(labels: np.ndarray, fraction: float, num_classes: int, rng: np.random.Generator):
    """Symmetric noise: flip exactly round(fraction * N) labels, each to a uniformly drawn *other* class.
    Returns (new labels, bool mask of flipped examples)."""
    n_flip = int(round(fraction * len(labels)))
    flipped = np.zeros(len(labels), dtype=bool)
    flipped[rng.choice(len(labels), size=n_flip, replace=False)] = True
    shift = rng.integers(1, num_classes, size=n_flip)
    noisy = labels.copy()
    noisy[flipped] = (labels[flipped] + shift) % num_classes
    return noisy, flipped


def flip_pairwise(labels: np.ndarray, fraction: float, mapping: dict[int, int], rng: np.random.Generator):
    """Pairwise noise: in each class c of `mapping`, exactly round(fraction * N_c) of its examples get label
    mapping[c]; other classes keep theirs. Which examples flip comes from one seeded permutation, so the examples
    chosen in a class do not depend on which other classes the map holds. Returns (new labels, flipped mask)."""
    labels = np.asarray(labels)
    order = rng.permutation(len(labels))          # examples of a class flip in this order
    flipped = np.zeros(len(labels), dtype=bool)
    noisy = labels.copy()
    for c, target in sorted(mapping.items()):
        in_class = order[labels[order] == c]      # (N_c,) positions of class c, in the drawn order
        chosen = in_class[:int(round(fraction * len(in_class)))]
        flipped[chosen] = True
        noisy[chosen] = target
    return noisy, flipped


def flip_instance(labels: np.ndarray, fraction: float, probs: np.ndarray, rng: np.random.Generator):
    """Instance-dependent noise: the round(fraction * N) examples whose most probable wrong class is most probable
    flip to that class. probs (N, K) are rounded to ROUND_DECIMALS first, which makes it vanishingly unlikely that
    the last-bit wobble of a BLAS changes which examples flip or where to (a value on a rounding boundary still
    could; the data fingerprint, which hashes the labels, would then tell the runs apart); equal probabilities of two wrong classes go to the lower class
    number, equal probabilities of two examples are ranked by a seeded permutation. Returns (new labels, flipped
    mask)."""
    labels = np.asarray(labels)
    rows = np.arange(len(labels))
    wrong = np.round(np.asarray(probs, dtype=np.float64), ROUND_DECIMALS)   # (N, K)
    wrong[rows, labels] = -1.0                      # the given class is never the target
    target = wrong.argmax(axis=1)                   # first maximum: the lowest class number among equals
    tie_rank = rng.permutation(len(labels))         # (N,) seeded rank among equal probabilities
    order = np.lexsort((tie_rank, -wrong[rows, target]))   # most confusable first
    flipped = np.zeros(len(labels), dtype=bool)
    flipped[order[:int(round(fraction * len(labels)))]] = True
    noisy = labels.copy()
    noisy[flipped] = target[flipped]
    return noisy, flipped


def inject_noise(labels: np.ndarray, fraction: float, num_classes: int, kind: str, mapping: dict[int, int] | None,
                 rng: np.random.Generator, probs: np.ndarray | None = None):
    """`data.noise` of kind `kind` (a key of NOISES); `mapping` is the effective map for pairwise, `probs` (N, K)
    the noise model's probabilities for instance."""
    if kind == "symmetric":
        return flip_labels(labels, fraction, num_classes, rng)
    if kind == "instance":   # without noise no noise model is trained (probs None) and nothing flips
        return flip_instance(labels, fraction, probs, rng) if fraction > 0 else (labels.copy(), labels != labels)
    return flip_pairwise(labels, fraction, mapping, rng)
