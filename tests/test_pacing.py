"""Pacing families against hand-computed values, edges included, parametrised over the registry."""

import math

import numpy as np
import pytest
import torch

from curriculum.errors import UserError
from curriculum.schedule.pacing import PACINGS, PacedSampler, make_pacing

T = 100
# (name, params, [(t, expected fraction)]) computed by hand from the formulas in the module docstring
HAND = [
    ("linear", {"a": 0.5, "b": 0.2}, [(0, 0.2), (25, 0.6), (50, 1.0), (99, 1.0)]),
    ("quad", {"a": 0.5, "b": 0.2}, [(0, 0.2), (25, 0.4), (50, 1.0)]),
    ("root", {"a": 0.5, "b": 0.2}, [(0, 0.2), (25, 0.2 + 0.8 * math.sqrt(0.5)), (50, 1.0)]),
    ("step", {"a": 0.5, "b": 0.2}, [(0, 0.2), (49, 0.2), (50, 1.0), (100, 1.0)]),
    ("exp", {"a": 0.5, "b": 0.2}, [(0, 0.2), (25, 0.2 + 0.8 * (math.e ** 5 - 1) / (math.e ** 10 - 1)), (50, 1.0)]),
    ("log", {"a": 0.5, "b": 0.2}, [(0, 0.2), (25, 0.2 + 0.8 * (1 + 0.1 * math.log(0.5 + math.exp(-10)))), (50, 1.0)]),
    ("exp_stairs", {"start": 0.125, "inc": 2.0, "step": 0.25}, [(0, 0.125), (24, 0.125), (25, 0.25), (50, 0.5), (75, 1.0), (99, 1.0)]),
    ("linear", {"a": 1.0, "b": 1.0}, [(0, 1.0), (99, 1.0)]),    # parameters at their limits: no curriculum
    ("linear", {"a": 1.0, "b": 0.01}, [(0, 0.01), (100, 1.0)]),
]


@pytest.mark.parametrize("name, params, points", HAND)
def test_pacing_matches_hand_computed_values(name, params, points):
    g = make_pacing(name, **params)
    for t, expected in points:
        assert g(t, T) == pytest.approx(expected), (name, t)


@pytest.mark.parametrize("name", list(PACINGS))
def test_every_family_is_monotone_in_range_and_ends_with_all_data(name):
    g = make_pacing(name)
    values = [g(t, T) for t in range(T + 1)]
    assert all(0 < v <= 1 for v in values)
    assert all(b >= a - 1e-12 for a, b in zip(values, values[1:]))
    assert values[-1] == 1.0


@pytest.mark.parametrize("name, params, message", [
    ("linear", {"a": 0.0}, r"pacing.a=0.0 is out of range for linear: allowed \(0, inf\)"),
    ("quad", {"a": -0.5}, r"pacing.a=-0.5 is out of range for quad: allowed \(0, inf\)"),
    ("step", {"a": math.inf}, r"pacing.a=inf is out of range for step: allowed \(0, inf\)"),
    ("root", {"b": 1.5}, r"pacing.b=1.5 is out of range for root"),
    ("exp_stairs", {"inc": 1.0}, r"pacing.inc=1.0 is out of range"),
    ("exp_stairs", {"start": 0.01, "inc": 1.1, "step": 0.2}, "never reaches all data"),
    ("linear", {"start": 0.1}, "pacing linear has no parameter 'start'; its parameters are a, b"),
    ("cosine", {}, "unknown pacing 'cosine'; choose one of exp_stairs, linear"),
])
def test_bad_pacing_names_the_parameter_and_its_range(name, params, message):
    with pytest.raises(UserError, match=message):
        make_pacing(name, **params)


