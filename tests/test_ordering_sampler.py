import numpy as np
import pytest
import torch

from curriculum.errors import UserError
from curriculum.schedule.pacing import PacedSampler, make_pacing
from curriculum.schedule.sampler import SamplerConfig, class_balanced, easy_first, make_ordering, stratified

LABELS = np.repeat([0, 1, 2], [60, 30, 10])
SCORES = np.random.default_rng(0).random(100)


def test_easy_first_sorts_by_score_descending():
    assert easy_first(np.array([0.1, 0.9, 0.5]), seed=0).tolist() == [1, 2, 0]


def test_unbalanced_consensus_ordering_is_pure_score_order_and_anti_its_reverse():
    order = make_ordering("consensus", SCORES, LABELS, seed=0, balanced=False)
    assert np.all(np.diff(SCORES[order]) <= 0)
    anti = make_ordering("anti", SCORES, LABELS, seed=0, balanced=False)
    assert anti.tolist() == order[::-1].tolist()


def test_anti_is_the_reverse_of_consensus_when_balanced_too():
    order = make_ordering("consensus", SCORES, LABELS, seed=0)
    assert make_ordering("anti", SCORES, LABELS, seed=0).tolist() == order[::-1].tolist()


@pytest.mark.parametrize("sampler", ["consensus", "anti", "random"])
def test_every_prefix_of_a_balanced_ordering_holds_the_classes_in_proportion(sampler):
    order = make_ordering(sampler, SCORES, LABELS, seed=0)
    assert sorted(order.tolist()) == list(range(100))
    for prefix in range(1, 101):
        counts = np.bincount(LABELS[order[:prefix]], minlength=3)
        assert np.all(np.abs(counts - prefix * np.array([0.6, 0.3, 0.1])) <= 1.0), prefix


def test_balancing_keeps_score_order_within_each_class():
    order = class_balanced(easy_first(SCORES, 0), LABELS)
    for c in range(3):
        within = SCORES[order[LABELS[order] == c]]
        assert np.all(np.diff(within) <= 0)


def test_random_ordering_depends_only_on_its_seed():
    a = make_ordering("random", SCORES, LABELS, seed=1)
    assert a.tolist() == make_ordering("random", None, LABELS, seed=1).tolist()          # scores play no part
    assert a.tolist() == make_ordering("random", SCORES[::-1], LABELS, seed=1).tolist()
    assert a.tolist() != make_ordering("random", SCORES, LABELS, seed=2).tolist()


def test_standard_has_no_ordering_and_unknown_samplers_are_named():
    assert make_ordering("standard", None, LABELS, seed=0) is None
    with pytest.raises(UserError, match="unknown sampler 'easy'; choose one of consensus, anti, random, stratified, standard"):
        make_ordering("easy", SCORES, LABELS, seed=0)
    with pytest.raises(UserError, match="sampler=consensus needs scores"):
        make_ordering("consensus", None, LABELS, seed=0)


@pytest.mark.parametrize("end", [1.0, 0.6])
def test_sampler_draws_only_from_the_available_prefix(end):
    ordering = np.random.default_rng(3).permutation(1000)
    pacing = make_pacing("linear", a=0.5, b=0.1)
    sampler = PacedSampler(ordering, pacing, total_steps=200, batch_size=32, end=end,
                           seed=0)
    position = np.empty(1000, dtype=np.int64)
    position[ordering] = np.arange(1000)
    steps = 0
    for s, batch in enumerate(sampler):
        allowed = max(32, int(np.ceil(end * pacing(s + 1, 200) * 1000)))   # step s draws from g(s + 1, T)
        assert len(batch) == 32 and len(set(batch.tolist())) == 32  # no repeats within a batch
        assert position[batch.numpy()].max() < min(allowed, int(np.ceil(end * 1000)))
        steps += 1
    assert steps == 200
    # the first batch comes from g(1, 200) = 0.1 + 0.9 * (1 / 200) / 0.5 = 0.109 of the ordering
    assert sampler.prefix_size(0) == max(32, int(np.ceil(end * 109))) and sampler.prefix_size(199) == int(end * 1000)


def test_prefix_never_drops_below_one_batch():
    sampler = PacedSampler(np.arange(1000), make_pacing("exp_stairs", start=0.001, inc=10, step=0.2), 100, 64, 1.0,
                           seed=0)
    assert sampler.prefix_size(0) == 64


