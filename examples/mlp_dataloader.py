"""An MLP on scikit-learn's breast-cancer data, given to optimlab as the DataLoader you would train with.

    optimlab advise examples/mlp_dataloader.py:problem --budget x10
    optimlab bench --problems "" --problem-file examples/mlp_dataloader.py:problem --optimizers sgd,adam

optimlab takes the loader's dataset, collate function and batch size (64 here, the default batch size); it
draws each trial's batches itself, from the trial's seed, so that trials with the same seed see the same
batches. The loader's own shuffling is not used.
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_breast_cancer
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import optimlab
from optimlab.problems.base import accuracy


def loaders(batch_size: int = 64) -> tuple[DataLoader, DataLoader, DataLoader]:
    """Train/validation/test loaders over the 569 examples (399/85/85), features standardized on train."""
    x, y = load_breast_cancer(return_X_y=True)
    features, labels = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.long)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    train, valid, test = order[:399], order[399:484], order[484:]
    mean, std = features[train].mean(0), features[train].std(0)
    features = (features - mean) / std

    def loader(rows: torch.Tensor, shuffle: bool) -> DataLoader:
        return DataLoader(TensorDataset(features[rows], labels[rows]), batch_size=batch_size, shuffle=shuffle)

    return loader(train, True), loader(valid, False), loader(test, False)


def problem(hidden: int = 32, steps: int = 200) -> optimlab.problems.base.ModuleProblem:
    """A 30-hidden-hidden-2 ReLU MLP classifying tumours as malignant or benign."""
    train, valid, test = loaders()
    return optimlab.make_problem(
        lambda: nn.Sequential(nn.Linear(30, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                              nn.Linear(hidden, 2)),
        train, valid, test,
        loss=nn.functional.cross_entropy,
        metrics={"accuracy": accuracy},
        name="breast-cancer-mlp",
        steps=steps,
        description=f"Breast-cancer features (30), MLP 30-{hidden}-{hidden}-2, from DataLoaders.",
    )
