"""Several processes training one target (`torchrun --nproc_per_node=N -m curriculum train ...`): torch.distributed's
process group, read from the variables torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK). Every rank draws the same
global batch and keeps its contiguous share (as PacedSampler's num_replicas/rank do); DistributedDataParallel
averages the gradients, so a step is the single-process step on the whole batch up to float rounding. Rank 0, the
lead, alone evaluates, logs to MLflow and writes the resume state."""

from __future__ import annotations

import contextlib
import datetime
import os
import sys
from dataclasses import dataclass
from typing import Iterable, Iterator

import torch

from .errors import UserError
from .progress import say

WAIT = datetime.timedelta(hours=24)   # how long a rank waits for the others at a collective: a score run's ranks
                                      # wait for the slowest shard (torch's default, 10 min on NCCL, would kill them)


@dataclass(frozen=True)
class Ranks:
    """This process's place among the processes training one target; Ranks() is a single process."""
    rank: int = 0
    world: int = 1
    local_rank: int = 0   # the GPU of this process on its machine

    @property
    def lead(self) -> bool:
        return self.rank == 0

    @property
    def several(self) -> bool:
        return self.world > 1

    def share(self, batch: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous share of a global batch (its first dimension), batch_size / world examples."""
        assert len(batch) % self.world == 0, f"a batch of {len(batch)} does not divide among {self.world} ranks"
        size = len(batch) // self.world
        return batch[self.rank * size:(self.rank + 1) * size]


def from_environment(environ=os.environ) -> Ranks:
    """The ranks torchrun (or any launcher that sets RANK and WORLD_SIZE) gave this process; one process otherwise."""
    try:
        world = int(environ.get("WORLD_SIZE", 1))
        rank = int(environ.get("RANK", 0))
        local = int(environ.get("LOCAL_RANK", rank))
    except ValueError:
        raise UserError(f"WORLD_SIZE={environ.get('WORLD_SIZE')!r}, RANK={environ.get('RANK')!r} and LOCAL_RANK="
                        f"{environ.get('LOCAL_RANK')!r} must be whole numbers (torchrun sets them)") from None
    if not 0 <= rank < world:
        raise UserError(f"RANK={rank} must be in [0, WORLD_SIZE={world}) (torchrun sets both)")
    return Ranks(rank, world, local)


def check_batch(batch_size: int, ranks: Ranks) -> None:
    """Every rank takes the same share of each batch: batch_size must divide by the number of processes."""
    if batch_size % ranks.world:
        raise UserError(f"batch_size={batch_size} does not divide among the {ranks.world} processes (each takes "
                        f"batch_size / {ranks.world} of every step); choose a multiple of {ranks.world}")


def process_device(device: torch.device, ranks: Ranks) -> torch.device:
    """Each rank its own GPU (cuda:LOCAL_RANK) when the run is on GPUs; the CPU is shared."""
    if device.type != "cuda" or not ranks.several:
        return device
    if ranks.local_rank >= torch.cuda.device_count():
        raise UserError(f"LOCAL_RANK={ranks.local_rank} but only {torch.cuda.device_count()} GPUs are visible; start "
                        f"at most that many processes per machine (torchrun --nproc_per_node)")
    return torch.device("cuda", ranks.local_rank)


@contextlib.contextmanager
def process_group(ranks: Ranks, device: torch.device):
    """The process group of a several-process run (gloo on CPU, nccl on GPUs) for the body; nothing for one process.
    Ranks other than the lead write nothing to stderr (the lead says everything once; an error still shows: the
    stream is restored before it propagates)."""
    if not ranks.several:
        yield
        return
    import torch.distributed as dist

    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=ranks.rank, world_size=ranks.world,
                            timeout=WAIT)
    try:
        with open(os.devnull, "w") as quiet, contextlib.redirect_stderr(quiet if not ranks.lead else sys.stderr):
            yield
    finally:
        dist.destroy_process_group()


def parallel(model: torch.nn.Module, ranks: Ranks) -> torch.nn.Module:
    """`model` wrapped for gradient averaging across ranks (DistributedDataParallel); as it is for one process.
    On GPUs, batch norm layers become SyncBatchNorm, so they normalise over the global batch as one process
    would; on CPU torch has no SyncBatchNorm, and each rank normalises over its own share."""
    if not ranks.several:
        return model
    from torch.nn.parallel import DistributedDataParallel

    device = next(model.parameters()).device
    if device.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return DistributedDataParallel(model, device_ids=[device.index])
    if any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        say(f"{ranks.world} processes on CPU: the model's batch norm layers normalise over each process's share of "
            f"the batch (torch has no SyncBatchNorm on CPU), so the run is not the one-process run")
    return DistributedDataParallel(model)


def shares(batches: Iterable[torch.Tensor], ranks: Ranks) -> Iterator[torch.Tensor]:
    """Each global batch's share of this rank (the batches themselves for one process)."""
    return (ranks.share(batch) for batch in batches) if ranks.several else iter(batches)


def mean_over_ranks(values: list[float], ranks: Ranks) -> list[float]:
    """`values` averaged over the ranks (each a mean over its equal share: their mean is the global batch's); every
    rank must call it at the same point."""
    if not ranks.several:
        return values
    import torch.distributed as dist

    total = torch.tensor(values, dtype=torch.float64)
    if dist.get_backend() == "nccl":
        total = total.cuda()
    dist.all_reduce(total)
    return (total / ranks.world).tolist()


def from_lead(value, ranks: Ranks):
    """The lead's `value`, on every rank (a picklable object)."""
    if not ranks.several:
        return value
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


@contextlib.contextmanager
def lead_first(ranks: Ranks):
    """The body on the lead, then on the other ranks: what the lead writes once (a decoded folder's cache, a new
    MLflow experiment) the others then read."""
    if not ranks.lead:
        barrier(ranks)
    yield
    if ranks.lead:
        barrier(ranks)


def agreed(value, ranks: Ranks, what: str) -> None:
    """One line when this rank's `value` differs from the lead's (the ranks of one run must agree on it)."""
    lead = from_lead(value, ranks)
    if lead != value:
        raise UserError(f"rank {ranks.rank} differs from rank 0 in {what}; give every process the same code, data, "
                        f"scores and settings (with scores=latest, name the score run instead)")


def barrier(ranks: Ranks) -> None:
    """Wait until every rank is here."""
    if ranks.several:
        import torch.distributed as dist

        dist.barrier()
