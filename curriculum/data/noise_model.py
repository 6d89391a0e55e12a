"""The noise model of `data.noise=instance`: class probabilities for every training example from a model that never
trained on it (the separately trained classifier of Chen et al. 2021, "Beyond Class-Conditional Assumption", AAAI).

The recipe (RECIPE, part of the data fingerprint: a change of it is other data):
- Features: the images scaled to [0, 1], average-pooled in p x p blocks with the smallest p that leaves at most
  MAX_FEATURES values (Fashion-MNIST: 2 x 2, 196; CIFAR-10: 4 x 4, 192; 12 x 12 synthetic: none, 144), flattened,
  then standardised per feature with the mean and std of the model's own training examples.
- Model: multinomial logistic regression (weights and biases, L2 on the weights), float64 numpy, trained from zeros
  by full-batch Nesterov gradient descent for STEPS steps at step 1 / L, where L = lambda_max(X^T X / n) / 2 bounds
  the loss's curvature (lambda_max by POWER_ITERATIONS power iterations from a fixed vector). No random draw, no
  torch: the same examples give the same probabilities in any process; thread counts change at most the last bits,
  which the flip rule rounds away (noise.flip_instance).
- Training examples, at most FIT_CAP (the cost bound: about 2 s on one core for Fashion-MNIST, 82% accurate):
  `outside`: the eligible examples that neither the training subset nor the validation split holds, the first FIT_CAP
  of the subset's seeded stratified order, when at least MIN_OUTSIDE of them with MIN_PER_CLASS of every class exist;
  `cross-fit` otherwise (e.g. every example in training): the training subset is cut into two seeded stratified
  halves, each labelled by a model trained on (the first FIT_CAP of) the other half.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import UserError
from .noise import ROUND_DECIMALS
from .splits import stratified_folds, stratified_order
from .stream import take

MAX_FEATURES = 256       # pooled pixel values per image, at most
STEPS = 100              # full-batch Nesterov steps
MOMENTUM = 0.9           # Nesterov's momentum
L2 = 1e-4                # (L2 / 2) |W|^2 added to the mean loss (the biases go free)
POWER_ITERATIONS = 20    # for the step size's curvature bound
FIT_CAP = 5_000          # training examples of one model, at most
MIN_OUTSIDE = 1_000      # examples outside training and validation needed for the `outside` path ...
MIN_PER_CLASS = 20       # ... with at least this many of every class
RECIPE = {"version": 1, "model": "logistic regression, Nesterov full-batch GD, float64", "max_features": MAX_FEATURES,
          "steps": STEPS, "momentum": MOMENTUM, "l2": L2, "power_iterations": POWER_ITERATIONS, "fit_cap": FIT_CAP,
          "min_outside": MIN_OUTSIDE, "min_per_class": MIN_PER_CLASS, "round_decimals": ROUND_DECIMALS}


def pool_factor(shape: tuple[int, ...]) -> int:
    """The smallest p whose p x p pooling of a (C, H, W) image leaves at most MAX_FEATURES values."""
    c, h, w = shape
    p = max(1, math.ceil(math.sqrt(c * h * w / MAX_FEATURES)))
    while p > 1 and c * (h // (p - 1)) * (w // (p - 1)) <= MAX_FEATURES:
        p -= 1
    return p


def features(x: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """(N, C, H, W) uint8 -> (N, F) float64 in [0, 1]: p x p block means (edge rows/columns that fill no block are
    left out), flattened; `chunk` images at a time (images on disk, data/stream.py, are never read whole)."""
    n, c, h, w = x.shape
    p = pool_factor((c, h, w))
    parts = []
    for start in range(0, n, chunk):
        part = np.asarray(x[start:start + chunk])[:, :, :h // p * p, :w // p * p]
        blocks = part.reshape(len(part), c, h // p, p, w // p, p)
        parts.append((blocks.mean(axis=(3, 5), dtype=np.float64) / 255.0).reshape(len(part), -1))
    return np.concatenate(parts) if parts else np.zeros((0, c * (h // p) * (w // p)))


def standardiser(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and std of the training features; a constant feature keeps std 1 (it becomes 0)."""
    mean, std = f.mean(axis=0), f.std(axis=0)
    return mean, np.where(std < 1e-6, 1.0, std)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def step_size(f: np.ndarray) -> float:
    """1 / L with L = lambda_max(F^T F / n) / 2, the softmax loss's curvature bound (a power iteration's estimate,
    from the all-ones vector, so the same features give the same step)."""
    v = np.full(f.shape[1], 1.0 / math.sqrt(f.shape[1]))
    lam = 1.0
    for _ in range(POWER_ITERATIONS):
        u = f.T @ (f @ v) / len(f)
        lam = float(np.linalg.norm(u))
        if lam == 0.0:
            return 1.0
        v = u / lam
    return 2.0 / lam


