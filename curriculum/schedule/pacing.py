"""Pacing (the `pacing` config group): functions g(t, T) -> fraction of the ordering available once t of T steps
are done, in (0, 1], and the PacedSampler that draws each step's batch from that prefix of an ordering.

t counts completed steps: g(0, T) is the fraction at the start of training, g(T, T) at its end. The sampler
draws the batch of step s (0-based) from g(s + 1, T), the prefix reached once that step is done, so the last
step sees g(T, T) and a family that reaches 1 at t = T gives all data to the last step.

`exp_stairs` is Hacohen & Weinshall's fixed exponential pacing (ICML 2019): a staircase whose steps grow by a
factor (not Wu et al.'s smooth `exp`). The (a, b) families are
Wu, Dyer & Neyshabur's ("When do curricula work?", ICLR 2021, Table 2): b is the fraction at t = 0 and all
data is in from t = aT on. Their grid has a in {0.01, 0.1, 0.2, 0.4, 0.8, 1.6}: with a > 1 not all data is
in by the end (step with a > 1 trains on the easiest b only)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import torch

from ..errors import UserError
from ..seeding import torch_generator

# The parameters' defaults, shared by the functions and the config schemas below. (a, b): from the easiest 20%, all
# data at half of training; exp_stairs: Hacohen & Weinshall's schedule (the `steep` preset), all data at 60%.
A, B = 0.5, 0.2
START, INC, STEP = 0.04, 1.9, 0.1


def _stage(t: int, total: int, length: float) -> int:
    """Whole stages of `length` x total steps done by step t. The 1e-9 (in stages) keeps a boundary that
    floating point puts a hair early in its stage ((12 / 24) / 0.1 = 4.999...); it is less than one step
    for any total below 1e9 steps."""
    return math.floor(t / total / length + 1e-9)


def _progress(t: int, total: int, a: float) -> float:
    """r = t / (aT), the share of the way to all data, capped at 1 where every (a, b) family is 1: the cap
    keeps e^(10 r) finite when aT is short (a=0.01). t / total first, so t / total == a gives exactly 1."""
    return min(1.0, t / total / a)


def exp_stairs(t: int, total: int, start: float = START, inc: float = INC, step: float = STEP) -> float:
    """start * inc^k after k stages of `step` x total steps each, capped at 1."""
    try:
        return min(1.0, start * inc ** _stage(t, total, step))
    except OverflowError:  # inc^k beyond floats: long past 1
        return 1.0


def linear(t: int, total: int, a: float = A, b: float = B) -> float:
    return b + (1 - b) * _progress(t, total, a)


def quad(t: int, total: int, a: float = A, b: float = B) -> float:
    return b + (1 - b) * _progress(t, total, a) ** 2


def root(t: int, total: int, a: float = A, b: float = B) -> float:
    return b + (1 - b) * math.sqrt(_progress(t, total, a))


def step(t: int, total: int, a: float = A, b: float = B) -> float:
    """b until t = aT, then everything (never, if a > 1)."""
    return min(1.0, b + math.floor(_progress(t, total, a)))


def exp(t: int, total: int, a: float = A, b: float = B) -> float:
    return b + (1 - b) * ((math.exp(10 * _progress(t, total, a)) - 1) / (math.exp(10) - 1))  # ratio first: 1 at r = 1


def log(t: int, total: int, a: float = A, b: float = B) -> float:
    """Reaches 1 a hair before r = 1 (at r = 1 - e^-10), hence the cap."""
    return min(1.0, max(b, b + (1 - b) * (1 + 0.1 * math.log(_progress(t, total, a) + math.exp(-10)))))


def static(t: int, total: int) -> float:
    """The whole kept prefix (pacing.end of the ordering) from the first step to the last: pure data pruning."""
    return 1.0


PACINGS = {"exp_stairs": exp_stairs, "linear": linear, "quad": quad, "root": root, "step": step,
           "exp": exp, "log": log, "static": static}
RENAMED = {"exponential": "exp_stairs"}   # old name -> new: refused in one line that gives the new name

# name -> (lowest, highest, lowest included, highest included)
PARAM_RANGES = {
    "a": (0.0, math.inf, False, False),  # fraction of training until all data is in; > 1: never all (grid: 1.6)
    "b": (0.0, 1.0, False, True),      # starting fraction
    "start": (0.0, 1.0, False, True),  # starting fraction
    "inc": (1.0, math.inf, False, False),  # growth factor per stage
    "step": (0.0, 1.0, False, False),  # stage length as a fraction of training
}


def _in_range(value: float, lo: float, hi: float, lo_in: bool, hi_in: bool) -> bool:
    return (value >= lo if lo_in else value > lo) and (value <= hi if hi_in else value < hi)


def _describe(lo, hi, lo_in, hi_in) -> str:
    return f"{'[' if lo_in else '('}{lo:g}, {hi:g}{']' if hi_in else ')'}"


def parameters(name: str) -> tuple[str, ...]:
    """The parameters of pacing `name` after (t, total), from its signature: which schema configures it."""
    code = PACINGS[name].__code__
    return code.co_varnames[2:code.co_argcount]


def renamed_message(name: str) -> str:
    return (f"pacing {name!r} is now called {RENAMED[name]!r} (Hacohen & Weinshall's staircase, not Wu et al.'s "
            f"smooth exp); write pacing={RENAMED[name]}")


def make_pacing(name: str, **params):
    """Validated pacing: returns g(t, total) with the parameters bound. The (a, b) families reach 1 at
    t = a x total, so by the last step only if a <= 1 (Wu et al. use a > 1 on purpose); `exp_stairs` must
    reach 1 by t = total, the last step's t, or this refuses it."""
    if name in RENAMED:
        raise UserError(renamed_message(name))
    if name not in PACINGS:
        raise UserError(f"unknown pacing {name!r}; choose one of {', '.join(PACINGS)}")
    fn = PACINGS[name]
    allowed = parameters(name)
    for key, value in params.items():
        if key not in allowed:
            raise UserError(f"pacing {name} has no parameter {key!r}; its parameters are {', '.join(allowed)}")
        if not _in_range(float(value), *PARAM_RANGES[key]):
            raise UserError(f"pacing.{key}={value} is out of range for {name}: allowed {_describe(*PARAM_RANGES[key])}")
    if name == "exp_stairs" and fn(1, 1, **params) < 1:  # g(T, T) depends on t / T only
        start, inc, stage = (params.get(k, fn.__defaults__[i]) for i, k in enumerate(("start", "inc", "step")))
        raise UserError(f"exp_stairs pacing with start={start}, inc={inc}, step={stage} never reaches all data "
                        f"by the last step of training; raise pacing.inc or lower pacing.step")

    def pacing(t: int, total: int) -> float:
        return fn(t, total, **params)

    pacing.__name__ = name
    return pacing


