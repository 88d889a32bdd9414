"""The claims read from lr grids: "when unsure, use Adam", "sparse data → adaptive methods", "AdaDelta needs
no learning rate"."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ...palette import color_of
from ._common import (
    ADAPTIVE,
    CLASSIC,
    GOOD_Q,
    SGD_FAMILY,
    Claim,
    GridRun,
    _best_name,
    _clip_q,
    _data_text,
    _default_lr,
    _defaults_q,
    _gt,
    _num,
    _steps_text,
    verdict_of,
)


def claim_adam_default(runs: Mapping[str, GridRun]) -> Claim:
    """"When unsure, use Adam": Adam at its default lr against the others at defaults and tuned."""
    numbers: dict[str, Any] = {}
    numbers_ko: dict[str, Any] = {}
    safe: list[str] = []
    series: dict[str, dict[str, Any]] = {}
    names = list(runs)
    for o in CLASSIC:
        series[f"{o} (default lr)"] = {"x": list(range(len(names))), "y": [], "style": "o-", "color": None}
    for p, run in runs.items():
        qs = {o: run.q(o, _default_lr(o)) for o in CLASSIC}
        tuned = {o: run.q(o, run.tuned(o)[0]) for o in CLASSIC}
        q_adam = qs["adam"]
        better_defaults = sorted(o for o in CLASSIC if o != "adam" and _gt(qs[o], q_adam))
        numbers[f"{p}: Adam default q"] = _num(q_adam)
        numbers[f"{p}: best other default"] = _best_name(qs, exclude="adam")
        numbers[f"{p}: best tuned"] = _best_name(tuned)
        numbers[f"{p}: defaults beating Adam's"] = better_defaults or "none"
        numbers_ko |= {f"{p}: Adam 기본값의 q": _num(q_adam),
                       f"{p}: Adam 외 최선의 기본값": _best_name(qs, "adam", "ko"),
                       f"{p}: 튜닝 후 최선": _best_name(tuned, lang="ko"),
                       f"{p}: Adam보다 나은 기본값": better_defaults or "없음"}
        if math.isfinite(q_adam) and q_adam >= GOOD_Q:
            safe.append(p)
        for o in CLASSIC:
            series[f"{o} (default lr)"]["y"].append(_clip_q(qs[o]))
    for o in CLASSIC:
        series[f"{o} (default lr)"]["color"] = color_of(o)
    n, k = len(runs), len(safe)
    failed = [p for p in runs if p not in safe]
    tuned_good = [p for p, r in runs.items() if math.isfinite(r.q("adam", r.tuned("adam")[0]))
                  and r.q("adam", r.tuned("adam")[0]) >= GOOD_Q]
    numbers["tuned Adam good (q ≥ 0.9) on"] = f"{len(tuned_good)} of {n}"
    numbers_ko["튜닝한 Adam이 좋은(q ≥ 0.9) 문제"] = f"{n}개 중 {len(tuned_good)}개"
    per_problem = "; ".join(
        f"{p}: q = {runs[p].q('adam', _default_lr('adam')):.2f}, best default {_best_name(_defaults_q(runs[p]))}"
        for p in runs)
    per_problem_ko = "; ".join(
        f"{p}: q = {runs[p].q('adam', _default_lr('adam')):.2f}, 가장 좋은 기본값 {_best_name(_defaults_q(runs[p]))}"
        for p in runs)
    tuned_en = f"tuned, Adam reached {GOOD_Q:.0%} on {len(tuned_good)} of {n}"
    tuned_ko = f"학습률을 튜닝한 Adam은 {n}개 중 {len(tuned_good)}개에서 {GOOD_Q:.0%}에 도달했습니다"
    if k == n:
        verdict = "supported"
        summary = (f"Adam at its default lr (1e-3) reached at least {GOOD_Q:.0%} of the best improvement on every "
                   f"problem tried ({', '.join(runs)}).")
        ko = (f"기본 학습률(1e-3)의 Adam이 시험한 모든 문제({', '.join(runs)})에서 최대 개선폭의 {GOOD_Q:.0%} 이상에 "
              "도달했습니다.")
    elif 2 * k >= n or len(tuned_good) == n:
        verdict = "depends"
        summary = (f"Adam's default was good on {k} of {n} problems; it fell short on {', '.join(failed)} "
                   f"({per_problem}); {tuned_en}: Adam is a sound choice here, but its default lr is not, so tune it.")
        ko = (f"Adam의 기본값은 {n}개 중 {k}개 문제에서 좋았고 {', '.join(failed)}에서는 "
              f"모자랐습니다({per_problem_ko}). "
              f"{tuned_ko}. Adam을 고르는 것은 괜찮지만 기본 학습률은 그대로 믿을 수 없으니 튜닝하세요.")
    else:
        verdict = "not supported"
        summary = (f"Adam's default lr reached {GOOD_Q:.0%} of the best on only {k} of {n} problems ({per_problem}); "
                   f"{tuned_en}: at this budget other defaults were the safer first choice.")
        ko = (f"기본 학습률의 Adam이 최대 개선폭의 {GOOD_Q:.0%}에 도달한 문제는 {n}개 중 "
              f"{k}개뿐이었습니다({per_problem_ko}). {tuned_ko}. "
              "이 예산에서는 다른 기본값이 더 안전한 첫 선택이었습니다.")
    return Claim("when unsure, use Adam", verdict, summary, {
        "setup": f"Every optimizer at its preset default lr and on the lr grid, {_steps_text(runs)} steps, one "
                 "population per problem; q = fraction of the best validation-loss improvement any run reached on "
                 "that problem (so a short budget favours larger learning rates)." + _data_text(runs),
        "numbers": numbers,
        "thresholds": {"good run": f"q >= {GOOD_Q}", "supported": "Adam's default is good on every problem",
                       "depends": "its default is good on at least half of them, or tuned Adam is good on every one",
                       "not supported": "neither"},
        "figure": {"kind": "lines", "title": "quality at the default lr", "xlabel": "problem", "ylabel": "q (1 = best)",
                   "xticklabels": names, "series": series},
    }, ko={"summary": ko, "numbers": numbers_ko,
           "thresholds": {"좋은 실행": f"q ≥ {GOOD_Q}", "지지됨": "Adam의 기본값이 모든 문제에서 좋음",
                         "조건부": "기본값이 문제의 절반 이상에서 좋거나, 튜닝한 Adam이 모든 문제에서 좋음",
                         "지지되지 않음": "둘 다 아님"},
           "figure": {"title": "기본 학습률에서의 품질", "xlabel": "문제", "ylabel": "q (1 = 최선)",
                      "labels": {f"{o} (default lr)": f"{o} (기본 학습률)" for o in CLASSIC}},
           "setup": f"모든 옵티마이저를 프리셋 기본 학습률과 학습률 격자로 {_steps_text(runs)} 스텝 "
                     f"돌렸습니다. "
                     "q는 그 문제에서 어떤 실행이든 도달한 최대 검증 손실 개선폭 대비 비율입니다(짧은 "
                     "예산은 큰 "
                     "학습률에 유리합니다)." + _data_text(runs, "ko")})


def claim_sparse_adaptive(
    runs: Mapping[float, GridRun], density: Mapping[float, float], gap_min: float = 0.02
) -> Claim:
    """"Sparse data → adaptive methods": tuned adaptive vs tuned SGD/momentum as feature sparsity grows."""
    rows = []
    for e in sorted(runs, key=lambda e: -density[e]):  # densest first
        run = runs[e]
        sgd = min(run.tuned(o)[1] for o in SGD_FAMILY)
        ada = min(run.tuned(o)[1] for o in ADAPTIVE)
        gap = (sgd - ada) / abs(sgd) if math.isfinite(sgd) and math.isfinite(ada) and sgd != 0 else math.nan
        rows.append((e, density[e], sgd, ada, gap))
    wins = [r for r in rows if math.isfinite(r[4]) and r[4] > gap_min]
    # "grows": larger at the sparsest level than at the densest (not necessarily monotone in between)
    grows = len(rows) >= 2 and math.isfinite(rows[-1][4]) and math.isfinite(rows[0][4]) and rows[-1][4] > rows[0][4]
    numbers = {f"density {d:.3f} (exponent {e:g})": f"SGD-family loss {sgd:.4g}, adaptive {ada:.4g}, "
                                                    f"adaptive lower by {gap:+.1%}"
               for e, d, sgd, ada, gap in rows}
    numbers["adaptive advantage larger at the sparsest than the densest"] = "yes" if grows else "no"
    numbers_ko = {f"밀도 {d:.3f} (지수 {e:g})": f"SGD 계열 손실 {sgd:.4g}, 적응형 {ada:.4g}, 적응형이 {gap:+.1%} 낮음"
                  for e, d, sgd, ada, gap in rows}
    numbers_ko["가장 희소한 곳의 적응형 우위가 가장 조밀한 곳보다 큼"] = "예" if grows else "아니요"
    if len(wins) == len(rows) and grows:
        verdict = "supported"
        summary = (f"Tuned adaptive methods beat tuned SGD/momentum by more than {gap_min:.0%} at every sparsity, "
                   "and the gap is larger at the sparsest level than at the densest.")
        ko = (f"모든 희소도에서 튜닝한 적응형 방법이 튜닝한 SGD/모멘텀을 {gap_min:.0%} 넘게 이겼고, 그 차이는 가장 "
              f"희소한 "
              "수준에서 가장 조밀한 수준보다 컸습니다.")
    elif wins:
        verdict = "depends"
        where = ", ".join(f"{d:.3f}" for _, d, *_ in wins)
        gaps = ", ".join(f"{gap:+.1%} at density {d:.3f}" for _, d, _, _, gap in rows)
        gaps_ko = ", ".join(f"밀도 {d:.3f}에서 {gap:+.1%}" for _, d, _, _, gap in rows)
        summary = (f"Adaptive methods won clearly (by more than {gap_min:.0%}) only at feature density {where}, "
                   f"{len(wins)} of {len(rows)} levels (advantage {gaps}): it depends on how sparse the data is.")
        ko = (f"적응형 방법이 뚜렷이({gap_min:.0%} 넘게) 이긴 것은 특성 밀도 {where}, {len(rows)}개 수준 중 "
              f"{len(wins)}개뿐이었습니다"
              f"(우위 {gaps_ko}). 데이터가 얼마나 희소한지에 따라 다릅니다.")
    else:
        verdict = "not supported"
        summary = (f"Tuned SGD/momentum were within {gap_min:.0%} of (or better than) the adaptive methods at "
                   "every sparsity.")
        ko = f"모든 희소도에서 튜닝한 SGD/모멘텀이 적응형 방법과 {gap_min:.0%} 이내이거나 더 나았습니다."
    series = {o: {"x": [r[1] for r in rows], "y": [runs[r[0]].tuned(o)[1] for r in rows], "style": "o-"}
              for o in (*SGD_FAMILY, *ADAPTIVE)}
    return Claim("sparse data → adaptive methods", verdict, summary, {
        "setup": "sparse-logreg with power-law feature frequencies at several exponents; each optimizer's lr tuned "
                 "on the grid; best of {minibatch, momentum} against best of {adagrad, rmsprop, adam}."
                 + _data_text(runs),
        "numbers": numbers,
        "thresholds": {"adaptive wins at a level": f"its tuned validation loss is lower by more than {gap_min:.0%}",
                       "supported": "wins at every level and the gap is larger at the sparsest than the densest",
                       "depends": "wins at some levels", "not supported": "wins at none"},
        "figure": {"kind": "lines", "title": "tuned validation loss vs density",
                   "xlabel": "fraction of features present",
                   "ylabel": "validation loss", "logx": True, "series": series},
    }, ko={"summary": ko, "numbers": numbers_ko,
           "thresholds": {"한 수준에서 적응형이 이김": f"튜닝한 검증 손실이 {gap_min:.0%}보다 더 낮음",
                         "지지됨": "모든 수준에서 이기고, 격차가 가장 조밀한 곳보다 가장 희소한 곳에서 더 큼",
                         "조건부": "일부 수준에서 이김", "지지되지 않음": "어느 수준에서도 못 이김"},
           "figure": {"title": "밀도에 따른 튜닝한 검증 손실", "xlabel": "존재하는 특성의 비율",
                      "ylabel": "검증 손실"},
           "setup": "거듭제곱 법칙 특성 빈도의 sparse-logreg를 여러 지수로 만들고, 각 옵티마이저의 "
                     "학습률을 격자에서 튜닝해 {minibatch, momentum} 중 최선과 "
                     "{adagrad, rmsprop, adam} 중 최선을 비교했습니다." + _data_text(runs, "ko")})


def claim_adadelta_no_lr(runs: Mapping[str, GridRun]) -> Claim:
    """"AdaDelta needs no learning rate": does lr = 1 (its default) work on every problem, and how sensitive is it?"""
    grid = next(iter(runs.values())).grid
    worst = {o: [min((r.q(o, lr) if math.isfinite(r.q(o, lr)) else -math.inf) for r in runs.values())
                 for lr in grid] for o in CLASSIC}
    at_one = {p: run.q("adadelta", 1.0) for p, run in runs.items()}
    good = [p for p, q in at_one.items() if math.isfinite(q) and q >= GOOD_Q]
    best_single = {o: max(worst[o]) for o in CLASSIC}
    width = {o: sum(1 for v in worst[o] if v >= 0.5) for o in CLASSIC}
    numbers: dict[str, Any] = {f"{p}: AdaDelta lr=1 q": _num(q) for p, q in at_one.items()}
    numbers |= {f"{p}: AdaDelta best lr": r.tuned("adadelta")[0] for p, r in runs.items()}
    numbers |= {f"{o}: best one-lr-for-all worst-case q": _num(best_single[o]) for o in CLASSIC}
    numbers |= {f"{o}: grid points with worst-case q ≥ 0.5": width[o] for o in CLASSIC}
    numbers_ko: dict[str, Any] = {f"{p}: lr = 1인 AdaDelta의 q": _num(q) for p, q in at_one.items()}
    numbers_ko |= {f"{p}: AdaDelta의 최선 학습률": r.tuned("adadelta")[0] for p, r in runs.items()}
    numbers_ko |= {f"{o}: 모든 문제에 한 학습률일 때 최선의 최악 q": _num(best_single[o]) for o in CLASSIC}
    numbers_ko |= {f"{o}: 최악 q ≥ 0.5인 격자점 수": width[o] for o in CLASSIC}
    n = len(runs)
    if len(good) == n:
        verdict = "supported"
        summary = f"AdaDelta at lr = 1 reached at least {GOOD_Q:.0%} of the best on every problem ({', '.join(runs)})."
        ko = f"lr = 1의 AdaDelta가 모든 문제({', '.join(runs)})에서 최대 개선폭의 {GOOD_Q:.0%} 이상에 도달했습니다."
    elif good:
        verdict = "depends"
        bad = [p for p in runs if p not in good]
        best = ", ".join(f"{p} {runs[p].tuned('adadelta')[0]:g}" for p in bad)
        edge = " (the top of the grid: larger may be better still)" if any(
            runs[p].tuned("adadelta")[0] == max(grid) for p in bad) else ""
        summary = (f"AdaDelta at lr = 1 was good on {', '.join(good)} but not on {', '.join(bad)} (best lr there: "
                   f"{best}{edge}): whether its default works depends on the problem.")
        edge_ko = " (격자의 끝이라 더 큰 값이 더 나을 수도 있습니다)" if edge else ""
        ko = (f"lr = 1의 AdaDelta는 {', '.join(good)}에서는 좋았지만 {', '.join(bad)}에서는 아니었습니다(그 문제의 "
              f"최적 학습률: "
              f"{best}{edge_ko}). 기본값이 통하는지는 문제에 따라 다릅니다.")
    else:
        verdict = "not supported"
        tuned_lrs = ", ".join(f"{p} {r.tuned('adadelta')[0]:g}" for p, r in runs.items())
        summary = (f"AdaDelta at lr = 1 reached {GOOD_Q:.0%} of the best on none of the {n} problems at this budget; "
                   f"its best lrs were {tuned_lrs}: it still needs its learning rate tuned.")
        ko = (f"이 예산에서 lr = 1의 AdaDelta는 {n}개 문제 어디에서도 최대 개선폭의 {GOOD_Q:.0%}에 도달하지 "
              f"못했습니다. "
              f"최적 학습률은 {tuned_lrs}였습니다. 여전히 학습률 튜닝이 필요합니다.")
    series = {o: {"x": list(grid), "y": [max(v, -0.5) for v in worst[o]], "style": "o-"} for o in CLASSIC}
    return Claim("AdaDelta needs no learning rate", verdict, summary, {
        "setup": f"The lr grid on every problem ({_steps_text(runs)} steps); for each optimizer and lr, the worst q "
                 "over problems (one lr for all problems)." + _data_text(runs),
        "numbers": numbers,
        "thresholds": {"good": f"q >= {GOOD_Q} at lr = 1", "supported": "good on every problem",
                       "depends": "good on some", "not supported": "good on none"},
        "figure": {"kind": "lines", "title": "worst q over problems at one lr", "xlabel": "learning rate",
                   "ylabel": "worst-case q (clipped at -0.5)", "logx": True, "series": series},
    }, ko={"summary": ko, "numbers": numbers_ko,
           "thresholds": {"좋음": f"lr = 1에서 q ≥ {GOOD_Q}", "지지됨": "모든 문제에서 좋음",
                         "조건부": "일부 문제에서 좋음", "지지되지 않음": "어느 문제에서도 좋지 않음"},
           "figure": {"title": "한 학습률에서 문제들 중 최악의 q", "xlabel": "학습률",
                      "ylabel": "최악의 q (-0.5에서 자름)"},
           "setup": f"모든 문제에서 학습률 격자를 {_steps_text(runs)} 스텝 돌리고, 옵티마이저와 "
                     "학습률마다 문제들 중 가장 나쁜 q를 봤습니다(모든 문제에 학습률 하나)."
                     + _data_text(runs, "ko")})


ALIKE = ("adadelta", "rmsprop", "adam")


def _alike_gap(run: GridRun) -> tuple[dict[str, tuple[float, float]], float]:
    """The three's tuned (lr, loss) and their spread ``(max − min) / (L0 − L*)`` (NaN when one diverged)."""
    tuned = {o: run.tuned(o) for o in ALIKE}
    losses = [v for _, v in tuned.values()]
    span = run.init_loss - run.best_loss
    gap = (max(losses) - min(losses)) / span if all(map(math.isfinite, losses)) and span > 0 else math.nan
    return tuned, gap


