"""A network of your own for `python -m curriculum score|train model._target_=my_net.MyNet` (docs/your-data.md,
"Your own model"): any nn.Module class or function that takes num_classes= and in_channels= (and your own keyword
arguments, given as +model.kwargs.NAME=VALUE) and returns logits of shape (batch, num_classes).

    PYTHONPATH=examples python -m curriculum score model._target_=my_net.MyNet +model.kwargs.width=64
"""

from torch import nn


class MyNet(nn.Module):
    """Two 3x3 convolutions, global average pooling and a linear head."""

    def __init__(self, num_classes: int, in_channels: int, width: int = 32):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(2 * width, num_classes)

    def forward(self, x):
        return self.head(self.features(x))