# ---------------------------------------------------------------------------------------------- config schemas
# The `pacing` group's schemas: conf/pacing/*.yaml override one of them. Parameters are `int | float` so that they
# keep the form they were written in: a train run's `arm` tag and the messages show them as the user gave them.

def parse_end(end) -> float | str:
    """pacing.end as a fraction in (0, 1], or "auto" (estimated from the scores once they are loaded)."""
    if str(end) == "auto":
        return "auto"
    try:
        value = float(end)
    except ValueError:
        raise UserError(f"pacing.end={end!r} must be a fraction in (0, 1] or auto") from None
    if not 0 < value <= 1:
        raise UserError(f"pacing.end={value} must be a fraction in (0, 1] or auto")
    return value


class _Pacing:
    """What the schemas share: the name must be a pacing whose parameters are the schema's PARAMS (so a new function
    in PACINGS finds its schema by its signature), make_pacing checks their values, and pacing.end becomes a
    fraction or "auto"."""
    PARAMS: tuple[str, ...] = ()

    def __post_init__(self):
        if self.name in RENAMED:
            raise UserError(renamed_message(self.name))
        if self.name not in PACINGS:
            raise UserError(f"unknown pacing {self.name!r}; choose one of {', '.join(PACINGS)}")
        if parameters(self.name) != self.PARAMS:
            raise UserError(f"pacing.name={self.name} takes other parameters than {', '.join(self.PARAMS)}; "
                            f"switch families with pacing={self.name} instead")
        make_pacing(self.name, **self.params)
        object.__setattr__(self, "end", parse_end(self.end))

    @property
    def params(self) -> dict:
        """The family's parameters, as make_pacing takes them."""
        return {key: getattr(self, key) for key in self.PARAMS}

    def function(self):
        """g(t, total) with the parameters bound."""
        return make_pacing(self.name, **self.params)


