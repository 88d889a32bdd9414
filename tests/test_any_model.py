"""Problems from what users have: ``make_problem`` over tensors, Datasets and DataLoaders, streamed splits, one
sentence for every model or data that cannot work, and the example problem files run end to end on the CLI."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset

import optimlab
from optimlab.cli import main
from optimlab.engine import run_trials
from optimlab.errors import DataError, ModelError, ProblemFileError, UserError
from optimlab.population import Trial
from optimlab.problems import DatasetSplit, Split, make_problem, splits
from optimlab.problems.base import ModuleProblem, accuracy
from optimlab.problems.loader import load_user_surface

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def blobs(n: int = 120, seed: int = 0) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    return torch.randn(n, 5, generator=g) + 2 * nn.functional.one_hot(y, 5)[:, :5].float(), y


class Counted(Dataset[tuple[Tensor, Tensor]]):
    """A map-style dataset over tensors that counts every example read."""

    def __init__(self, x: Tensor, y: Tensor) -> None:
        self.x, self.y, self.reads = x, y, 0

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        self.reads += 1
        return self.x[i], self.y[i]


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))


def tiny(train: object, valid: object, **kwargs: object) -> ModuleProblem:
    options: dict[str, object] = {"loss": nn.functional.cross_entropy, "metrics": {"accuracy": accuracy}}
    options.update(kwargs)
    return make_problem(mlp, train, valid, **options)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ make_problem


def test_make_problem_from_tensors_is_a_module_problem_every_verb_takes() -> None:
    x, y = blobs()
    problem = tiny((x[:80], y[:80]), (x[80:], y[80:]), name="blobs", steps=30, batch_size=16,
                   metrics={"accuracy": accuracy, "error": (lambda o, t: 1 - accuracy(o, t), "min")})
    assert optimlab.make_problem is make_problem and "make_problem" in optimlab.__all__
    assert isinstance(problem, ModuleProblem) and problem.name == "blobs"
    assert (problem.default_steps, problem.default_batch_size) == (30, 16)
    assert dict(problem.metric_goals) == {"loss": "min", "accuracy": "max", "error": "min"}
    assert type(problem.data.train) is Split and torch.equal(problem.data.train.inputs, x[:80])
    assert problem.data.test is problem.data.valid  # no test set: the validation split serves as test
    params = {k: v.unsqueeze(0) for k, v in problem.init_params(3).items()}
    module = problem.module_for(3)
    values = problem.evaluate(params, "valid")
    with torch.no_grad():
        outputs = module(x[80:])
    assert torch.allclose(values["loss"], nn.functional.cross_entropy(outputs, y[80:]).unsqueeze(0))
    assert torch.allclose(values["error"], 1 - values["accuracy"])


def test_a_small_dataset_is_read_once_into_tensors() -> None:
    x, y = blobs()
    train = Counted(x[:80], y[:80])
    problem = tiny(train, Counted(x[80:], y[80:]))
    assert type(problem.data.train) is Split  # the fast path: plain tensors
    assert torch.equal(problem.data.train.inputs, x[:80]) and torch.equal(problem.data.train.targets, y[:80])
    reads = train.reads
    assert 80 <= reads <= 80 + 2  # every example once, and example 0 checked and measured first
    problem.data.train.take(torch.arange(10))
    assert train.reads == reads


def test_a_large_dataset_streams_and_reads_only_each_batchs_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = blobs()
    monkeypatch.setattr(splits, "MATERIALIZE_BELOW_BYTES", 1000)  # 80 examples of 5 floats + a label > 1000 B
    train = Counted(x[:80], y[:80])
    problem = tiny(train, (x[80:], y[80:]))
    split = problem.data.train
    assert isinstance(split, DatasetSplit) and len(split) == 80
    assert train.reads <= 6  # example 0 checked and measured, a probe batch of 4: never the whole dataset
    before = train.reads
    inputs, targets = split.take(torch.tensor([7, 3, 50]))
    assert train.reads - before == 3
    assert torch.equal(inputs, x[[7, 3, 50]]) and torch.equal(targets, y[[7, 3, 50]])
    index = torch.tensor([[1, 2, 3, 4], [1, 2, 3, 4], [9, 8, 1, 0]])  # two trials share a seed, so a batch
    before = train.reads
    inputs, targets = split.take(index)
    assert train.reads - before == 7  # each of the 7 distinct examples read once, not K times
    assert inputs.shape == (3, 4, 5) and torch.equal(inputs, x[index]) and torch.equal(targets, y[index])
    with pytest.raises(DataError, match="streams from a Dataset"):
        _ = split.inputs


def test_streamed_and_in_memory_splits_train_and_evaluate_alike() -> None:
    x, y = blobs()
    in_memory = tiny((x[:80], y[:80]), (x[80:], y[80:]), batch_size=8, eval_batch_size=7)
    streamed = tiny(Counted(x[:80], y[:80]), Counted(x[80:], y[80:]), batch_size=8, eval_batch_size=7,
                    materialize=False)
    assert isinstance(streamed.data.valid, DatasetSplit)
    trials = [Trial("adam", {"lr": 0.01}, seed=0), Trial("sgd", {"lr": 0.1}, seed=1)]
    a = run_trials(in_memory, trials, 12, eval_splits=("valid",))
    b = run_trials(streamed, trials, 12, eval_splits=("valid",))
    assert torch.equal(a.train_loss, b.train_loss)
    assert torch.allclose(a.evals["valid"]["loss"], b.evals["valid"]["loss"], atol=1e-6)
    assert torch.allclose(a.evals["valid"]["accuracy"], b.evals["valid"]["accuracy"])


def test_a_dataloader_gives_dataset_collate_and_batch_size_but_not_its_order() -> None:
    x, y = blobs()
    shuffled = DataLoader(TensorDataset(x[:80], y[:80]), batch_size=10, shuffle=True)
    problem = make_problem(mlp, shuffled, DataLoader(TensorDataset(x[80:], y[80:])), loss=nn.functional.cross_entropy)
    assert problem.default_batch_size == 10 and type(problem.data.train) is Split
    plain = make_problem(mlp, (x[:80], y[:80]), (x[80:], y[80:]), loss=nn.functional.cross_entropy, batch_size=10)
    trials = [Trial("adam", {"lr": 0.01}, seed=4)]
    # The loader's shuffling is replaced by the trial's own batch order: the same seed, the same batches.
    assert torch.equal(run_trials(problem, trials, 8).train_loss, run_trials(plain, trials, 8).train_loss)

    def scaled(items: list[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
        return torch.stack([i[0] for i in items]) * 2, torch.stack([i[1] for i in items])

    custom = DataLoader(Counted(x[:80], y[:80]), batch_size=16, collate_fn=scaled)
    problem = make_problem(mlp, custom, (x[80:], y[80:]), loss=nn.functional.cross_entropy)
    assert isinstance(problem.data.train, DatasetSplit)  # a custom collate may depend on the batch: streamed
    assert torch.equal(problem.data.train.take(torch.tensor([2, 5]))[0], 2 * x[[2, 5]])
    sampled = DataLoader(TensorDataset(x[:80], y[:80]),
                         batch_sampler=torch.utils.data.BatchSampler(range(80), 12, drop_last=False))
    assert make_problem(mlp, sampled, (x, y), loss=nn.functional.cross_entropy).default_batch_size == 12


def test_the_docstring_example_runs() -> None:
    import doctest

    import optimlab.problems.user

    assert doctest.testmod(optimlab.problems.user, raise_on_error=True).attempted > 0


def test_numbers_and_arrays_as_items() -> None:
    x, y = blobs()
    pairs = [(x[i].numpy(), int(y[i])) for i in range(80)]
    problem = tiny(pairs, (x[80:], y[80:]))
    assert torch.equal(problem.data.train.inputs, x[:80]) and problem.data.train.targets.dtype == torch.int64


# ------------------------------------------------------------------------------------------ errors


class Stream(IterableDataset[tuple[Tensor, Tensor]]):
    def __iter__(self):  # type: ignore[no-untyped-def]
        yield torch.zeros(5), torch.tensor(0)


class Broken(Dataset[tuple[Tensor, Tensor]]):
    def __len__(self) -> int:
        return 10

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        raise OSError("disk gone")


def test_model_errors_are_one_sentence() -> None:
    x, y = blobs()
    data = ((x[:80], y[:80]), (x[80:], y[80:]))
    ce = nn.functional.cross_entropy

    def boom() -> nn.Module:
        raise RuntimeError("no weights file")

    cases: list[tuple[dict[str, object], str]] = [
        ({"model": boom}, "The model factory raised RuntimeError: no weights file"),
        ({"model": lambda: "mlp"}, "model factory returned a str, not a torch.nn.Module"),
        ({"model": nn.ReLU}, "has no trainable parameters"),
        ({"model": lambda: nn.Linear(4, 3)}, r"The model failed on training inputs of shape \(4, 5\)"),
        ({"model": lambda: nn.Linear(5, 2), "loss": lambda o, t: ce(o, t + 5)},
         r"The loss does not fit the model: on model outputs of shape \(4, 2\)"),
        ({"loss": lambda o, t: ce(o, t, reduction="none")}, r"The loss must return a scalar .* shape \(4,\)"),
        ({"loss": lambda o, t: ce(o.detach(), t)}, "does not depend on the model's parameters"),
        ({"metrics": {"acc": lambda o, t: o.argmax(-1) == t}}, r"Metric 'acc' must return a scalar"),
        ({"metrics": {"acc": (accuracy, "up")}}, "goal 'up'"),
        ({"metrics": {"loss": accuracy}}, "'loss' is taken"),
        ({"model": nn.Linear(5, 3)}, "not a module instance"),
        ({"loss": "cross_entropy"}, "loss must be a function"),
        ({"batch_size": 500}, "Invalid batch_size=500"),
    ]
    for options, message in cases:
        kwargs: dict[str, object] = {"model": mlp, "loss": ce, **options}
        with pytest.raises(UserError, match=message) as info:
            make_problem(kwargs.pop("model"), *data, **kwargs)  # type: ignore[arg-type]
        assert "\n" not in str(info.value)
        if options.keys() & {"model", "loss", "metrics"} and "goal" not in message and "taken" not in message:
            assert isinstance(info.value, ModelError), message


def test_data_errors_are_one_sentence() -> None:
    x, y = blobs()
    valid = (x[80:], y[80:])
    cases: list[tuple[object, str]] = [
        ((x[:80], y[:70]), "training data has 80 inputs but 70 targets"),
        ((x[:0], y[:0]), "training data is empty"),
        (Counted(x[:0], y[:0]), "training dataset is empty"),
        ([{"x": x[0], "y": y[0]}], "Example 0 of the training dataset is dict, not an"),
        ([(x[0], y[0], 1)], "is a tuple of 3, not an"),
        ([(x[0], "cat")], "The target of example 0 of the training dataset is a str"),
        (Stream(), "is an IterableDataset"),
        (Broken(), "Reading example 0 of the training dataset raised OSError: disk gone"),
        (42, "training data is a int"),
        (DataLoader(TensorDataset(x, y), batch_size=4, collate_fn=lambda items: items),
         "collate function of the training data must return"),
    ]
    for train, message in cases:
        with pytest.raises(DataError, match=message) as info:
            make_problem(mlp, train, valid, loss=nn.functional.cross_entropy)
        assert "\n" not in str(info.value)
    ragged = [(torch.zeros(5 + i % 2), torch.tensor(0)) for i in range(8)]
    with pytest.raises(DataError, match="could not be collated into one batch"):
        make_problem(mlp, ragged, valid, loss=nn.functional.cross_entropy, materialize=True)
    with pytest.raises(DataError, match="validation data has 40 inputs but 3 targets"):
        make_problem(mlp, (x, y), (x[80:], y[:3]), loss=nn.functional.cross_entropy)
    with pytest.raises(ValueError, match="A split has 3 inputs but 2 targets"):  # Split keeps its old error type
        Split(x[:3], y[:2])


# ------------------------------------------------------------------------------------------ files on the CLI

SURFACES = """
import torch
from optimlab.problems import surface_from_callable

