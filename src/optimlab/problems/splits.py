"""Data splits from what users have: tensors ``(X, y)``, a map-style ``Dataset``, or a ``DataLoader``.

Every split answers ``len(split)`` and ``split.take(index)`` (``index`` ``[B]`` or ``[K, B]`` -> collated
``(inputs, targets)``), the one way executors read batches (:class:`~optimlab.problems.base.Split`).

A dataset whose examples fit comfortably in memory is read once into tensors (a plain ``Split``, the fast path):
the first example's bytes times the number of examples is compared with :data:`MATERIALIZE_BELOW_BYTES`. A
larger one becomes a :class:`DatasetSplit` that streams: ``take`` reads only the examples of the batch, each
once even when several trials share it, and collates them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Number
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset
from torch.utils.data import default_collate as torch_default_collate

from ..errors import DataError
from .base import Split

MATERIALIZE_BELOW_BYTES = 256 * 2**20
"""A dataset estimated below this many bytes (first example × length) is read into tensors once."""

_READ_CHUNK = 4096
"""Examples collated at a time while a dataset is read into memory (bounds the list of Python items)."""

Collate = Callable[[list[Any]], Any]


def stack_pairs(items: list[Any]) -> tuple[Tensor, Tensor]:
    """The collate of a plain ``Dataset``: stack the inputs and the targets of ``(input, target)`` items.

    Numbers become tensors of torch's default dtypes (a Python float is float32, an int is int64).
    """
    inputs = torch.stack([torch.as_tensor(item[0]) for item in items])
    targets = torch.stack([torch.as_tensor(item[1]) for item in items])
    return inputs, targets


def _is_value(value: object) -> bool:
    return isinstance(value, (Tensor, np.ndarray, Number)) and not isinstance(value, (str, bytes))


def check_item(item: object, what: str) -> None:
    """``item`` (example 0 of split ``what``) must be an ``(input, target)`` pair of tensors, arrays or numbers."""
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        kind = f"a {type(item).__name__} of {len(item)}" if isinstance(item, (tuple, list)) else type(item).__name__
        raise DataError(f"Example 0 of the {what} dataset is {kind}, not an (input, target) pair.")
    for part, value in zip(("input", "target"), item, strict=True):
        if not _is_value(value):
            raise DataError(
                f"The {part} of example 0 of the {what} dataset is a {type(value).__name__}, "
                "not a tensor, array or number."
            )


def _collated(batch: object, n: int, what: str) -> tuple[Tensor, Tensor]:
    if (not isinstance(batch, (tuple, list)) or len(batch) != 2
            or not all(isinstance(part, Tensor) for part in batch)):
        raise DataError(f"The collate function of the {what} data must return (inputs, targets) tensors, "
                        f"not {type(batch).__name__}.")
    inputs, targets = batch
    if inputs.dim() == 0 or targets.dim() == 0 or len(inputs) != n or len(targets) != n:
        raise DataError(f"The collate function of the {what} data turned {n} examples into inputs of shape "
                        f"{tuple(inputs.shape)} and targets of shape {tuple(targets.shape)}.")
    return inputs, targets


class DatasetSplit(Split):
    """A split that streams from a map-style ``Dataset``: ``take`` reads and collates only a batch's examples.

    It holds no tensors: ``inputs`` and ``targets`` are not available (read batches with ``take``).
    """

    def __init__(self, dataset: Dataset[Any], collate_fn: Collate | None = None, what: str = "training") -> None:
        # Split is a frozen dataclass of two tensors; a subclass keeps its own fields and skips that __init__.
        self.dataset, self.collate_fn, self.what = dataset, collate_fn or stack_pairs, what
        self._length = _length(dataset, what)

    @property
    def inputs(self) -> Tensor:
        raise DataError(f"The {self.what} split streams from a Dataset; read its batches with take(index).")

    @property
    def targets(self) -> Tensor:
        raise DataError(f"The {self.what} split streams from a Dataset; read its batches with take(index).")

    def __len__(self) -> int:
        return self._length

    def __repr__(self) -> str:
        return f"DatasetSplit({type(self.dataset).__name__}, {self._length} examples)"

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def take(self, index: Tensor) -> tuple[Tensor, Tensor]:
        """The examples at ``index`` (``[B]`` or ``[K, B]``), each distinct example read from the dataset once."""
        unique, inverse = torch.unique(index.reshape(-1), return_inverse=True)
        inputs, targets = self.read(unique.tolist())
        inverse = inverse.reshape(index.shape)
        return inputs[inverse], targets[inverse]

    def item(self, i: int) -> Any:
        """Example ``i`` as the dataset gives it."""
        try:
            return self.dataset[i]
        except Exception as exc:
            name = type(exc).__name__
            raise DataError(f"Reading example {i} of the {self.what} dataset raised {name}: {exc}") from exc

    def read(self, rows: Sequence[int]) -> tuple[Tensor, Tensor]:
        """Examples ``rows`` collated in that order."""
        items = [self.item(i) for i in rows]
        try:
            batch = self.collate_fn(items)
        except Exception as exc:
            raise DataError(f"The {self.what} examples could not be collated into one batch (do they all have "
                            f"the same shape?): {type(exc).__name__}: {exc}") from exc
        return _collated(batch, len(rows), self.what)


def _length(dataset: object, what: str) -> int:
    if isinstance(dataset, IterableDataset):
        raise DataError(f"The {what} dataset is an IterableDataset; optimlab needs a map-style Dataset "
                        "(with __getitem__ and __len__) to draw each trial's batches.")
    try:
        n = len(dataset)  # type: ignore[arg-type]
    except TypeError:
        raise DataError(f"The {what} dataset ({type(dataset).__name__}) has no length (define __len__).") from None
    if n == 0:
        raise DataError(f"The {what} dataset is empty.")
    if not hasattr(dataset, "__getitem__"):
        raise DataError(f"The {what} dataset ({type(dataset).__name__}) cannot be indexed (define __getitem__).")
    return n


def tensor_split(inputs: object, targets: object, what: str) -> Split:
    """A split from tensors (or arrays) ``inputs[N, ...]`` and ``targets[N, ...]``."""
    x, y = torch.as_tensor(inputs), torch.as_tensor(targets)
    if x.dim() == 0 or y.dim() == 0:
        raise DataError(f"The {what} inputs and targets need a first dimension of examples.")
    if len(x) != len(y):
        raise DataError(f"The {what} data has {len(x)} inputs but {len(y)} targets.")
    if len(x) == 0:
        raise DataError(f"The {what} data is empty.")
    return Split(x, y)


def dataset_split(dataset: Dataset[Any], collate_fn: Collate | None, what: str,
                  materialize: bool | None = None) -> Split:
    """A split over ``dataset``: read into memory when ``materialize`` is true, or (``None``) when its estimated
    size is below :data:`MATERIALIZE_BELOW_BYTES` and its collate works example by example; else streamed."""
    per_example = collate_fn in (None, torch_default_collate)
    if per_example and materialize is not False and isinstance(dataset, TensorDataset) and len(dataset.tensors) == 2:
        return tensor_split(*dataset.tensors, what)  # already in memory
    stream = DatasetSplit(dataset, collate_fn, what)
    check_item(stream.item(0), what)
    first_inputs, first_targets = stream.read([0])
    # A custom collate may depend on the whole batch (padding to its longest sequence): only a known per-example
    # collate is safe to apply once to the whole dataset.
    estimate = (first_inputs.nbytes + first_targets.nbytes) * len(stream)
    if materialize is None:
        materialize = per_example and estimate < MATERIALIZE_BELOW_BYTES
    if not materialize:
        return stream
    parts = [stream.read(range(start, min(len(stream), start + _READ_CHUNK)))
             for start in range(0, len(stream), _READ_CHUNK)]
    try:
        return Split(torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts]))
    except RuntimeError as exc:
        raise DataError(f"The {what} examples could not be collated into one batch (do they all have the same "
                        f"shape?): {type(exc).__name__}: {exc}") from exc


def loader_parts(loader: DataLoader[Any]) -> tuple[Dataset[Any], Collate | None, int | None]:
    """A DataLoader's dataset, the collate function its batches are made with, and its batch size."""
    batch_size = loader.batch_size
    if batch_size is None and loader.batch_sampler is not None:
        batch_size = getattr(loader.batch_sampler, "batch_size", None)
    # With batch_size=None and no batch_sampler, the loader does not batch: its collate_fn converts one example.
    batched = loader.batch_size is not None or loader.batch_sampler is not None
    return loader.dataset, loader.collate_fn if batched else None, batch_size


def as_split(data: object, what: str, materialize: bool | None = None) -> tuple[Split, int | None]:
    """A split from a ``Dataset``, a ``DataLoader`` or a pair ``(X, y)`` of tensors or arrays; with the
    loader's batch size (``None`` otherwise)."""
    if isinstance(data, Split):
        return data, None
    if isinstance(data, DataLoader):
        dataset, collate_fn, batch_size = loader_parts(data)
        return dataset_split(dataset, collate_fn, what, materialize), batch_size
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(_is_value(v) for v in data):
        return tensor_split(data[0], data[1], what), None
    if isinstance(data, Dataset) or (hasattr(data, "__getitem__") and hasattr(data, "__len__")):
        return dataset_split(data, None, what, materialize), None  # type: ignore[arg-type]
    raise DataError(f"The {what} data is a {type(data).__name__}: give a torch Dataset, a DataLoader or a pair "
                    "(inputs, targets) of tensors.")
