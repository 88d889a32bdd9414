"""Every word the advice report writes, in English and Korean, keyed by message id; and the summary in words.

:func:`summary` says the recommendation and its evidence in ``lang``; in English it is the advisor's own
:meth:`AdviceResult.summary` word for word (a test holds them equal), so the two languages say the same thing.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ._i18n import Messages, Table, metric_label

TEXT: Table = {
    "en": {
        "title": "optimlab advise: {problem}",
        "heading": "Which optimizer for {problem}?",
        "stopped": "The advisor stopped early: {reason} What had been measured is shown below.",
        "summary": "Summary",
        "how": "How it decided",
        "how_text": (
            "1. A learning-rate range test: every candidate ramps its learning rate exponentially over seven decades "
            "on two seeds, all in one population; the mean loss is smoothed with a centred moving median and read "
            "as a usable range (shaded), not a single argmin. 2. Successive halving over candidate × learning rate "
            "on paired tuning seeds (same initial weights and batches for every configuration), the best third "
            "promoted to three times the steps. 3. The four best configurations of the last rung (at least two "
            "optimizers) re-trained for the full run on fresh seeds; the winner has the best mean validation "
            "score, and a paired test over seeds says whether the runner-up is distinguishable. The test split is "
            "only reported, never used to decide."
        ),
        "fig_range": "Range test",
        "fig_bracket": "The bracket: who was dropped when",
        "fig_final": "Final curves",
        "ranking": "Ranking",
        "bracket": "Bracket (validation {metric} per rung)",
        "compute": "Compute (trial-steps: one optimizer update of one trial)",
        "plan": "Plan",
        "budget": "Budget: {budget}.",
        "none": "(none)",
        "evidence": "Evidence: {path}",
        # figures
        "no_range": " (no usable range)",
        "learning_rate": "learning rate",
        "training_loss": "training loss",
        "rung_tick": "rung {rung}\n{steps} steps",
        "final_tick": "final\n{steps} steps",
        "bracket_ylabel": "validation {metric} (mean over seeds)",
        "bracket_title": "Tournament: each line one optimizer × lr; × = dropped there",
        "step": "step",
        "final_label": "{name} (lr {lr})",
        "final_ylabel": "validation {metric}",
        "final_title": "Final confirmation: median and min–max over {seeds} seeds",
        # a paired test, in words
        "test": "{a} vs {b}: {test} over {n} paired seeds (same initial weights and batches), mean difference in "
                "{metric} {diff} (sd {sd}), p = {p} -> {verdict} at the {alpha} level.",
        "real": "a real difference",
        "noise": "indistinguishable within noise",
        "paired t-test": "paired t-test",
        "exact sign test": "exact sign test",
        "a run diverged": "a run diverged",
        "the per-seed differences are all equal": "the per-seed differences are all equal",
        # the summary
        "no_winner": "No recommendation for {problem}: the advisor stopped ({reason}).",
        "winner": "{name} at lr {lr} (batch size {batch}) on {problem}: validation {metric} {valid} ± {valid_sd} "
                  "over {seeds} seeds after {steps} steps (test {metric} {test} ± {test_sd}).",
        "edge": "Note: {lr} is the {side} learning rate tried for {name}; the best may lie beyond it.",
        "largest": "largest",
        "smallest": "smallest",
        "at": "{label} at lr {lr}",
        "as_good": "{who} is as good within noise ({test}, p = {p}).",
        "worse": "{who} is worse ({test}, p = {p}){speed}.",
        "speed": "; it needs about {times}× more steps to match: {a} reached {b}'s final {metric} after {match} of "
                 "{steps} steps",
        "dropped": "Dropped earlier (best validation {metric} when dropped): {names}.",
        "dropped_one": "{name} ({score} after {steps} steps)",
        "diverged": "diverged",
        "unusable": "No learning rate lowered the loss in the range test for: {names} (tried around their default lr).",
        "compute_line": "Compute: {total} trial-steps ({detail}) in {seconds} s; budget {budget}.",
        "phase_part": "{phase} {steps}",
        "range test": "range test",
        "longer range test": "longer range test",
        "halving": "halving",
        "final": "final",
        "rung": "rung {rung}",
        "budget_steps": "{n} trial-steps",
        "budget_runs": "{n}× one training run",
        "budget_time": "{n} s of wall time",
    },
    "ko": {
        "title": "optimlab 옵티마이저 추천: {problem}",
        "heading": "{problem}에는 어떤 옵티마이저가 좋을까?",
        "stopped": "어드바이저가 도중에 멈췄다: {reason} 그때까지 측정한 결과를 아래에 보인다.",
        "summary": "요약",
        "how": "결정 방법",
        "how_text": (
            "1. 학습률 범위 테스트: 모든 후보가 시드 두 개에서 학습률을 일곱 자릿수에 걸쳐 지수적으로 키우며 한 "
            "population으로 함께 학습한다. 평균 손실을 중심 이동 중앙값으로 평활화한 뒤, 최솟점 하나가 아니라 쓸 수 "
            "있는 범위(음영)로 읽는다. 2. 후보 × 학습률 조합에 대해 연속 반감(successive halving)을 한다. 모든 "
            "조합이 같은 튜닝 시드(같은 초기 가중치, 같은 배치 순서)를 쓰고, 상위 1/3이 세 배 긴 스텝으로 다음 "
            "라운드에 올라간다. 3. 마지막 라운드의 상위 네 조합(옵티마이저 두 개 이상)을 새 시드로 전체 길이만큼 다시 "
            "학습한다. 평균 검증 점수가 가장 좋은 조합이 우승하고, 시드별 짝 검정으로 2위와 구별되는지 판단한다. "
            "테스트 분할은 보고만 하고 결정에는 쓰지 않는다."
        ),
        "fig_range": "학습률 범위 테스트",
        "fig_bracket": "대진표: 언제 누가 탈락했나",
        "fig_final": "최종 곡선",
        "ranking": "순위",
        "bracket": "대진표(라운드별 검증 {metric})",
        "compute": "계산량(트라이얼-스텝: 트라이얼 하나의 옵티마이저 업데이트 한 번)",
        "plan": "계획",
        "budget": "예산: {budget}.",
        "none": "(없음)",
        "evidence": "근거 자료: {path}",
        "no_range": " (쓸 수 있는 범위 없음)",
        "learning_rate": "학습률",
        "training_loss": "학습 손실",
        "rung_tick": "{rung}라운드\n{steps} 스텝",
        "final_tick": "최종\n{steps} 스텝",
        "bracket_ylabel": "검증 {metric} (시드 평균)",
        "bracket_title": "토너먼트: 선 하나가 옵티마이저 × 학습률 하나, × = 그 라운드에서 탈락",
        "step": "스텝",
        "final_label": "{name} (학습률 {lr})",
        "final_ylabel": "검증 {metric}",
        "final_title": "최종 확인: 시드 {seeds}개의 중앙값과 최소–최대",
        "test": "{a} 대 {b}: 짝지은 시드 {n}개(같은 초기 가중치, 같은 배치)에 대한 {test}. {metric} 평균 차이 {diff} "
                "(표준편차 {sd}), p = {p} → 유의수준 {alpha}에서 {verdict}.",
        "real": "실제 차이가 있다",
        "noise": "잡음 수준 이상의 차이는 없다",
        "paired t-test": "짝 t-검정",
        "exact sign test": "정확 부호 검정",
        "a run diverged": "발산한 실행이 있음",
        "the per-seed differences are all equal": "시드별 차이가 모두 같음",
        "no_winner": "{problem}에 대한 추천 없음: 어드바이저가 멈췄다({reason}).",
        "winner": "{problem} 추천: {name}, 학습률 {lr} (배치 크기 {batch}). {steps} 스텝 학습 후 시드 {seeds}개에서 "
                  "검증 {metric} {valid} ± {valid_sd} (테스트 {metric} {test} ± {test_sd}).",
        "edge": "참고: 뽑힌 학습률 {lr}은(는) {name}에 시도한 값 중 {side} 값이다. 최적값은 그 바깥에 있을 수 있다.",
        "largest": "가장 큰",
        "smallest": "가장 작은",
        "at": "{label} (학습률 {lr})",
        "as_good": "{who}: 잡음 범위 안에서 똑같이 좋다({test}, p = {p}).",
        "worse": "{who}: 더 나쁘다({test}, p = {p}){speed}.",
        "speed": ". 같은 수준에 이르려면 약 {times}배 많은 스텝이 필요하다. {a}은(는) {steps} 스텝 중 {match} 스텝 "
                 "만에 {b}의 최종 {metric}에 도달했다",
        "dropped": "먼저 탈락(탈락 시점의 최고 검증 {metric}): {names}.",
        "dropped_one": "{name} ({steps} 스텝 후 {score})",
        "diverged": "발산",
        "unusable": "범위 테스트에서 손실을 낮춘 학습률이 없었다: {names} (기본 학습률 근처에서 시도함).",
        "compute_line": "계산량: 트라이얼-스텝 {total} ({detail}), {seconds}초. 예산: {budget}.",
        "phase_part": "{phase} {steps}",
        "range test": "범위 테스트",
        "longer range test": "더 긴 범위 테스트",
        "halving": "연속 반감",
        "final": "최종",
        "rung": "{rung}라운드",
        "budget_steps": "트라이얼-스텝 {n}",
        "budget_runs": "학습 한 번의 {n}배",
        "budget_time": "실제 시간 {n}초",
    },
}

COLUMNS: Table = {
    "en": {},
    "ko": {"rank": "순위", "candidate": "후보", "optimizer": "옵티마이저", "lr": "학습률", "stage": "단계",
           "steps": "스텝", "seeds": "시드 수", "diverged_seeds": "발산한 시드", "rung": "라운드", "score": "점수",
           "score_sd": "점수 표준편차", "diverged": "발산", "promoted": "승급", "phase": "단계", "trials": "트라이얼",
           "trial_steps": "트라이얼-스텝", "example_steps": "예제-스텝", "seconds": "초", "candidates": "후보 수",
           "run_steps": "학습 스텝", "range_steps": "범위 테스트 스텝", "range_seeds": "범위 테스트 시드",
           "lrs_per_candidate": "후보당 학습률 수", "tune_seeds": "튜닝 시드", "rung_steps": "라운드별 스텝",
           "final_seeds": "최종 시드", "finalists": "결승 진출 수", "rung_sizes": "라운드별 조합 수"},
}
"""Table headers: a column's name for a reader (English keeps the column names as they are in the CSVs)."""


