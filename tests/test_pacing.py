"""Pacing families against hand-computed values, edges included, parametrised over the registry."""

import math

import pytest

from curriculum.errors import UserError
from curriculum.pacing import PACINGS, make_pacing

T = 100
# (name, params, [(t, expected fraction)]) computed by hand from the formulas in the module docstring
HAND = [
    ("linear", {"a": 0.5, "b": 0.2}, [(0, 0.2), (25, 0.6), (50, 1.0), (99, 1.0)]),
    ("quad", {"a": 0.5, "b": 0.2}, [(0, 0.2), (25, 0.4), (50, 1.0)]),
    ("root", {"a": 0.5, "b": 0.2}, [(0, 0.2), (25, 0.2 + 0.8 * math.sqrt(0.5)), (50, 1.0)]),
    ("step", {"a": 0.5, "b": 0.2}, [(0, 0.2), (49, 0.2), (50, 1.0), (100, 1.0)]),
    ("exp", {"a": 0.5, "b": 0.2}, [(0, 0.2), (25, 0.2 + 0.8 * (math.e ** 5 - 1) / (math.e ** 10 - 1)), (50, 1.0)]),
    ("log", {"a": 0.5, "b": 0.2}, [(0, 0.2), (25, 0.2 + 0.8 * (1 + 0.1 * math.log(0.5 + math.exp(-10)))), (50, 1.0)]),
    ("exponential", {"start": 0.125, "inc": 2.0, "step": 0.25}, [(0, 0.125), (24, 0.125), (25, 0.25), (50, 0.5), (75, 1.0), (99, 1.0)]),
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
    ("linear", {"a": 0.0}, r"pacing.a=0.0 is out of range for linear: allowed \(0, 1\]"),
    ("root", {"b": 1.5}, r"pacing.b=1.5 is out of range for root"),
    ("exponential", {"inc": 1.0}, r"pacing.inc=1.0 is out of range"),
    ("exponential", {"start": 0.01, "inc": 1.1, "step": 0.2}, "never reaches all data"),
    ("linear", {"start": 0.1}, "pacing linear has no parameter 'start'; its parameters are a, b"),
    ("cosine", {}, "unknown pacing 'cosine'; choose one of exponential, linear"),
])
def test_bad_pacing_names_the_parameter_and_its_range(name, params, message):
    with pytest.raises(UserError, match=message):
        make_pacing(name, **params)
