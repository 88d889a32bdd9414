"""The advisor: budget and plan, paired verdicts, the tie rule, the tournament on tiny problems, bad input,
the evidence report and the CLI."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from optimlab import optim
from optimlab.advise import (
    AdviceError,
    Candidate,
    advise,
    paired_test,
    parse_budget,
    plan_tournament,
)
from optimlab.cli import main
from optimlab.errors import UserError
from optimlab.problems.base import Data, ModuleProblem, Split, accuracy

PROBLEM_SOURCE = '''
import torch
from torch import nn
from optimlab.problems.base import Data, ModuleProblem, Split, accuracy


def blobs(classes: int = 5, features: int = 16, n: int = 600, steps: int = 60, nan: bool = False) -> ModuleProblem:
    """Gaussian blobs, a linear classifier: small enough for a test, not solved in one step."""
    g = torch.Generator().manual_seed(7)
    centres = torch.randn(classes, features, generator=g)
    y = torch.randint(0, classes, (n,), generator=g)
    x = centres[y] + 1.5 * torch.randn(n, features, generator=g)
    a, b = n // 2, (3 * n) // 4

    def loss(out, t):
        value = nn.functional.cross_entropy(out, t)
        return value * float("nan") if nan else value

    return ModuleProblem(
        name="blobs",
        make_module=lambda: nn.Linear(features, classes),
        data=Data(train=Split(x[:a], y[:a]), valid=Split(x[a:b], y[a:b]), test=Split(x[b:], y[b:])),
        loss_fn=loss,
        metrics={"accuracy": accuracy},
        default_steps=steps,
        default_batch_size=32,
    )


def explodes() -> ModuleProblem:
    raise RuntimeError("the data folder is missing")


def not_a_problem():
    return 42
'''


@pytest.fixture(scope="module")
def problem_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("user") / "my_problem.py"
    path.write_text(textwrap.dedent(PROBLEM_SOURCE))
    return path


def blobs(nan: bool = False, steps: int = 60) -> ModuleProblem:
    g = torch.Generator().manual_seed(7)
    centres = torch.randn(5, 16, generator=g)
    y = torch.randint(0, 5, (600,), generator=g)
    x = centres[y] + 1.5 * torch.randn(600, 16, generator=g)

    def loss(out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        value = nn.functional.cross_entropy(out, t)
        return value * float("nan") if nan else value

    return ModuleProblem(
        name="blobs", make_module=lambda: nn.Linear(16, 5),
        data=Data(train=Split(x[:300], y[:300]), valid=Split(x[300:450], y[300:450]), test=Split(x[450:], y[450:])),
        loss_fn=loss, metrics={"accuracy": accuracy}, default_steps=steps, default_batch_size=32,
    )


# ------------------------------------------------------------------------------------------ budget and plan


def test_budget_forms() -> None:
    assert parse_budget("x40").trial_steps(100) == 4000
    assert parse_budget("12 runs").trial_steps(50) == 600
    assert parse_budget(20000).trial_steps(999) == 20000
    assert parse_budget("5000 steps").trial_steps(1) == 5000
    assert parse_budget("90s").value == 90 and parse_budget("2min").value == 120
    assert parse_budget("90s").trial_steps(100) is None
    for bad in ("lots", "-3", 0, "x0"):
        with pytest.raises(UserError):
            parse_budget(bad)


def test_plan_fits_the_budget_and_uses_more_when_given_more() -> None:
    small = plan_tournament(9, 300, 3, 33 * 300)
    large = plan_tournament(9, 300, 3, 200 * 300)
    assert small.cost() <= 33 * 300 and large.cost() <= 200 * 300
    assert (large.scan_seeds, large.refine_seeds) == (2, 2) and (small.scan_seeds, small.refine_seeds) == (1, 1)
    # the default budget fits the full shape: every candidate at 7 decades, 3 rates each refined, 4 finalists
    assert (small.scan_lrs, small.refine_lrs, small.finalists) == (7, 3, 4)
    assert plan_tournament(9, 300, 3, 33 * 300, scan_seeds=1).scan_seeds == 1
    with pytest.raises(UserError, match="too small to decide anything"):
        plan_tournament(9, 300, 3, 3 * 300)


def test_paired_test_verdicts() -> None:
    same = np.array([0.8, 0.82, 0.79, 0.81, 0.8])
    tie = paired_test("a", "b", same, same.copy(), "max")
    assert tie.p == 1.0 and not tie.distinguishable
    apart = paired_test("a", "b", same, same - np.array([0.05, 0.06, 0.05, 0.07, 0.06]), "max")
    assert apart.distinguishable and apart.diff > 0 and apart.test == "paired t-test"
    constant = paired_test("a", "b", same, same - 0.01, "max")  # no spread: the t statistic is undefined
    assert constant.test.startswith("exact sign test") and constant.p == pytest.approx(2 / 32)
    diverged = paired_test("a", "b", same, np.array([np.nan] * 5), "max")
    assert diverged.test.startswith("exact sign test") and diverged.p == pytest.approx(2 / 32)


# ------------------------------------------------------------------------------------------ the tournament


@pytest.fixture(scope="module")
def adam_vs_sgd() -> object:
    # SGD here is the classic batch of one: in 60 steps it sees 60 examples, Adam sees 1920.
    return advise(blobs(), budget="x40", candidates=["adam", "sgd", "adagrad"], seeds=4)


def test_advisor_picks_the_clearly_best_and_builds_it(adam_vs_sgd: object) -> None:
    result = adam_vs_sgd
    assert result.winner is not None
    assert result.winner.candidate.name in ("adam", "adagrad")
    assert result.final_order[-1][0] == "sgd" or "sgd" not in [n for n, _ in result.final_order]
    text = result.summary()
    assert text.startswith(f"{result.winner.candidate.name} at lr")
    assert result.trial_steps() <= 40 * 60
    model = nn.Linear(16, 5)
    built = result.make_optimizer(model.parameters())
    expected = optim.Adam if result.winner.optimizer == "adam" else optim.Adagrad
    assert type(built) is expected
    assert built.param_groups[0]["lr"] == pytest.approx(result.winner.lr)
    ranking = result.ranking
    assert ranking.iloc[0]["candidate"] == result.winner.candidate.name and ranking.iloc[0]["stage"] == "final"
    assert len(ranking) == len(set(zip(result.bracket["candidate"], result.bracket["lr"], strict=True)))


def test_scan_covers_every_decade_and_every_candidate_is_refined(adam_vs_sgd: object) -> None:
    bracket = adam_vs_sgd.bracket
    scan, refine = bracket[bracket["rung"] == 0], bracket[bracket["rung"] == 1]
    for name in ("adam", "sgd", "adagrad"):
        lrs = sorted(scan[scan["candidate"] == name]["lr"])
        assert [1e-5, 1e-4, 1e-3, 0.01, 0.1, 1.0, 10.0] == [x for x in lrs if 1e-5 <= x <= 10]
        # the refinement tries the best scan rate and half a decade either side, for every candidate
        best = scan[(scan["candidate"] == name) & scan["promoted"]]["lr"].iloc[0]
        tried = sorted(refine[refine["candidate"] == name]["lr"])
        assert tried == pytest.approx([best / 10**0.5, best, best * 10**0.5], rel=0.01)
    assert refine["promoted"].sum() == 3  # the finalists


def test_batch_of_one_loses_to_adam_and_says_why() -> None:
    result = advise(blobs(), budget="x40", candidates=["sgd", "adam"], seeds=3)
    assert result.winner is not None and result.winner.optimizer == "adam"
    scan = result.bracket[result.bracket["rung"] == 0]
    best = scan.groupby("candidate")["score"].max()
    assert best["adam"] > best["sgd"] + 0.1  # Adam's best learning rate is far ahead after the scan
    losers = result.losers()
    assert list(losers["candidate"]) == ["sgd"] and losers["stage"].iloc[0] == "final"
    assert losers["reason"].iloc[0] == "worse" and "sgd at lr" in result.summary()


def test_the_worst_starter_is_still_refined(adam_vs_sgd: object) -> None:
    """No candidate is dropped on the short scan: SGD with a batch of one, far behind everywhere after S/9 steps,
    still gets its three refinement runs at S/2 (a slow starter keeps its chance to catch up)."""
    bracket = adam_vs_sgd.bracket
    scan = bracket[bracket["rung"] == 0]
    best = scan.groupby("candidate")["score"].max()
    assert best.idxmin() == "sgd" and best["sgd"] < best.drop("sgd").min()
    refine = bracket[bracket["rung"] == 1]
    assert (refine["candidate"] == "sgd").sum() == 3


def test_identical_candidates_are_called_indistinguishable() -> None:
    result = advise(blobs(steps=40), budget="x40", candidates=["adam", Candidate("adam", label="adam-copy")], seeds=3)
    assert len(result.tests) == 1
    test = result.tests[0]
    assert test.p == 1.0 and not test.distinguishable
    text = result.summary()
    assert "as good within noise" in text
    assert "Indistinguishable from the pick within noise: adam" in text
    # tied and equally expensive: the best mean stays, and the summary says why
    assert result.choice["pick"] == result.choice["lead"] and "so it stays" in text


def test_a_tie_goes_to_the_cheaper_optimizer_and_is_said() -> None:
    from optimlab.advise._ranking import TIE_TOLERANCE, _tie_break, state_tensors
    from optimlab.advise._result import AdviceResult

    assert [state_tensors(Candidate(n)) for n in ("sgd", "momentum", "adam")] == [0, 1, 2]
    result = AdviceResult(problem="p", description="", metric="accuracy", goal="max", candidates=[],
                          budget=parse_budget("x33"), plan=None, run_steps=100, batch_sizes={})
    configs = [(Candidate("adam"), 0.01), (Candidate("momentum"), 0.1), (Candidate("adamw"), 0.01)]
    adam = np.array([0.900, 0.910, 0.905, 0.895])
    close = adam - np.array([0.004, -0.002, 0.003, 0.001])  # tied: p >= 0.05 and within TIE_TOLERANCE
    far = adam - 0.05 + np.array([0.001, -0.001, 0.002, 0.0])
    assert abs(adam.mean() - close.mean()) / adam.mean() <= TIE_TOLERANCE
    pick = _tie_break(result, configs, ["adam", "momentum", "adamw"], [adam, close, far], [0, 1, 2])
    assert pick == 1 and result.choice["lead"] == "adam" and result.choice["pick"] == "momentum"
    assert (result.choice["lead_cost"], result.choice["pick_cost"]) == (2, 1)
    # a clear winner is kept, and nothing is said about ties
    assert _tie_break(result, configs, ["adam", "momentum", "adamw"], [adam, far, far], [0, 1, 2]) == 0
    assert result.choice == {}


def test_evidence_report_is_self_contained(adam_vs_sgd: object, tmp_path: Path) -> None:
    files = adam_vs_sgd.save(tmp_path / "advice")
    for key in ("html", "lr_curves", "bracket", "final_curves", "summary", "ranking"):
        assert files[key].is_file() and files[key].stat().st_size > 0
    page = files["html"].read_text()
    assert page.count("data:image/png;base64,") == 3
    assert "Why each other candidate lost" in page and "Confidence:" in page
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert adam_vs_sgd.winner.candidate.name in page


# ------------------------------------------------------------------------------------------ bad input


def test_user_function_that_raises_or_returns_the_wrong_thing(problem_file: Path) -> None:
    with pytest.raises(UserError, match="raised RuntimeError: the data folder is missing"):
        advise(f"{problem_file}:explodes")
    with pytest.raises(UserError, match="returned int, not an optimlab Problem"):
        advise(f"{problem_file}:not_a_problem")


def test_nan_loss_from_the_start_keeps_what_was_measured(tmp_path: Path) -> None:
    with pytest.raises(AdviceError, match=r"not finite .* at the very first step for every candidate") as info:
        advise(blobs(nan=True), budget="x40", candidates=["adam", "momentum"], out_dir=tmp_path / "out")
    partial = info.value.partial
    assert partial.winner is None and partial.compute[0]["phase"] == "scan"
    assert (tmp_path / "out" / "summary.txt").read_text().startswith("No recommendation for blobs")
    assert (tmp_path / "out" / "index.html").is_file()


def test_problem_failing_mid_tournament_keeps_the_scan(tmp_path: Path) -> None:
    problem = blobs()
    calls = [0]
    losses = problem.losses

    def flaky(params: dict[str, torch.Tensor], inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        calls[0] += 1
        if calls[0] > 12:  # after the check, the memory probe and the 7-step scan (9 calls)
            raise RuntimeError("the data loader lost its file")
        return losses(params, inputs, targets)

    problem.losses = flaky  # type: ignore[method-assign]
    with pytest.raises(AdviceError, match="failed during the refine: RuntimeError: the data loader lost") as info:
        advise(problem, budget="x40", candidates=["adam", "rmsprop"], out_dir=tmp_path / "out")
    partial = info.value.partial
    assert set(partial.bracket["candidate"]) == {"adam", "rmsprop"} and partial.winner is None
    assert [part["phase"] for part in partial.compute] == ["scan"]
    assert (tmp_path / "out" / "lr_curves.png").is_file()
    assert "stopped early" in (tmp_path / "out" / "index.html").read_text()


def test_budget_too_small() -> None:
    with pytest.raises(UserError, match="too small to decide anything"):
        advise(blobs(), budget=500, candidates=["adam", "sgd"])


def test_bad_candidates_and_metric() -> None:
    with pytest.raises(UserError, match="Unknown optimizer"):
        advise(blobs(), candidates=["adamm"])
    with pytest.raises(UserError, match="appears twice"):
        advise(blobs(), candidates=["adam", "adam"])
    with pytest.raises(UserError, match="no metric 'bleu'"):
        advise(blobs(), metric="bleu")
    with pytest.raises(UserError, match="fixes lr"):
        Candidate("adam", {"lr": 0.1})


# ------------------------------------------------------------------------------------------ CLI


def test_cli_advise_writes_the_evidence(problem_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "advice"
    code = main(["advise", f"{problem_file}:blobs", "--candidates", "adam,rmsprop", "--seeds", "3",
                 "--option", "steps=40", "--out", str(out), "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert " at lr " in printed and str(out / "index.html") in printed
    assert (out / "index.html").is_file() and (out / "final_curves.png").is_file()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["missing_file.py:f"], "does not exist"),
        (["{file}:explodes"], "raised RuntimeError"),
        (["{file}:blobs", "--budget", "300"], "too small to decide anything"),
        (["{file}:blobs", "--budget", "forever"], "Invalid budget"),
        (["{file}:blobs", "--option", "nan=True", "--candidates", "adam"], "what was measured is in"),
    ],
)
def test_cli_bad_input_is_one_sentence_and_exit_2(problem_file: Path, tmp_path: Path, args: list[str], fragment: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["advise", *(a.format(file=problem_file) for a in args), "--out", str(tmp_path / "o"), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("optimlab: error: ") and fragment in err
    assert "\n" not in err and "Traceback" not in err


def _scan_table(losses: dict[str, list[float]]) -> object:
    import pandas as pd

    lrs = [1e-5, 1e-4, 1e-3, 0.01, 0.1, 1.0, 10.0]
    return pd.DataFrame([{"candidate": c, "lr": lr, "valid_loss": v} for c, vs in losses.items()
                         for lr, v in zip(lrs, vs, strict=True)])


def test_a_flat_scan_is_refined_at_its_largest_stable_rate_and_a_late_starter_is_kept() -> None:
    import pandas as pd

    from optimlab.advise import _plateau

    scan = _scan_table({
        "gd": [1.386, 1.386, 1.386, 1.385, 1.388, 1.390, 24.0],  # on the plateau at every rate; 10 blows up
        "adam": [1.386, 1.385, 1.38, 0.96, 1.5, 2.1, 39.0],  # learns at 0.01
    })
    assert _plateau.flat_scan(scan, "gd") and not _plateau.flat_scan(scan, "adam")
    assert _plateau.largest_stable_lr(scan, "gd") == 1.0
    refined = pd.DataFrame([
        {"candidate": "adam", "lr": 0.01, "valid_loss": 0.75, "rank": 1},
        {"candidate": "adam", "lr": 0.00316, "valid_loss": 0.76, "rank": 2},
        {"candidate": "gd", "lr": 1.0, "valid_loss": 0.90, "rank": 3},
        {"candidate": "gd", "lr": 0.316, "valid_loss": 1.38, "rank": 4},
    ])
    assert _plateau.late_starter(scan, refined, ["gd"]) == "gd"
    still_flat = refined.assign(valid_loss=[0.75, 0.76, 1.38, 1.385])  # gd never left the plateau: no place kept
    assert _plateau.late_starter(scan, still_flat, ["gd"]) is None
    far_behind = refined.assign(valid_loss=[0.75, 0.76, 1.2, 1.3])  # learning, but under half the leader's fall
    assert _plateau.late_starter(scan, far_behind, ["gd"]) is None
    adam, gd = Candidate("adam"), Candidate("gd")
    ordered = [(adam, 0.01), (adam, 0.00316), (gd, 1.0), (gd, 0.316)]
    assert _plateau.keep_late_starter(ordered[:2], ordered, "gd") == [(adam, 0.01), (gd, 1.0)]
    assert _plateau.keep_late_starter(ordered[:3], ordered, "gd") == ordered[:3]  # already a finalist
    assert _plateau.keep_late_starter(ordered[:2], ordered, None) == ordered[:2]


@pytest.mark.slow
def test_a_plateau_start_winner_reaches_the_final() -> None:
    """deep-narrow-tanh (a suite problem; the failure this rule was made for): full-batch GD is flat on the whole
    scan, is refined at its largest stable rate 1 and kept for the final as a late starter, where it wins."""
    from optimlab.problems.suite import build

    problem, steps = build("deep-narrow-tanh")
    result = advise(problem, steps=steps)
    bracket = result.bracket
    refine = bracket[(bracket["rung"] == 1) & (bracket["candidate"] == "gd")]
    assert sorted(refine["lr"]) == [0.316, 1.0, 3.16]
    assert result.late_starter == "gd" and ("gd", 1.0) in result.final_order
    assert result.winner is not None and result.winner.candidate.name == "gd"
    assert "gd was on a plateau through the whole scan" in result.summary()
    losers = result.losers()
    behind = losers[losers["reason"] == "behind"]
    # the cut is the last place won on the score, not gd's kept place (gd may tie it on some CPUs, or trail it)
    last = bracket[bracket["rung"] == bracket["rung"].max()]
    won = last[last["promoted"] & (last["candidate"] != "gd")]["score"]
    assert len(behind) and len(won) and (behind["cut"] == won.min()).all()
    assert (behind["score"] <= behind["cut"]).all()