@dataclass(frozen=True)
class PacingConfig(_Pacing):
    """Wu, Dyer & Neyshabur's (a, b) families: b of the ordering at the start, all of it from t = aT on."""
    PARAMS = ("a", "b")

    name: str                  # linear | quad | root | step | exp | log (formulas in the module docstring)
    a: int | float = A         # fraction of training after which all data is available, > 0 (> 1: never all)
    b: int | float = B         # starting fraction of the ordering, in (0, 1]
    end: Any = 1.0             # fraction of the ordering ever used, in (0, 1] (< 1: the hardest are never trained on)
                               # or auto: the share the consensus scores say is labelled right (schedule/pruning.py)
    preset: str | None = None  # the name runs are tagged and compared under (null: the family's name)


@dataclass(frozen=True)
class ExpStairsPacingConfig(_Pacing):
    """Hacohen & Weinshall's fixed exponential pacing: start x inc^k after k stages of `step` x T steps."""
    PARAMS = ("start", "inc", "step")

    name: str                  # exp_stairs
    start: int | float = START  # starting fraction of the ordering, in (0, 1]
    inc: int | float = INC     # growth factor per stage, > 1
    step: int | float = STEP   # stage length, as a fraction of training, in (0, 1)
    end: Any = 1.0             # as for PacingConfig: a fraction in (0, 1] or auto
    preset: str | None = None  # the name runs are tagged and compared under (null: the family's name)


@dataclass(frozen=True)
class StaticPacingConfig(_Pacing):
    """No curriculum in time: the first pacing.end of the ordering is available at every step (data pruning)."""
    PARAMS = ()

    name: str                  # static
    end: Any = 1.0             # the share of the ordering kept, in (0, 1], or auto (as for PacingConfig)
    preset: str | None = None  # the name runs are tagged and compared under (null: the family's name)


def pacing_config(settings: dict) -> PacingConfig | ExpStairsPacingConfig | StaticPacingConfig:
    """The `pacing` group's settings as the schema of their family, which checks them."""
    name = settings.get("name")
    schemas = (PacingConfig, ExpStairsPacingConfig, StaticPacingConfig)
    schema = next((s for s in schemas if name in PACINGS and parameters(name) == s.PARAMS), PacingConfig)
    extra = sorted(set(settings) - {"name", "end", "preset", *schema.PARAMS})
    if extra and name in PACINGS:
        raise UserError(f"pacing.name={name} takes {', '.join(schema.PARAMS) or 'no parameters'}, not {', '.join(extra)}; "
                        f"switch families with pacing={name} instead")
    return schema(**{k: v for k, v in settings.items() if k not in extra})


# ---------------------------------------------------------------------------------------------- the paced sampler
# iid epochs for the ensemble and `standard` are in curriculum/batches.py. The sampler yields index tensors; the
# engine does the rest.

def kept_count(end: float, n: int) -> int:
    """Examples of an ordering of `n` that pacing.end=`end` ever makes available: ceil(end * n), after round(, 6)
    drops float dust (0.36000000000000004 x 1000 is 360 examples, not 361)."""
    return math.ceil(round(end * n, 6))


