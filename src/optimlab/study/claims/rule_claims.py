"""The claims about the optimizers themselves: Adam as RMSProp + momentum + bias correction (an identity, run),
AdaDelta's cost per step ("it computes second derivatives"), Adam's memory, SGD's update variance, and momentum
carrying past a small local minimum. Each verdict function reads measured numbers only (tested on synthetic
ones); the thresholds are its arguments and are stored next to the verdict."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._common import Claim, _num, verdict_of

CHEAP = ("minibatch", "momentum", "adagrad", "rmsprop", "adadelta", "adam")


def claim_adam_decomposition(diffs: Mapping[str, float], tol: float = 1e-12) -> Claim:
    """"Adam is RMSProp plus momentum plus bias correction": the identities of
    :func:`~optimlab.study.claims.mechanics.adam_decomposition` hold to float64 rounding (``tol``, relative)."""
    checks = ("second moment", "first moment", "bias-corrected step", "beta1=0 vs RMSProp")
    held = [k for k in checks if diffs[k] <= tol]
    steps = int(diffs["steps"])
    ratio, rmsm = diffs["without bias correction (step 1 size ratio)"], diffs["RMSProp momentum (last step)"]
    numbers: dict[str, Any] = {f"max relative difference, {k}": f"{diffs[k]:.1e}" for k in checks}
    numbers["RMSProp at the plain lr, step 1 / Adam (β₁ = 0) step 1"] = _num(ratio)
    numbers["torch RMSProp momentum vs Adam, last step (relative)"] = _num(rmsm)
    names_ko = {"second moment": "2차 모멘트", "first moment": "1차 모멘트", "bias-corrected step": "편향 보정 스텝",
                "beta1=0 vs RMSProp": "beta1=0 대 RMSProp"}
    numbers_ko: dict[str, Any] = {f"최대 상대 차이, {names_ko[k]}": f"{diffs[k]:.1e}" for k in checks}
    numbers_ko["기본 학습률 RMSProp의 1스텝 / Adam(β₁ = 0)의 1스텝"] = _num(ratio)
    numbers_ko["torch RMSProp 모멘텀 대 Adam, 마지막 스텝(상대값)"] = _num(rmsm)
    verdict = verdict_of(len(held), len(checks))
    if verdict == "supported":
        summary = (f"Exact, run over {steps} steps in float64: Adam's second moment is RMSProp's (α = β₂), its first "
                   "moment is heavy-ball momentum started from rest, and its step is their ratio with both bias "
                   f"corrections (largest relative difference {max(diffs[k] for k in checks):.0e}). With β₁ = 0 and "
                   "ε = 0, Adam is RMSProp with the lr scaled by √(1 − β₂ᵗ); without that correction the first step "
                   f"would be {ratio:.3g}× smaller. One caution: torch's RMSProp(momentum) is not Adam: it averages "
                   f"g/√v rather than g (relative difference {rmsm:.2f} on the last step).")
        ko = (f"float64로 {steps} 스텝을 직접 돌려 보면 정확히 성립합니다. Adam의 2차 모멘트는 RMSProp(α = β₂)의 것과 "
              f"같고, "
              "1차 모멘트는 정지 상태에서 시작한 heavy-ball 모멘텀이며, 스텝은 두 값에 편향 보정을 적용한 비율입니다"
              f"(최대 상대 오차 {max(diffs[k] for k in checks):.0e}). β₁ = 0, ε = 0이면 Adam은 학습률에 √(1 − β₂ᵗ)를 "
              f"곱한 "
              f"RMSProp입니다. 이 보정이 없으면 첫 스텝이 {ratio:.3g}배 작아집니다. 주의할 점: torch의 "
              f"RMSProp(momentum)은 "
              f"Adam이 아닙니다. g가 아니라 g/√v를 평균하기 때문입니다(마지막 스텝 상대 차이 {rmsm:.2f}).")
    else:
        bad = ", ".join(k for k in checks if k not in held)
        summary = f"The identities did not hold to {tol:g} for: {bad} (see the numbers): the rules no longer match."
        ko = f"다음 항등식이 {tol:g} 안에서 성립하지 않았습니다: {bad}. 규칙들이 더 이상 서로 맞지 않습니다."
    return Claim("Adam = RMSProp + momentum + bias correction", verdict, summary, {
        "setup": f"The update rules run side by side on one random gradient sequence of {steps} steps (64 coordinates "
                 "whose gradient scales span four decades), in float64; SGD's momentum buffer starts from rest.",
        "numbers": numbers,
        "thresholds": {"identity holds": f"largest relative difference ≤ {tol:g}",
                       "supported": "all four identities hold", "depends": "some hold", "not supported": "none"},
        "figure": {"kind": "bars", "title": "largest relative difference (log10)", "xlabel": "identity",
                   "ylabel": "log10 relative difference",
                   "series": {k: {"x": [0], "y": [math.log10(max(diffs[k], 1e-17))]} for k in checks}},
    }, ko={"summary": ko, "numbers": numbers_ko,
           "thresholds": {"항등식 성립": f"최대 상대 차이 ≤ {tol:g}", "지지됨": "네 항등식 모두 성립",
                         "조건부": "일부만 성립", "지지되지 않음": "하나도 성립하지 않음"},
           "figure": {"title": "최대 상대 차이 (log10)", "xlabel": "항등식", "ylabel": "log10 상대 차이",
                      "labels": {"second moment": "2차 모멘트", "first moment": "1차 모멘트",
                                 "bias-corrected step": "편향 보정 스텝", "beta1=0 vs RMSProp": "beta1=0 대 RMSProp"}},
           "setup": f"같은 무작위 그래디언트 {steps} 스텝(크기가 네 자릿수에 걸친 64개 좌표)에 규칙들을 "
                     "float64로 나란히 적용했습니다. SGD의 모멘텀 버퍼는 0에서 시작합니다."})


def claim_adadelta_cost(costs: Mapping[str, Any], step_ratio: float = 1.5, state_ratio: float = 1.25) -> Claim:
    """"AdaDelta is slow because it computes second derivatives" (a misconception): its training step (gradient +
    update) against Adam's, its state against Adam's, and what a real second-derivative product costs."""
    sec, state = costs["seconds"], costs["state_bytes_per_param"]
    grad, hvp = costs["gradient"], costs["hvp"]
    step_a, step_d = grad + sec["adam"], grad + sec["adadelta"]
    ratio = step_d / step_a
    update_ratio = sec["adadelta"] / sec["adam"]
    mem = state["adadelta"] / state["adam"] if state["adam"] else math.inf
    numbers: dict[str, Any] = {
        "parameters": costs["params"],
        "AdaDelta update": f"{sec['adadelta'] * 1e3:.3f} ms", "Adam update": f"{sec['adam'] * 1e3:.3f} ms",
        "gradient (forward + backward)": f"{grad * 1e3:.3f} ms",
        "Hessian-vector product": f"{hvp * 1e3:.3f} ms ({hvp / grad:.1f}× a gradient)",
        "training step, AdaDelta / Adam": _num(ratio), "update only, AdaDelta / Adam": _num(update_ratio),
        "state bytes per parameter, AdaDelta / Adam": f"{state['adadelta']:g} / {state['adam']:g}",
    }
    numbers_ko: dict[str, Any] = {
        "파라미터 수": costs["params"],
        "AdaDelta 업데이트": f"{sec['adadelta'] * 1e3:.3f} ms", "Adam 업데이트": f"{sec['adam'] * 1e3:.3f} ms",
        "그래디언트(순전파 + 역전파)": f"{grad * 1e3:.3f} ms",
        "헤세 행렬-벡터 곱": f"{hvp * 1e3:.3f} ms (그래디언트의 {hvp / grad:.1f}배)",
        "학습 스텝, AdaDelta / Adam": _num(ratio), "업데이트만, AdaDelta / Adam": _num(update_ratio),
        "파라미터당 상태 바이트, AdaDelta / Adam": f"{state['adadelta']:g} / {state['adam']:g}",
    }
    cheap = ratio < step_ratio and mem < state_ratio
    costly = ratio >= 2 * step_ratio or mem >= 2 * state_ratio
    if cheap:
        verdict = "not supported"
        summary = (f"A misconception: AdaDelta computes no second derivatives. Its update reads the gradient and two "
                   f"running averages (E[g²], E[Δθ²]), the same state size as Adam ({state['adadelta']:g} bytes per "
                   f"parameter each); a training step took {ratio:.2f}× Adam's (update alone {update_ratio:.2f}×), "
                   f"while one real Hessian-vector product cost {hvp / grad:.1f}× a gradient. What makes AdaDelta feel "
                   "slow is its start: its first steps are set by ε (about 3e-3), not by a learning rate.")
        ko = (f"오해입니다. AdaDelta는 2차 도함수를 계산하지 않습니다. 업데이트에 쓰는 것은 그래디언트와 두 이동평균"
              f"(E[g²], E[Δθ²])뿐이고, 상태 크기도 Adam과 같습니다(둘 다 파라미터당 {state['adadelta']:g}바이트). "
              f"학습 스텝 하나는 Adam의 {ratio:.2f}배(업데이트만 {update_ratio:.2f}배)였고, 실제 헤시안-벡터 곱 하나는 "
              f"그래디언트의 {hvp / grad:.1f}배가 들었습니다. AdaDelta가 느리게 느껴지는 이유는 출발입니다. 첫 스텝 "
              f"크기를 "
              "학습률이 아니라 ε이 정합니다(약 3e-3).")
    elif costly:
        verdict = "supported"
        summary = (f"AdaDelta's step cost {ratio:.2f}× Adam's and {mem:.2f}× its state on this machine: heavier, "
                   "though still no second derivative is computed.")
        ko = (f"이 기계에서 AdaDelta의 스텝은 Adam의 {ratio:.2f}배, 상태는 {mem:.2f}배였습니다. 더 무겁지만 2차 "
              f"도함수를 "
              "계산하는 것은 아닙니다.")
    else:
        verdict = "depends"
        summary = (f"AdaDelta's step cost {ratio:.2f}× Adam's (state {mem:.2f}×): somewhat more, from one more square "
                   f"root and buffer, not from second derivatives (a Hessian-vector product costs {hvp / grad:.1f}× "
                   "a gradient).")
        ko = (f"AdaDelta의 스텝은 Adam의 {ratio:.2f}배(상태 {mem:.2f}배)였습니다. 조금 더 드는 것은 제곱근과 버퍼가 "
              f"하나씩 "
              f"더 있기 때문이지 2차 도함수 때문이 아닙니다(헤시안-벡터 곱은 그래디언트의 {hvp / grad:.1f}배).")
    series = {"adam": {"x": [0], "y": [sec["adam"] * 1e3]}, "adadelta": {"x": [0], "y": [sec["adadelta"] * 1e3]},
              "gradient": {"x": [0], "y": [grad * 1e3]}, "Hessian-vector product": {"x": [0], "y": [hvp * 1e3]}}
    return Claim("AdaDelta is slow because it computes second derivatives", verdict, summary, {
        "setup": f"A tanh MLP with {costs['params']:,} parameters, batch 64, one torch thread: each optimizer's "
                 f"drop-in "
                 "step() timed in turns (best of 5 rounds of 10 steps), state counted after a step; a gradient and a "
                 "Hessian-vector product (double backward) timed on the same model.",
        "numbers": numbers,
        "thresholds": {"as cheap as Adam": f"training step < {step_ratio}× Adam's and state < {state_ratio}× Adam's",
                       "not supported (misconception)": "as cheap as Adam",
                       "supported": f"step ≥ {2 * step_ratio}× or state ≥ {2 * state_ratio}× Adam's",
                       "depends": "in between"},
        "figure": {"kind": "bars", "title": "milliseconds per call", "xlabel": "", "ylabel": "ms", "series": series},
    }, ko={"summary": ko, "numbers": numbers_ko,
           "thresholds": {"Adam만큼 가벼움": f"학습 스텝 < Adam의 {step_ratio}배이고 상태 < Adam의 {state_ratio}배",
                         "지지되지 않음(오해)": "Adam만큼 가벼움",
                         "지지됨": f"스텝 ≥ Adam의 {2 * step_ratio}배 또는 상태 ≥ Adam의 {2 * state_ratio}배",
                         "조건부": "그 사이"},
           "figure": {"title": "호출 한 번당 밀리초", "xlabel": "", "ylabel": "ms",
                      "labels": {"gradient": "그래디언트", "Hessian-vector product": "헤세 행렬-벡터 곱"}},
           "setup": f"파라미터 {costs['params']:,}개의 tanh MLP, 배치 64, torch 스레드 1개. 각 "
                     f"옵티마이저의 "
                     "step()을 번갈아 재고(10 스텝씩 5회 중 최선), 상태는 한 스텝 뒤에 셌습니다. 같은 "
                     "모델에서 "
                     "그래디언트와 헤시안-벡터 곱(이중 역전파)도 쟀습니다."})


def claim_adam_memory(costs: Mapping[str, Any], curvature_fraction: float = 0.01) -> Claim:
    """"Adam is memory-light": its state bytes per parameter against a full curvature matrix (P² entries) and
    against the other classic first-order methods."""
    state = {o: costs["state_bytes_per_param"][o] for o in CHEAP if o in costs["state_bytes_per_param"]}
    n, pb = int(costs["params"]), float(costs["param_bytes"])
    adam = state["adam"]
    full = pb * n  # a P x P matrix: P entries per parameter
    vs_curvature = adam < curvature_fraction * full
    median = float(np.median(list(state.values())))
    vs_first_order = adam <= median
    numbers: dict[str, Any] = {f"{o}: state bytes per parameter": v for o, v in state.items()}
    numbers["Adam state / parameter memory"] = _num(adam / pb)
    numbers["a full P×P curvature matrix, bytes per parameter"] = f"{full:,.0f}"
    numbers_ko: dict[str, Any] = {f"{o}: 파라미터당 상태 바이트": v for o, v in state.items()}
    numbers_ko["Adam 상태 / 파라미터 메모리"] = _num(adam / pb)
    numbers_ko["P×P 곡률 행렬 전체, 파라미터당 바이트"] = f"{full:,.0f}"
    verdict = "supported" if vs_curvature and vs_first_order else "depends" if vs_curvature else "not supported"
    if verdict == "supported":
        summary = (f"Adam keeps {adam:g} bytes per parameter, no more than the median classic method and a tiny "
                   f"fraction of a curvature matrix ({full:,.0f}).")
        ko = (f"Adam은 파라미터당 {adam:g}바이트를 유지합니다. 고전적 방법들의 중앙값 이하이고, 곡률 "
              f"행렬({full:,.0f}바이트)에 "
              "비하면 아주 작습니다.")
    elif verdict == "depends":
        summary = (f"Light next to second-order methods: {adam:g} bytes per parameter (two float32 buffers, "
                   f"{adam / pb:.0f}× the weights) against {full:,.0f} for a full curvature matrix at "
                   f"{n:,} parameters. But it is the heaviest of the classic first-order set with AdaDelta: SGD keeps "
                   f"{state['minibatch']:g}, momentum, AdaGrad and RMSProp {state['rmsprop']:g}. In a large model "
                   "Adam's state alone doubles the memory the weights take.")
        ko = (f"2차 방법에 비하면 가볍습니다. 파라미터당 {adam:g}바이트(float32 버퍼 두 개, 가중치의 "
              f"{adam / pb:.0f}배)로, 파라미터 {n:,}개의 완전한 곡률 행렬({full:,.0f}바이트)과는 비교가 안 됩니다. "
              "하지만 고전적인 1차 방법 중에서는 AdaDelta와 함께 가장 무겁습니다. "
              f"SGD는 {state['minibatch']:g}, 모멘텀·AdaGrad·RMSProp은 {state['rmsprop']:g}바이트입니다. "
              "큰 모델에서는 Adam의 상태만으로 가중치가 차지하는 메모리의 두 배가 듭니다.")
    else:
        summary = f"Adam keeps {adam:g} bytes per parameter, not small next to a curvature matrix of {full:,.0f}."
        ko = f"Adam은 파라미터당 {adam:g}바이트를 유지하며, {full:,.0f}바이트인 곡률 행렬에 비해서도 작지 않습니다."
    series = {o: {"x": [0], "y": [v]} for o, v in state.items()}
    return Claim("Adam is memory-light", verdict, summary, {
        "setup": f"Optimizer state counted on the drop-in classes after one step on {n:,} float32 parameters.",
        "numbers": numbers,
        "thresholds": {"light next to second order": f"state < {curvature_fraction:.0%} of a P×P matrix",
                       "light among first-order methods": "state ≤ the classic set's median",
                       "supported": "both", "depends": "only next to second order", "not supported": "neither"},
        "figure": {"kind": "bars", "title": "state bytes per parameter", "xlabel": "", "ylabel": "bytes",
                   "series": series},
    }, ko={"summary": ko, "numbers": numbers_ko,
           "thresholds": {"2차 방법에 비하면 가벼움": f"상태 < P×P 행렬의 {curvature_fraction:.0%}",
                         "1차 방법 중에서도 가벼움": "상태 ≤ 고전 옵티마이저들의 중앙값",
                         "지지됨": "둘 다", "조건부": "2차 방법에 비해서만", "지지되지 않음": "둘 다 아님"},
           "figure": {"title": "파라미터당 상태 바이트", "xlabel": "", "ylabel": "바이트"},
           "setup": f"float32 파라미터 {n:,}개에서 한 스텝 뒤 드롭인 클래스의 옵티마이저 상태를 "
                     f"셌습니다."})


def claim_sgd_variance(noise: Mapping[str, Mapping[int, float]], single: int = 1, high: float = 1.0,
                       ratio: float = 4.0) -> Claim:
    """"SGD's updates have high variance": per problem, the batch-gradient noise E‖g_B − g‖²/‖g‖² of one example
    against the mini-batch's (``noise[problem] = {batch size: noise}``, the mini-batch the largest size given)."""
    rows = []
    for p, per in noise.items():
        mb = max(per)
        s, m = per[single], per[mb]
        rows.append((p, mb, s, m, s > high and s > ratio * m))
    held = [r for r in rows if r[4]]
    verdict = verdict_of(len(held), len(rows))
    numbers = {f"{p}: noise/signal, batch {single} vs {mb} (32 draws each)": f"{s:.3g} vs {m:.3g}"
               for p, mb, s, m, _ in rows}
    numbers_ko = {f"{p}: 잡음/신호, 배치 {single} 대 {mb} (각 32번 추출)": f"{s:.3g} 대 {m:.3g}"
                  for p, mb, s, m, _ in rows}
    listed = ", ".join(f"{p} {s:.3g} vs {m:.3g}" for p, _, s, m, _ in rows)
    if verdict == "supported":
        summary = (f"On every problem one example's gradient was mostly noise (noise/signal {listed}, single example "
                   f"vs "
                   "mini-batch): its random part outweighs the useful one, which is why SGD needs small steps.")
        ko = (f"모든 문제에서 예제 하나의 그래디언트는 대부분 잡음이었습니다(잡음/신호, 예제 하나 대 미니배치: "
              f"{listed}). "
              "무작위 부분이 쓸모 있는 부분보다 커서 SGD는 작은 스텝이 필요합니다.")
    elif verdict == "depends":
        where = ", ".join(r[0] for r in held)
        summary = f"One example's gradient was mostly noise only on {where} ({listed})."
        ko = f"예제 하나의 그래디언트가 대부분 잡음이었던 것은 {where}뿐이었습니다({listed})."
    else:
        summary = f"One example's gradient was not much noisier than a mini-batch's ({listed})."
        ko = f"예제 하나의 그래디언트가 미니배치보다 크게 더 시끄럽지 않았습니다({listed})."
    names = list(noise)
    series = {
        "one example (SGD)": {"x": list(range(len(names))), "style": "o-", "color": "#D55E00",
                              "y": [math.log10(max(noise[p][single], 1e-12)) for p in names]},
        "mini-batch": {"x": list(range(len(names))), "style": "o-", "color": "#0072B2",
                       "y": [math.log10(max(noise[p][max(noise[p])], 1e-12)) for p in names]},
    }
    return Claim("SGD's updates have high variance", verdict, summary, {
        "setup": "At the parameters reached by mini-batch SGD, 32 random batches per size; noise/signal = "
                 "E‖g_B − g‖² / ‖g‖² with g the full training-set gradient (an update is lr × g_B).",
        "numbers": numbers,
        "thresholds": {"high": f"noise/signal of one example > {high} and > {ratio}× the mini-batch's",
                       "supported": "high on every problem", "depends": "on some", "not supported": "on none"},
        "figure": {"kind": "lines", "title": "log10 noise/signal of a batch gradient", "xlabel": "problem",
                   "ylabel": "log10 (noise / signal)", "xticklabels": names, "series": series},
    }, ko={"summary": ko, "numbers": numbers_ko,
           "thresholds": {"높음": f"예제 하나의 잡음/신호 > {high}이고 미니배치의 {ratio}배 초과",
                          "지지됨": "모든 문제에서 높음", "조건부": "일부 문제에서",
                          "지지되지 않음": "어느 문제에서도 아님"},
           "figure": {"title": "배치 그래디언트의 log10 잡음/신호", "xlabel": "문제", "ylabel": "log10 (잡음 / 신호)",
                      "labels": {"one example (SGD)": "예제 하나 (SGD)", "mini-batch": "미니배치"}},
           "setup": "미니배치 SGD로 도달한 파라미터에서 배치 크기마다 무작위 배치 32개를 뽑았습니다. "
                     "잡음/신호 = E‖g_B − g‖² / ‖g‖²이고 g는 훈련 세트 전체의 그래디언트입니다."})


