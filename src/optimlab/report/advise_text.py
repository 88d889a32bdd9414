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
            "1. A scan: every candidate at every learning rate one decade apart (1e-5 … 10) for a ninth of the run, "
            "on paired tuning seeds (same initial weights and batches for every configuration); a candidate whose "
            "best rate is an end of the scan, and better than the next rate in, tries one decade further. 2. A "
            "refinement: every candidate — none is dropped on a short run, so a slow starter is not lost — at its "
            "best scan rate and half a decade either side, for half of the run. 3. The four best configurations "
            "of the refinement (at least two optimizers) re-trained for the full run on fresh seeds; the best mean "
            "validation score wins, unless a cheaper finalist is tied with it (paired test p ≥ 0.05 and means "
            "within 0.5 %): then the one that keeps fewer optimizer-state tensors per parameter. The test split is "
            "only reported, never used to decide."
        ),
        "fig_lr": "Learning-rate curves of every candidate",
        "fig_bracket": "The bracket: who was dropped when",
        "fig_final": "Final curves",
        "ranking": "Ranking",
        "losers": "Why each other candidate lost",
        "bracket": "Bracket (validation {metric} per rung)",
        "compute": "Compute (trial-steps: one optimizer update of one trial)",
        "plan": "Plan",
        "budget": "Budget: {budget}.",
        "none": "(none)",
        "evidence": "Evidence: {path}",
        # figures
        "lr_curve_label": "{steps} steps",
        "lr_ylabel": "validation {metric}",
        "learning_rate": "learning rate",
        "rung_tick": "{stage}\n{steps} steps",
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
        "confidence": "Confidence: the runner-up, {b}, is {gap} % {side} in mean validation {metric} (paired "
                      "difference {diff}, sd {sd} over {n} fresh seeds, {test} p = {p}).",
        "behind": "behind",
        "ahead": "ahead",
        "clear": "Every other finalist is distinguishably worse: a clear pick.",
        "same": "Indistinguishable from the pick within noise: {names}; any of them is a sound choice.",
        "choice_kept": "Tied with {lead} (paired test p ≥ {alpha}, means within {tol} %): {tied}; {lead} keeps the "
                       "fewest optimizer-state tensors of them, so it stays.",
        "choice_cheaper": "{lead} has the best mean, but {pick} is tied with it (paired test p ≥ {alpha}, means "
                          "within {tol} %) and keeps {pick_cost} optimizer-state tensor(s) per parameter against "
                          "{lead_cost}: the tie goes to the cheaper one.",
        "late": "{name} was on a plateau through the whole scan (flat at every rate), so it was refined at its "
                "largest stable rate and, having started learning by then, kept a place in the final.",
        "lost_diverged": "{name} lost in the scan: it diverged at every learning rate.",
        "lost_flat": "{name} lost in the scan: no learning rate changed its validation {metric} in {steps} steps.",
        "lost_behind": "{name} lost in the {stage} ({steps} steps): its best, {score} at lr {lr}, ranked below the "
                       "last configuration sent on ({cut}).",
        "diverged": "diverged",
        "scan": "scan",
        "refinement": "refinement",
        "refine": "refinement",
        "compute_line": "Compute: {total} trial-steps ({detail}) in {seconds} s; budget {budget}.",
        "phase_part": "{phase} {steps}",
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
            "1. 훑기: 모든 후보를 한 자릿수 간격의 모든 학습률(1e-5 … 10)로 전체 학습의 1/9 동안 학습한다. 모든 조합이 "
            "같은 튜닝 시드(같은 초기 가중치, 같은 배치 순서)를 쓴다. 가장 좋은 학습률이 훑은 범위의 끝이고 바로 안쪽 "
            "값보다 좋으면 한 자릿수 더 바깥을 시도한다. 2. 다듬기: 모든 후보(짧은 학습으로 탈락시키지 않으므로 늦게 "
            "출발하는 후보도 잃지 않는다)를 가장 좋았던 학습률과 그 양쪽 반 자릿수에서 전체의 1/2 동안 학습한다. "
            "3. 다듬기의 상위 네 조합(옵티마이저 두 개 이상)을 새 시드로 전체 길이만큼 다시 학습한다. 평균 검증 점수가 "
            "가장 좋은 조합이 뽑히되, 더 싼 결승 진출 조합이 그와 동률이면(짝 검정 p ≥ 0.05, 평균 차이 0.5 % 이내) "
            "파라미터당 옵티마이저 상태 텐서가 더 적은 쪽을 뽑는다. 테스트 분할은 보고만 하고 결정에는 쓰지 않는다."
        ),
        "fig_lr": "모든 후보의 학습률 곡선",
        "fig_bracket": "대진표: 언제 누가 탈락했나",
        "fig_final": "최종 곡선",
        "ranking": "순위",
        "losers": "다른 후보가 진 이유",
        "bracket": "대진표(라운드별 검증 {metric})",
        "compute": "계산량(트라이얼-스텝: 트라이얼 하나의 옵티마이저 업데이트 한 번)",
        "plan": "계획",
        "budget": "예산: {budget}.",
        "none": "(없음)",
        "evidence": "근거 자료: {path}",
        "lr_curve_label": "{steps} 스텝",
        "lr_ylabel": "검증 {metric}",
        "learning_rate": "학습률",
        "rung_tick": "{stage}\n{steps} 스텝",
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
        "confidence": "확신도: 2위 {b}은(는) 평균 검증 {metric}에서 {gap} % {side} (짝지은 차이 {diff}, 새 시드 "
                      "{n}개에서 표준편차 {sd}, {test} p = {p}).",
        "behind": "뒤진다",
        "ahead": "앞선다",
        "clear": "다른 결승 진출 조합은 모두 구별될 만큼 나쁘다: 분명한 선택이다.",
        "same": "잡음 범위 안에서 추천과 구별되지 않는다: {names}. 어느 쪽을 써도 좋다.",
        "choice_kept": "{lead}와(과) 동률(짝 검정 p ≥ {alpha}, 평균 차이 {tol} % 이내): {tied}. "
                       "그중 {lead}의 옵티마이저 상태 텐서가 가장 적어 그대로 뽑는다.",
        "choice_cheaper": "평균은 {lead}이(가) 가장 좋지만 {pick}이(가) 동률이고(짝 검정 p ≥ {alpha}, "
                          "평균 차이 {tol} % 이내) 파라미터당 옵티마이저 상태 텐서가 {lead_cost}개가 아니라 "
                          "{pick_cost}개다: 동률이면 더 싼 쪽을 뽑는다.",
        "late": "{name}은(는) 훑기 내내 정체 구간에 있었다(모든 학습률에서 평평). 그래서 발산하지 않은 가장 큰 "
                "학습률 주변에서 다듬었고, 그때는 학습을 시작했기에 결승에 한 자리를 남겨 두었다.",
        "lost_diverged": "{name}: 훑기에서 탈락. 모든 학습률에서 발산했다.",
        "lost_flat": "{name}: 훑기에서 탈락. {steps} 스텝 동안 어떤 학습률도 검증 {metric}을(를) 바꾸지 못했다.",
        "lost_behind": "{name}: {stage}에서 탈락({steps} 스텝). 가장 좋은 값 {score}(학습률 {lr})이(가) 다음 단계로 "
                       "간 마지막 조합({cut})보다 순위가 낮았다.",
        "diverged": "발산",
        "scan": "훑기",
        "refinement": "다듬기",
        "refine": "다듬기",
        "compute_line": "계산량: 트라이얼-스텝 {total} ({detail}), {seconds}초. 예산: {budget}.",
        "phase_part": "{phase} {steps}",
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
           "run_steps": "학습 스텝", "scan_lrs": "훑기 학습률 수", "scan_steps": "훑기 스텝", "scan_seeds": "훑기 시드",
           "refine_lrs": "다듬기 학습률 수", "refine_steps": "다듬기 스텝", "refine_seeds": "다듬기 시드",
           "final_seeds": "최종 시드", "finalists": "결승 진출 수", "reason": "이유", "cut": "기준 점수",
           "test": "검정", "p": "p"},
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
    """``rung 2`` / ``final`` / ``scan`` in the report's language."""
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
        lines.extend(_confidence(result, metric, words))
    if getattr(result, "late_starter", None):
        lines.append(words("late", name=result.late_starter))
    lines.extend(_lost(result, metric, words))
    by_phase: dict[str, int] = {}
    for part in result.compute:
        key = part["phase"]
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
    tried = result.bracket[result.bracket["candidate"] == name]["lr"]
    if len(tried) < 2 or tried.min() < result.winner.lr < tried.max():
        return []
    side = "largest" if result.winner.lr >= tried.max() else "smallest"
    return [words("edge", lr=f"{result.winner.lr:.3g}", side=words(side), name=name)]


