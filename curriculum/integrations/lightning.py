"""A PyTorch Lightning callback that records curriculum's scores while a LightningModule trains:

    from curriculum.integrations.lightning import RecordScores

    trainer = lightning.Trainer(max_epochs=4, callbacks=[RecordScores(len(train_set), "scores.parquet")])

Its contract with the module: `training_step` returns a dict with "loss" and the batch's "logits", and either the
batch is (indices, inputs, labels) (a dataset that yields each example's index, e.g. examples/own_loop.py's) or the
dict also holds "indices" and "labels". Each epoch's end is a checkpoint; the end of fit writes the score file
(rank 0 only under DDP, where every rank records its share: curriculum.ScoreRecorder)."""

from __future__ import annotations

from pathlib import Path

try:
    from lightning.pytorch import Callback
except ImportError:   # the standalone package name
    try:
        from pytorch_lightning import Callback
    except ImportError:
        raise ImportError("curriculum.integrations.lightning needs PyTorch Lightning: pip install "
                          "'curriculum[lightning]' (or pip install lightning)") from None

from ..errors import UserError
from ..recorder import ScoreRecorder


class RecordScores(Callback):
    """Record every training batch's logits into a ScoreRecorder (`recorder`, one member) and save its scores to
    `path` when fit ends; `recorder.scores()` gives them as a frame."""

    def __init__(self, num_examples: int, path: str | Path = "scores.parquet", *, dataset: str = "recorded"):
        self.recorder = ScoreRecorder(num_examples, dataset=dataset)
        self.path = Path(path)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if not isinstance(outputs, dict) or "logits" not in outputs:
            raise UserError("RecordScores needs training_step to return a dict with 'loss' and the batch's "
                            "'logits' (and 'indices' and 'labels' unless the batch is (indices, inputs, labels))")
        if "indices" in outputs and "labels" in outputs:
            indices, labels = outputs["indices"], outputs["labels"]
        elif isinstance(batch, (tuple, list)) and len(batch) == 3:
            indices, _, labels = batch
        else:
            raise UserError("RecordScores cannot find the batch's dataset indices: yield (indices, inputs, labels) "
                            "from the dataset, or return 'indices' and 'labels' from training_step")
        self.recorder.observe(indices, outputs["logits"], labels)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.recorder.checkpoint(trainer.current_epoch + 1)

    def on_fit_end(self, trainer, pl_module) -> None:
        self.recorder.save(self.path)