def claim_adaptive_alike(runs: Mapping[str, GridRun], same_gap: float = 0.1,
                         by_size: Mapping[int, GridRun] | None = None) -> Claim:
    """"With much data, AdaDelta, RMSProp and Adam perform about the same": per problem, the spread of their tuned
    validation losses as a fraction of the best improvement (``(max − min) / (L0 − L*)``). ``by_size``: one problem
    at several training-set sizes; its largest size counts as one more case (unless it is one of ``runs``), and the
    numbers say whether the spread narrows as the data grows."""
    rows = [(p, run, *_alike_gap(run)) for p, run in runs.items()]
    sizes = sorted(by_size or {})
    if sizes:
        assert by_size is not None
        big = by_size[sizes[-1]]
        if not any(big is r for r in runs.values()):  # the grid's own run when it already has that size
            rows.append((f"{big.problem} ({sizes[-1]} examples)", big, *_alike_gap(big)))
    alike = [r for r in rows if math.isfinite(r[3]) and r[3] <= same_gap]
    verdict = verdict_of(len(alike), len(rows))
    numbers: dict[str, Any] = {}
    numbers_ko: dict[str, Any] = {}
    for p, run, tuned, gap in rows:
        numbers_ko[f"{p} (훈련 예제 {run.n_train}개): 시드 {run.seeds}개의 튜닝 손실 ± 표준편차"] = "; ".join(
            f"{o} {v:.4g} ± {run.sd(o, lr):.2g} (lr {lr:g})" for o, (lr, v) in tuned.items())
        numbers_ko[f"{p}: 차이 / 최대 개선폭"] = _num(gap)
        numbers[f"{p} ({run.n_train} training examples): tuned loss ± sd over {run.seeds} seeds"] = "; ".join(
            f"{o} {v:.4g} ± {run.sd(o, lr):.2g} (lr {lr:g})" for o, (lr, v) in tuned.items())
        numbers[f"{p}: spread / best improvement"] = _num(gap)
    listed = ", ".join(f"{p} {gap:.2f}" for p, _, _, gap in rows)
    size_en = size_ko = ""
    if len(sizes) >= 2:
        assert by_size is not None
        gaps = {n_: _alike_gap(by_size[n_])[1] for n_ in sizes}
        numbers |= {f"{by_size[n_].problem} with {n_} training examples: spread": _num(g) for n_, g in gaps.items()}
        narrows = math.isfinite(gaps[sizes[0]]) and math.isfinite(gaps[sizes[-1]]) and gaps[sizes[-1]] < gaps[sizes[0]]
        numbers["spread narrows with more data"] = "yes" if narrows else "no"
        numbers_ko |= {f"{by_size[n_].problem}, 훈련 예제 {n_}개: 차이": _num(g) for n_, g in gaps.items()}
        numbers_ko["데이터가 많을수록 차이가 줄어듦"] = "예" if narrows else "아니요"
        trend = ", ".join(f"{g:.2f} at {n_}" for n_, g in gaps.items())
        trend_ko = ", ".join(f"{n_}개에서 {g:.2f}" for n_, g in gaps.items())
        size_en = (f" With more training data the spread {'narrowed' if narrows else 'did not narrow'} "
                   f"({big.problem}: {trend} examples).")
        size_ko = (f" 훈련 데이터가 늘자 차이가 {'줄었습니다' if narrows else '줄지 않았습니다'}"
                   f"({big.problem}: 예제 {trend_ko}).")
    n, k = len(rows), len(alike)
    if verdict == "supported":
        summary = (f"Tuned, the three were within {same_gap:.0%} of the best improvement of each other on all {n} "
                   f"problems (spread {listed}).")
        ko = f"튜닝하면 세 방법의 차이가 {n}개 문제 모두에서 최대 개선폭의 {same_gap:.0%} 안이었습니다(차이 {listed})."
    elif verdict == "depends":
        apart = ", ".join(r[0] for r in rows if r not in alike)
        summary = (f"The three were about the same (within {same_gap:.0%}) on {k} of {n} problems, not on {apart} "
                   f"(spread {listed}).")
        ko = (f"세 방법은 {n}개 중 {k}개 문제에서 비슷했고({same_gap:.0%} 이내), {apart}에서는 아니었습니다(차이 "
              f"{listed}).")
    else:
        summary = f"The three differed by more than {same_gap:.0%} of the best improvement on every problem ({listed})."
        ko = f"세 방법의 차이가 모든 문제에서 최대 개선폭의 {same_gap:.0%}를 넘었습니다({listed})."
    summary, ko = summary + size_en, ko + size_ko
    names = list(runs)
    series = {o: {"x": list(range(len(names))), "style": "o-",
                  "y": [_clip_q(runs[p].q(o, runs[p].tuned(o)[0])) for p in names]} for o in ALIKE}
    return Claim("with much data, AdaDelta, RMSProp and Adam perform about the same", verdict, summary, {
        "setup": f"Each of the three at its tuned lr on the grid, {_steps_text(runs)} steps, median over seeds."
                 + _data_text(runs),
        "numbers": numbers,
        "thresholds": {"about the same": f"(max − min tuned loss) ≤ {same_gap} × (L0 − L*)",
                       "supported": "on every problem", "depends": "on some", "not supported": "on none"},
        "figure": {"kind": "lines", "title": "tuned q of the three", "xlabel": "problem", "ylabel": "q (1 = best)",
                   "xticklabels": names, "series": series},
    }, ko={"summary": ko, "numbers": numbers_ko,
           "thresholds": {"거의 같음": f"(튜닝한 손실의 최대 − 최소) ≤ {same_gap} × (L0 − L*)",
                         "지지됨": "모든 문제에서", "조건부": "일부 문제에서", "지지되지 않음": "어느 문제에서도 아님"},
           "figure": {"title": "세 방법의 튜닝한 q", "xlabel": "문제", "ylabel": "q (1 = 최선)"},
           "setup": f"세 방법 각각 격자에서 튜닝한 학습률로 {_steps_text(runs)} 스텝, 시드에 걸친 "
                     "중앙값." + _data_text(runs, "ko")})


