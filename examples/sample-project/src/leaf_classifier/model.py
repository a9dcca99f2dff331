"""A small convolutional network for 38 leaf disease classes."""

import os
import torch
from torch import nn


class LeafNet(nn.Module):
    """Three convolution blocks and a linear head."""

    def __init__(self, classes: int = 38, dropout: float = 0.3) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(128, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4:
            raise ValueError("Expected a batch of images shaped [N, 3, H, W]")
        return self.head(self.features(x))
