"""The claims about how training moves: AdaGrad's shrinking steps, momentum on a ravine, GD/SGD/mini-batch."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ...engine import Config, Selection, best_per, run_sweep
from ...engine.executor import Executor
from ...problems.base import Problem
from ._common import Claim, GridRun, _num, _smooth
from .experiments import init_loss, noise_level, policy_run, step_seconds, update_sizes, zigzag

ADAGRAD_SET = ("adagrad", "rmsprop", "adam")


def adagrad_trace(problem: Problem, run: GridRun, steps: int, seed: int = 0) -> dict[str, Any]:
    """AdaGrad, RMSProp and Adam at their tuned lrs: per step, batch loss and update size (one population)."""
    lrs = {o: run.tuned(o)[0] for o in ADAGRAD_SET}
    losses, moves = update_sizes(problem, [Config(o, {"lr": lrs[o]}) for o in ADAGRAD_SET], seed, steps)
    return {"lrs": lrs, "losses": losses, "moves": moves, "problem": problem.name,
            "batch": problem.default_batch_size}


def claim_adagrad_stalls(trace: dict[str, Any], steps: int, shrink_ratio: float = 0.5,
                         stall_ratio: float = 0.5) -> Claim:
    """"AdaGrad's steps shrink until learning stops": update size over time and late progress vs RMSProp/Adam,
    read over the first ``steps`` steps of :func:`adagrad_trace`."""
    names = ADAGRAD_SET
    lrs = trace["lrs"]
    losses, moves = trace["losses"][:, :steps], trace["moves"][:, :steps]
    w = max(steps // 10, 1)
    early = slice(w, 2 * w)  # skip the first tenth: adaptive statistics are still warming up
    shrink, late_gain = {}, {}
    for i, o in enumerate(names):
        shrink[o] = float(np.nanmean(moves[i, -w:]) / np.nanmean(moves[i, early]))
        half = max(w // 2, 1)
        mid = float(np.nanmean(losses[i, steps // 2 - half : steps // 2 + half]))
        end = float(np.nanmean(losses[i, -w:]))
        late_gain[o] = (mid - end) / abs(mid) if mid else math.nan
    others_shrink = float(np.median([shrink[o] for o in names[1:]]))
    others_gain = float(np.median([late_gain[o] for o in names[1:]]))
    steps_shrink = shrink["adagrad"] < shrink_ratio * others_shrink
    stops = late_gain["adagrad"] < stall_ratio * others_gain
    final = {o: float(np.nanmean(losses[i, -w:])) for i, o in enumerate(names)}
    numbers: dict[str, Any] = {f"{o}: lr": lrs[o] for o in names}
    numbers |= {f"{o}: step size last/early": _num(shrink[o]) for o in names}
    numbers |= {f"{o}: loss drop in 2nd half": f"{late_gain[o]:.1%}" for o in names}
    numbers |= {f"{o}: final batch loss": _num(final[o], 4) for o in names}
    numbers_ko: dict[str, Any] = {f"{o}: 학습률": lrs[o] for o in names}
    numbers_ko |= {f"{o}: 스텝 크기 후반/초반": _num(shrink[o]) for o in names}
    numbers_ko |= {f"{o}: 후반부 손실 감소": f"{late_gain[o]:.1%}" for o in names}
    numbers_ko |= {f"{o}: 마지막 배치 손실": _num(final[o], 4) for o in names}
    if steps_shrink and stops:
        verdict = "supported"
        summary = (f"AdaGrad's updates shrank to {shrink['adagrad']:.2f}× their early size (RMSProp/Adam: "
                   f"{others_shrink:.2f}×) and it gained only {late_gain['adagrad']:.1%} in the second half "
                   f"against {others_gain:.1%}.")
        ko = (f"AdaGrad의 업데이트는 초반 크기의 {shrink['adagrad']:.2f}배로 줄었고(RMSProp/Adam: "
              f"{others_shrink:.2f}배), "
              f"후반부에 손실을 {late_gain['adagrad']:.1%}만 줄였습니다(다른 방법: {others_gain:.1%}).")
    elif steps_shrink:
        verdict = "depends"
        summary = (f"AdaGrad's updates did shrink ({shrink['adagrad']:.2f}× vs {others_shrink:.2f}×), but it kept "
                   f"learning ({late_gain['adagrad']:.1%} loss drop in the second half vs {others_gain:.1%}): at this "
                   "budget and lr the slowdown had not yet stopped learning; it depends on how long you train.")
        ko = (f"AdaGrad의 업데이트는 줄었지만({shrink['adagrad']:.2f}배, 다른 방법 {others_shrink:.2f}배) 학습은 "
              f"계속됐습니다"
              f"(후반부 손실 감소 {late_gain['adagrad']:.1%}, 다른 방법 {others_gain:.1%}). 이 예산과 학습률에서는 "
              f"아직 "
              "멈추지 않았으니, 얼마나 오래 학습하느냐에 달렸습니다.")
    elif stops:
        verdict = "depends"
        summary = (f"AdaGrad's late progress was slower ({late_gain['adagrad']:.1%} loss drop in the second half vs "
                   f"{others_gain:.1%}), but its updates did not shrink far more than RMSProp's/Adam's "
                   f"({shrink['adagrad']:.2f}× their early size vs {others_shrink:.2f}×, not below {shrink_ratio}× "
                   "theirs; every method's steps shrink as gradients do): the slowdown is there, the shrinking-step "
                   "mechanism is not what sets it apart at this budget.")
        ko = (f"AdaGrad의 후반 진행은 더 느렸지만(후반부 손실 감소 {late_gain['adagrad']:.1%}, 다른 방법 "
              f"{others_gain:.1%}), 업데이트가 RMSProp/Adam보다 훨씬 더 줄지는 않았습니다(초반 대비 "
              f"{shrink['adagrad']:.2f}배 대 {others_shrink:.2f}배로, 기준인 {shrink_ratio}배 아래가 아님). "
              "느려지긴 했지만, 이 예산에서 차이를 만든 것은 스텝이 줄어드는 메커니즘이 아닙니다.")
    else:
        verdict = "not supported"
        summary = (f"AdaGrad's updates did not shrink far more than RMSProp's/Adam's ({shrink['adagrad']:.2f}× their "
                   f"early size vs {others_shrink:.2f}×, not below {shrink_ratio}× theirs) and it kept learning "
                   f"({late_gain['adagrad']:.1%} loss drop in the second half vs {others_gain:.1%}): slower than "
                   "they were, but not stopped at this budget.")
        ko = (f"AdaGrad의 업데이트는 RMSProp/Adam보다 훨씬 더 줄지 않았고(초반 대비 {shrink['adagrad']:.2f}배 대 "
              f"{others_shrink:.2f}배로, 기준인 {shrink_ratio}배 아래가 아님) 학습도 계속됐습니다(후반부 손실 감소 "
              f"{late_gain['adagrad']:.1%}, 다른 방법 {others_gain:.1%}). 이 예산에서는 느려졌을 뿐 멈추지 "
              "않았습니다.")
    x = list(range(1, steps + 1, max(1, steps // 150)))
    series = {o: {"x": x, "y": [float(v) for v in _smooth(moves[i] / np.nanmean(moves[i, early]))[np.array(x) - 1]]}
              for i, o in enumerate(names)}
    return Claim("AdaGrad's steps shrink until learning stops", verdict, summary, {
        "setup": f"{trace['problem']}, each optimizer at its tuned lr, {steps} steps, mini-batches of "
                 f"{trace['batch']}; step size = ‖θ(t+1) − θ(t)‖ (all parameters).",
        "numbers": numbers,
        "thresholds": {"steps shrink": f"AdaGrad's last/early step-size ratio < {shrink_ratio} × the others' median",
                       "learning stops": f"AdaGrad's 2nd-half loss drop < {stall_ratio} × the others' median",
                       "supported": "both", "depends": "one of the two", "not supported": "neither"},
        "figure": {"kind": "lines", "title": "update size / early update size", "xlabel": "step",
                   "ylabel": "relative step size", "logy": True, "series": series},
    }, ko={"summary": ko, "numbers": numbers_ko,
           "thresholds": {"스텝이 줄어듦": f"AdaGrad의 후반/초반 스텝 크기 비율 < 다른 방법 중앙값의 {shrink_ratio}배",
                         "학습이 멈춤": f"AdaGrad의 후반부 손실 감소 < 다른 방법 중앙값의 {stall_ratio}배",
                         "지지됨": "둘 다", "조건부": "둘 중 하나", "지지되지 않음": "둘 다 아님"},
           "figure": {"title": "업데이트 크기 / 초반 업데이트 크기", "xlabel": "스텝", "ylabel": "상대 스텝 크기"},
           "setup": f"{trace['problem']}, 각 옵티마이저를 튜닝한 학습률로 {steps} 스텝, 미니배치 "
                     f"{trace['batch']}. 스텝 크기 = ‖θ(t+1) − θ(t)‖(모든 파라미터)."})


def ravine_runs(steps: int = 150) -> dict[str, Any]:
    """GD and momentum on the ravine, each tuned by optimlab.compare, and momentum at lr_GD × (1 − β)."""
    from ...compare import compare

    tuned = compare(["gd", "momentum"], "ravine", steps=steps, tune=True, progress=False)
    same = compare(["momentum"], "ravine", steps=steps, lr=tuned.lrs[0] * (1 - 0.9), progress=False)
    return {"tuned": tuned, "same": same}


BASIN_STARTS = tuple((x, y) for x in (1.4, 1.9) for y in (-1.6, -0.8, 0.8, 1.6))
"""Start points on the shallow well's side of the two-basins surface."""