def column_label(name: str, lang: str) -> str:
    """The header of column ``name`` in ``lang`` (``valid_loss_sd`` → ``검증 손실 표준편차``)."""
    if name in COLUMNS[lang]:
        return COLUMNS[lang][name]
    if lang != "en" and name.endswith("_sd"):
        return f"{metric_label(name[:-3], lang)} {COLUMNS[lang]['score_sd'].split()[-1]}"
    return metric_label(name, lang)


def phase_label(phase: str, words: Messages) -> str:
    """``rung 2`` / ``final`` / ``range test`` in the report's language."""
    found = re.fullmatch(r"rung (\d+)", phase)
    if found:
        return words("rung", rung=found.group(1))
    try:
        return words(phase)
    except KeyError:
        return phase


def budget_text(budget: Any, words: Messages) -> str:
    """The tournament's budget in words (``Budget.kind`` is steps, runs or seconds)."""
    key = {"steps": "budget_steps", "runs": "budget_runs"}.get(budget.kind, "budget_time")
    return words(key, n=f"{int(budget.value)}" if budget.kind == "steps" else f"{budget.value:g}")


def test_text(test: Any, metric: str, alpha: float, words: Messages) -> str:
    """A paired test of the winner against another finalist, in words."""
    return words("test", a=test.a, b=test.b, test=_test_name(test.test, words), n=test.n,
                 metric=metric_label(metric, words.lang), diff=f"{test.diff:+.4g}", sd=f"{test.sd:.2g}",
                 p=f"{test.p:.3g}", verdict=words("real" if test.distinguishable else "noise"), alpha=f"{alpha:g}")


