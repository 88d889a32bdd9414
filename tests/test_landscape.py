"""The landscape: plane geometry (projection, filter normalization, PCA), the recorded paths, and a small run
from tuning to the page in English and Korean."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
import torch

from optimlab.engine import PopulationExecutor, run_trials
from optimlab.landscape import filter_normalized, flatten, in_plane_share, landscape, pca_directions, project
from optimlab.landscape._run import _Recording
from optimlab.population import Trial
from optimlab.problems.catalog import get_problem


def test_projecting_the_centre_gives_the_origin_and_plane_points_their_coordinates() -> None:
    g = torch.Generator().manual_seed(0)
    center = torch.randn(50, generator=g)
    d = torch.randn(2, 50, generator=g)  # not orthogonal: the coordinates are the least-squares ones
    coords = torch.tensor([[0.0, 0.0], [1.0, -2.0], [0.3, 0.7]])
    points = center + coords @ d
    assert torch.allclose(project(points, center, d), coords, atol=1e-5)
    assert in_plane_share(points, center, d) == pytest.approx(1.0)
    off = points + 10 * torch.randn(3, 50, generator=g)
    assert in_plane_share(off, center, d) < 0.5


def test_filter_normalization_gives_each_row_the_solutions_row_norm() -> None:
    g = torch.Generator().manual_seed(1)
    center = {"w1": torch.randn(8, 5, generator=g), "b1": torch.randn(8, generator=g),
              "conv": torch.randn(4, 2, 3, generator=g)}
    d = filter_normalized(center, torch.Generator().manual_seed(2))
    assert d.shape == flatten(center).shape
    w1, b1, conv = d[:40].reshape(8, 5), d[40:48], d[48:].reshape(4, 6)
    assert torch.allclose(w1.norm(dim=1), center["w1"].norm(dim=1), rtol=1e-5)
    assert torch.allclose(conv.norm(dim=1), center["conv"].reshape(4, 6).norm(dim=1), rtol=1e-5)
    assert torch.all(b1 == 0)  # biases are not moved
    assert not torch.allclose(w1, center["w1"])  # a random direction, not the solution itself


def test_pca_directions_are_orthonormal_and_find_the_paths_plane() -> None:
    g = torch.Generator().manual_seed(3)
    center = torch.randn(30, generator=g)
    basis = torch.linalg.qr(torch.randn(30, 2, generator=g)).Q.T  # the plane the points lie in
    points = center + torch.randn(40, 2, generator=g) * torch.tensor([5.0, 1.0]) @ basis
    d, share = pca_directions(points, center)
    assert torch.allclose(d @ d.T, torch.eye(2), atol=1e-5)
    assert share.sum() == pytest.approx(1.0, abs=1e-6) and share[0] > share[1]
    assert in_plane_share(points, center, d) == pytest.approx(1.0, abs=1e-5)


def test_the_recording_holds_every_step_from_the_start_to_the_trained_weights() -> None:
    problem = get_problem("mnist1d-mlp", hidden=8)
    trials = [Trial("adam", {"lr": 0.01}, batch_size=32), Trial("momentum", {"lr": 0.1}, batch_size=32)]
    recorder = _Recording(problem, len(trials))
    result = run_trials(recorder, trials, 12, executor=PopulationExecutor(), eval_splits=("valid",))
    assert len(recorder.frames) == 13  # before each of the 12 updates, then the trained weights
    start = flatten(problem.init_params(0))
    assert torch.equal(recorder.frames[0][0], start) and torch.equal(recorder.frames[0][1], start)
    assert not torch.equal(recorder.frames[-1][0], start)
    last = recorder.frames[-1]
    stacked = {}
    at = 0
    for name, p in problem.init_params(0).items():
        stacked[name] = last[:, at : at + p.numel()].reshape(2, *p.shape)
        at += p.numel()
    assert torch.allclose(problem.evaluate(stacked, "valid")["loss"], result.final("valid"), atol=1e-6)


def test_a_small_landscape_page_in_english_and_korean(tmp_path: Path) -> None:
    problem = get_problem("mnist1d-mlp", hidden=8)
    result = landscape(problem, ["minibatch", "adam"], steps=20, lr_grid=[0.01, 0.1], points=7, examples=128)
    assert set(result.chosen) == {"minibatch", "adam"} and result.center in result.chosen
    pca, random = result.slices
    assert pca.losses.shape == (7, 7) and pca.explained is not None and sum(pca.explained) <= 1.0 + 1e-6
    for name, path in pca.paths.items():
        assert path.shape == (21, 2)
        assert len(result.path_losses[name]) == len(result.loss_steps) == len(pca.shadow_losses[name])
    assert abs(pca.paths[result.center][-1]).max() < 1e-3  # the centre's own end is the origin
    assert (pca.paths["adam"][0] == pca.paths["minibatch"][0]).all()  # the same start
    assert all(random.in_plane[o] < pca.in_plane[o] for o in result.chosen)
    for lang in ("en", "ko"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            files = result.save(tmp_path / lang, lang)
        assert not [w for w in caught if "missing from" in str(w.message)]
        page = files["html"].read_text(encoding="utf-8")
        assert page.count('<img src="data:image/png;base64,') == 2 and "<script" not in page
        assert f'<html lang="{lang}">' in page
        hangul = re.search(r"[\uac00-\ud7a3]", page)
        assert bool(hangul) == (lang == "ko")
    assert "2차원 단면" in (tmp_path / "ko" / "landscape.html").read_text(encoding="utf-8")
    assert "minimum in the slice is not a minimum" in (tmp_path / "en" / "landscape.html").read_text(encoding="utf-8")


def test_cli_names_an_unknown_optimizer_in_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from optimlab.cli import main

    assert main(["landscape", "--optimizers", "adam,adamm", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "Unknown optimizer 'adamm'" in err and "Traceback" not in err
    assert not (tmp_path / "landscape.html").exists()