def basin_runs(lrs: Sequence[float], steps: int, beta: float = 0.9) -> dict[str, np.ndarray]:
    """x coordinate over time (``[runs, steps + 1]``, runs = lrs × :data:`BASIN_STARTS`) on the two-basins surface for
    GD, momentum at GD's lr and momentum at ``lr × (1 − β)`` (the same long-run step as GD); NaN once diverged."""
    from ...compare import compare

    out: dict[str, list[np.ndarray]] = {"gd": [], "momentum, same lr": [], "momentum, equal step": []}
    for lr in lrs:
        for label, name, rate in (("gd", "gd", lr), ("momentum, same lr", "momentum", lr),
                                  ("momentum, equal step", "momentum", lr * (1 - beta))):
            result = compare([name], "two-basins", steps=steps, lr=rate, starts=list(BASIN_STARTS), progress=False)
            out[label].append(result.paths[..., 0])
    return {k: np.concatenate(v) for k, v in out.items()}


def claim_momentum_zigzag(runs: dict[str, Any] | None = None, steps: int = 150, damp_ratio: float = 0.5) -> Claim:
    """"Momentum damps the zig-zag": oscillation across the ravine, GD vs momentum, tuned and at equal step size,
    over the first ``steps`` steps of :func:`ravine_runs` (run here when not given)."""
    runs = runs or ravine_runs(steps)
    tuned, same = runs["tuned"], runs["same"]
    lr_gd, lr_mom = tuned.lrs
    beta = 0.9
    z = zigzag(tuned.paths[:, : steps + 1])
    z_same = float(zigzag(same.paths[:, : steps + 1])[0])
    loss_end = {"gd": float(tuned.losses[0, steps]), "momentum (tuned)": float(tuned.losses[1, steps]),
                "momentum (equal step)": float(same.losses[0, steps])}
    tuned_damps = bool(z[1] < damp_ratio * z[0])
    same_damps = bool(z_same < damp_ratio * z[0])
    numbers = {"GD tuned lr": lr_gd, "momentum tuned lr": lr_mom, "momentum equal-step lr": _num(lr_gd * (1 - beta)),
               "GD cross-valley travel": _num(z[0]), "momentum (tuned) travel": _num(z[1]),
               "momentum (equal step) travel": _num(z_same)}
    numbers |= {f"final loss, {k}": _num(v) for k, v in loss_end.items()}
    numbers_ko = {"GD 튜닝 학습률": lr_gd, "모멘텀 튜닝 학습률": lr_mom,
                  "모멘텀 같은 유효 스텝 학습률": _num(lr_gd * (1 - beta)),
                  "GD 골짜기 가로 이동": _num(z[0]), "모멘텀(튜닝) 가로 이동": _num(z[1]),
                  "모멘텀(같은 유효 스텝) 가로 이동": _num(z_same)}
    runs_ko = {"gd": "gd", "momentum (tuned)": "momentum(튜닝)", "momentum (equal step)": "momentum(같은 유효 스텝)"}
    numbers_ko |= {f"최종 손실, {runs_ko.get(k, k)}": _num(v) for k, v in loss_end.items()}
    if tuned_damps and same_damps:
        verdict = "supported"
        summary = (f"Momentum crossed the valley far less: {z[1]:.1f} (tuned) and {z_same:.1f} (same effective step) "
                   f"against GD's {z[0]:.1f} (units of the initial offset).")
        ko = (f"모멘텀은 골짜기를 훨씬 덜 가로질렀습니다. 튜닝 {z[1]:.1f}, 같은 유효 스텝 {z_same:.1f}, GD {z[0]:.1f}"
              "(처음 거리 단위).")
    elif tuned_damps or same_damps:
        verdict = "depends"
        which = "its own tuned lr" if tuned_damps else "the same effective step size as GD"
        summary = (f"Momentum damped the zig-zag only at {which} (travel {z[1]:.1f} tuned, {z_same:.1f} equal step, "
                   f"GD {z[0]:.1f}): it depends on how its learning rate is set.")
        which_ko = "자기 튜닝 학습률" if tuned_damps else "GD와 같은 유효 스텝"
        ko = (f"모멘텀이 지그재그를 줄인 것은 {which_ko}에서뿐이었습니다(가로지른 거리: 튜닝 {z[1]:.1f}, 같은 스텝 "
              f"{z_same:.1f}, GD {z[0]:.1f}). 학습률을 어떻게 정하느냐에 따라 다릅니다.")
    else:
        verdict = "not supported"
        summary = (f"With β = 0.9 momentum swung across the valley as much or more than GD (travel {z[1]:.1f} tuned, "
                   f"{z_same:.1f} equal step, GD {z[0]:.1f}); its gain is speed along the valley floor.")
        ko = (f"β = 0.9의 모멘텀은 GD만큼 또는 더 많이 골짜기를 가로질렀습니다(튜닝 {z[1]:.1f}, 같은 스텝 "
              f"{z_same:.1f}, "
              f"GD {z[0]:.1f}). 모멘텀의 이점은 골짜기 바닥을 따라가는 속도입니다.")
    v = (tuned.paths[:, : steps + 1, 0] - tuned.paths[:, : steps + 1, 1]) / math.sqrt(2.0)
    v_same = (same.paths[0, : steps + 1, 0] - same.paths[0, : steps + 1, 1]) / math.sqrt(2.0)
    x = list(range(steps + 1))
    series = {"gd": {"x": x, "y": v[0].tolist()}, "momentum": {"x": x, "y": v[1].tolist()},
              "momentum, equal step": {"x": x, "y": v_same.tolist(), "style": "--", "color": "#56B4E9"}}
    return Claim("momentum damps the zig-zag", verdict, summary, {
        "setup": f"ravine surface ½(u² + 100 v²) from (-2.5, -1.5), {steps} steps; lrs tuned by optimlab.compare's "
                 "shared rule; 'equal step' runs momentum at lr_GD × (1 − β), the same long-run step as GD.",
        "numbers": numbers,
        "thresholds": {"damps": f"momentum's cross-valley travel < {damp_ratio} × GD's",
                       "supported": "damps both tuned and at equal step", "depends": "in one of the two",
                       "not supported": "in neither"},
        "figure": {"kind": "lines", "title": "across-valley coordinate v over time", "xlabel": "step",
                   "ylabel": "v = (x − y)/√2", "series": series},
    }, ko={"summary": ko, "numbers": numbers_ko,
           "thresholds": {"진동을 줄임": f"모멘텀의 골짜기 가로 이동 < GD의 {damp_ratio}배",
                         "지지됨": "튜닝한 학습률과 같은 유효 스텝 모두에서 줄임", "조건부": "둘 중 하나에서",
                         "지지되지 않음": "둘 다 아님"},
           "figure": {"title": "시간에 따른 골짜기 가로 좌표 v", "xlabel": "스텝", "ylabel": "v = (x − y)/√2",
                      "labels": {"momentum, equal step": "momentum, 같은 유효 스텝"}},
           "setup": f"골짜기 곡면 ½(u² + 100 v²)에서 (-2.5, -1.5)부터 {steps} 스텝. 학습률은 "
                     f"optimlab.compare의 "
                     "공통 규칙으로 튜닝했고, '같은 스텝'은 모멘텀을 lr_GD × (1 − β)로 돌린 것입니다."})


