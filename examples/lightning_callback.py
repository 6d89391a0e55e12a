"""Scores while a PyTorch Lightning module trains: the RecordScores callback (pip install 'curriculum[lightning]').

    python examples/lightning_callback.py

The module's training_step returns its loss and the batch's logits; the dataset yields (index, input, label), so the
callback knows which examples each batch holds. After fit, scores.parquet (in the working folder) holds the columns
of `python -m curriculum score`, for `train scores=`, export or curriculum.load_scores. Data: examples/own_loop.py's."""

import lightning
import torch
from own_loop import Indexed, make_data, network
from torch.utils.data import DataLoader

from curriculum.integrations.lightning import RecordScores


class Classifier(lightning.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = network(seed=0)

    def training_step(self, batch, batch_idx):
        _, x, y = batch
        logits = self.net(x)
        return {"loss": torch.nn.functional.cross_entropy(logits, y), "logits": logits}

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)


def main() -> None:
    x, y = make_data(1200, seed=0)
    train_set = Indexed(x, y)
    record = RecordScores(len(train_set), "scores.parquet")
    trainer = lightning.Trainer(max_epochs=3, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                                enable_progress_bar=False, enable_model_summary=False, callbacks=[record])
    loader = DataLoader(train_set, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0))
    trainer.fit(Classifier(), loader)
    scores = record.recorder.scores()
    print(f"scores.parquet: {len(scores)} examples, {len(scores.attrs['meta']['checkpoints'])} checkpoints; "
          f"learned by the end: {(scores['learned_epoch'].notna()).mean():.2f}; hardest by consensus: "
          f"{scores.sort_values('rank')['index'].tolist()[-5:]}")


if __name__ == "__main__":
    main()
