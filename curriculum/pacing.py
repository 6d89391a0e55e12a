"""Pacing functions g(t, T) -> fraction of the ordering available at step t of T, in (0, 1].

`exponential` is Hacohen & Weinshall's fixed exponential pacing (ICML 2019). The (a, b) families are
Wu, Dyer & Neyshabur's ("When do curricula work?", ICLR 2021): b is the starting fraction and a the
fraction of training after which all data is available."""

from __future__ import annotations

import math

from .errors import UserError


def exponential(t: int, total: int, start: float = 0.04, inc: float = 1.9, step: float = 0.1) -> float:
    """start * inc^k after k stages of `step` x total steps each, capped at 1."""
    stage = math.floor(t / (step * total))
    return min(1.0, start * inc ** stage)


def linear(t: int, total: int, a: float = 0.5, b: float = 0.2) -> float:
    return min(1.0, b + (1 - b) * t / (a * total))


def quad(t: int, total: int, a: float = 0.5, b: float = 0.2) -> float:
    return min(1.0, b + (1 - b) * (t / (a * total)) ** 2)


def root(t: int, total: int, a: float = 0.5, b: float = 0.2) -> float:
    return min(1.0, b + (1 - b) * math.sqrt(t / (a * total)))


def step(t: int, total: int, a: float = 0.5, b: float = 0.2) -> float:
    """b until a x total steps, then everything."""
    return min(1.0, b + math.floor(t / (a * total)))


def exp(t: int, total: int, a: float = 0.5, b: float = 0.2) -> float:
    return min(1.0, b + (1 - b) * (math.exp(10 * t / (a * total)) - 1) / (math.exp(10) - 1))


def log(t: int, total: int, a: float = 0.5, b: float = 0.2) -> float:
    return min(1.0, max(b, b + (1 - b) * (1 + 0.1 * math.log(t / (a * total) + math.exp(-10)))))


PACINGS = {"exponential": exponential, "linear": linear, "quad": quad, "root": root, "step": step,
           "exp": exp, "log": log}

# name -> (lowest, highest, lowest included, highest included)
PARAM_RANGES = {
    "a": (0.0, 1.0, False, True),      # fraction of training until all data is in
    "b": (0.0, 1.0, False, True),      # starting fraction
    "start": (0.0, 1.0, False, True),  # starting fraction
    "inc": (1.0, math.inf, False, False),  # growth factor per stage
    "step": (0.0, 1.0, False, False),  # stage length as a fraction of training
}


def _in_range(value: float, lo: float, hi: float, lo_in: bool, hi_in: bool) -> bool:
    return (value >= lo if lo_in else value > lo) and (value <= hi if hi_in else value < hi)


def _describe(lo, hi, lo_in, hi_in) -> str:
    return f"{'[' if lo_in else '('}{lo:g}, {hi:g}{']' if hi_in else ')'}"


def make_pacing(name: str, **params):
    """Validated pacing: returns g(t, total) with the parameters bound. Every family reaches 1 by t = total."""
    if name not in PACINGS:
        raise UserError(f"unknown pacing {name!r}; choose one of {', '.join(PACINGS)}")
    fn = PACINGS[name]
    allowed = fn.__code__.co_varnames[2:fn.__code__.co_argcount]
    for key, value in params.items():
        if key not in allowed:
            raise UserError(f"pacing {name} has no parameter {key!r}; its parameters are {', '.join(allowed)}")
        if not _in_range(float(value), *PARAM_RANGES[key]):
            raise UserError(f"pacing.{key}={value} is out of range for {name}: allowed {_describe(*PARAM_RANGES[key])}")
    if name == "exponential":
        start, inc, stage = (params.get(k, fn.__defaults__[i]) for i, k in enumerate(("start", "inc", "step")))
        if start * inc ** math.floor((1 - 1e-9) / stage) < 1:
            raise UserError(f"exponential pacing with start={start}, inc={inc}, step={stage} never reaches all data "
                            f"before the end of training; raise pacing.inc or lower pacing.step")

    def pacing(t: int, total: int) -> float:
        return fn(t, total, **params)

    pacing.__name__ = name
    return pacing
