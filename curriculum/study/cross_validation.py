"""Out-of-fold predicted probabilities by K-fold cross-validation through curriculum's own engine, as cleanlab
wants them, with the same architecture, optimizer, batch size and total training (examples x epochs) as a score
run's ensemble; cached with the key of everything that made them. Shared by scripts/bench_label_issues.py and the
label-noise study (conf/studies/label-noise.yaml). cleanlab itself is imported only by require_cleanlab (the
`bench` extra).

As a command, what a cleanlab user runs (bench_label_issues.py times it whole, as it times `score`):

    .venv/bin/python -m curriculum.study.cross_validation OUT.npz [score overrides, e.g. data.label_noise=0.2]

loads the data as `score` would with those overrides, makes (or reads from OUT.npz) the out-of-fold probabilities,
runs cleanlab's get_label_quality_scores and find_label_issues on them, and writes the examples it keeps as OUT.csv
(`train sampler=standard sampler.keep=cleanlab_keep scores=OUT.csv` trains on them)."""

from __future__ import annotations

import json
import resource
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..atomic import atomic_write
from ..batches import shuffled_batches, steps_per_epoch
from ..commands.common import augment_config, optim_config
from ..data.splits import stratified_folds
from ..engine import Batches, Hooks, Inputs, Schedule, make_optimizer, resolve_precision, train
from ..progress import Progress
from ..scoring.ensemble import EnsembleConfig, RecordingConfig, member_augment, member_model
from ..seeding import numpy_rng, torch_generator

FOLDS = 4
CACHE_FORMAT = 1


def require_cleanlab():
    """The optional peer, imported only by the scripts that compare with it; one line when it is missing."""
    try:
        import cleanlab.filter
        import cleanlab.rank
    except ImportError:
        raise SystemExit("cleanlab is needed here: pip install -e .[bench]") from None
    return cleanlab


def fold_steps(n: int, members: int, epochs: int, folds: int, batch_size: int) -> int:
    """Steps of each CV fold for the same total training as the ensemble: members x epochs x n // batch_size
    steps of `batch_size`, split evenly over the folds and rounded to a whole step."""
    return round(members * epochs * steps_per_epoch(n, batch_size) / folds)


def cpu_seconds() -> float:
    """User + system CPU seconds of this process (all threads) and of its finished child processes."""
    return sum(u.ru_utime + u.ru_stime for u in map(resource.getrusage, (resource.RUSAGE_SELF,
                                                                         resource.RUSAGE_CHILDREN)))


def cv_key(cfg, data, steps: int, device, precision: str) -> dict:
    """Everything that makes the out-of-fold probabilities: a cached file is reused only when its key equals this."""
    key = {"format": CACHE_FORMAT, "data": data.fingerprint, "folds": FOLDS, "fold_seed": int(cfg.seed),
           "models": list(cfg.ensemble.models), "model_kwargs": dict(cfg.model.get("kwargs") or {}),
           "optim": asdict(optim_config(cfg)), "batch_size": int(cfg.batch_size), "steps_per_fold": steps,
           "augment": augment_config(cfg).resolved(data.name).identity(), "device": str(device),
           "precision": precision, "threads": torch.get_num_threads(), "torch": torch.__version__}
    return json.loads(json.dumps(key, sort_keys=True))


def train_fold(cfg, data, member, train_idx: np.ndarray, steps: int, inputs: Inputs) -> torch.nn.Module:
    """Member `member`'s network (its init and order streams, as in score) trained `steps` steps on train_idx."""
    device = data.train.x.device
    rec = RecordingConfig(batch_size=int(cfg.batch_size), augment=augment_config(cfg))
    model = member_model(member, data, dict(cfg.model.get("kwargs") or {})).to(device)
    optim = optim_config(cfg)
    idx = torch.as_tensor(train_idx, device=device)
    generator = torch_generator(member.seed, "order", device)
    batches = Batches(data.train.x[idx], data.train.y[idx], inputs,
                      shuffled_batches(len(idx), rec.batch_size, generator), member_augment(member, data, rec))
    progress = Progress(f"[fold {member.k + 1}/{FOLDS} {member.arch} seed={member.seed}]", steps,
                        steps_per_epoch(len(idx), rec.batch_size))
    train(model, batches, Schedule(optim, steps), Hooks(progress=progress), make_optimizer(model.parameters(), optim))
    progress.close("done")
    return model


