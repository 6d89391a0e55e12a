"""Scores from your own PyTorch loop, then a curriculum on them, end to end on generated data (seconds on a CPU):

    python examples/own_loop.py

1. Two small networks train on the data while curriculum.ScoreRecorder records each batch (docs/your-data.md,
   "Scores from your own training loop"); it derives the scores `python -m curriculum score` would.
2. A fresh network trains easy to hard on them: curriculum.ordering (consensus, class-balanced), a linear pacing and
   PacedSampler, the objects `python -m curriculum train` uses (docs/your-data.md, "A curriculum in your own
   training code").
The data: 1,200 points of 4 classes in 16 dimensions, 15% of the training labels wrong."""

import torch
from torch.utils.data import DataLoader, Dataset

import curriculum


class Indexed(Dataset):
    """(index, input, label) per example: the index is what the recorder and the sampler speak."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return i, self.x[i], self.y[i]


def make_data(n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (n,), generator=g)
    x = torch.randn(n, 16, generator=g) + 1.5 * torch.nn.functional.one_hot(y, 16)
    return x, y


def network(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.ReLU(), torch.nn.Linear(64, 4))


def fit(model, loader, epochs: int, rec=None, member: int = 0) -> None:
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for epoch in range(epochs):
        for idx, xb, yb in loader:
            logits = model(xb)
            if rec is not None:
                rec.observe(idx, logits, yb, member=member)
            loss = torch.nn.functional.cross_entropy(logits, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if rec is not None:
            rec.checkpoint(epoch + 1, member=member)


def accuracy(model, x, y) -> float:
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def main() -> None:
    x, true_y = make_data(1200, seed=0)
    y = true_y.clone()
    flipped = torch.rand(len(y), generator=torch.Generator().manual_seed(1)) < 0.15
    y[flipped] = (y[flipped] + 1) % 4
    test_x, test_y = make_data(600, seed=2)
    train_set = Indexed(x, y)

    rec = curriculum.ScoreRecorder(len(train_set), members=2)       # 1. record while two networks train
    for member in range(2):
        loader = DataLoader(train_set, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(member))
        fit(network(10 + member), loader, epochs=3, rec=rec, member=member)
    scores = rec.scores()
    consensus, wrong = scores["consensus"].to_numpy(), flipped.numpy()
    print(f"scores of {len(scores)} examples; mean consensus: right labels {consensus[~wrong].mean():.2f}, "
          f"wrong labels {consensus[wrong].mean():.2f}")

    order = curriculum.ordering(scores, "consensus", order="consensus", seed=0)   # 2. easy to hard
    steps, batch = 4 * (len(train_set) // 32), 32
    pacing = curriculum.make_pacing("linear", a=0.8, b=0.2)
    sampler = curriculum.PacedSampler(order, pacing, steps, batch, end=0.85, seed=0)   # never the hardest 15%
    model = network(seed=20)
    fit(model, DataLoader(train_set, batch_sampler=sampler), epochs=1)    # one pass over the sampler: all steps
    print(f"curriculum: {steps} steps on the paced ordering, test accuracy {accuracy(model, test_x, test_y):.3f}")


if __name__ == "__main__":
    main()