class PacedSampler(torch.utils.data.Sampler):
    """Each step draws a batch uniformly (without replacement) from the prefix of `ordering` that the
    pacing makes available: step s (0-based) uses ceil(end * g(s + 1, T) * N) examples, never fewer than one
    batch. g(s + 1, T) is the fraction reached once step s is done, so the last step sees g(T, T).

    A batch sampler (`DataLoader(dataset, batch_sampler=...)`), not a per-example one: a step's batch is one draw
    from that step's prefix, so the batch boundaries belong to the curriculum; iterating yields one 1-D int64 tensor
    of `ordering`'s values (dataset indices) per step, exactly what `train` feeds its engine.

    `num_replicas`/`rank` shard like DistributedSampler: every rank draws the same global batch of `batch_size`
    (same seed everywhere) and keeps its own contiguous slice of batch_size / num_replicas, so the ranks' shares of
    a step are disjoint and together are the single-process batch.

    `seed` is its one source of randomness: each iteration starts a fresh generator from it (the `target_batches`
    stream `train` uses, on `device`, where the ordering is kept and the draws made), so iterating twice gives the
    same batches. `start` (or `set_step`) continues a run at that step (0-based), from nothing but the step: the
    sampler draws and drops the batches of the steps before it (one randperm each, cheap next to training), then
    yields exactly what an uninterrupted sampler yields from step `start` on."""

    def __init__(self, ordering, pacing, total_steps: int, batch_size: int, end: float = 1.0, start: int = 0, *,
                 seed: int = 0, num_replicas: int = 1, rank: int = 0, device: str | torch.device = "cpu"):
        n = len(ordering)
        if not 0 < end <= 1:
            raise UserError(f"pacing.end={end} must be a fraction in (0, 1]")
        if end * n < batch_size:
            raise UserError(f"pacing.end={end} keeps {int(end * n)} examples, fewer than batch_size={batch_size}")
        _check_shards(batch_size, num_replicas, rank)
        self.ordering = torch.as_tensor(np.ascontiguousarray(ordering), dtype=torch.int64, device=device)  # a[::-1] too
        self.pacing, self.total, self.batch, self.end, self.device = pacing, total_steps, batch_size, end, device
        self.seed, self.num_replicas, self.rank = seed, num_replicas, rank
        self.set_step(start)

    def set_step(self, step: int) -> None:
        """Continue at `step` (0-based) on the next iteration: the steps before it are replayed and dropped."""
        if not 0 <= step <= self.total:
            raise UserError(f"start={step} must be a step in [0, total_steps={self.total}]")
        self.start = step

    def prefix_size(self, step: int) -> int:
        """Examples the batch of `step` (0-based) is drawn from (round(, 6) before ceil, as in kept_count)."""
        n = len(self.ordering)
        wanted = math.ceil(round(self.end * self.pacing(step + 1, self.total) * n, 6))
        return min(kept_count(self.end, n), max(self.batch, wanted))

    def _pick(self, step: int, gen: torch.Generator) -> torch.Tensor:
        """Positions in the ordering of step `step`'s global batch: the generator's only use."""
        return torch.randperm(self.prefix_size(step), generator=gen, device=gen.device)[: self.batch]

    def __len__(self) -> int:
        return self.total - self.start

    def __iter__(self) -> Iterator[torch.Tensor]:
        gen = torch_generator(self.seed, "target_batches", self.device)
        share = self.batch // self.num_replicas
        mine = slice(self.rank * share, (self.rank + 1) * share)
        for step in range(self.start):  # the earlier steps' draws, dropped: the generator is where it was at `start`
            self._pick(step, gen)
        for step in range(self.start, self.total):
            yield self.ordering[self._pick(step, gen)[mine]]


def _check_shards(batch_size: int, num_replicas: int, rank: int) -> None:
    if num_replicas < 1:
        raise UserError(f"num_replicas={num_replicas} must be at least 1")
    if not 0 <= rank < num_replicas:
        raise UserError(f"rank={rank} must be in [0, num_replicas={num_replicas})")
    if batch_size % num_replicas:
        raise UserError(f"batch_size={batch_size} must divide evenly among num_replicas={num_replicas} "
                        f"(each rank takes batch_size / num_replicas of every step); change either")
