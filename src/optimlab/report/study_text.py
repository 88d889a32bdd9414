"""Every word the study report writes, in English and Korean, keyed by message id (read with ``Messages``).

The claims' own sentences come from the claims study: their names, summaries and setups in Korean where it wrote
them (``evidence["ko"]``), their evidence labels and figure titles as written; the report translates what it writes
itself, including the verdict labels.
"""

from __future__ import annotations

from ._i18n import Table

TEXT: Table = {
    "en": {
        # figures
        "lr_xlabel": "learning rate      (○ chosen lr · × every seed diverged · ▲/▼ off the chart)",
        "lr_ylabel": "{metric} (median over tuning seeds)",
        "lr_title": "{problem}: how forgiving is each optimizer?",
        "step": "step",
        "curve_label": "{optimizer} (n={n})",
        "curves_title": "{problem}: tuned settings, median over seeds, band = min–max",
        "profile_xlabel": "τ (within τ × the best error)",
        "profile_ylabel": "fraction of problems",
        "profile_title": "Performance profiles (Dolan–Moré): higher and further left is better",
        # figure captions (alt text)
        "alt_lr": "{problem}: learning-rate sensitivity",
        "alt_curves": "{problem}: training curves",
        "alt_profiles": "performance profiles",
        "alt_claim": "evidence for: {name}",
        # tables
        "no_finished": "No finished run.",
        "optimizer": "optimizer",
        "lr": "lr",
        "seeds": "seeds",
        "failed": "diverged/failed",
        "spread": "median [IQR]<br>mean ± sd",
        "place": "#",
        "mean_rank": "mean rank",
        "row_vs_column": "row vs column",
        "pair_title": "{a} vs {b}: {verdict}",
        "better": "better",
        "worse": "worse",
        "no clear difference": "no clear difference",
        # claims and cards
        "no_claims": "No claims study in this store yet: run <code>optimlab bench --claims</code> to test the classic "
                     "rules of thumb.",
        "how_decided": "How the verdict is decided",
        "claim": "rule of thumb",
        "verdict": "verdict",
        "per_budget": "verdict at each budget",
        "why_figure": "the figure that shows why",
        "supported": "supported",
        "not supported": "not supported",
        "depends": "depends",
        "how_it_works": "{optimizer}: how it works",
        "no_card": "No explain card for {optimizer}: {error}",
        "family_tree": "The family tree",
        "rest_of_family": "The rest of the family",
        # page
        "title": "optimlab study: {name}",
        "meta": "study {study} · {problems} problem(s) · {optimizers} optimizer(s) · {trials} trial(s) · {protocol}",
        "no_sweep": "No learning-rate sweep for this problem (a defaults-only study): every optimizer ran at its "
                    "preset default.",
        "lower": "lower",
        "higher": "higher",
        "problem_meta": "score: {score} ({direction} is better); selection: {selection}",
        "problem_steps": "; {steps} steps",
        "problem_examples": "; test metrics on {test}, validation on {valid}",
        "subset_why": " (this budget scores on at most {n} examples per split to keep evaluation cheap; "
                      "`optimlab bench --full-eval` scores whole splits)",
        "needs_problem": "Needs at least one problem with finished runs.",
        "glance_rank": "Best mean rank: <b>{best}</b> ({best_rank} over {n} problem(s)); last: {last} ({last_rank}).",
        "glance_best": "Best per problem (median {metrics}): {winners}.",
        "glance_pairs": "{clear} of {pairs} pairs differ clearly over paired seeds (sign test, p &lt; {alpha}).",
        "glance_claims": "Rules of thumb: {counts} (<a href=\"#claims\">details</a>).",
        "verdict_count": "{n} {verdict}",
        "ranking": "Ranking",
        "ranking_note": "Rank of each optimizer's median score over seeds on each problem (1 = best, ties share the "
                        "better rank; a diverged or failed seed counts as the worst score, so failing on half the "
                        "seeds or more ranks last), averaged over problems; the median is in brackets.",
        "profiles": "Performance profiles",
        "profile_definition": (
            "Cost of an optimizer on a problem: its score metric turned into an error e (lower is better: a loss as "
            "it is, an accuracy as 1 − accuracy), median over seeds. Performance ratio r = 1 + (e − e*) / |e*|, "
            "where e* is the best optimizer's error on that problem (for positive errors this is e / e*, the "
            "Dolan–Moré ratio). A run whose seeds all diverged or failed has r = ∞. The profile ρ(τ) is the fraction "
            "of problems on which an optimizer's ratio is at most τ: ρ(1) counts outright wins, the curve's height "
            "at τ = 2 counts problems where its error is at most twice the best."
        ),
        "pairwise": "Pairwise wins and losses over paired seeds",
        "pairwise_note": "Cell = row wins–row losses against the column, n = paired runs (ties included). Green: row "
                         "better, red: row worse, yellow: no clear difference.",
        "sign_test": (
            "Pairs: the same problem and the same seed (same initial weights and batches), scored on the test split. "
            "A diverged or failed run loses to a finished one; equal scores are ties and are left out of the test. "
            "p is the two-sided exact sign test on wins against losses; a verdict needs p < {alpha}."
        ),
        "nav_across": "Across problems",
        "nav_problems": "Per problem",
        "nav_claims": "Rules of thumb",
        "nav_cards": "Explain cards",
        "nav_family": "Family tree",
        "across": "Across problems",
        "problems": "Per problem",
        "no_trials": "No trials yet.",
        "claims": "The classic rules of thumb, tested",
        "cards": "Explain cards",
        # protocol
        "protocol_claims": "claims study: each rule of thumb as an experiment, verdict from stated thresholds",
        "protocol_defaults": "no tuning: every optimizer at its preset defaults",
        "protocol_tuned": "learning rate tuned on the validation split",
        "protocol_grid": " over {n} values {low}…{high}",
        "protocol_seeds": ", then {n} seeds scored on the test split",
        "protocol_budget": " · budget {budget}",
    },
    "ko": {
        "lr_xlabel": "학습률      (○ 선택된 학습률 · × 모든 시드 발산 · ▲/▼ 그래프 범위 밖)",
        "lr_ylabel": "{metric} (튜닝 시드의 중앙값)",
        "lr_title": "{problem}: 옵티마이저별 학습률 민감도",
        "step": "스텝",
        "curve_label": "{optimizer} (n={n})",
        "curves_title": "{problem}: 튜닝된 설정, 시드 중앙값, 음영 = 최소–최대",
        "profile_xlabel": "τ (최고 오차의 τ배 이내)",
        "profile_ylabel": "문제의 비율",
        "profile_title": "성능 프로파일(Dolan–Moré): 위쪽, 왼쪽일수록 좋다",
        "alt_lr": "{problem}: 학습률 민감도",
        "alt_curves": "{problem}: 학습 곡선",
        "alt_profiles": "성능 프로파일",
        "alt_claim": "근거: {name}",
        "no_finished": "끝까지 학습된 실행이 없다.",
        "optimizer": "옵티마이저",
        "lr": "학습률",
        "seeds": "시드 수",
        "failed": "발산/실패",
        "spread": "중앙값 [IQR]<br>평균 ± 표준편차",
        "place": "순위",
        "mean_rank": "평균 순위",
        "row_vs_column": "행 대 열",
        "pair_title": "{a} 대 {b}: {verdict}",
        "better": "우세",
        "worse": "열세",
        "no clear difference": "뚜렷한 차이 없음",
        "no_claims": "이 저장소에는 아직 경험칙(claims) 실험이 없다. 고전적인 경험칙을 검증하려면 "
                     "<code>optimlab bench --claims</code>를 실행한다.",
        "how_decided": "판정 기준",
        "claim": "경험칙",
        "verdict": "판정",
        "per_budget": "예산별 판정",
        "why_figure": "근거 그림",
        "supported": "지지됨",
        "not supported": "지지되지 않음",
        "depends": "조건부",
        "how_it_works": "{optimizer}: 작동 원리",
        "no_card": "{optimizer}의 설명 카드가 없다: {error}",
        "family_tree": "옵티마이저 계보",
        "rest_of_family": "나머지 옵티마이저",
        "title": "optimlab 실험: {name}",
        "meta": "실험 {study} · 문제 {problems}개 · 옵티마이저 {optimizers}개 · 트라이얼 {trials}개 · {protocol}",
        "no_sweep": "이 문제에는 학습률 스윕이 없다(기본값만 쓴 실험). 모든 옵티마이저가 프리셋 기본값으로 학습했다.",
        "lower": "낮을수록",
        "higher": "높을수록",
        "problem_meta": "평가 지표: {score} ({direction} 좋음) · 선택 기준: {selection}",
        "problem_steps": " · {steps} 스텝",
        "problem_examples": " · 테스트 지표는 {test}, 검증 지표는 {valid} 기준",
        "subset_why": " (이 예산은 평가 비용을 줄이려고 분할마다 최대 {n}개 예제로 채점합니다. 분할 전체로 채점하려면 "
                      "`optimlab bench --full-eval`을 쓰세요)",
        "needs_problem": "끝까지 학습된 실행이 있는 문제가 하나 이상 필요하다.",
        "glance_rank": "평균 순위 1위: <b>{best}</b> (문제 {n}개에서 {best_rank}), 꼴찌: {last} ({last_rank}).",
        "glance_best": "문제별 1위 ({metrics} 중앙값 기준): {winners}.",
        "glance_pairs": "{pairs}쌍 중 {clear}쌍은 같은 시드끼리 비교했을 때 뚜렷하게 차이 난다"
                        "(부호 검정, p &lt; {alpha}).",
        "glance_claims": "경험칙: {counts} (<a href=\"#claims\">자세히</a>).",
        "verdict_count": "{verdict} {n}개",
        "ranking": "순위",
        "ranking_note": "각 문제에서 옵티마이저별 시드 중앙값 점수의 순위(1 = 최고, 동점은 더 좋은 순위를 함께 받는다. "
                        "발산하거나 실패한 시드는 가장 나쁜 점수로 치므로 시드의 절반 이상에서 실패하면 꼴찌가 된다)를 "
                        "문제들에 걸쳐 평균했다. 괄호 안은 중앙값이다.",
        "profiles": "성능 프로파일",
        "profile_definition": (
            "어떤 문제에서 옵티마이저의 비용: 평가 지표를 오차 e로 바꾼 값(낮을수록 좋다. 손실은 그대로, 정확도는 "
            "1 − 정확도)의 시드 중앙값. 성능 비 r = 1 + (e − e*) / |e*|이고, e*는 그 문제에서 가장 좋은 옵티마이저의 "
            "오차다(오차가 양수이면 Dolan–Moré 비 e / e*와 같다). 모든 시드가 발산하거나 실패한 실행은 r = ∞이다. "
            "프로파일 ρ(τ)는 성능 비가 τ 이하인 문제의 비율이다. ρ(1)은 1위를 한 문제의 비율이고, τ = 2에서의 높이는 "
            "오차가 최고 기록의 두 배 이하인 문제의 비율이다."
        ),
        "pairwise": "같은 시드끼리 비교한 일대일 승패",
        "pairwise_note": "칸 = 열에 대한 행의 승–패, n = 짝지은 실행 수(무승부 포함). 초록: 행이 우세, 빨강: 행이 "
                         "열세, 노랑: 뚜렷한 차이 없음.",
        "sign_test": (
            "짝: 같은 문제, 같은 시드(같은 초기 가중치와 같은 배치 순서)이고, 테스트 분할에서 점수를 매겼다. "
            "발산하거나 실패한 실행은 끝까지 학습된 실행에 진다. 점수가 같으면 무승부로 보고 검정에서 뺀다. p는 승과 "
            "패에 대한 양측 정확 부호 검정의 값이고, 판정을 내리려면 p < {alpha}여야 한다."
        ),
        "nav_across": "전체 비교",
        "nav_problems": "문제별 결과",
        "nav_claims": "경험칙",
        "nav_cards": "설명 카드",
        "nav_family": "계보",
        "across": "전체 비교",
        "problems": "문제별 결과",
        "no_trials": "아직 트라이얼이 없다.",
        "claims": "고전적인 경험칙, 실험으로 검증하기",
        "cards": "설명 카드",
        "protocol_claims": "경험칙 실험: 경험칙마다 실험 하나, 미리 정한 기준으로 판정",
        "protocol_defaults": "튜닝 없음: 모든 옵티마이저가 프리셋 기본값",
        "protocol_tuned": "검증 분할로 학습률 튜닝",
        "protocol_grid": "(후보 {n}개, {low}…{high})",
        "protocol_seeds": ", 이어서 시드 {n}개로 테스트 분할에서 평가",
        "protocol_budget": " · 예산 {budget}",
    },
}
