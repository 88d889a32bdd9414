"""The problem suite: every problem builds with sane splits, its vmapped losses and metrics equal the module
run alone, plain gradient descent makes progress, and bad names, options and files fail with clear errors."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from optimlab.errors import UserError
from optimlab.problems import datasets
from optimlab.problems.base import ModuleProblem, Params
from optimlab.problems.catalog import PROBLEMS, get_problem, load_user_problem

# Small versions of every problem, so the suite stays fast; the defaults are exercised in the tests below that
# check default split sizes.
SMALL: dict[str, dict[str, object]] = {
    "quadratic": {"dim": 20, "n_train": 256, "n_eval": 64},
    "sparse-logreg": {"n_features": 60, "n_train": 600, "n_eval": 200},
    "mnist1d-mlp": {"hidden": 32, "n_train": 600, "n_valid": 100},
    "mnist1d-cnn": {"channels": 16, "n_train": 600, "n_valid": 100},
    "digits-cnn": {"channels": 8},
    "digits-autoencoder": {"widths": (32, 16, 4)},
    "char-lm": {"context": 16, "d_model": 32, "n_layers": 2, "n_heads": 4, "max_chars": 20_000},
}
# Learning rate and steps of full-batch gradient descent that must cut each problem's training loss.
DESCENT = {
    "quadratic": (0.5, 20, 0.3),
    "sparse-logreg": (3.0, 20, 0.85),
    "mnist1d-mlp": (0.5, 60, 0.7),
    "mnist1d-cnn": (0.2, 60, 0.9),
    "digits-cnn": (0.2, 60, 0.9),
    "digits-autoencoder": (3.0, 20, 0.7),
    "char-lm": (0.3, 20, 0.8),
}  # name -> (learning rate, steps, required ratio final/initial loss)

_CACHE: dict[str, ModuleProblem] = {}


def small(name: str) -> ModuleProblem:
    if name not in _CACHE:
        problem = get_problem(name, **SMALL[name])
        assert isinstance(problem, ModuleProblem)
        _CACHE[name] = problem
    return _CACHE[name]


def stacked(problem: ModuleProblem, seeds: list[int]) -> Params:
    per_seed = [problem.init_params(s) for s in seeds]
    return {name: torch.stack([p[name] for p in per_seed]) for name in per_seed[0]}


def test_registry_matches_small_options() -> None:
    assert set(SMALL) == set(PROBLEMS) == set(DESCENT)


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_problem_builds_with_splits_and_metadata(name: str) -> None:
    problem = small(name)
    assert problem.name == name
    assert problem.description
    assert problem.default_steps > 0 and 1 <= problem.default_batch_size <= len(problem.data.train)
    assert next(iter(problem.metric_goals)) == "loss"
    for split in ("train", "valid", "test"):
        data = problem.data.split(split)
        assert len(data) > 0
        for tensor in (data.inputs, data.targets):
            assert tensor.device.type == "cpu"
            assert tensor.dtype in (torch.float32, torch.int64)
            assert torch.isfinite(tensor.float()).all()
        assert data.inputs.shape[1:] == problem.data.train.inputs.shape[1:]
    # Rebuilding gives identical data: the datasets are deterministic.
    again = get_problem(name, **SMALL[name])
    assert torch.equal(again.data.train.inputs, problem.data.train.inputs)
    assert torch.equal(again.data.test.targets, problem.data.test.targets)


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_init_params_deterministic_and_seed_dependent(name: str) -> None:
    problem = small(name)
    a, b, c = problem.init_params(7), problem.init_params(7), problem.init_params(8)
    assert list(a) == list(c) and a
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)
    assert all(v.dtype == torch.float32 for v in a.values())
    # Drawing initial parameters leaves torch's global generator alone.
    state = torch.random.get_rng_state()
    problem.init_params(3)
    assert torch.equal(state, torch.random.get_rng_state())


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_vmapped_losses_and_gradients_equal_each_module_alone(name: str) -> None:
    problem = small(name)
    seeds = [0, 1, 2]
    params = {k: v.requires_grad_(True) for k, v in stacked(problem, seeds).items()}
    train = problem.data.train
    index = torch.randint(0, len(train), (3, 5), generator=torch.Generator().manual_seed(0))
    losses = problem.losses(params, train.inputs[index], train.targets[index])
    assert losses.shape == (3,)
    grads = torch.autograd.grad(losses.sum(), list(params.values()))
    for k, seed in enumerate(seeds):
        module = problem.module_for(seed)
        alone = problem.loss_fn(module(train.inputs[index[k]]), train.targets[index[k]])
        torch.testing.assert_close(losses[k], alone, rtol=1e-5, atol=1e-6)
        alone_grads = torch.autograd.grad(alone, list(module.parameters()))
        for (name_, g), g_alone in zip(zip(params, grads, strict=True), alone_grads, strict=True):
            torch.testing.assert_close(g[k], g_alone, rtol=1e-4, atol=1e-6, msg=f"gradient of {name_}")


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_evaluate_equals_each_module_alone(name: str) -> None:
    problem = small(name)
    params = stacked(problem, [4, 5])
    valid = problem.data.valid
    n = min(len(valid), 150)
    metrics = problem.evaluate(params, "valid", max_examples=n)
    assert list(metrics) == list(problem.metric_goals)
    for k, seed in enumerate([4, 5]):
        module = problem.module_for(seed)
        with torch.no_grad():
            outputs = module(valid.inputs[:n])
        expected = {"loss": problem.loss_fn(outputs, valid.targets[:n])}
        expected.update({m: fn(outputs, valid.targets[:n]) for m, fn in problem.metrics.items()})
        expected.update({m: fn(expected["loss"]) for m, fn in problem.from_loss.items()})
        for metric, value in expected.items():
            torch.testing.assert_close(metrics[metric][k], value, rtol=1e-4, atol=1e-5, msg=metric)


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_gradient_descent_reduces_training_loss(name: str) -> None:
    problem = small(name)
    lr, steps, ratio = DESCENT[name]
    params = stacked(problem, [0, 1])
    train = problem.data.train
    n = min(len(train), 256)
    inputs = train.inputs[:n].expand(2, *train.inputs[:n].shape)
    targets = train.targets[:n].expand(2, *train.targets[:n].shape)
    first = problem.evaluate(params, "train", max_examples=n)["loss"]
    for _ in range(steps):
        leaves = {k: v.detach().requires_grad_(True) for k, v in params.items()}
        grads = torch.autograd.grad(problem.losses(leaves, inputs, targets).sum(), list(leaves.values()))
        params = {k: v.detach() - lr * g for (k, v), g in zip(leaves.items(), grads, strict=True)}
    last = problem.evaluate(params, "train", max_examples=n)["loss"]
    assert torch.isfinite(last).all()
    assert (last < ratio * first).all(), f"{name}: loss {first.tolist()} -> {last.tolist()}"


# ------------------------------------------------------------------------------------------ problem facts


def test_quadratic_has_known_optimum_condition_and_gradient_noise() -> None:
    problem = get_problem("quadratic", dim=30, condition=100.0, noise=0.5, n_train=512, n_eval=64)
    assert isinstance(problem, ModuleProblem)
    hessian, optimum = problem.module.hessian, problem.module.optimum
    eigenvalues = torch.linalg.eigvalsh(hessian.double())
    assert eigenvalues.max().item() == pytest.approx(1.0, rel=1e-4)
    assert (eigenvalues.max() / eigenvalues.min()).item() == pytest.approx(100.0, rel=1e-3)
    # At the optimum: suboptimality and distance are 0.
    at_optimum = {"theta": optimum.unsqueeze(0).clone()}
    metrics = problem.evaluate(at_optimum, "test")
    assert metrics["suboptimality"].abs().item() < 1e-6 and metrics["distance"].abs().item() < 1e-6
    # Full batch: the exact gradient A(θ − θ*) (the training noise is centred). A batch adds noise·mean(z).
    theta = problem.init_params(0)["theta"]
    train = problem.data.train
    exact = hessian @ (theta - optimum)

    def gradient(rows: torch.Tensor) -> torch.Tensor:
        leaf = theta.clone().unsqueeze(0).requires_grad_(True)
        loss = problem.losses({"theta": leaf}, train.inputs[rows].unsqueeze(0), train.targets[rows].unsqueeze(0))
        return torch.autograd.grad(loss.sum(), leaf)[0][0]

    torch.testing.assert_close(gradient(torch.arange(len(train))), exact, rtol=1e-4, atol=1e-5)
    rows = torch.arange(8)
    torch.testing.assert_close(gradient(rows), exact + 0.5 * train.inputs[rows].mean(0), rtol=1e-4, atol=1e-5)
    # Suboptimality equals ½ dᵀAd.
    d = (theta - optimum).double()
    value = problem.evaluate({"theta": theta.unsqueeze(0)}, "valid")["suboptimality"].item()
    assert value == pytest.approx(0.5 * (d @ hessian.double() @ d).item(), rel=1e-4)


def test_sparse_logreg_features_follow_power_law_and_true_model_predicts() -> None:
    generated = datasets.sparse_logreg_data(20_000, 40, exponent=1.0, top=0.5, seed=3)
    observed = generated.x.mean(0)
    expected = 0.5 / torch.arange(1, 41)
    torch.testing.assert_close(observed, expected, atol=0.015, rtol=0.15)
    assert 0.3 < generated.y.mean().item() < 0.7
    logits = generated.x @ generated.weights + generated.bias
    true_loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, generated.y).item()
    assert true_loss < 0.7 * np.log(2)  # the Bayes loss: well below a coin flip
    # Rare features, when present, move the logit further than common ones (they are informative).
    rare, common = generated.weights[20:].abs().mean(), generated.weights[:5].abs().mean()
    assert rare > 2 * common


def test_mnist1d_defaults_generation_isolation_and_no_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    random.seed(1234)
    np.random.seed(1234)
    py_state, np_state = random.getstate(), np.random.get_state()
    x, y, x_test, _ = datasets.mnist1d_arrays.__wrapped__(600)  # bypass the cache: really generate
    assert random.getstate() == py_state
    assert np.array_equal(np.random.get_state()[1], np_state[1])
    assert x.shape == (480, 40) and x_test.shape == (120, 40) and set(y.tolist()) <= set(range(10))
    assert list(tmp_path.iterdir()) == []
    problem = get_problem("mnist1d-mlp")
    assert (len(problem.data.train), len(problem.data.valid), len(problem.data.test)) == (3500, 500, 1000)
    assert problem.data.train.inputs.dtype == torch.float32 and problem.data.train.targets.dtype == torch.int64
    assert sum(p.numel() for p in problem.init_params(0).values()) == 40 * 256 + 256 + 256 * 256 + 256 + 2570


def test_missing_optional_packages_say_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mnist1d", None)
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)
    with pytest.raises(UserError, match="pip install mnist1d"):
        datasets.mnist1d_arrays.__wrapped__(100)
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(UserError, match="pip install scikit-learn"):
        datasets.digits_arrays.__wrapped__()


def test_digits_problems_split_and_autoencoder_targets() -> None:
    cnn, auto = get_problem("digits-cnn"), get_problem("digits-autoencoder")
    assert (len(cnn.data.train), len(cnn.data.valid), len(cnn.data.test)) == (1197, 300, 300)
    assert cnn.data.train.inputs.shape[1:] == (8, 8)
    assert torch.equal(auto.data.train.inputs, auto.data.train.targets)
    assert torch.equal(auto.data.test.inputs, cnn.data.test.inputs.reshape(-1, 64))
    assert 0.0 <= cnn.data.train.inputs.min() and cnn.data.train.inputs.max() <= 1.0
    sizes = [p.shape for name, p in auto.init_params(0).items() if name.endswith("weight")]
    assert [s[1] for s in sizes] + [sizes[-1][0]] == [64, 128, 64, 32, 8, 32, 64, 128, 64]


# --------------------------------------------------------------------------------------------- char-lm


def test_char_lm_windows_shift_by_one_and_metrics() -> None:
    problem = small("char-lm")
    train = problem.data.train
    assert train.inputs.shape[1] == 16 and train.inputs.dtype == torch.int64
    assert torch.equal(train.inputs[:, 1:], train.targets[:, :-1])
    assert set(problem.metric_goals) == {"loss", "accuracy", "perplexity"}
    assert problem.metric_goals["perplexity"] == "min" and problem.metric_goals["accuracy"] == "max"
    metrics = problem.evaluate(stacked(problem, [0]), "test")
    torch.testing.assert_close(metrics["perplexity"], torch.exp(metrics["loss"]))
    corpus = problem.corpus  # type: ignore[attr-defined]
    text = datasets.stdlib_docstrings(20_000)
    assert corpus.decode(corpus.windows[0]) == text[:17]


def test_char_lm_is_causal() -> None:
    problem = small("char-lm")
    module = problem.module_for(0)
    ids = problem.data.train.inputs[:2].clone()
    changed = ids.clone()
    changed[:, 10:] = (changed[:, 10:] + 1) % 5
    with torch.no_grad():
        a, b = module(ids), module(changed)
    torch.testing.assert_close(a[:, :10], b[:, :10])
    assert not torch.allclose(a[:, 10:], b[:, 10:])


def test_stdlib_text_is_deterministic_english() -> None:
    first = datasets.stdlib_docstrings.__wrapped__(50_000)
    assert first == datasets.stdlib_docstrings.__wrapped__(50_000)
    assert len(first) == 50_000
    words = first.split()
    assert sum(w.lower() in {"the", "a", "of", "to", "is"} for w in words) > 0.05 * len(words)
    # A fresh interpreter (other imports, another hash seed) builds the very same text.
    code = (
        "import hashlib; from optimlab.problems.datasets import stdlib_docstrings; "
        "print(hashlib.sha256(stdlib_docstrings(50_000).encode()).hexdigest())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "123", "PYTHONPATH": str(Path(datasets.__file__).parents[2])}
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert fresh.stdout.strip() == hashlib.sha256(first.encode()).hexdigest()


def test_char_lm_from_user_text_file(tmp_path: Path) -> None:
    text_file = tmp_path / "story.txt"
    text_file.write_text("the quick brown fox jumps over the lazy dog. " * 40, encoding="utf-8")
    problem = get_problem("char-lm", text_file=str(text_file), context=8, d_model=16, n_heads=2, n_layers=1)
    corpus = problem.corpus  # type: ignore[attr-defined]
    assert set(corpus.vocab) == set("the quick brown fox jumps over the lazy dog.")
    assert str(text_file) in problem.description


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "does not exist"), (b"", "is empty"), (b"  \n", "is empty"), (b"\x89PNG\x00\x01", "binary")],
)
def test_char_lm_bad_text_files(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "text.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError, match=message) as info:
        get_problem("char-lm", text_file=str(path))
    assert str(path) in str(info.value)


def test_text_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("café crème ".encode("latin-1") * 20)
    with pytest.raises(UserError, match="not UTF-8"):
        datasets.read_text_file(path)


# ----------------------------------------------------------------------------------- names and user files


def test_unknown_problem_name_suggests_close_names() -> None:
    with pytest.raises(UserError, match=r"Unknown problem 'mnist1d_mlp'.*Did you mean: mnist1d-mlp"):
        get_problem("mnist1d_mlp")
    with pytest.raises(UserError, match=r"Valid names: .*quadratic"):
        get_problem("zzzz")


def test_unknown_option_is_named() -> None:
    with pytest.raises(UserError, match=r"no option 'hiden'.*hidden"):
        get_problem("mnist1d-mlp", hiden=3)


USER_FILE = """
import torch
from torch import nn
from optimlab.problems.base import Data, ModuleProblem, Split, accuracy