@torch.inference_mode()
def softmax_probabilities(model, x: torch.Tensor, inputs: Inputs, batch_size: int = 256) -> np.ndarray:
    """(N, classes) float32 softmax of a clean eval-mode pass."""
    model.eval()
    parts = []
    for start in range(0, len(x), batch_size):
        with inputs.autocast():
            parts.append(torch.softmax(model(inputs(x[start:start + batch_size])).float(), 1))
    return torch.cat(parts).cpu().numpy()


def cv_probabilities(cfg, data, steps: int, precision: str) -> tuple[np.ndarray, float]:
    """Out-of-fold probabilities (N, classes) of K members, member k trained on every fold but k; wall and CPU
    seconds."""
    started, cpu = time.perf_counter(), cpu_seconds()
    fold = stratified_folds(data.train.y.numpy(), FOLDS, numpy_rng(int(cfg.seed), "folds"))
    inputs = Inputs(data.mean, data.std, data.train.x.device, precision)
    probs = np.zeros((len(fold), data.num_classes), dtype=np.float32)
    members = EnsembleConfig(size=FOLDS, models=tuple(cfg.ensemble.models), seed=int(cfg.seed)).members()
    for member in members:
        held = np.flatnonzero(fold == member.k)
        model = train_fold(cfg, data, member, np.flatnonzero(fold != member.k), steps, inputs)
        probs[held] = softmax_probabilities(model, data.train.x[torch.as_tensor(held)], inputs)
    return probs, {"seconds": time.perf_counter() - started, "cpu_seconds": cpu_seconds() - cpu}


def cached_cv(path: Path, cfg, data, steps: int) -> dict:
    """The cached out-of-fold probabilities when their key equals this run's, else computed now and cached."""
    device = data.train.x.device
    precision = resolve_precision(str(cfg.get("precision", "auto")), device)
    key = cv_key(cfg, data, steps, device, precision)
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            found = json.loads(z["meta"].tobytes())
            if found["key"] == key:
                return found | {"probs": z["probs"], "cached": True}
        print(f"[cv] {path} was made otherwise; computing again", file=sys.stderr)
    probs, seconds = cv_probabilities(cfg, data, steps, precision)
    meta = {"key": key, **seconds, "measured_at": time.strftime("%Y-%m-%d %H:%M:%S")}
    atomic_write(path, lambda f: np.savez(f, probs=probs, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8)))
    return meta | {"probs": probs, "cached": False}


def main(argv: list[str]) -> None:
    from ..commands.common import data_config
    from ..config import compose_config
    from ..data.datasets import load_data
    from ..engine import resolve_device

    if len(argv) < 1:
        raise SystemExit(__doc__.split("\n\n")[1])
    cleanlab = require_cleanlab()
    cfg = compose_config("score", argv[1:])
    data = load_data(data_config(cfg)).to(resolve_device("auto"))
    steps = fold_steps(len(data.train), int(cfg.ensemble.size), int(cfg.epochs), FOLDS, int(cfg.batch_size))
    probs, labels = cached_cv(Path(argv[0]), cfg, data, steps)["probs"], data.train.y.cpu().numpy()
    quality = cleanlab.rank.get_label_quality_scores(labels, probs)
    issues = cleanlab.filter.find_label_issues(labels, probs)
    csv = kept_csv(Path(argv[0]).with_suffix(".csv"), issues, data)
    print(f"[cv] {len(labels)} examples: {int(issues.sum())} label issues found (lowest label quality "
          f"{float(quality.min()):.4f}); the rest in {csv}", file=sys.stderr)


def kept_csv(path: Path, issues: np.ndarray, data) -> Path:
    """cleanlab's verdicts (`issues`: find_label_issues' mask) as a CSV the train command imports: `index` (official
    position), `label` (the labels cleanlab judged: the importer checks them) and `cleanlab_keep` (1 = not flagged),
    for sampler.keep=cleanlab_keep."""
    frame = pd.DataFrame({"index": data.train.index.cpu().numpy(), "label": data.train.y.cpu().numpy(),
                          "cleanlab_keep": (~issues).astype(int)})
    atomic_write(path, lambda f: f.write(frame.to_csv(index=False).encode()))
    return path


if __name__ == "__main__":
    main(sys.argv[1:])
