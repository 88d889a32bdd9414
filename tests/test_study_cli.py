"""`optimlab bench`, `runs` and `export` in process: output, exit codes, and one sentence for bad input."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from optimlab.cli import main

TINY = ["--problems", "sparse-logreg", "--optimizers", "adam,gd", "--seeds", "2", "--steps", "4",
        "--lr-grid", "0.01,0.1"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "runs.sqlite"
    assert main(["bench", *TINY, "--store", str(path), "--name", "tiny", "--quiet"]) == 0
    assert main(["bench", *TINY, "--no-tune", "--store", str(path), "--quiet"]) == 0
    return path


def test_bench_prints_the_ranking_and_progress(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.sqlite"
    assert main(["bench", *TINY, "--store", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "sparse-logreg (test_accuracy on 500 of " in out and "test examples, median)" in out and "mean rank" in out
    assert {line.split()[0] for line in out.splitlines()[4:6]} == {"adam", "gd"}
    assert "optimlab report" in out
    assert "[8/8 trials] all trials finished" in err and "best so far: sparse-logreg:" in err


def test_runs_lists_studies_with_counts(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--store", str(store)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["id", "name", "created", "status"]
    assert "tiny" in lines[2] and lines[2].rstrip().endswith("done    8/8")
    assert "defaults only" in lines[3] and lines[3].rstrip().endswith("4/4")


def test_export_csv_has_one_row_per_trial_with_configuration_and_metrics(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "trials.csv"
    assert main(["runs", "--store", str(store)]) == 0
    first = capsys.readouterr().out.splitlines()[2].split()[0]
    assert main(["export", "--store", str(store), "--out", str(out), "--study", first]) == 0
    frame = pd.read_csv(out)
    assert len(frame) == 8 and set(frame["study_id"]) == {first}
    for column in ("phase", "problem", "optimizer", "lr", "seed", "batch_size", "steps", "status", "valid_loss",
                   "valid_accuracy", "test_accuracy", "final_train_loss"):
        assert column in frame.columns
    assert set(frame["phase"]) == {"tune", "final"} and frame["test_accuracy"].notna().sum() == 4
    assert main(["export", "--store", str(store), "--out", str(out)]) == 0  # default: the latest study
    assert set(pd.read_csv(out)["phase"]) == {"defaults"}


def test_parquet_export_without_pyarrow_says_what_to_install(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "trials.parquet"
    code = main(["export", "--store", str(store), "--out", str(out)])
    if importlib.util.find_spec("pyarrow") is None:
        assert code == 2 and "pip install pyarrow" in capsys.readouterr().err and not out.exists()
    else:
        assert code == 0 and len(pd.read_parquet(out)) == 4


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bench", "--problems", "mnist2d"], "Unknown problem 'mnist2d'"),
        (["bench", "--optimizers", "adamm"], "Unknown optimizer 'adamm'. Did you mean: adam"),
        (["bench", "--steps", "-3"], "Invalid budget: steps=-3"),
        (["bench", "--seeds", "0"], "at least 1"),
        (["bench", "--lr-grid", "1:0.1:3"], "Invalid learning-rate range"),
        (["bench", "--study", "x"], "use it with --resume"),
        (["bench", "--resume"], "no unfinished study"),
        (["export", "--out", "x.xlsx"], "must end in .csv or .parquet"),
        (["bench", "--problem-file", "nowhere.py:make"], "does not exist"),
    ],
)
def test_bad_input_is_one_sentence_exit_2_and_the_store_is_untouched(
    store: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _sha(store)
    assert main([*args, "--store", str(store)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("optimlab: error: ") and message in err and len(err.splitlines()) == 1
    assert _sha(store) == before


@pytest.mark.parametrize("content", [b"just some text\n", b""])
def test_foreign_files_are_refused_and_never_modified(tmp_path: Path, content: bytes,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "thing.sqlite"
    path.write_bytes(content or b"\x00" * 100)
    for args in (["bench", *TINY], ["runs"], ["export", "--out", str(tmp_path / "x.csv")], ["bench", "--resume"]):
        assert main([*args, "--store", str(path)]) == 2
        assert "not an optimlab store" in capsys.readouterr().err
    assert path.read_bytes() == (content or b"\x00" * 100)


def test_user_problem_that_raises_is_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "mine.py"
    source.write_text("def make():\n    raise KeyError('labels')\n")
    path = tmp_path / "s.sqlite"
    assert main(["bench", "--problems", "", "--problem-file", f"{source}:make", "--store", str(path)]) == 2
    err = capsys.readouterr().err
    assert "make() in problem file" in err and "KeyError" in err and len(err.strip().splitlines()) == 1
    assert not path.exists()