def claim_adam_vs_rmsprop_sparse(runs: Mapping[float, GridRun], density: Mapping[float, float],
                                 gap_min: float = 0.01) -> Claim:
    """"Adam does better than RMSProp as gradients get sparse": tuned Adam against tuned RMSProp across feature
    densities (densest first)."""
    rows = []
    for e in sorted(runs, key=lambda e: -density[e]):
        run = runs[e]
        (lr_r, rms), (lr_a, adam) = run.tuned("rmsprop"), run.tuned("adam")
        gap = (rms - adam) / abs(rms) if math.isfinite(rms) and math.isfinite(adam) and rms else math.nan
        rows.append((e, density[e], rms, adam, gap, run.sd("rmsprop", lr_r), run.sd("adam", lr_a)))
    dense, sparse = rows[0], rows[-1]
    wins = math.isfinite(sparse[4]) and sparse[4] > gap_min
    grows = len(rows) >= 2 and math.isfinite(dense[4]) and math.isfinite(sparse[4]) and sparse[4] > dense[4] + gap_min
    verdict = "supported" if wins and grows else "depends" if wins or grows else "not supported"
    numbers = {f"density {d:.3f}": f"RMSProp {r:.4g} ± {sr:.2g}, Adam {a:.4g} ± {sa:.2g}, Adam lower by {g:+.1%}"
               for _, d, r, a, g, sr, sa in rows}
    numbers_ko = {f"밀도 {d:.3f}": f"RMSProp {r:.4g} ± {sr:.2g}, Adam {a:.4g} ± {sa:.2g}, Adam이 {g:+.1%} 낮음"
                  for _, d, r, a, g, sr, sa in rows}
    gaps = ", ".join(f"{g:+.1%} at {d:.3f}" for _, d, _, _, g, _, _ in rows)
    gaps_ko = ", ".join(f"밀도 {d:.3f}에서 {g:+.1%}" for _, d, _, _, g, _, _ in rows)
    if verdict == "supported":
        summary = f"Adam's lead over RMSProp grew as features got sparser ({gaps}) and was clear at the sparsest."
        ko = f"특성이 희소해질수록 Adam이 RMSProp보다 앞서는 폭이 커졌고({gaps_ko}), 가장 희소한 수준에서 뚜렷했습니다."
    elif verdict == "depends":
        part = "Adam led at the sparsest level but the lead did not grow" if wins else \
            "the lead grew with sparsity but stayed within the threshold at the sparsest"
        part_ko = "가장 희소한 수준에서 Adam이 앞섰지만 그 폭이 커지지는 않았습니다" if wins else \
            "희소할수록 차이는 커졌지만 가장 희소한 수준에서도 기준 안이었습니다"
        summary = f"Partly: {part} (Adam lower by {gaps})."
        ko = f"부분적으로만 맞습니다. {part_ko}(Adam 손실이 낮은 정도: {gaps_ko})."
    else:
        summary = f"Adam was not better than RMSProp as features got sparser (Adam lower by {gaps})."
        ko = f"특성이 희소해져도 Adam이 RMSProp보다 낫지 않았습니다(Adam 손실이 낮은 정도: {gaps_ko})."
    series = {o: {"x": [r[1] for r in rows], "y": [r[2] if o == "rmsprop" else r[3] for r in rows], "style": "o-"}
              for o in ("rmsprop", "adam")}
    return Claim("Adam does better than RMSProp as gradients get sparse", verdict, summary, {
        "setup": "sparse-logreg with power-law feature frequencies at several exponents; RMSProp and Adam each at "
                 "its tuned lr; validation loss (median ± sd over seeds).",
        "numbers": numbers,
        "thresholds": {"Adam leads": f"its tuned loss is lower by more than {gap_min:.0%}",
                       "grows": f"the lead at the sparsest exceeds the densest's by more than {gap_min:.0%}",
                       "supported": "leads at the sparsest and grows", "depends": "one of the two",
                       "not supported": "neither"},
        "figure": {"kind": "lines", "title": "tuned validation loss vs density",
                   "xlabel": "fraction of features present",
                   "ylabel": "validation loss", "logx": True, "series": series},
    }, ko={"summary": ko, "numbers": numbers_ko,
           "thresholds": {"Adam이 앞섬": f"튜닝한 손실이 {gap_min:.0%}보다 더 낮음",
                         "격차가 커짐": f"가장 희소한 곳의 격차가 가장 조밀한 곳보다 {gap_min:.0%}p 넘게 큼",
                         "지지됨": "가장 희소한 곳에서 앞서고 격차도 커짐", "조건부": "둘 중 하나",
                         "지지되지 않음": "둘 다 아님"},
           "figure": {"title": "밀도에 따른 튜닝한 검증 손실", "xlabel": "존재하는 특성의 비율",
                      "ylabel": "검증 손실"},
           "setup": "거듭제곱 법칙으로 특성 빈도가 정해지는 sparse-logreg를 여러 지수로 만들고, "
                     "RMSProp와 "
                     "Adam을 각자 튜닝한 학습률로 돌렸습니다. 검증 손실(시드에 걸친 중앙값 ± 표준편차)."})