def batch_policy_runs(problem: Problem, steps: int, grid: Sequence[float] = (0.01, 0.0316, 0.1, 0.316, 1.0),
                      executor: Executor | None = None) -> dict[str, Any]:
    """GD, SGD and mini-batch: each policy's lr tuned on ``grid`` over ``steps``, then run alone (curves), and its
    seconds per step measured in turns."""
    policies = ("gd", "sgd", "minibatch")
    eval_every = max(steps // 30, 1)
    configs = [Config(p, {"lr": lr}) for p in policies for lr in grid]
    tuning = run_sweep(problem, configs, [0], steps, executor=executor, eval_splits=("valid",))
    chosen = best_per(tuning.outcomes(), Selection("valid_loss"), group=lambda c: configs[c].optimizer)
    lrs = {p: float(grid[chosen[p].config % len(grid)]) for p in policies}
    runs = {p: policy_run(problem, p, lrs[p], steps, eval_every) for p in policies}
    per_step = step_seconds(problem, {p: Config(p, {"lr": lrs[p]}).trial(0) for p in policies})
    return {"lrs": lrs, "runs": runs, "per_step": per_step, "init_loss": init_loss(problem, [0]), "grid": tuple(grid),
            "problem": problem.name, "n_train": len(problem.data.train), "n_valid": len(problem.data.valid)}


def claim_batch_policies(measured: dict[str, Any], steps: int, slow_ratio: float = 1.5, memory_ratio: float = 2.0,
                         noise_ratio: float = 2.0, target_fraction: float = 0.8) -> Claim:
    """"Full-batch GD is slow and memory-hungry, SGD is noisy, mini-batch balances them", over the first ``steps``
    steps of :func:`batch_policy_runs`."""
    policies = ("gd", "sgd", "minibatch")
    lrs, per_step, l0, grid = measured["lrs"], measured["per_step"], measured["init_loss"], measured["grid"]
    runs = {}
    for p, r in measured["runs"].items():
        keep = [i for i, s in enumerate(r["eval_steps"]) if s <= steps]
        runs[p] = {**r, "eval_steps": [r["eval_steps"][i] for i in keep], "valid": r["valid"][keep],
                   "train": r["train"][:steps]}
    best = min(float(np.nanmin(r["valid"])) for r in runs.values())
    target = l0 - target_fraction * (l0 - best)
    ttt: dict[str, float] = {}
    for p, r in runs.items():
        hit = np.nonzero(r["valid"] <= target)[0]
        ttt[p] = r["eval_steps"][int(hit[0])] * per_step[p] if hit.size else math.inf
    noise = {p: noise_level(r["train"]) for p, r in runs.items()}
    mem = {p: r["bytes"] for p, r in runs.items()}
    parts = {
        "GD slow": ttt["gd"] > slow_ratio * ttt["minibatch"],
        "GD memory-hungry": mem["gd"] > memory_ratio * mem["minibatch"],
        "SGD noisy": noise["sgd"] > noise_ratio * noise["minibatch"],
        "mini-batch balances": math.isfinite(ttt["minibatch"]) and ttt["minibatch"] <= 1.1 * min(ttt["gd"], ttt["sgd"]),
    }
    numbers: dict[str, Any] = {}
    for p in policies:
        t = "not reached" if not math.isfinite(ttt[p]) else f"{ttt[p]:.3g} s"
        numbers[p] = (f"batch {runs[p]['batch']}, lr {lrs[p]:g}, {per_step[p] * 1e3:.2f} ms/step, "
                      f"time to target {t}, memory {mem[p] / 2**20:.2f} MiB, loss noise {noise[p]:.3f}")
    numbers["target validation loss"] = _num(target, 4)
    numbers |= {k: "yes" if v else "no" for k, v in parts.items()}
    numbers_ko: dict[str, Any] = {}
    for p in policies:
        t = "도달 못 함" if not math.isfinite(ttt[p]) else f"{ttt[p]:.3g}초"
        numbers_ko[p] = (f"배치 {runs[p]['batch']}, 학습률 {lrs[p]:g}, 스텝당 {per_step[p] * 1e3:.2f} ms, "
                         f"목표 도달 시간 {t}, 메모리 {mem[p] / 2**20:.2f} MiB, 손실 잡음 {noise[p]:.3f}")
    numbers_ko["목표 검증 손실"] = _num(target, 4)
    parts_ko = {"GD slow": "GD가 느림", "GD memory-hungry": "GD가 메모리를 많이 씀", "SGD noisy": "SGD가 잡음이 큼",
                "mini-batch balances": "미니배치가 균형을 맞춤"}
    numbers_ko |= {parts_ko[k]: "예" if v else "아니요" for k, v in parts.items()}
    held = [k for k, v in parts.items() if v]
    if len(held) == len(parts):
        verdict = "supported"
        summary = ("All four parts held: GD took longest to the target and used the most memory, SGD's loss was the "
                   "noisiest, and mini-batches reached the target first.")
        ko = ("네 부분이 모두 맞았습니다. GD가 목표까지 가장 오래 걸리고 메모리를 가장 많이 썼으며, SGD의 손실이 가장 "
              "들쭉날쭉했고, 미니배치가 목표에 가장 먼저 도달했습니다.")
    elif held:
        verdict = "depends"
        failed = [k for k, v in parts.items() if not v]
        summary = f"Held: {', '.join(held)}; did not hold: {', '.join(failed)} (on this problem and machine)."
        ko = (f"맞은 부분: {', '.join(PARTS_KO[k] for k in held)}. 맞지 않은 부분: "
              f"{', '.join(PARTS_KO[k] for k in failed)}(이 문제와 이 기계에서).")
    else:
        verdict = "not supported"
        summary = "None of the four parts held on this problem and machine."
        ko = "이 문제와 이 기계에서는 네 부분 중 어느 것도 맞지 않았습니다."
    series = {}
    for p, r in runs.items():
        x = [s * per_step[p] for s in r["eval_steps"]]
        series[p] = {"x": x, "y": [float(v) for v in r["valid"]], "style": "o-"}
    series["target"] = {"x": [0.0, max(max(s["x"]) for s in series.values())], "y": [target, target], "style": ":",
                        "color": "#777777"}
    return Claim("full-batch GD is slow and memory-hungry, SGD is noisy, mini-batch balances them", verdict, summary, {
        "setup": f"{measured['problem']} ({measured['n_train']} training examples; validation loss on all "
                 f"{measured['n_valid']} validation examples), each policy's lr tuned on "
                 f"{', '.join(f'{g:g}' for g in grid)}, then run alone {steps} steps; wall time = steps × time per "
                 "step measured here (one thread; the policies take turns, best of 5 rounds of 20 steps); "
                 "memory = the engine's bytes per trial (parameters, gradients, "
                 "state, activations kept for backward).",
        "numbers": numbers,
        "thresholds": {"target": f"{target_fraction:.0%} of the best improvement in validation loss",
                       "GD slow": f"GD's time to target > {slow_ratio} × mini-batch's",
                       "GD memory-hungry": f"GD's bytes > {memory_ratio} × mini-batch's",
                       "SGD noisy": f"SGD's relative loss noise > {noise_ratio} × mini-batch's",
                       "mini-batch balances": "mini-batch reaches the target first (within 10%)",
                       "supported": "all four", "depends": "some", "not supported": "none"},
        "figure": {"kind": "lines", "title": "validation loss vs wall time", "xlabel": "seconds (this machine)",
                   "ylabel": "validation loss", "series": series},
    }, ko={"summary": ko, "numbers": numbers_ko,
           "thresholds": {"목표": f"검증 손실 최대 개선폭의 {target_fraction:.0%}",
                         "GD가 느림": f"GD의 목표 도달 시간 > 미니배치의 {slow_ratio}배",
                         "GD가 메모리를 많이 씀": f"GD의 바이트 수 > 미니배치의 {memory_ratio}배",
                         "SGD가 잡음이 큼": f"SGD의 상대 손실 잡음 > 미니배치의 {noise_ratio}배",
                         "미니배치가 균형을 맞춤": "미니배치가 목표에 가장 먼저 도달(10% 이내)",
                         "지지됨": "넷 모두", "조건부": "일부", "지지되지 않음": "하나도 아님"},
           "figure": {"title": "벽시계 시간에 따른 검증 손실", "xlabel": "초 (이 머신)", "ylabel": "검증 손실",
                      "labels": {"target": "목표"}},
           "setup": f"{measured['problem']}(훈련 예제 {measured['n_train']}개, 검증 손실은 검증 예제 "
                     f"{measured['n_valid']}개 전체). 정책마다 학습률을 튜닝한 뒤 "
                     f"따로 {steps} 스텝 돌렸습니다. "
                     "벽시계 시간 = 스텝 수 × 여기서 잰 스텝당 시간(스레드 1개, 번갈아 20 스텝씩 5회 중 "
                     "최선). "
                     "메모리 = 엔진이 센 실행당 바이트."})


PARTS_KO = {"GD slow": "GD가 느림", "GD memory-hungry": "GD가 메모리를 많이 씀", "SGD noisy": "SGD의 잡음이 큼",
            "mini-batch balances": "미니배치가 균형을 잡음"}