def test_pruning_below_one_batch_is_refused():
    with pytest.raises(ValueError, match="fewer than batch_size=64"):
        PacedSampler(np.arange(100), make_pacing("linear"), 10, 64, 0.5)


def test_consensus_ties_are_broken_by_the_larger_margin_and_anti_is_the_exact_reverse():
    # examples 0, 1, 2 share the top consensus; their margins 0.1, 3, 2 order them 1, 2, 0; example 3 is last.
    oriented, margin = np.array([1.0, 1.0, 1.0, 0.5]), np.array([0.1, 3.0, 2.0, 9.0])
    for seed in range(5):
        order = make_ordering("consensus", oriented, np.zeros(4), seed, balanced=False, tie_break=margin)
        assert order.tolist() == [1, 2, 0, 3]
        anti = make_ordering("anti", oriented, np.zeros(4), seed, balanced=False, tie_break=margin)
        assert anti.tolist() == [3, 0, 2, 1]


# A hand-made ordering of 12 examples under linear pacing from a third (4) to all 12 at half of training:
# 8 steps of batches of 3; steps 0-3 draw from 6, 8, 10, 12 examples (g(s + 1) = 1/3 + 2/3 (s + 1) / 4), so the
# generator's draws differ in size from step to step.
HAND_MADE = np.array([7, 2, 9, 0, 11, 4, 1, 10, 3, 8, 5, 6])


def _hand_made_sampler(start: int = 0) -> PacedSampler:
    return PacedSampler(HAND_MADE, make_pacing("linear", a=0.5, b=1 / 3), total_steps=8, batch_size=3, end=1.0,
                        seed=5, start=start)


@pytest.mark.parametrize("start", [0, 1, 3, 4, 7, 8])
def test_a_sampler_started_at_step_s_yields_exactly_the_uninterrupted_batches_from_s_on(start):
    whole = [batch.tolist() for batch in _hand_made_sampler()]
    assert [_hand_made_sampler(0).prefix_size(s) for s in range(8)] == [6, 8, 10, 12, 12, 12, 12, 12]
    resumed = _hand_made_sampler(start)
    assert len(resumed) == 8 - start
    assert [batch.tolist() for batch in resumed] == whole[start:]
    assert all(set(batch) <= set(HAND_MADE[:size].tolist())
               for batch, size in zip(whole, [6, 8, 10, 12, 12, 12, 12, 12]))


def test_a_start_outside_the_run_is_refused():
    with pytest.raises(ValueError, match=r"start=9 must be a step in \[0, total_steps=8\]"):
        _hand_made_sampler(9)


@pytest.mark.parametrize("start", [0, 2, 4, 5, 9])
def test_iid_batches_started_at_step_s_are_the_uninterrupted_ones_from_s_on_even_mid_epoch(start):
    from itertools import islice

    from curriculum.batches import shuffled_batches

    # 10 examples in batches of 4: 2 batches per epoch (2 examples dropped), so step 5 is mid-way through epoch 2
    whole = [b.tolist() for b in islice(shuffled_batches(10, 4, torch.Generator().manual_seed(1)), 12)]
    resumed = shuffled_batches(10, 4, torch.Generator().manual_seed(1), start)
    assert [b.tolist() for b in islice(resumed, 12 - start)] == whole[start:]


# Stratified (coverage-centric) order, worked by hand. Oriented scores (higher = easier), drop_hardest = 1/8 of 8:
# the hardest, g (0.0), goes last. The other seven span [0.1, 0.9]: three strata of width 0.8 / 3 hold
# {a, b, c, d} (0.9), {e} (0.5) and {f} (0.1). Round 0 deals one of a-d, e and f; rounds 1-3 the other three of a-d.
STRATIFIED = np.array([0.9, 0.9, 0.9, 0.9, 0.5, 0.1, 0.0])
A_TO_D, E, F, G = {0, 1, 2, 3}, 4, 5, 6