def claim_momentum_escapes(deep: Mapping[str, Sequence[bool]], margin: float = 0.2) -> Claim:
    """"Momentum escapes small local minima": on the two-basins surface, the fraction of runs (starts × learning
    rates) that end in the deep well, for GD, momentum at GD's lr and momentum at the same effective step."""
    frac = {k: float(np.mean(v)) if len(v) else math.nan for k, v in deep.items()}
    gd = frac["gd"]
    better = {k: frac[k] >= gd + margin for k in ("momentum, same lr", "momentum, equal step")}
    verdict = verdict_of(sum(better.values()), len(better))
    numbers = {f"{k}: runs ending in the deep well": f"{sum(v)} of {len(v)} ({frac[k]:.0%})" for k, v in deep.items()}
    runs_ko = {"momentum, same lr": "momentum, 같은 학습률", "momentum, equal step": "momentum, 같은 유효 스텝"}
    numbers_ko = {f"{runs_ko.get(k, k)}: 깊은 우물에서 끝난 실행": f"{len(v)}개 중 {sum(v)}개 ({frac[k]:.0%})"
                  for k, v in deep.items()}
    text = ", ".join(f"{k} {frac[k]:.0%}" for k in deep)
    if verdict == "supported":
        summary = (f"Momentum carried past the shallow well far more often ({text}): at GD's lr and at the same "
                   "effective step alike.")
        ko = (f"모멘텀은 얕은 우물을 훨씬 자주 지나쳐 깊은 우물에 도달했습니다({text}). GD와 같은 학습률에서도, 같은 "
              "유효 스텝에서도 그랬습니다.")
    elif verdict == "depends":
        which = "at GD's lr (a 10× longer effective step)" if better["momentum, same lr"] else "at the equal step"
        summary = (f"Momentum reached the deep well more often only {which} ({text}): much of the escape comes from "
                   "the larger effective step, not from momentum as such.")
        which_ko = "GD와 같은 학습률(유효 스텝이 10배)" if better["momentum, same lr"] else "같은 유효 스텝"
        ko = (f"모멘텀이 깊은 우물에 더 자주 도달한 것은 {which_ko}에서뿐이었습니다"
              f"({text}). 탈출의 상당 부분은 모멘텀 자체가 아니라 더 큰 유효 스텝에서 옵니다.")
    else:
        summary = f"Momentum did not end in the deep well more often than GD ({text})."
        ko = f"모멘텀이 GD보다 깊은 우물에 더 자주 도달하지 않았습니다({text})."
    series = {k: {"x": [0], "y": [frac[k]]} for k in deep}
    return Claim("momentum escapes small local minima", verdict, summary, {
        "setup": "The two-basins surface (a shallow well at x ≈ 1, a deep one at x ≈ −1): several starts on the "
                 "shallow side × several GD learning rates; momentum (β = 0.9) at the same lr and at lr × (1 − β).",
        "numbers": numbers,
        "thresholds": {"escapes": f"its deep-well fraction ≥ GD's + {margin:.0%}",
                       "supported": "at the same lr and at the equal step", "depends": "in one of the two",
                       "not supported": "in neither"},
        "figure": {"kind": "bars", "title": "runs ending in the deep well", "xlabel": "", "ylabel": "fraction",
                   "series": series},
    }, ko={"summary": ko, "numbers": numbers_ko,
           "thresholds": {"탈출함": f"깊은 우물에서 끝난 비율 ≥ GD의 비율 + {margin:.0%}p",
                         "지지됨": "같은 학습률과 같은 유효 스텝 모두에서", "조건부": "둘 중 하나에서",
                         "지지되지 않음": "둘 다 아님"},
           "figure": {"title": "깊은 우물에서 끝난 실행", "xlabel": "", "ylabel": "비율",
                      "labels": {"momentum, same lr": "momentum, 같은 학습률",
                                 "momentum, equal step": "momentum, 같은 유효 스텝"}},
           "setup": "두 우물 곡면(x ≈ 1의 얕은 우물, x ≈ −1의 깊은 우물)에서 얕은 쪽의 여러 출발점 × "
                     "여러 GD "
                     "학습률로 돌렸습니다. 모멘텀(β = 0.9)은 같은 학습률과 lr × (1 − β) 두 가지로 "
                     "돌렸습니다."})
