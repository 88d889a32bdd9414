"""Small models of the kinds people bring, as problems, for the engine's tests: a GRU language model, an LSTM,
a BatchNorm CNN, a dropout MLP and a plain MLP (the one vmap can batch). Module-level functions so the
problems pickle (the processes executor sends them to workers)."""

from __future__ import annotations

import functools

import torch
from torch import Tensor, nn

from optimlab.problems.base import Data, ModuleProblem, Split, accuracy

VOCAB, CONTEXT = 10, 6


class GRULanguageModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, 8)
        self.gru = nn.GRU(8, 12, batch_first=True)
        self.head = nn.Linear(12, VOCAB)

    def forward(self, ids: Tensor) -> Tensor:
        return self.head(self.gru(self.embed(ids))[0])


class LSTMClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(3, 10, batch_first=True)
        self.head = nn.Linear(10, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.lstm(x)[0][:, -1])


def batchnorm_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Unflatten(1, (1, 16)), nn.Conv1d(1, 4, 3, padding=1), nn.BatchNorm1d(4), nn.ReLU(),
        nn.MaxPool1d(2), nn.Flatten(), nn.Linear(32, 3),
    )


def dropout_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(16, 24), nn.ReLU(), nn.Dropout(0.3), nn.Linear(24, 3))


def plain_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(16, 24), nn.Tanh(), nn.Linear(24, 3))


def sequence_loss(logits: Tensor, targets: Tensor) -> Tensor:
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def _splits(inputs: Tensor, targets: Tensor) -> Data:
    return Data(Split(inputs[:96], targets[:96]), Split(inputs[96:128], targets[96:128]),
                Split(inputs[128:], targets[128:]))


def _vectors() -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(7)
    x = torch.randn(160, 16, generator=g, dtype=torch.float64).to(torch.get_default_dtype())
    y = (x[:, :4].sum(1) > 0).long() + (x[:, 4] > 0.5).long()
    return x, y


def gru_problem(steps: int = 12) -> ModuleProblem:
    g = torch.Generator().manual_seed(3)
    text = torch.randint(0, VOCAB, (160, CONTEXT + 1), generator=g)
    text[:, 1::2] = (text[:, 0::2][:, : text[:, 1::2].shape[1]] + 1) % VOCAB  # something to learn
    return ModuleProblem(name="gru-lm", make_module=GRULanguageModel, data=_splits(text[:, :-1], text[:, 1:]),
                         loss_fn=sequence_loss, from_loss={"perplexity": torch.exp}, goals={"perplexity": "min"},
                         default_steps=steps, default_batch_size=16)


def lstm_problem(steps: int = 12) -> ModuleProblem:
    x, y = _vectors()
    return ModuleProblem(name="lstm", make_module=LSTMClassifier, data=_splits(x[:, :15].reshape(160, 5, 3), y),
                         loss_fn=nn.functional.cross_entropy,
                         metrics={"accuracy": accuracy}, default_steps=steps, default_batch_size=16)


def vector_problem(name: str, make_module: object, steps: int = 12) -> ModuleProblem:
    x, y = _vectors()
    return ModuleProblem(name=name, make_module=make_module, data=_splits(x, y),  # type: ignore[arg-type]
                         loss_fn=nn.functional.cross_entropy, metrics={"accuracy": accuracy},
                         default_steps=steps, default_batch_size=16)


bn_problem = functools.partial(vector_problem, "bn-cnn", batchnorm_cnn)
dropout_problem = functools.partial(vector_problem, "dropout-mlp", dropout_mlp)
mlp_problem = functools.partial(vector_problem, "mlp", plain_mlp)

PROBLEMS = {"gru": gru_problem, "lstm": lstm_problem, "bn-cnn": bn_problem, "dropout-mlp": dropout_problem}
"""The models the population cannot batch, each as a problem builder."""