# Wu, Dyer & Neyshabur (2021), Table 2, as fractions of N capped at 1, with r = t / (aT):
#   linear b + (1-b) r     quad b + (1-b) r^2     root b + (1-b) sqrt(r)
#   step   b + floor(r)    exp  b + (1-b) (e^(10 r) - 1) / (e^10 - 1)     log  b + (1-b) (1 + 0.1 ln(r + e^-10))
# Their grid is a in {0.01, 0.1, 0.2, 0.4, 0.8, 1.6}, b in {0.0025, 0.1, 0.2, 0.4, 0.8}; T = 1000 steps here.
# At r = 1/2:     sqrt(0.5) = 0.70710678;  (e^5 - 1) / (e^10 - 1) = 1 / (e^5 + 1) = 1 / 149.41316 = 0.00669285;
#                 1 + 0.1 ln(0.5 + 0.0000454) = 1 + 0.1 * (-0.69305638) = 0.93069436
# At r = 0.625:   0.625^2 = 0.390625;  sqrt(0.625) = 0.79056942;  (e^6.25 - 1) / (e^10 - 1) = 517.01282 / 22025.466
#                 = 0.02347341;  1 + 0.1 ln(0.625 + 0.0000454) = 1 + 0.1 * (-0.46993099) = 0.95300690
GRID_EXTREMES = [
    # a = 0.01: aT = 10 steps, so r = 1/2 at t = 5 and all data from t = 10 to the last step t = T = 1000
    ("linear", 0.01, 0.0025, [(0, 0.0025), (5, 0.50125), (10, 1.0), (1000, 1.0)]),     # 0.0025 + 0.9975 * 0.5
    ("quad", 0.01, 0.0025, [(0, 0.0025), (5, 0.251875), (10, 1.0), (1000, 1.0)]),      # 0.0025 + 0.9975 * 0.25
    ("root", 0.01, 0.0025, [(0, 0.0025), (5, 0.70783901), (10, 1.0), (1000, 1.0)]),    # 0.0025 + 0.9975 * 0.70710678
    ("step", 0.01, 0.0025, [(0, 0.0025), (9, 0.0025), (10, 1.0), (1000, 1.0)]),        # floor(0.9) = 0, floor(1) = 1
    ("exp", 0.01, 0.0025, [(0, 0.0025), (5, 0.00917612), (10, 1.0), (1000, 1.0)]),     # 0.0025 + 0.9975 * 0.00669285
    ("log", 0.01, 0.0025, [(0, 0.0025), (5, 0.93086763), (10, 1.0), (1000, 1.0)]),     # 0.0025 + 0.9975 * 0.93069436
    ("linear", 0.01, 0.8, [(0, 0.8), (5, 0.9), (1000, 1.0)]),                          # 0.8 + 0.2 * 0.5
    # a = 1.6: aT = 1600 steps, longer than training: r = 1/2 at t = 800 and only 0.625 at t = T = 1000
    ("linear", 1.6, 0.8, [(0, 0.8), (800, 0.9), (1000, 0.925)]),                       # 0.8 + 0.2 * 0.625
    ("quad", 1.6, 0.8, [(0, 0.8), (800, 0.85), (1000, 0.878125)]),                     # 0.8 + 0.2 * 0.390625
    ("root", 1.6, 0.8, [(0, 0.8), (800, 0.94142136), (1000, 0.95811388)]),             # 0.8 + 0.2 * 0.79056942
    ("step", 1.6, 0.8, [(0, 0.8), (800, 0.8), (1000, 0.8)]),                           # floor(0.625) = 0: never more
    ("exp", 1.6, 0.8, [(0, 0.8), (800, 0.80133857), (1000, 0.80469468)]),              # 0.8 + 0.2 * 0.02347341
    ("log", 1.6, 0.8, [(0, 0.8), (800, 0.98613887), (1000, 0.99060138)]),              # 0.8 + 0.2 * 0.95300690
    ("linear", 1.6, 0.0025, [(0, 0.0025), (1000, 0.6259375)]),                         # 0.0025 + 0.9975 * 0.625
]


@pytest.mark.parametrize("name, a, b, points", GRID_EXTREMES)
def test_wu_families_match_the_papers_formulas_at_the_extremes_of_its_grid(name, a, b, points):
    g = make_pacing(name, a=a, b=b)
    for t, expected in points:
        assert g(t, 1000) == pytest.approx(expected, rel=1e-6), (name, a, b, t)


def test_exp_with_the_grids_smallest_a_does_not_overflow_at_any_step():
    g = make_pacing("exp", a=0.01, b=0.0025)   # e^(10 t / (aT)) = e^(t) at T = 1000: e^1000 is beyond floats
    assert [g(t, 1000) for t in range(10, 1001)] == [1.0] * 991


@pytest.mark.parametrize("name", ["linear", "quad", "root", "step", "exp", "log"])
def test_every_wu_family_with_a_1_first_reaches_all_data_at_t_equals_T(name):
    g = make_pacing(name, a=1.0, b=0.2)
    assert g(999, 1000) < 1.0 and g(1000, 1000) == 1.0   # log: 1 + 0.1 ln(0.999 + e^-10) = 0.99990 < 1


# Hacohen & Weinshall (2019): min(1, start * inc^floor(t / (step T))). Defaults (the `steep` preset) at T = 1000:
# stages of 100 steps, 0.04 * 1.9^k = 0.04, 0.076, 0.1444, 0.27436, 0.521284, 0.9904396, then 1.8818 -> 1 at k = 6
@pytest.mark.parametrize("t, expected", [(0, 0.04), (99, 0.04), (100, 0.076), (199, 0.076), (200, 0.1444),
                                         (300, 0.27436), (400, 0.521284), (500, 0.9904396), (599, 0.9904396),
                                         (600, 1.0), (1000, 1.0)])
def test_exponential_changes_stage_exactly_at_its_boundaries(t, expected):
    assert make_pacing("exp_stairs")(t, 1000) == pytest.approx(expected, rel=1e-9)


def test_an_exponential_stage_boundary_that_floating_point_puts_a_hair_early_still_counts():
    # T = 24, stages of 0.1 * 24 = 2.4 steps: t = 12 ends stage 5 exactly (12 / 2.4 = 5), so 1/32 * 2^5 = 1
    g = make_pacing("exp_stairs", start=1 / 32, inc=2.0, step=0.1)
    assert g(11, 24) == 0.5 and g(12, 24) == 1.0   # floor(11 / 2.4) = 4: 1/32 * 16