def bowl(x, y):
    return x ** 2 + 4 * y ** 2

def made():
    return surface_from_callable(bowl, name="made-bowl", domain=((-2, 2), (-2, 2)))

def number():
    return 3

def three(x, y, z):
    return x

value = 7
"""

BROKEN = "import not_a_module_anywhere_xyz\n"


def test_surface_file_gives_a_function_or_a_surface(tmp_path: Path) -> None:
    path = tmp_path / "surf.py"
    path.write_text(textwrap.dedent(SURFACES))
    assert load_user_surface(f"{path}:bowl")(torch.tensor(1.0), torch.tensor(1.0)) == 5
    assert load_user_surface(f"{path}:made").name == "made-bowl"
    for name, message in [("number", "returned int, not a Surface"), ("three", r"must be a function f\(x, y\)"),
                          ("value", "value is a int, not a function"), ("absent", "has no function 'absent'")]:
        with pytest.raises(ProblemFileError, match=message):
            load_user_surface(f"{path}:{name}")


def test_cli_compare_draws_a_surface_from_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "surf.py"
    path.write_text(textwrap.dedent(SURFACES))
    out = tmp_path / "out"
    assert main(["compare", "--surface", f"{path}:made", "--optimizers", "gd,adam", "--lr", "0.05", "--steps", "20",
                 "--no-gif", "--no-html", "--out", str(out)]) == 0
    assert "adam" in capsys.readouterr().out and (out / "compare.png").is_file()


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "broken.py").write_text(BROKEN)
    (tmp_path / "surf.py").write_text(textwrap.dedent(SURFACES))
    return {
        "missing": f"{tmp_path / 'nowhere.py'}:problem",
        "broken": f"{tmp_path / 'broken.py'}:problem",
        "lacking": f"{tmp_path / 'surf.py'}:problem",
        "wrong": f"{tmp_path / 'surf.py'}:number",
    }


@pytest.mark.parametrize(("case", "message"), [
    ("missing", "does not exist"), ("broken", "failed to import: ModuleNotFoundError"),
    ("lacking", "has no function 'problem'"), ("wrong", "returned int, not"),
])
@pytest.mark.parametrize("verb", ["advise", "bench", "compare"])
def test_cli_bad_problem_files_are_one_sentence_and_exit_2(
    verb: str, case: str, message: str, bad_files: dict[str, str], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = bad_files[case]
    argv = {
        "advise": ["advise", spec, "--out", str(tmp_path / "advice"), "--quiet"],
        "bench": ["bench", "--problems", "", "--problem-file", spec, "--store", str(tmp_path / "s.sqlite"), "--quiet"],
        "compare": ["compare", "--surface", spec, "--steps", "5", "--lr", "0.1", "--out", str(tmp_path / "c")],
    }[verb]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("optimlab: error: ") and message in err
    assert "\n" not in err and "Traceback" not in err


# ------------------------------------------------------------------------------------------ end to end

ADVISE = ["--budget", "600", "--steps", "10", "--seeds", "2", "--candidates", "sgd,adam", "--quiet"]
BENCH = ["--problems", "", "--optimizers", "sgd,adam", "--seeds", "2", "--steps", "6", "--lr-grid", "0.01,0.1",
         "--tune-seeds", "1", "--quiet"]
# The GRU (no vmap batching rule for the fused kernel) and the BatchNorm CNN (running statistics updated in
# place) need the per-trial executor: the engine chooses it by itself for them.
FILES = [
    "mlp_dataloader.py:problem",
    pytest.param("gru_char_lm.py:problem", marks=pytest.mark.slow),
    pytest.param("batchnorm_cnn.py:problem", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("spec", FILES)
def test_advise_runs_end_to_end_on_an_example_file(spec: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "advice"
    assert main(["advise", f"{EXAMPLES / spec}", "--out", str(out), *ADVISE]) == 0, \
        capsys.readouterr().err
    printed = capsys.readouterr().out
    assert " at lr " in printed and (out / "index.html").is_file()


@pytest.mark.parametrize("spec", FILES)
def test_bench_runs_end_to_end_on_an_example_file(spec: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "s.sqlite"
    assert main(["bench", "--problem-file", f"{EXAMPLES / spec}", "--store", str(store), *BENCH]) == 0, \
        capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "adam" in printed and "sgd" in printed and store.is_file()
