"""A BatchNorm CNN on scikit-learn's 8×8 digits, given to optimlab as a torch Dataset.

    optimlab advise examples/batchnorm_cnn.py:problem --budget x10
    optimlab bench --problems "" --problem-file examples/batchnorm_cnn.py:problem --optimizers sgd,adam

BatchNorm keeps running statistics that change in training, which a vmapped population of trials cannot hold;
optimlab runs such a model with its per-trial executor.
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from torch import Tensor, nn
from torch.utils.data import Dataset, Subset

import optimlab
from optimlab.problems.base import accuracy


class Digits(Dataset):
    """The 1797 digits: ``(image [1, 8, 8] in [0, 1], label)`` pairs."""

    def __init__(self) -> None:
        bunch = load_digits()
        self.images = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
        self.labels = torch.tensor(bunch.target, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.images[i], self.labels[i]


def cnn(channels: int) -> nn.Module:
    c = channels
    return nn.Sequential(
        nn.Conv2d(1, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(),
        nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), nn.BatchNorm2d(2 * c), nn.ReLU(),
        nn.Flatten(), nn.Linear(2 * c * 16, 10),
    )


def problem(channels: int = 8, steps: int = 200) -> optimlab.problems.base.ModuleProblem:
    """Two convolutions with BatchNorm and a linear head; 1197 training, 300 validation, 300 test images."""
    digits = Digits()
    order = torch.randperm(len(digits), generator=torch.Generator().manual_seed(0)).tolist()
    train, valid, test = (Subset(digits, order[:1197]), Subset(digits, order[1197:1497]),
                          Subset(digits, order[1497:]))
    return optimlab.make_problem(
        lambda: cnn(channels), train, valid, test,
        loss=nn.functional.cross_entropy,
        metrics={"accuracy": accuracy},
        name="digits-batchnorm-cnn",
        steps=steps,
        batch_size=32,
        description=f"scikit-learn 8×8 digits, CNN with BatchNorm ({channels} and {2 * channels} channels).",
    )
