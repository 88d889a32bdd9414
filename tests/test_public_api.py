"""The package's public surface is explicit: what `__all__` lists exists, and the verbs are functions."""

from __future__ import annotations

import inspect

import optimlab
import optimlab.optim


def test_all_names_exist_and_are_listed_once() -> None:
    assert len(set(optimlab.__all__)) == len(optimlab.__all__)
    for name in optimlab.__all__:
        assert hasattr(optimlab, name), name
    for name in optimlab.optim.__all__:
        assert hasattr(optimlab.optim, name), name


def test_verbs_are_functions_even_after_their_subpackages_are_imported() -> None:
    import optimlab.compare._gallery
    import optimlab.explain.cards

    for verb in (optimlab.explain, optimlab.compare, optimlab.train, optimlab.advise, optimlab.bench):
        assert inspect.isfunction(verb), verb
    assert "Adam" in optimlab.explain("adam").to_markdown()
    assert optimlab.explain("adam").to_markdown() == optimlab.explain("adam").to_markdown()


def test_drop_in_classes_mirror_torch_names() -> None:
    import torch

    for name in ("SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "Adamax", "NAdam", "RAdam"):
        ours, theirs = getattr(optimlab.optim, name), getattr(torch.optim, name)
        assert issubclass(ours, torch.optim.Optimizer)
        assert ours.__name__ == theirs.__name__