@pytest.mark.parametrize("seed", range(5))
def test_stratified_deals_one_example_per_stratum_per_round_and_puts_the_hardest_last(seed):
    scores = np.append(STRATIFIED[:6], [0.9, 0.0])     # 8 examples: a-d, e, f, a fifth 0.9 (index 6) and g (7)
    order = stratified(scores, seed, strata=3, drop_hardest=1 / 8).tolist()
    assert set(order[:3]) - {E, F} <= A_TO_D | {6} and {E, F} <= set(order[:3])  # round 0: one of each stratum
    assert set(order[3:7]) == (A_TO_D | {6}) - set(order[:3])                     # rounds 1-4: the easy stratum
    assert order[7] == 7                                                          # the hardest eighth last


def test_stratified_puts_the_dropped_hardest_share_last_easiest_first():
    order = stratified(np.array([0.3, 0.0, 0.9, 0.1, 0.2]), seed=0, strata=2, drop_hardest=0.6)  # 3 of 5 last
    assert order[2:].tolist() == [4, 3, 1]                                        # 0.2, 0.1, 0.0


def test_stratified_with_one_stratum_and_nothing_dropped_is_a_seeded_shuffle_of_all():
    order = stratified(STRATIFIED, seed=3, strata=1, drop_hardest=0.0)
    assert sorted(order.tolist()) == list(range(7))
    assert order.tolist() == stratified(STRATIFIED, seed=3, strata=1, drop_hardest=0.0).tolist()
    assert order.tolist() != stratified(STRATIFIED, seed=4, strata=1, drop_hardest=0.0).tolist()


def test_a_value_on_a_stratum_boundary_goes_to_the_harder_stratum():
    # strata of width 0.1 over [0, 0.2]: 0.1 sits on the boundary, despite (0.2 - 0.1) / 0.2 * 2 being float dust
    order = stratified(np.array([0.2, 0.2, 0.2, 0.1, 0.0]), seed=0, strata=2, drop_hardest=0.0)
    assert set(order[:2].tolist()) & {3, 4} and set(order[:2].tolist()) & {0, 1, 2}


@pytest.mark.parametrize("settings, message", [({"strata": 0}, "sampler.strata=0 must be a whole number, at least 1"),
                                               ({"drop_hardest": 1.0}, r"sampler.drop_hardest=1.0 must be a fraction")])
def test_bad_strata_settings_are_one_line(settings, message):
    with pytest.raises(UserError, match=message):
        SamplerConfig(name="stratified", **settings)


def test_balanced_stratified_still_leaves_the_hardest_share_last():
    # strata=1, drop_hardest=0.25 of 8: the hardest two, 6 (0.1) and 7 (0.0), both of class 0, must stay last. Balancing
    # the whole order would interleave class 0's sequence (4, 5, 6, 7 in some order) with class 1's and pull 6 forward.
    oriented = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.1, 0.0])
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    for seed in range(5):
        order = make_ordering("stratified", oriented, labels, seed, strata=1, drop_hardest=0.25)
        assert order[6:].tolist() == [6, 7], seed
        assert sorted(labels[order[:2]]) == [0, 1]                      # the dealt head is balanced on its own


def test_never_learned_examples_go_to_the_hardest_stratum_not_their_own():
    # learned_epoch NaN (never learned) orients to -inf. Finite values 0.9 (x3) and 0.1 span two strata; the two -inf
    # examples join the hard one, so the first round deals one easy and one hard-or-never-learned example.
    oriented = np.array([0.9, 0.9, 0.9, 0.1, -np.inf, -np.inf])
    for seed in range(5):
        order = stratified(oriented, seed, strata=2, drop_hardest=0.0).tolist()
        assert len({0, 1, 2} & set(order[:2])) == 1 and len({3, 4, 5} & set(order[:2])) == 1, (seed, order)
        assert set(order[:4]) & {0, 1, 2} and set(order[4:]) <= {0, 1, 2, 3, 4, 5}


def test_the_dropped_share_is_exactly_what_pacing_end_leaves_out():
    # 15 examples, drop_hardest=0.1: pacing.end=0.9 keeps ceil(13.5) = 14, so exactly one (the hardest, 14) is left
    # out and 13 is dealt with the rest: 15 strata, one example each, dealt in one seeded round
    orders = [stratified(np.arange(15, dtype=float)[::-1], seed, strata=15, drop_hardest=0.1) for seed in range(5)]
    assert all(order[-1] == 14 for order in orders)
    assert any(order[13] != 13 for order in orders)          # 13 is not parked before 14 in the tail