def test_exponential_with_a_huge_growth_factor_does_not_overflow():
    g = make_pacing("exp_stairs", start=0.5, inc=1e300, step=0.01)   # 1e300^100 is beyond floats
    assert g(0, 100) == 0.5 and g(1, 100) == 1.0 and g(100, 100) == 1.0


def _sampler(name: str, n: int, total: int, batch: int, **params) -> PacedSampler:
    return PacedSampler(np.arange(n), make_pacing(name, **params), total, batch, 1.0, seed=0)


def test_step_with_a_1_releases_all_data_at_the_last_step_of_the_sampler():
    # T = 10: the batch of step s comes from g(s + 1, T); t = 1..9 < aT = 10 give b = 0.2 (20 of 100 examples),
    # the last step (s = 9) has t = 10 = aT and all 100
    sampler = _sampler("step", 100, 10, 20, a=1.0, b=0.2)
    assert [sampler.prefix_size(s) for s in range(10)] == [20] * 9 + [100]
    batches = [batch.tolist() for batch in sampler]
    assert all(sorted(batch) == list(range(20)) for batch in batches[:9])   # 20 drawn from 20: the whole prefix
    assert max(batches[9]) >= 20   # 20 drawn from 100 all among the first 20: probability 1 / C(100, 20)


def test_the_batch_of_step_s_comes_from_the_prefix_reached_once_s_plus_1_steps_are_done():
    # linear a=0.5 b=0.2, T=10, N=1000: g(s + 1) = 0.2 + 0.8 (s + 1) / 5 = 0.36, 0.52, 0.68, 0.84, then 1.
    # target.py logs curriculum/data_fraction as prefix_size(steps done - 1) / N: the last batch's prefix.
    sampler = _sampler("linear", 1000, 10, 10, a=0.5, b=0.2)
    sizes = [sampler.prefix_size(s) for s in range(10)]
    assert sizes == [360, 520, 680, 840] + [1000] * 6
    assert all(max(batch.tolist()) < size for batch, size in zip(sampler, sizes))


def test_exponential_reaching_all_data_only_at_t_equals_T_is_accepted_and_its_last_step_gets_it():
    # start 0.25, inc 2, stages of 0.5 T = 4 steps: g = 0.25 for t < 4, 0.5 for 4 <= t < 8, 0.25 * 2^2 = 1 at t = 8.
    # Steps s = 0..7 see t = s + 1: 25 examples for s < 3, 50 for 3 <= s < 7, all 100 at s = 7.
    sampler = _sampler("exp_stairs", 100, 8, 25, start=0.25, inc=2.0, step=0.5)
    assert [sampler.prefix_size(s) for s in range(8)] == [25] * 3 + [50] * 4 + [100]


def test_static_pacing_offers_the_kept_prefix_at_every_step():
    g = make_pacing("static")
    assert [g(t, T) for t in (0, 1, 50, T)] == [1.0] * 4
    sampler = PacedSampler(np.arange(100)[::-1], g, 40, 10, 0.3, seed=0)
    assert [sampler.prefix_size(s) for s in (0, 20, 39)] == [30, 30, 30]
    batches = list(sampler)
    assert all(set(b.tolist()) <= set(range(70, 100)) for b in batches)          # the first 30 of the ordering
    assert len(torch.cat(batches).unique()) == 30                                 # every kept example is drawn


def test_the_old_name_exponential_is_one_line_naming_exp_stairs():
    with pytest.raises(UserError, match=r"pacing 'exponential' is now called 'exp_stairs'.*pacing=exp_stairs"):
        make_pacing("exponential")


def test_a_new_pacing_function_finds_its_schema_by_its_signature(monkeypatch):
    from curriculum.schedule.pacing import PacingConfig, StaticPacingConfig, pacing_config

    def half_way(t, total, a=0.5, b=0.2):    # an (a, b) family added in one place: PACINGS
        return b if t < a * total else 1.0

    monkeypatch.setitem(PACINGS, "half_way", half_way)
    config = pacing_config({"name": "half_way", "a": 0.25, "b": 0.5, "end": 1.0})
    assert isinstance(config, PacingConfig)
    assert [config.function()(t, 100) for t in (0, 24, 25)] == [0.5, 0.5, 1.0]
    assert isinstance(pacing_config({"name": "static", "end": 0.5}), StaticPacingConfig)
    with pytest.raises(UserError, match="pacing.name=static takes no parameters, not a, b"):
        pacing_config({"name": "static", "a": 0.5, "b": 0.2, "end": 1.0})


def test_the_old_name_exponential_as_pacing_name_is_one_line_naming_exp_stairs():
    from curriculum.schedule.pacing import pacing_config

    with pytest.raises(UserError, match=r"pacing 'exponential' is now called 'exp_stairs'"):
        pacing_config({"name": "exponential", "start": 0.04, "inc": 1.9, "step": 0.1, "end": 1.0})
