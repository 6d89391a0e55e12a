"""Linear CKA on hand-made representations whose answers are known."""

import numpy as np
import pytest

from curriculum.analysis.cka import cka_matrix, linear_cka

X = np.random.default_rng(0).normal(size=(50, 4))


def test_identical_representations_have_cka_one():
    assert linear_cka(X, X) == pytest.approx(1.0)


def test_an_orthogonal_rotation_and_an_isotropic_scale_leave_cka_at_one():
    rotation, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(4, 4)))
    assert np.allclose(rotation.T @ rotation, np.eye(4))
    assert linear_cka(X, 3.0 * X @ rotation + 7.0) == pytest.approx(1.0)        # a shift is centred away too


def test_uncorrelated_representations_have_cka_zero():
    # centred columns with x^T y = 0: (1, -1, 1, -1) . (1, 1, -1, -1) = 0
    assert linear_cka(np.array([[1.0], [-1], [1], [-1]]), np.array([[1.0], [1], [-1], [-1]])) == 0.0


def test_a_partial_alignment_by_hand():
    # y's first column is x, its second is orthogonal to x: Y^T X = (4, 0), ||.||^2 = 16; X^T X = 4; Y^T Y = 4 I,
    # Frobenius 4 sqrt(2). CKA = 16 / (4 x 4 sqrt(2)) = 1 / sqrt(2).
    x = np.array([[1.0], [-1], [1], [-1]])
    y = np.array([[1.0, 1], [-1, 1], [1, -1], [-1, -1]])
    assert linear_cka(x, y) == pytest.approx(1 / np.sqrt(2))


def test_the_matrix_is_symmetric_with_nan_for_a_member_without_representations():
    y = np.array([[1.0, 1], [-1, 1], [1, -1], [-1, -1]])
    matrix = cka_matrix([np.array([[1.0], [-1], [1], [-1]]), y, None])
    assert matrix[0, 1] == matrix[1, 0] == pytest.approx(1 / np.sqrt(2))
    assert np.isnan(matrix[0, 2]) and np.isnan(matrix[2, 1]) and np.isnan(matrix[0, 0])


def test_the_penultimate_representation_is_what_the_last_linear_layer_reads():
    import torch

    from curriculum.engine import Inputs
    from curriculum.models import create_model
    from curriculum.scoring.representations import penultimate

    model = create_model("mlp", (1, 4, 4), 3, 0, width=5, depth=2)
    x = torch.randint(0, 256, (7, 1, 4, 4), dtype=torch.uint8)
    inputs = Inputs((0.5,), (0.25,), "cpu")
    features = penultimate(model, x, inputs, batch=3)                      # three batches: 3 + 3 + 1
    with torch.no_grad():
        expected = model[:-1](inputs(x)).numpy()                           # everything before the classifier
    assert features.shape == (7, 5) and np.allclose(features, expected)


def test_the_majority_vote_by_hand():
    from curriculum.scoring.representations import majority_vote

    votes = [np.array([0, 1, 2, 2]), np.array([0, 2, 1, 2]), np.array([1, 2, 0, 0])]
    assert majority_vote(votes, 3).tolist() == [0, 2, 0, 2]               # example 2: a three-way tie, the smallest