def fit(f: np.ndarray, y: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression on standardised features f (n, F): (weights (F, K), biases (K,)) after STEPS
    Nesterov steps from zeros."""
    n = len(y)
    onehot = np.eye(num_classes)[y]                    # (n, K)
    lr = step_size(f)
    w, b = np.zeros((f.shape[1], num_classes)), np.zeros(num_classes)
    vw, vb = np.zeros_like(w), np.zeros_like(b)        # velocities
    for _ in range(STEPS):
        ahead_w, ahead_b = w + MOMENTUM * vw, b + MOMENTUM * vb
        g = (softmax(f @ ahead_w + ahead_b) - onehot) / n   # (n, K) d(mean loss)/d(logits)
        vw = MOMENTUM * vw - lr * (f.T @ g + L2 * ahead_w)
        vb = MOMENTUM * vb - lr * g.sum(axis=0)
        w, b = w + vw, b + vb
    return w, b


def train_and_label(x_fit: np.ndarray, y_fit: np.ndarray, x_label: np.ndarray, num_classes: int) -> np.ndarray:
    """(N_label, K) probabilities of x_label from a model trained on (x_fit, y_fit) alone."""
    f = features(x_fit)
    mean, std = standardiser(f)
    w, b = fit((f - mean) / std, y_fit, num_classes)
    return softmax((features(x_label) - mean) / std @ w + b)


def enough_outside(y_outside: np.ndarray, num_classes: int) -> bool:
    """Whether the outside pool can train the noise model: MIN_OUTSIDE examples, MIN_PER_CLASS of every class."""
    counts = np.bincount(y_outside, minlength=num_classes)
    return len(y_outside) >= MIN_OUTSIDE and counts.min() >= MIN_PER_CLASS


def cross_fit_plan(labels: np.ndarray, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(fit on, label), (fit on, label)]: positions of two seeded stratified halves (stratified_folds, K=2), each
    labelled by a model fit on the other, capped at its first FIT_CAP in a seeded stratified order."""
    halves = stratified_folds(labels, 2, rng)
    order = stratified_order(labels, rng)
    return [(order[halves[order] != half][:FIT_CAP], np.flatnonzero(halves == half)) for half in (0, 1)]


def cross_fit(x: np.ndarray, y: np.ndarray, num_classes: int, plan) -> np.ndarray:
    """(N, K) probabilities of every example from the model its half of cross_fit_plan names."""
    probs = np.empty((len(y), num_classes))
    for fit_on, label in plan:
        probs[label] = train_and_label(take(x, fit_on), y[fit_on], take(x, label), num_classes)
    return probs


def noise_model_probabilities(x_train, y_train, x_outside, y_outside, num_classes: int, rng: np.random.Generator):
    """(N_train, K) probabilities of the training examples from models that never saw them, and a line saying how
    they were made. x_outside, y_outside: the outside pool in its seeded order (only the first FIT_CAP are used)."""
    x_outside, y_outside = x_outside[:FIT_CAP], y_outside[:FIT_CAP]
    if enough_outside(y_outside, num_classes):
        probs = train_and_label(x_outside, y_outside, x_train, num_classes)
        how = f"trained on {len(y_outside)} examples outside the training subset and the validation split"
    elif len(y_train) < 2:
        raise UserError(f"data.noise=instance needs at least 2 training examples to cross-fit its noise model, not "
                        f"{len(y_train)}; raise data.train_size")
    else:
        probs = cross_fit(x_train, y_train, num_classes, cross_fit_plan(y_train, rng))
        how = (f"cross-fitted on two halves of the training subset (outside it: {len(y_outside)} examples, fewer than "
               f"{MIN_OUTSIDE} or {MIN_PER_CLASS} of a class)")
    accuracy = float((probs.argmax(axis=1) == y_train).mean())
    return probs, f"instance noise model {how}, {100 * accuracy:.1f}% accurate on the {len(y_train)} it labels"
