"""The newer claims: every verdict each rule can give on synthetic numbers, the Adam identities as exact tests, and
the measurements behind them (gradient noise, step costs, two basins)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from optimlab.problems.catalog import get_problem
from optimlab.study import claims as C


def run(losses: dict[str, dict[float, float]], init: float = 2.0, name: str = "p", sd: float = 0.01) -> C.GridRun:
    grid = tuple(sorted({lr for per in losses.values() for lr in per}))
    flat = {(o, lr): v for o, per in losses.items() for lr, v in per.items()}
    return C.GridRun(name, tuple(losses), grid, flat, init, 0.0, 100, {k: sd for k in flat}, 2, 1000, 200)


def claim(verdict: str, name: str = "c") -> C.Claim:
    return C.Claim(name, verdict, f"{verdict} here.", {"numbers": {"x": 1}, "figure": {"title": "t", "series": {}}},
                   ko={"summary": f"{C.VERDICT_KO[verdict]}.", "setup": "설정"})


def test_verdict_of_counts_cases() -> None:
    assert C.verdict_of(3, 3) == "supported"
    assert C.verdict_of(1, 3) == "depends"
    assert C.verdict_of(0, 3) == "not supported"
    assert C.verdict_of(0, 0) == "not supported"


def test_across_budgets_keeps_a_shared_verdict_and_says_where_it_flips() -> None:
    same = C.across_budgets("c", "주장", [("150 steps", "150 스텝", claim("supported")),
                                         ("600 steps", "600 스텝", claim("supported"))])
    assert same.verdict == "supported" and "same verdict at every budget" in same.summary
    flips = C.across_budgets("c", "주장", [("150 steps", "150 스텝", claim("not supported")),
                                          ("600 steps", "600 스텝", claim("supported"))])
    assert flips.verdict == "depends"
    assert "changes with the budget (150 steps: not supported; 600 steps: supported)" in flips.summary
    assert "바뀝니다" in flips.ko["summary"] and flips.ko["name"] == "주장"
    assert [b["verdict"] for b in flips.evidence["budgets"]] == ["not supported", "supported"]
    assert set(flips.evidence["numbers"]) == {"[150 steps] x", "[600 steps] x"}
    assert flips.evidence["figure"]["title"] == "t (600 steps)"


def test_adaptive_alike_verdicts() -> None:
    def problem(adadelta: float, name: str) -> C.GridRun:  # best improvement 1.0 (init 2, best 1)
        return run({"adadelta": {0.1: adadelta}, "rmsprop": {0.1: 1.0}, "adam": {0.1: 1.05}}, name=name)

    alike = {"a": problem(1.02, "a"), "b": problem(1.08, "b")}
    assert C.claim_adaptive_alike(alike).verdict == "supported"
    some = {"a": problem(1.02, "a"), "b": problem(1.5, "b")}
    c = C.claim_adaptive_alike(some)
    assert c.verdict == "depends" and "not on b" in c.summary and "± 0.01" in str(c.evidence["numbers"])
    assert C.claim_adaptive_alike({"a": problem(1.5, "a")}).verdict == "not supported"
    assert c.evidence["thresholds"]["about the same"].startswith("(max − min tuned loss) ≤ 0.1")
    # the same problem at two training-set sizes: apart with little data, alike with much
    sized = C.claim_adaptive_alike(alike, by_size={100: problem(1.6, "m"), 2000: problem(1.03, "m")})
    assert sized.verdict == "supported" and "m (2000 examples)" in sized.summary
    assert sized.evidence["numbers"]["spread narrows with more data"] == "yes" and "narrowed" in sized.summary
    assert "줄었습니다" in sized.ko["summary"]
    wider = C.claim_adaptive_alike(alike, by_size={100: problem(1.03, "m"), 2000: problem(1.6, "m")})
    assert wider.verdict == "depends" and wider.evidence["numbers"]["spread narrows with more data"] == "no"


def test_adam_vs_rmsprop_sparse_verdicts() -> None:
    density = {0.0: 0.5, 2.0: 0.01}

    def levels(dense_gap: float, sparse_gap: float) -> dict[float, C.GridRun]:
        return {0.0: run({"rmsprop": {0.1: 1.0}, "adam": {0.1: 1.0 - dense_gap}}),
                2.0: run({"rmsprop": {0.1: 1.0}, "adam": {0.1: 1.0 - sparse_gap}})}

    assert C.claim_adam_vs_rmsprop_sparse(levels(0.0, 0.1), density).verdict == "supported"
    assert C.claim_adam_vs_rmsprop_sparse(levels(0.2, 0.1), density).verdict == "depends"  # leads, lead shrinks
    assert C.claim_adam_vs_rmsprop_sparse(levels(-0.1, 0.005), density).verdict == "depends"  # grows, below bar
    assert C.claim_adam_vs_rmsprop_sparse(levels(0.1, -0.05), density).verdict == "not supported"


def test_adam_is_rmsprop_plus_momentum_plus_bias_correction_exactly() -> None:
    diffs = C.adam_decomposition(200)
    assert diffs["second moment"] == 0.0  # the very same arithmetic: bit for bit
    assert diffs["first moment"] < 1e-14 and diffs["bias-corrected step"] < 1e-13
    assert diffs["beta1=0 vs RMSProp"] < 1e-13
    assert diffs["without bias correction (step 1 size ratio)"] == pytest.approx(1 / math.sqrt(1 - 0.999))
    assert diffs["RMSProp momentum (last step)"] > 0.01  # torch's RMSProp momentum is a different method
    assert C.claim_adam_decomposition(diffs).verdict == "supported"
    broken = dict(diffs, **{"first moment": 0.3})
    assert C.claim_adam_decomposition(broken).verdict == "depends"
    none = dict(diffs, **{k: 1.0 for k in ("second moment", "first moment", "bias-corrected step",
                                          "beta1=0 vs RMSProp")})
    assert C.claim_adam_decomposition(none).verdict == "not supported"


def costs(adadelta_s: float = 1.1e-3, adadelta_bytes: float = 8.0, adam_bytes: float = 8.0) -> dict[str, object]:
    seconds = dict.fromkeys(C.rule_claims.CHEAP, 1e-3) | {"adadelta": adadelta_s, "minibatch": 1e-4}
    state = {"minibatch": 0.0, "momentum": 4.0, "adagrad": 4.0, "rmsprop": 4.0, "adadelta": adadelta_bytes,
             "adam": adam_bytes}
    return {"seconds": seconds, "state_bytes_per_param": state, "gradient": 4e-3, "hvp": 2e-2, "params": 500_000,
            "param_bytes": 4}


def test_adadelta_cost_verdicts() -> None:
    cheap = C.claim_adadelta_cost(costs())
    assert cheap.verdict == "not supported" and "misconception" in cheap.summary.lower()
    assert "오해" in cheap.ko["summary"]
    assert C.claim_adadelta_cost(costs(adadelta_s=2e-2)).verdict == "supported"  # step 24/5 = 4.8x Adam's
    assert C.claim_adadelta_cost(costs(adadelta_s=5e-3)).verdict == "depends"  # step 9/5 = 1.8x


def test_adam_memory_verdicts() -> None:
    assert C.claim_adam_memory(costs()).verdict == "depends"  # light next to P², heaviest first-order
    assert C.claim_adam_memory(costs(adam_bytes=4.0)).verdict == "supported"
    huge = costs(adam_bytes=1e6)
    assert C.claim_adam_memory(huge).verdict == "not supported"


def test_sgd_variance_verdicts() -> None:
    noisy = {"a": {1: 50.0, 32: 2.0}, "b": {1: 20.0, 64: 0.5}}
    assert C.claim_sgd_variance(noisy).verdict == "supported"
    assert C.claim_sgd_variance({**noisy, "c": {1: 0.5, 32: 0.1}}).verdict == "depends"
    assert C.claim_sgd_variance({"c": {1: 0.5, 32: 0.1}}).verdict == "not supported"


def test_momentum_escapes_verdicts() -> None:
    def fractions(same: float, equal: float) -> dict[str, list[bool]]:
        return {"gd": [False] * 10, "momentum, same lr": [i < 10 * same for i in range(10)],
                "momentum, equal step": [i < 10 * equal for i in range(10)]}

    assert C.claim_momentum_escapes(fractions(0.8, 0.5)).verdict == "supported"
    assert C.claim_momentum_escapes(fractions(0.8, 0.1)).verdict == "depends"
    assert C.claim_momentum_escapes(fractions(0.1, 0.0)).verdict == "not supported"


def test_adagrad_stalls_verdicts_on_synthetic_traces() -> None:
    steps = 200
    t = np.arange(1, steps + 1, dtype=float)
    steady = np.ones(steps)
    falling = 2.0 - t / steps

    def trace(adagrad_moves: np.ndarray, adagrad_loss: np.ndarray) -> dict[str, object]:
        return {"lrs": {"adagrad": 0.1, "rmsprop": 0.01, "adam": 0.01}, "problem": "p", "batch": 32,
                "moves": np.stack([adagrad_moves, steady, steady]),
                "losses": np.stack([adagrad_loss, falling, falling])}

    shrinking, flat = 1.0 / t, np.where(t < steps / 2, falling, falling[steps // 2])
    assert C.claim_adagrad_stalls(trace(shrinking, flat), steps).verdict == "supported"
    assert C.claim_adagrad_stalls(trace(shrinking, falling), steps).verdict == "depends"
    assert C.claim_adagrad_stalls(trace(steady, flat), steps).verdict == "depends"
    assert C.claim_adagrad_stalls(trace(steady, falling), steps).verdict == "not supported"


def test_gradient_noise_is_zero_for_the_full_batch_and_shrinks_with_the_batch() -> None:
    problem = get_problem("quadratic", dim=5, n_train=256, n_eval=32)
    noise = C.gradient_noise(problem, problem.init_params(0), (1, 16, 256))
    assert noise[256] == pytest.approx(0.0, abs=1e-9)
    assert noise[1] > 4 * noise[16] > 0


def test_step_costs_count_state_bytes_per_parameter() -> None:
    measured = C.step_costs(("minibatch", "momentum", "adam", "adadelta"), width=8, rounds=1, steps=2)
    state = measured["state_bytes_per_param"]
    assert state == {"minibatch": 0.0, "momentum": 4.0, "adam": 8.0, "adadelta": 8.0}
    assert measured["hvp"] > 0 and measured["gradient"] > 0 and measured["params"] > 0


def test_two_basins_runs_start_on_the_shallow_side() -> None:
    paths = C.basin_runs((0.03,), steps=5)
    assert set(paths) == {"gd", "momentum, same lr", "momentum, equal step"}
    assert all(v.shape == (len(C.BASIN_STARTS), 6) for v in paths.values())
    assert (paths["gd"][:, 0] > 0).all()


def test_zigzag_verdicts_on_synthetic_paths() -> None:
    from types import SimpleNamespace

    steps = 20
    t = np.arange(steps + 1)
    straight = np.stack([np.zeros(steps + 1), np.exp(-t / 5.0)], axis=-1)  # v falls to 0 without crossing
    swing = np.stack([np.zeros(steps + 1), np.exp(-t / 5.0) * (-1.0) ** t], axis=-1)  # crosses every step

    def runs(gd: np.ndarray, tuned: np.ndarray, same: np.ndarray) -> dict[str, object]:
        losses = np.zeros((2, steps + 1))
        return {"tuned": SimpleNamespace(paths=np.stack([gd, tuned]), losses=losses, lrs=[0.01, 0.001]),
                "same": SimpleNamespace(paths=same[None], losses=losses[:1])}

    assert C.claim_momentum_zigzag(runs(swing, straight, straight), steps).verdict == "supported"
    assert C.claim_momentum_zigzag(runs(swing, swing, straight), steps).verdict == "depends"
    assert C.claim_momentum_zigzag(runs(straight, swing, swing), steps).verdict == "not supported"


def test_batch_policy_verdicts_on_synthetic_runs() -> None:
    steps = 100
    rng = np.random.default_rng(0)
    smooth = 1.0 + np.exp(-np.arange(steps) / 30)
    eval_steps = list(range(10, steps + 1, 10))

    def curve(hit: int) -> np.ndarray:  # validation loss reaching 1.0 (the best) at eval step `hit`
        return np.array([1.0 if s >= hit else 2.0 - s / (2 * hit) for s in eval_steps])

    def measured(hits: dict[str, int], noise: dict[str, float], mem: dict[str, int]) -> dict[str, object]:
        runs = {p: {"eval_steps": eval_steps, "valid": curve(hits[p]),
                    "train": smooth + noise[p] * rng.standard_normal(steps), "bytes": mem[p], "batch": 1,
                    "diverged": None} for p in ("gd", "sgd", "minibatch")}
        return {"lrs": dict.fromkeys(runs, 0.1), "per_step": dict.fromkeys(runs, 1e-3), "init_loss": 2.0,
                "grid": (0.1,), "problem": "p", "n_train": 100, "n_valid": 50, "runs": runs}

    classic = measured({"gd": 100, "sgd": 50, "minibatch": 20}, {"gd": 0.0, "sgd": 0.2, "minibatch": 0.01},
                       {"gd": 10_000, "sgd": 500, "minibatch": 1_000})
    assert C.claim_batch_policies(classic, steps).verdict == "supported"
    mixed = measured({"gd": 100, "sgd": 50, "minibatch": 20}, {"gd": 0.0, "sgd": 0.01, "minibatch": 0.01},
                     {"gd": 1_000, "sgd": 500, "minibatch": 1_000})
    claim = C.claim_batch_policies(mixed, steps)
    assert claim.verdict == "depends" and "did not hold: GD memory-hungry, SGD noisy" in claim.summary
    reversed_ = measured({"gd": 20, "sgd": 50, "minibatch": 100}, {"gd": 0.0, "sgd": 0.01, "minibatch": 0.01},
                         {"gd": 1_000, "sgd": 500, "minibatch": 1_000})
    assert C.claim_batch_policies(reversed_, steps).verdict == "not supported"
