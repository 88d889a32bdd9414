"""`optimlab report`: a real (tiny) study from the store to the page; bad input is one sentence and exit code 2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from optimlab.cli import main
from optimlab.study import bench
from optimlab.study.store import Store

TINY = {"quadratic": {"dim": 4, "n_train": 64, "n_eval": 32}}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("store") / "runs.sqlite"
    bench(["quadratic"], "minibatch,adam", seeds=2, budget="quick", store=path, lr_grid=[0.01, 0.1, 1.0], steps=15,
          problem_options=TINY, stream=None)
    return path


def test_report_of_the_latest_study(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    assert main(["report", "--store", str(store), "--out", str(out)]) == 0
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "index.html" in capsys.readouterr().out
    assert (out / "quadratic-lr-sensitivity.png").exists() and (out / "quadratic-curves.png").exists()
    assert (out / "performance-profiles.png").exists()
    # both optimizers ranked, with paired seeds behind the verdict (1 problem x 2 seeds)
    assert re.search(r"n=2, p=", page)
    assert page.split('id="family"')[0].count('<details class="card"') == 2  # the rest of the family follows
    assert "No claims study in this store yet" in page


def test_report_attaches_the_latest_claims_verdicts(store: Path, tmp_path: Path) -> None:
    with Store(store) as db:
        claims_id = db.create_study("claims (test)", {"kind": "claims", "problems": [], "optimizers": [],
                                                      "lr_grid": [], "tune_seeds": [], "seeds": [], "budget": "quick",
                                                      "steps": {}, "tune": False, "eval_every": 1,
                                                      "max_eval_examples": None, "max_population": None,
                                                      "problem_options": {}, "selection_metric": {},
                                                      "score_metric": {}, "goals": {}})
        db.put_claim(claims_id, "AdaDelta needs no learning rate", "depends", "Only on some problems.",
                     {"numbers": {"quadratic: q": 0.5}})
        db.set_status(claims_id, "done")
        bench_id = db.studies()[0]["id"]
    out = tmp_path / "report"
    assert main(["report", bench_id, "--store", str(store), "--out", str(out)]) == 0
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "AdaDelta needs no learning rate" in page and "Only on some problems." in page
    assert "quadratic-lr-sensitivity" not in page  # figures are embedded, never linked
    assert main(["report", bench_id, "--store", str(store), "--out", str(tmp_path / "r2"), "--no-claims"]) == 0
    assert "AdaDelta" not in (tmp_path / "r2" / "index.html").read_text(encoding="utf-8").split('id="cards"')[0]


@pytest.mark.parametrize("case", ["missing", "foreign", "unknown-study"])
def test_bad_input_is_one_sentence_and_exit_code_2(case: str, store: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    args = ["report", "--out", str(tmp_path / "out")]
    if case == "missing":
        args += ["--store", str(tmp_path / "nope.sqlite")]
    elif case == "foreign":
        foreign = tmp_path / "notes.sqlite"
        foreign.write_text("not a database", encoding="utf-8")
        args += ["--store", str(foreign)]
    else:
        args += ["zzz-no-such-study", "--store", str(store)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("optimlab: error: ") and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "out" / "index.html").exists()
    if case == "foreign":
        assert (tmp_path / "notes.sqlite").read_text(encoding="utf-8") == "not a database"