def make(width=8):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(90, 5, generator=g), torch.randint(0, 3, (90,), generator=g)
    data = Data(Split(x[:60], y[:60]), Split(x[60:75], y[60:75]), Split(x[75:], y[75:]))
    return ModuleProblem(name="mine", make_module=lambda: nn.Sequential(nn.Linear(5, width), nn.Tanh(),
                         nn.Linear(width, 3)), data=data, loss_fn=nn.functional.cross_entropy,
                         metrics={"accuracy": accuracy}, default_steps=10, default_batch_size=8)

def broken():
    raise RuntimeError("no data here")

def wrong():
    return 42
"""


def test_load_user_problem(tmp_path: Path) -> None:
    path = tmp_path / "mine.py"
    path.write_text(textwrap.dedent(USER_FILE))
    problem = load_user_problem(f"{path}:make", width=4)
    assert problem.name == "mine" and problem.init_params(0)["0.weight"].shape == (4, 5)
    assert get_problem(f"{path}:make").init_params(0)["0.weight"].shape == (8, 5)
    with pytest.raises(UserError, match=r"make\(\) in problem file .* raised TypeError"):
        load_user_problem(f"{path}:make", depth=3)
    with pytest.raises(UserError, match=r"broken\(\) in problem file .* raised RuntimeError: no data here"):
        load_user_problem(f"{path}:broken")
    with pytest.raises(UserError, match=r"wrong\(\) .* returned int, not an optimlab Problem"):
        load_user_problem(f"{path}:wrong")
    with pytest.raises(UserError, match="has no function 'absent'"):
        load_user_problem(f"{path}:absent")
    with pytest.raises(UserError, match="does not exist"):
        load_user_problem(f"{tmp_path / 'nope.py'}:make")
    with pytest.raises(UserError, match=r"path/to/file\.py:function"):
        load_user_problem(str(path))
    bad = tmp_path / "bad.py"
    bad.write_text("import not_a_module_anywhere_xyz\n")
    with pytest.raises(UserError, match=r"bad.py' failed to import: ModuleNotFoundError"):
        load_user_problem(f"{bad}:make")
