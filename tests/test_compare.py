"""compare(): population paths equal hand-stepped drop-in optimizers; summary, tuning, sweeps, outputs, CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from optimlab.cli import main
from optimlab.compare import TUNE_GRID, compare, lr_sweep
from optimlab.compare._linreg import batch_policies
from optimlab.problems import SURFACES
from optimlab.registry import get_preset

LRS = {"gd": 1e-3, "momentum": 5e-4, "nesterov": 5e-4, "adagrad": 0.3, "rmsprop": 0.01, "adadelta": 1.0,
       "adam": 0.05, "amsgrad": 0.05, "adamw": 0.05, "adamax": 0.05, "nadam": 0.05, "radam": 1e-3}
# float64 throughout: 1e-9 is far below float32 noise (NAdam differs by ~2e-10 between the two paths)
TOL = 1e-9


def test_paths_equal_drop_in_optimizers_stepped_by_hand() -> None:
    surf = SURFACES["rosenbrock"]
    starts = [(-1.2, 1.0), (-2.0, 2.0)]
    r = compare(list(LRS), "rosenbrock", lr=LRS, steps=60, starts=starts)
    for k, trial in enumerate(r.trials):
        p = torch.tensor(starts[r.start_index[k]], dtype=torch.float64, requires_grad=True)
        opt = get_preset(trial.optimizer).make([p], lr=LRS[trial.optimizer])
        for t in range(60):
            assert np.allclose(r.paths[k, t], p.detach().numpy(), rtol=TOL, atol=TOL), (trial.optimizer, t)
            opt.zero_grad()
            loss = surf(p)
            loss.backward()
            opt.step()
        assert np.allclose(r.paths[k, 60], p.detach().numpy(), rtol=TOL, atol=TOL)


def test_summary_columns_are_computed_from_the_paths() -> None:
    r = compare(["gd", "adam"], "bowl", lr={"gd": 0.5, "adam": 0.3}, steps=150, tol=1e-3)
    s = r.summary
    for k in range(2):
        path = r.paths[k]
        assert s.loc[k, "final_loss"] == pytest.approx(r.losses[k, -1])
        assert s.loc[k, "distance_to_min"] == pytest.approx(np.linalg.norm(path[-1]))
        assert s.loc[k, "path_length"] == pytest.approx(np.linalg.norm(np.diff(path, axis=0), axis=1).sum())
        first = int(np.nonzero(r.losses[k] <= 1e-3)[0][0])
        assert s.loc[k, "steps_to_tol_0.001"] == first
        assert not s.loc[k, "diverged"]
    assert "gd 0.5" in r.settings and "adam 0.3" in r.settings


def test_tuning_uses_one_grid_and_one_population_for_all() -> None:
    r = compare(["gd", "momentum", "adam"], "bowl", steps=40)
    assert "tuned" in r.settings and "criterion" in r.settings
    assert all(lr in TUNE_GRID for lr in r.lrs)
    gd_lr = r.lrs[0]
    # GD on x²/20 + y² is stable only for lr < 2/λmax = 1: the tuned rate must respect that
    assert 0.1 < gd_lr < 1.0
    # the tuned rate is at least as good as its grid neighbours by the stated criterion
    from optimlab.compare._api import tuning_scores

    i = TUNE_GRID.index(gd_lr)
    others = [compare(["gd"], "bowl", lr=TUNE_GRID[j], steps=40) for j in (i - 1, i + 1)]
    mine = tuning_scores(r.surface, r.losses[:1], r.diverged_at[:1])[0]
    for o in others:
        assert mine <= tuning_scores(o.surface, o.losses, o.diverged_at)[0]


def test_lr_sweep_marks_divergence_without_spoiling_other_paths() -> None:
    r = lr_sweep("gd", "bowl", steps=60)
    diverged = [k for k, d in enumerate(r.diverged_at) if d is not None]
    assert diverged and r.notes and "diverged at step" in r.notes[0]
    roles = " ".join(r.labels)
    assert "too small" in roles and "good" in roles and "too large" in roles
    for k in range(len(r.trials)):
        alone = compare(["gd"], "bowl", lr=r.lrs[k], steps=60)
        np.testing.assert_array_equal(np.isnan(alone.paths[0]), np.isnan(r.paths[k]))
        np.testing.assert_allclose(alone.paths[0], r.paths[k], rtol=0, atol=0)
    k = diverged[0]
    end = np.nonzero(np.isfinite(r.paths[k]).all(axis=1))[0][-1]
    assert end == r.diverged_at[k] - 1 and np.isnan(r.paths[k, -1]).all()


def test_batch_policies_are_smooth_noisy_and_in_between() -> None:
    r = batch_policies(steps=150)
    seen = r.curves_x["examples seen (log)"][:, -1] - 1
    assert seen.tolist() == [150 * 1000, 150 * 1, 150 * 32]
    length = r.summary["path_length"].to_numpy()
    direct = np.linalg.norm(r.paths[:, -1] - r.paths[:, 0], axis=1)
    wiggle = length / direct
    assert wiggle[0] < 1.05 and wiggle[1] > wiggle[2] > wiggle[0]


def _check_outputs(files: dict[str, Path], rows: int) -> None:
    png = Image.open(files["png"])
    assert png.size[0] > 800 and len(np.unique(np.asarray(png.convert("L")))) > 50
    gif = Image.open(files["gif"])
    assert gif.n_frames > 10
    first, last = gif.copy().convert("RGB"), None
    gif.seek(gif.n_frames - 1)
    last = gif.convert("RGB")
    assert first.tobytes() != last.tobytes()  # the paths grow
    page = files["html"].read_text(encoding="utf-8")
    assert page.count("Plotly.newPlot") >= 1 and 'id="slider-0"' in page and "optimlab-card" in page
    assert len(files["csv"].read_text().strip().splitlines()) == rows + 1


def test_save_writes_every_output(tmp_path: Path) -> None:
    r = compare(["gd", "momentum", "adam"], "beale", lr=0.01, steps=80, starts=[(1.0, 1.5), (3.0, 4.0)])
    files = r.save(tmp_path)
    _check_outputs(files, rows=6)
    assert "src=\"http" not in files["html"].read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--optimizers", "adamm"], "Did you mean"),
        (["--surface", "rosenbrok"], "Did you mean: rosenbrock"),
        (["--surface", "x**2 + foo(y)"], "'foo'"),
        (["--start", "9,9"], "outside the domain"),
        (["--steps", "-5"], "positive integer"),
        (["--lr", "fast"], "expected a number"),
        (["--lr", "0.1", "--tune"], "not both"),
    ],
)
def test_cli_bad_input_is_one_sentence_and_exit_code_2(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["compare", *argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cli_sweep_and_linear_regression(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--lr-sweep", "--out", str(tmp_path), "--no-html"]) == 0
    assert main(["compare", "--problem", "linear-regression", "--steps", "50", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "lr-sweep.png" in out and "linear-regression.html" in out
    assert (tmp_path / "lr-sweep.gif").stat().st_size > 10_000


def test_cli_figures_writes_every_picture_beside_the_lesson(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "--figures"]) == 0
    out = tmp_path / "optimlab-out" / "compare"
    from optimlab.compare._gallery import STORIES

    for name, _, _ in STORIES:
        for ext in ("png", "gif", "csv"):
            assert (out / f"{name}.{ext}").stat().st_size > 300, (name, ext)
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.count("<script>") == 1 and 'id="lesson-data"' in index  # the lesson's own script, no plotly
