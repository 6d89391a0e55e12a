"""The per-example statistics registry (curriculum.statistics): each statistic by hand on tiny logits, and, for
every entry, what recording and the member file rely on (shape, dtype, an exact storage round trip)."""

import numpy as np
import pytest
import torch

from curriculum.statistics import STATISTICS, as_rows, concat, empty, example_stats, from_rows


def test_correct_margin_and_prob_by_hand():
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 3.0, 1.0]])
    stats = example_stats(logits, torch.tensor([0, 2]))
    assert stats["correct"].tolist() == [True, False]
    assert stats["margin"].tolist() == [1.5, -2.0]
    assert stats["prob"][0].item() == pytest.approx(np.exp(2) / (np.exp(2) + np.exp(0.5) + np.exp(-1)))


def test_el2n_by_hand():
    """EL2N = ||softmax(logits) - onehot(label)||_2 (Paul et al. 2021). Equal logits over 3 classes: softmax 1/3 each,
    so sqrt((1 - 1/3)^2 + 2 (1/3)^2) = sqrt(6)/3; two classes with logits ln 3 and 0: softmax 3/4, 1/4, so label 0
    gives sqrt(2) / 4 and label 1 gives 3 sqrt(2) / 4."""
    logits = torch.tensor([[0.0, 0.0, 0.0]])
    assert example_stats(logits, torch.tensor([0]))["el2n"].item() == pytest.approx(np.sqrt(6) / 3)   # 0.8165
    two = torch.tensor([[np.log(3.0), 0.0], [np.log(3.0), 0.0]])
    el2n = example_stats(two, torch.tensor([0, 1]))["el2n"]
    assert el2n.tolist() == pytest.approx([np.sqrt(2) / 4, 3 * np.sqrt(2) / 4], rel=1e-6)
    confident = example_stats(torch.tensor([[100.0, 0.0, 0.0]]), torch.tensor([1]))["el2n"]
    assert confident.item() == pytest.approx(np.sqrt(2), rel=1e-6)   # all mass on a wrong class: the maximum


def test_loss_by_hand():
    """Cross-entropy -log softmax(logits)[label]: logits [0, 0] give ln 2 for either label; logits [ln 3, 0] give
    softmax 3/4, 1/4, so ln(4/3) for label 0 and ln 4 for label 1; logits [100, 0, 0] with label 1 give
    100 + ln(1 + 2 e^-100), i.e. 100 in float32."""
    stats = example_stats(torch.tensor([[0.0, 0.0], [0.0, 0.0]]), torch.tensor([0, 1]))
    assert stats["loss"].tolist() == pytest.approx([np.log(2), np.log(2)], rel=1e-6)
    two = torch.tensor([[np.log(3.0), 0.0], [np.log(3.0), 0.0]])
    assert example_stats(two, torch.tensor([0, 1]))["loss"].tolist() == pytest.approx([np.log(4 / 3), np.log(4)],
                                                                                       rel=1e-6)
    wrong = example_stats(torch.tensor([[100.0, 0.0, 0.0]]), torch.tensor([1]))["loss"]
    assert wrong.item() == pytest.approx(100.0, rel=1e-6)
    assert STATISTICS["loss"].storage.dtype is np.float16


LOGITS = torch.tensor([[2.0, 0.5, -1.0], [0.0, 3.0, 1.0], [1.0, 1.0, 1.0], [-2.0, 4.0, 0.5], [0.0, 0.0, 9.0]])
LABELS = torch.tensor([0, 2, 1, 1, 0])


@pytest.mark.parametrize("name", STATISTICS)
def test_each_statistic_is_one_value_per_example_that_does_not_depend_on_the_rest_of_the_batch(name):
    whole = example_stats(LOGITS, LABELS)[name]
    assert whole.shape == (len(LABELS),)
    alone = torch.cat([example_stats(LOGITS[i:i + 1], LABELS[i:i + 1])[name] for i in range(len(LABELS))])
    torch.testing.assert_close(whole, alone)
    halves = concat([example_stats(LOGITS[:2], LABELS[:2]), example_stats(LOGITS[2:], LABELS[2:])])
    torch.testing.assert_close(halves[name], whole)


@pytest.mark.parametrize("name", STATISTICS)
def test_each_statistic_survives_one_host_transfer_and_its_member_file_storage_exactly(name):
    storage = STATISTICS[name].storage
    rows = from_rows(as_rows(example_stats(LOGITS, LABELS)).numpy())            # (N,) float32 each
    held = empty(2, len(LABELS))[name]                                         # (C, N) of the statistic's dtype
    assert held.dtype == np.dtype(storage.dtype)
    held[0] = held[1] = rows[name]
    np.testing.assert_array_equal(held[0], example_stats(LOGITS, LABELS)[name].numpy().astype(storage.dtype))
    np.testing.assert_array_equal(storage.decode(storage.encode(held), len(LABELS)), held)


def test_correctness_is_stored_as_packed_bits():
    held = np.array([[True, False, True, True, False, False, False, False, True]])
    stored = STATISTICS["correct"].storage.encode(held)
    assert stored.dtype == np.uint8 and stored.shape == (1, 2)                 # 9 examples: two bytes
    assert stored.tolist() == [[0b10110000, 0b10000000]]


@pytest.mark.parametrize("name", STATISTICS)
def test_every_statistic_says_what_it_means(name):
    assert STATISTICS[name].meaning