def _test_name(name: str, words: Messages) -> str:
    """``exact sign test (a run diverged)`` with both parts in the report's language."""
    base, _, why = name.partition(" (")
    out = words(base) if base in TEXT["en"] else base
    if why:
        why = why.rstrip(")")
        out += f" ({words(why) if why in TEXT['en'] else why})"
    return out


def summary(result: Any, lang: str = "en") -> str:
    """The recommendation and its evidence in plain ``lang`` (English: :meth:`AdviceResult.summary`'s words)."""
    words = Messages(TEXT, lang)
    metric = result.metric if lang == "en" else metric_label(result.metric, lang)
    lines: list[str] = []
    if result.winner is None:
        lines.append(words("no_winner", problem=result.problem, reason=result.stopped))
    else:
        w = result.winner
        lines.append(words("winner", name=w.candidate.name, lr=f"{w.lr:.3g}", batch=w.batch_size,
                           problem=result.problem, metric=metric, valid=f"{w.valid_mean:.4g}",
                           valid_sd=f"{w.valid_sd:.2g}", seeds=w.seeds, steps=result.run_steps,
                           test=f"{w.test_mean:.4g}", test_sd=f"{w.test_sd:.2g}"))
        lines.extend(_edge(result, words))
        for test, (_, lr) in zip(result.tests, result.final_order[1:], strict=False):
            who = test.b if "@" in test.b else words("at", label=test.b, lr=f"{lr:.3g}")
            name = _test_name(test.test, words)
            if not test.distinguishable:
                lines.append(words("as_good", who=who, test=name, p=f"{test.p:.3g}"))
                continue
            match = result.steps_to_match(test.a, test.b)
            speed = ""
            if match and result.run_steps / match >= 1.5:
                speed = words("speed", times=f"{result.run_steps / match:.0f}", a=test.a, b=test.b, metric=metric,
                              match=match, steps=result.run_steps)
            lines.append(words("worse", who=who, test=name, p=f"{test.p:.3g}", speed=speed))
    lines.extend(_dropped(result, metric, words))
    unusable = [name for name, r in result.ranges.items() if not r.usable]
    if unusable:
        lines.append(words("unusable", names=", ".join(unusable)))
    by_phase: dict[str, int] = {}
    for part in result.compute:
        key = "halving" if part["phase"].startswith("rung") else part["phase"]
        by_phase[key] = by_phase.get(key, 0) + part["trial_steps"]
    seconds = sum(part["seconds"] for part in result.compute)
    detail = ", ".join(words("phase_part", phase=phase_label(k, words), steps=f"{v:,}") for k, v in by_phase.items())
    lines.append(words("compute_line", total=f"{result.trial_steps():,}", detail=detail, seconds=f"{seconds:.0f}",
                       budget=budget_text(result.budget, words)))
    return "\n".join(lines)