def _confidence(result: Any, metric: str, words: Messages) -> list[str]:
    """How sure the pick is: the runner-up's gap and spread on the fresh final seeds, who is tied, and how a tie
    was settled."""
    if not result.tests:
        return []
    w, runner = result.winner, result.tests[0]
    behind = runner.diff >= 0 if result.goal == "max" else runner.diff <= 0
    gap = 100.0 * abs(runner.diff) / max(abs(w.valid_mean), 1e-12)
    lines = [words("confidence", b=runner.b, gap=f"{gap:.2g}", side=words("behind" if behind else "ahead"),
                   metric=metric, diff=f"{runner.diff:+.3g}", sd=f"{runner.sd:.2g}", n=runner.n,
                   test=_test_name(runner.test, words), p=f"{runner.p:.2g}")]
    same = [t.b for t in result.tests if not t.distinguishable]
    lines.append(words("same", names=", ".join(same)) if same else words("clear"))
    c = result.choice
    if c:
        common = {"lead": c["lead"], "alpha": f"{c['alpha']:g}", "tol": f"{100 * c['tolerance']:g}"}
        if c["pick"] == c["lead"]:
            lines.append(words("choice_kept", tied=", ".join(c["tied"]), **common))
        else:
            lines.append(words("choice_cheaper", pick=c["pick"], pick_cost=c["pick_cost"], lead_cost=c["lead_cost"],
                               **common))
    return lines


def _lost(result: Any, metric: str, words: Messages) -> list[str]:
    """Why each candidate that did not reach the final lost (finalists are covered by their paired tests)."""
    lines = []
    for row in result.losers().itertuples():
        if row.stage == "final":
            continue
        lines.append(words(f"lost_{row.reason}", name=row.candidate, metric=metric, steps=row.steps,
                           stage=words(row.stage), score=_score(row.score, words), lr=f"{row.lr:.3g}",
                           cut=_score(row.cut, words)))
    return lines


def _score(value: float, words: Messages) -> str:
    return words("diverged") if math.isnan(float(value)) else f"{float(value):.4g}"