def _edge(result: Any, words: Messages) -> list[str]:
    """The warning when the winning lr is the largest or smallest its candidate tried."""
    if result.winner is None or not len(result.bracket):
        return []
    name = result.winner.candidate.name
    tried = result.bracket[(result.bracket["rung"] == 0) & (result.bracket["candidate"] == name)]["lr"]
    if len(tried) < 2 or tried.min() < result.winner.lr < tried.max():
        return []
    side = "largest" if result.winner.lr >= tried.max() else "smallest"
    return [words("edge", lr=f"{result.winner.lr:.3g}", side=words(side), name=name)]


def _dropped(result: Any, metric: str, words: Messages) -> list[str]:
    """The candidates dropped before the final round, each with its best score when it was dropped."""
    if not len(result.bracket):
        return []
    dropped = []
    finalists = {n for n, _ in result.final_order}
    for name in dict.fromkeys(result.bracket["candidate"]):
        if name in finalists:
            continue
        rows = result.bracket[result.bracket["candidate"] == name]
        last = rows[rows["rung"] == rows["rung"].max()].sort_values("rank").iloc[0]
        score = words("diverged") if math.isnan(float(last.score)) else f"{float(last.score):.4g}"
        dropped.append(words("dropped_one", name=name, score=score, steps=int(last.steps)))
    return [words("dropped", metric=metric, names=", ".join(dropped))] if dropped else []
