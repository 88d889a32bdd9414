"""Every word of the lesson page and of the gallery's figures, in English and Korean (one table, one lookup)."""

from __future__ import annotations

LANGS = ("en", "ko")

SECTIONS: dict[str, dict[str, tuple[str, str]]] = {
    "optimizer": {
        "en": ("What an optimizer is",
               "A loss function gives every setting of the parameters one number, the loss. At each step the "
               "optimizer measures the gradient, the direction in which the loss rises fastest, and moves the "
               "parameters a little the other way: θ ← θ − η·∇f(θ). The arrows are those updates: long where the "
               "slope is steep, short near the bottom."),
        "ko": ("옵티마이저란 무엇인가",
               "손실 함수는 파라미터 값마다 손실이라는 숫자 하나를 줍니다. 옵티마이저는 스텝마다 그래디언트, 즉 "
               "손실이 가장 빠르게 커지는 방향을 구하고 그 반대쪽으로 파라미터를 조금 옮깁니다: θ ← θ − η·∇f(θ). "
               "화살표가 바로 이 업데이트입니다. 경사가 가파른 곳에서는 길고, 바닥 근처에서는 짧습니다."),
    },
    "learning-rate": {
        "en": ("Gradient descent and the learning rate",
               "The learning rate η is how far each step goes. Too small and the path crawls; well chosen, it "
               "reaches the bottom in a few dozen steps; too large and it overshoots the steep direction and "
               "zig-zags; larger still and every step lands higher than the last: it diverges. Try the buttons or "
               "the slider: red cells under a slider are the rates that diverge from this start."),
        "ko": ("경사 하강법과 학습률",
               "학습률 η는 한 스텝에 얼마나 멀리 갈지를 정합니다. 너무 작으면 경로가 기어가듯 느리고, 알맞으면 수십 "
               "스텝 만에 바닥에 닿습니다. 너무 크면 가파른 방향으로 지나쳐 지그재그로 움직이고, 더 크면 스텝마다 "
               "손실이 오히려 커져 발산합니다. 버튼이나 슬라이더로 바꿔 보세요. 슬라이더 아래의 빨간 칸은 이 "
               "시작점에서 발산하는 학습률입니다."),
    },
    "batch": {
        "en": ("SGD and mini-batches: one rule, three batch policies",
               "Gradient descent averages the gradient over all the data, SGD uses one random example per step, "
               "mini-batch gradient descent 32 examples. The update rule is the same; only the gradient's noise and "
               "its cost change. Here they fit a line v ≈ w·u + b to 1,000 noisy points, and the loss is drawn "
               "against the examples seen, the honest measure of cost."),
        "ko": ("SGD와 미니배치: 같은 규칙, 세 가지 배치 정책",
               "경사 하강법은 전체 데이터의 평균 그래디언트를, SGD는 스텝마다 무작위 예제 하나를, 미니배치 경사 "
               "하강법은 예제 32개를 씁니다. 업데이트 규칙은 같고 그래디언트의 잡음과 계산 비용만 다릅니다. 여기서는 "
               "잡음이 섞인 점 1,000개에 직선 v ≈ w·u + b를 맞추며, 손실은 비용을 정직하게 보여 주는 '처리한 예제 "
               "수'에 대해 그립니다."),
    },
    "momentum": {
        "en": ("Momentum: the ravine",
               "In a narrow ravine the gradient points mostly across it, so gradient descent's step is capped by the "
               "steep walls and it crawls along the floor. Momentum keeps a decaying sum of past gradients: the "
               "components across the ravine cancel, those along it add up, and the path speeds along the floor. "
               "Move the momentum slider: 0.5 behaves almost like gradient descent, 0.99 overshoots."),
        "ko": ("모멘텀: 좁은 골짜기",
               "좁은 골짜기에서는 그래디언트가 대부분 골짜기를 가로지르는 쪽을 가리킵니다. 그래서 경사 하강법은 "
               "가파른 벽 때문에 스텝을 키우지 못하고 바닥을 따라 느리게 기어갑니다. 모멘텀은 지난 그래디언트를 "
               "감쇠시키며 누적합니다. 골짜기를 가로지르는 성분은 서로 상쇄되고 골짜기를 따르는 성분은 쌓여서, "
               "경로가 바닥을 따라 빨라집니다. 모멘텀 슬라이더를 움직여 보세요. 0.5는 경사 하강법과 거의 같고, "
               "0.99는 지나칩니다."),
    },
    "momentum-basins": {
        "en": ("Momentum: two basins",
               "From the same start, gradient descent settles in the nearer, shallow well; momentum carries the path "
               "over the ridge into the deep one. Click elsewhere on the map: which well a path ends in depends on "
               "the start as much as on the optimizer."),
        "ko": ("모멘텀: 두 개의 우물",
               "같은 시작점에서 경사 하강법은 가까운 얕은 우물에 머물고, 모멘텀은 관성으로 능선을 넘어 깊은 우물로 "
               "들어갑니다. 지도의 다른 곳을 클릭해 보세요. 경로가 어느 우물에서 끝나는지는 옵티마이저만큼이나 "
               "시작점에 달려 있습니다."),
    },
    "adagrad": {
        "en": ("AdaGrad: a step size per coordinate, shrinking",
               "AdaGrad divides each coordinate's step by the root of that coordinate's summed squared gradients. On "
               "this stretched bowl it heads almost straight at the minimum instead of first falling down the steep "
               "y wall like gradient descent. The sum only grows, so its steps keep shrinking: watch the step-length "
               "curve fall."),
        "ko": ("AdaGrad: 좌표마다 다르고 점점 줄어드는 스텝",
               "AdaGrad는 좌표마다 그 좌표의 제곱 그래디언트 누적합의 제곱근으로 스텝을 나눕니다. 한쪽으로 길쭉한 이 "
               "그릇에서 경사 하강법은 먼저 가파른 y 방향 벽을 따라 떨어지지만, AdaGrad는 최솟값을 향해 거의 곧게 "
               "갑니다. 누적합은 커지기만 하므로 스텝은 계속 줄어듭니다. 스텝 길이 곡선이 내려가는 것을 보세요."),
    },
    "rmsprop": {
        "en": ("RMSProp: forgetting old gradients",
               "RMSProp replaces AdaGrad's sum by a moving average, so the scale it divides by follows the recent "
               "gradients and its steps stop shrinking. On the saddle both adaptive methods blow the tiny gradient "
               "across the ridge up to a full-size step and leave quickly, while gradient descent lingers; compare "
               "how AdaGrad's steps fade in the step-length curve and RMSProp's do not."),
        "ko": ("RMSProp: 오래된 그래디언트 잊기",
               "RMSProp는 AdaGrad의 누적합을 지수이동평균으로 바꿉니다. 나누는 크기가 최근 그래디언트를 따라가므로 "
               "스텝이 줄어들기만 하지 않습니다. 안장점에서 두 적응형 방법은 능선을 가로지르는 아주 작은 "
               "그래디언트를 제 크기의 스텝으로 키워 금방 벗어나지만, 경사 하강법은 오래 머뭅니다. 스텝 길이 "
               "곡선에서 AdaGrad의 스텝은 잦아들고 RMSProp의 스텝은 그렇지 않은 것을 비교해 보세요."),
    },
    "adadelta": {
        "en": ("AdaDelta: no learning rate",
               "AdaDelta multiplies RMSProp's step by the root mean square of its own past updates, so a step has "
               "the units of the parameters and needs no learning rate (PyTorch's lr is only a multiplier, 1 by "
               "default). The price is a slow start: the average of past updates begins near √ε, so the first steps "
               "are tiny, as the step-length curve shows. Tuned by the same rule as the others, that multiplier "
               "lands far above 1 (the table below): the grid was widened until its best value sat inside it. Slide "
               "it back to 1 to see the paper's AdaDelta crawl."),
        "ko": ("AdaDelta: 학습률이 없는 방법",
               "AdaDelta는 RMSProp의 스텝에 지난 업데이트들의 RMS를 곱합니다. 그래서 스텝이 파라미터와 같은 단위를 "
               "갖고 학습률이 필요 없습니다(PyTorch의 lr은 곱하는 배율일 뿐이며 기본값은 1입니다). 대신 출발이 "
               "느립니다. 지난 업데이트의 평균이 √ε 근처에서 시작하므로 첫 스텝들이 아주 작다는 것을 스텝 길이 "
               "곡선에서 볼 수 있습니다. 다른 옵티마이저와 같은 규칙으로 튜닝하면 이 배율은 1보다 훨씬 커집니다(아래 "
               "표). 가장 좋은 값이 격자 안에 들어올 때까지 격자를 넓혔기 때문입니다. 슬라이더를 "
               "1로 되돌리면 논문 그대로의 AdaDelta가 기어가는 모습을 볼 수 있습니다."),
    },
    "adam": {
        "en": ("Adam: momentum and RMSProp together",
               "Adam keeps momentum's average of the gradient (β₁) and RMSProp's average of its square (β₂), and "
               "steps along the first divided by the root of the second, both corrected for their zero start. In the "
               "ravine it moves along the floor like momentum and is scaled per coordinate like RMSProp. Set β₁ to 0 "
               "and it becomes RMSProp with bias correction."),
        "ko": ("Adam: 모멘텀과 RMSProp의 결합",
               "Adam은 모멘텀처럼 그래디언트의 이동평균(β₁)을, RMSProp처럼 그 제곱의 이동평균(β₂)을 유지하고, 앞의 "
               "것을 뒤의 것의 제곱근으로 나눈 방향으로 움직입니다. 두 평균은 0에서 시작하는 편향을 보정합니다. "
               "골짜기에서는 모멘텀처럼 바닥을 따라 나아가면서 RMSProp처럼 좌표별로 스텝 크기가 조절됩니다. β₁을 "
               "0으로 두면 편향 보정이 있는 RMSProp가 됩니다."),
    },
    "compare": {
        "en": ("Side by side: the banana valley",
               "The six classic methods on Rosenbrock's valley, each at its own tuned learning rate (the same grid "
               "and the same rule for all), from the classic starts or any point you click. Reaching the valley is "
               "fast; following its curved floor to (1, 1) is what tells them apart."),
        "ko": ("나란히 비교: 바나나 골짜기",
               "고전적인 여섯 가지 방법을 로젠브록 골짜기에서 비교합니다. 모두 같은 격자와 같은 규칙으로 각자 튜닝한 "
               "학습률을 쓰고, 고전적인 시작점이나 클릭한 지점에서 출발합니다. 골짜기까지는 금방 가지만, 휘어진 "
               "바닥을 따라 (1, 1)까지 가는 동안 차이가 드러납니다."),
    },
    "choose": {
        "en": ("How to choose",
               "Rules of thumb are claims, and claims can be measured: `optimlab bench --claims` runs each classic "
               "rule of thumb as an experiment and stores a verdict. For your own model and data, `optimlab advise` "
               "runs a small tournament and recommends an optimizer and a learning rate, with the evidence."),
        "ko": ("어떻게 고를까",
               "경험칙은 주장이고, 주장은 측정할 수 있습니다. `optimlab bench --claims`는 고전적인 경험칙을 하나씩 "
               "실험으로 돌려 판정을 저장합니다. 내 모델과 데이터에 맞는 선택은 `optimlab advise`가 작은 토너먼트를 "
               "돌려 옵티마이저와 학습률을 근거와 함께 추천합니다."),
    },
    "network": {
        "en": ("A real network",
               "Surfaces of two parameters are pictures, not networks. Here the same optimizers train a small real "
               "network, an MLP on MNIST-1D, and its loss is cut along one plane: the plane through the best "
               "solution θ* (gold star) spanned by the two principal directions of the tuned runs' paths. The "
               "sliders pick any learning rate of the tuning grid; that run is projected on the same plane. The "
               "loss chart is each run's loss on its own mini-batch; the step length is measured over all the "
               "parameters, not on the plane."),
        "ko": ("실제 신경망",
               "파라미터가 두 개인 곡면은 그림일 뿐 신경망이 아닙니다. 여기서는 같은 옵티마이저로 작은 실제 "
               "신경망(MNIST-1D MLP)을 학습하고, 그 손실을 평면 하나로 잘라 봅니다. 가장 좋은 "
               "해 θ*(금색 별)를 지나고, 튜닝된 실행들의 경로가 가장 많이 퍼진 두 주성분 방향이 만드는 "
               "평면입니다. 슬라이더로 튜닝 격자의 어떤 학습률이든 고를 수 있고, 그 실행도 같은 평면에 "
               "투영해 그립니다. 손실 그래프는 각 실행이 자기 미니배치에서 잰 손실이고, 스텝 길이는 평면 "
               "위가 아니라 파라미터 전체 공간에서 잰 값입니다."),
    },
}
"""Per lesson section: (title, what to see) in each language."""

WORDS: dict[str, tuple[str, str]] = {
    "page_title": ("optimlab: the optimizer lesson, to play with", "optimlab: 직접 움직여 보는 옵티마이저 강의"),
    "intro": ("Gradient descent and its family, one picture at a time. Every path was computed by optimlab's "
              "population engine (the same update rules as optimlab.optim) for a whole grid of learning rates, knobs "
              "and start points; the sliders only look the paths up. Learning rates are tuned by one rule for every "
              "optimizer: ",
              "경사 하강법과 그 계열을 그림 하나씩 살펴봅니다. 모든 경로는 optimlab의 population "
              "엔진(optimlab.optim과 같은 업데이트 규칙)이 학습률, 하이퍼파라미터, 시작점의 격자 전체에 대해 미리 "
              "계산한 것이고, 슬라이더는 그 경로를 찾아 보여 줄 뿐입니다. 학습률은 모든 옵티마이저에 같은 규칙으로 "
              "튜닝했습니다: "),
    "criterion": ("the lowest mean log10(loss − f*) over the second half of the steps, averaged over the classic "
                  "starts, on a log grid from 1e-4 to 10 (four values per decade); where the best rate sits at an end "
                  "of the grid, three more decades beyond it run too, until it does not (AdaDelta's best lies far "
                  "above 10).",
                  "스텝 후반부의 log10(손실 − f*) 평균이 가장 낮은 값이며, 고전적인 시작점들에 대해 평균하고, "
                  "1e-4부터 10까지의 로그 격자(10배마다 4개)에서 고릅니다. 가장 좋은 값이 격자 끝에 걸리면 그 바깥 "
                  "세 자릿수(1000배)를 더 돌리고, 끝에서 벗어날 때까지 되풀이합니다(AdaDelta의 최적값은 10보다 "
                  "훨씬 큽니다)."),
    "contents": ("Contents", "차례"),
    "lr": ("learning rate", "학습률"),
    "momentum": ("momentum", "모멘텀"),
    "beta1": ("β₁", "β₁"),
    "beta2": ("β₂", "β₂"),
    "tuned": ("tuned", "튜닝값"),
    "marked": ("story's rate", "기준 학습률"),
    "reset": ("back to tuned", "튜닝값으로"),
    "click": ("Click the map to start from the nearest grid point (white circles).",
              "지도를 클릭하면 가장 가까운 격자점(흰 원)에서 출발합니다."),
    "loss_title": ("loss along each path", "경로별 손실"),
    "steps_title": ("how far each step moves", "스텝마다 움직인 거리"),
    "step": ("step", "스텝"),
    "examples": ("examples seen", "처리한 예제 수"),
    "gap": ("loss − f* (log)", "손실 − f* (로그)"),
    "loss": ("loss", "손실"),
    "symloss": ("loss (symmetric log)", "손실 (대칭 로그)"),
    "steplen": ("step length (log)", "스텝 길이 (로그)"),
    "start": ("start", "시작점"),
    "minimum": ("known minimum", "알려진 최솟값"),
    "diverged": ("diverged at step {n}", "{n} 스텝에서 발산"),
    "unavailable": ("not computed at these knobs", "이 설정에서는 계산하지 않음"),
    "too-small": ("too small", "너무 작음"),
    "good": ("good", "알맞음"),
    "too-large": ("too large", "너무 큼"),
    "diverges": ("diverges", "발산"),
    "measured": ("Measured here, from the marked start, at each optimizer's marked setting:",
                 "표시된 시작점과 각 옵티마이저의 표시된 설정에서 여기서 측정한 값:"),
    "col_opt": ("optimizer", "옵티마이저"),
    "col_lr": ("learning rate", "학습률"),
    "col_final": ("loss after {n} steps", "{n} 스텝 후 손실"),
    "col_gap": ("loss − f* after {n} steps", "{n} 스텝 후 손실 − f*"),
    "col_reach": ("steps to loss − f* ≤ 1e-3", "손실 − f* ≤ 1e-3까지 스텝"),
    "col_stable": ("largest stable lr on the grid", "격자에서 안정적인 최대 학습률"),
    "col_diverge": ("smallest lr that diverges", "발산하는 최소 학습률"),
    "never": ("not within {n} steps", "{n} 스텝 안에 도달 못 함"),
    "none": ("none on the grid", "격자 안에는 없음"),
    "edge": ("* at an end of its grid even after widening it to {lo:g} … {hi:g}",
             "* 격자를 {lo:g} … {hi:g}까지 넓혀도 끝에 걸린 값"),
    "card": ("{name}: how it works, strengths and weaknesses (explain card)",
             "{name}: 작동 원리와 장단점 (설명 카드)"),
    "no_card": ("No explain card for {name} yet.", "{name}의 설명 카드는 아직 없습니다."),
    "claims_head": ("The rules of thumb, measured (claims study {study}):",
                    "측정한 경험칙 (claims 연구 {study}):"),
    "claims_none": ("No claims study is stored in {store} yet: run `optimlab bench --claims` (about two "
                    "minutes) and build this page again to see each rule of thumb's verdict here.",
                    "{store}에 저장된 claims 연구가 아직 없습니다. `optimlab bench --claims`(약 2분)를 실행한 "
                    "뒤 이 페이지를 다시 만들면 경험칙별 판정이 여기에 나옵니다."),
    "claims_report": ("Each verdict at a short and a long budget, with its numbers, seeds and the figure that shows "
                      "why: the claims report, `optimlab report {study} --store {store} --out {out}` (this page "
                      "links it once it is there).",
                      "짧은 예산과 긴 예산에서의 판정, 근거가 된 수치와 시드, 이유를 보여 주는 그림은 claims 보고서에 "
                      "있습니다: `optimlab report {study} --store {store} --out {out} --lang ko` (보고서를 그 "
                      "위치에 만들면 이 페이지에서 바로 연결됩니다)."),
    "claims_report_link": ("Each verdict at a short and a long budget, with its numbers and figure: the claims report",
                           "짧은 예산과 긴 예산에서의 판정, 수치와 그림: claims 보고서"),
    "verdict": ("verdict", "판정"),
    "claim": ("rule of thumb", "경험칙"),
    "supported": ("supported", "지지됨"),
    "not supported": ("not supported", "지지되지 않음"),
    "depends": ("depends", "경우에 따라 다름"),
    "advise": ("Then: `optimlab advise path/to/my_model.py:make_problem` (or a built-in problem such as "
               "`optimlab advise mnist1d-mlp`) recommends an optimizer and learning rate for your own problem.",
               "그다음: `optimlab advise path/to/my_model.py:make_problem`(또는 `optimlab advise mnist1d-mlp` 같은 "
               "내장 문제)를 실행하면 내 문제에 맞는 옵티마이저와 학습률을 추천받을 수 있습니다."),
    "landscape": ("Open the real network's loss landscape", "실제 신경망의 손실 지형 열기"),
    "family": ("The family tree", "계보도"),
    "on_page": ("The optimizers on this page", "이 페이지의 옵티마이저"),
    "rest": ("The rest of the family", "나머지 옵티마이저"),
    "card_short": ("{name}: how it works (explain card)", "{name}: 작동 원리 (설명 카드)"),
    "page_help": ("Drag the slider or press Play to move along the paths; click a legend entry to hide or show an "
                  "optimizer; hover a path for its values. Start points are white circles, known minima gold stars.",
                  "슬라이더를 끌거나 재생을 누르면 경로를 따라 움직입니다. 범례 항목을 클릭하면 옵티마이저를 숨기거나 "
                  "보여 주고, 경로 위에 마우스를 올리면 값이 나옵니다. 시작점은 흰 원, 알려진 최솟값은 금색 별입니다."),
    "play": ("Play", "재생"),
    "pause": ("Pause", "일시 정지"),
    "view3d": ("3-D view (drag to turn)", "3차원 보기 (끌어서 회전)"),
    "gap_short": ("loss − f*", "손실 − f*"),
    "net_setup": ("Network: MNIST-1D, a {layers} ReLU MLP ({parameters} parameters) on {n_train} generated "
                  "examples. Every optimizer starts from the same weights and trains {steps} steps at batch size "
                  "{batch}; its marked learning rate is the one of {n} log-spaced values ({grid}) with the lowest "
                  "validation loss, and all {trials} runs trained as one population recording every step. The map "
                  "is the loss on {examples} training examples at {points} × {points} points of the plane (log "
                  "colour scale, cut at its 97th percentile). This network is small and trained briefly so that "
                  "the page still takes seconds; `optimlab landscape` trains a larger one (5,000 examples, 200 "
                  "steps) and adds a slice along random filter-normalized directions.",
                  "신경망: MNIST-1D, 생성한 예제 {n_train}개로 학습하는 {layers} ReLU MLP(파라미터 {parameters}개). "
                  "모든 옵티마이저가 같은 가중치에서 출발해 배치 크기 {batch}로 {steps} 스텝 학습합니다. 표시된 "
                  "학습률은 로그 간격 후보 {n}개({grid}) 가운데 검증 손실이 가장 낮은 값이고, {trials}개 실행 전체를 "
                  "한 population으로 함께 학습하며 매 스텝을 기록했습니다. 지도는 학습 예제 {examples}개에 대한 손실을 "
                  "평면 위 {points} × {points} 지점에서 계산한 것입니다(로그 색 눈금, 97번째 백분위수에서 자름). "
                  "페이지가 몇 초 안에 만들어지도록 신경망을 작게, 짧게 학습했습니다. `optimlab landscape`는 더 큰 "
                  "설정(예제 5,000개, 200 스텝)으로 학습하고, 필터 정규화된 무작위 방향의 단면도 함께 그립니다."),
    "net_computed": ("Trained by this run in {seconds:.1f} s, beside the surfaces.",
                     "이번 실행에서 곡면들과 함께 {seconds:.1f}초 동안 학습했습니다."),
    "net_reused": ("Reused from {file} in this folder: an earlier run trained it in {seconds:.1f} s (delete the file "
                   "to train it again).",
                   "이 폴더의 {file}에서 다시 읽었습니다. 앞선 실행이 {seconds:.1f}초 동안 학습한 결과입니다(파일을 "
                   "지우면 다시 학습합니다)."),
    "net_loss": ("loss on its mini-batch (log)", "미니배치 손실 (로그)"),
    "net_other": ("The plane is chosen from the tuned runs: a run at another learning rate is drawn as its shadow on "
                  "the same plane and may lie far off it.",
                  "평면은 튜닝된 실행들로 정했습니다. 다른 학습률의 실행은 같은 평면 위의 그림자로 그려지며, 실제로는 "
                  "평면에서 멀리 떨어져 있을 수 있습니다."),
    "net_click": ("Every optimizer starts from the same weights (the white circle): there is one start here.",
                  "모든 옵티마이저가 같은 가중치(흰 원)에서 출발하므로 여기서는 시작점이 하나입니다."),
    "net_facts": ("Measured here, at each optimizer's marked learning rate:",
                  "각 옵티마이저의 표시된 학습률에서 여기서 측정한 값:"),
    "footer": ("Built by `optimlab compare` in {seconds:.1f} s; {trials} settings × starts computed by the population "
               "engine.", "`optimlab compare`가 {seconds:.1f}초 만에 만들었습니다. population 엔진이 설정 × 시작점 "
               "{trials}개를 계산했습니다."),
}
"""Words of the page and the figures: key -> (English, Korean)."""


def word(key: str, lang: str, **values: object) -> str:
    """The text for ``key`` in ``lang``, with ``{placeholders}`` filled from ``values``."""
    text = WORDS[key][1 if lang == "ko" else 0]
    return text.format(**values) if values else text


def section_text(key: str, lang: str) -> tuple[str, str]:
    """(title, what to see) of a lesson section."""
    return SECTIONS[key]["ko" if lang == "ko" else "en"]


def check_lang(lang: str) -> str:
    """``lang`` if the lesson speaks it, else ``ValueError`` naming the choices."""
    if lang not in LANGS:
        raise ValueError(f"Invalid language {lang!r}: choose one of {', '.join(LANGS)}.")
    return lang


STORIES: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "ravine": (
        ("Momentum in a ravine",
         "Gradient descent zig-zags across a ravine and crawls along it; momentum builds speed along it."),
        ("좁은 골짜기의 모멘텀",
         "경사 하강법은 골짜기를 가로질러 지그재그로 움직이며 바닥을 따라 느리게 기어가고, 모멘텀은 골짜기를 따라 "
         "속도를 붙입니다."),
    ),
    "scaling": (
        ("Per-coordinate scaling",
         "AdaGrad, RMSProp and Adam divide each coordinate's step by its own gradient scale, so they head straight "
         "down the bowl instead of first falling down the steep y wall like GD; AdaGrad's steps shrink as its "
         "squared-gradient sum grows."),
        ("좌표별 스케일 조정",
         "AdaGrad, RMSProp, Adam은 좌표마다 그 좌표의 그래디언트 크기로 스텝을 나누므로, GD처럼 먼저 가파른 y 방향 "
         "벽을 따라 떨어지지 않고 그릇 바닥을 향해 곧게 내려갑니다. AdaGrad의 스텝은 제곱 그래디언트 누적합이 "
         "커지면서 줄어듭니다."),
    ),
    "saddle": (
        ("Leaving a saddle",
         "Starting almost on the ridge line y = 0, adaptive methods blow the tiny y-gradient up to a full-size step "
         "and leave quickly; plain gradient descent needs many steps to leave."),
        ("안장점 벗어나기",
         "능선 y = 0 바로 옆에서 출발하면 적응형 방법은 아주 작은 y 방향 그래디언트를 제 크기의 스텝으로 키워 금방 "
         "벗어나고, 순수한 경사 하강법은 벗어나는 데 여러 스텝이 걸립니다."),
    ),
    "two-basins": (
        ("Two basins",
         "From the same start, gradient descent settles in the shallow well; momentum carries the path over the "
         "ridge into the deep one."),
        ("두 개의 우물",
         "같은 시작점에서 경사 하강법은 얕은 우물에 머물고, 모멘텀은 관성으로 능선을 넘어 깊은 우물로 들어갑니다."),
    ),
    "rosenbrock": (
        ("Rosenbrock's banana valley",
         "From two classic starts: reaching the valley is fast, following it to (1, 1) is slow."),
        ("로젠브록의 바나나 골짜기",
         "고전적인 두 시작점에서 출발합니다. 골짜기에 닿기는 쉽지만, 골짜기를 따라 (1, 1)까지 가는 길은 느립니다."),
    ),
    "after-adam": (
        ("After Adam",
         "Lion steps by exactly its learning rate in every coordinate (a flat step length; it stalls near the "
         "floor); Schedule-Free AdamW is drawn at its averaged point x; Prodigy's lr scales its own step-size "
         "estimate."),
        ("Adam 이후",
         "Lion은 모든 좌표에서 정확히 학습률만큼 움직이므로 스텝 길이가 일정하고 바닥 근처에서 멈칫거립니다. "
         "Schedule-Free AdamW는 평균점 x에서 그렸습니다. Prodigy의 lr은 스스로 추정한 스텝 크기에 곱하는 "
         "배율입니다."),
    ),
    "lr-sweep": (
        ("The learning rate, visible",
         "Too small crawls, too large oscillates across the ravine and then diverges."),
        ("눈으로 보는 학습률",
         "너무 작으면 기어가고, 너무 크면 골짜기를 가로질러 진동하다가 발산합니다."),
    ),
    "batch-policies": (
        ("The three batch policies",
         "GD, SGD and mini-batch are one rule on different batches: smooth and costly, noisy and cheap, or in "
         "between."),
        ("세 가지 배치 정책",
         "GD, SGD, 미니배치는 배치만 다른 같은 규칙입니다. 매끄럽지만 비싸거나, 잡음이 많지만 싸거나, 그 "
         "중간입니다."),
    ),
}
"""The gallery's pictures (``optimlab compare --figures``): (title, story) in English, then in Korean."""

FIGURE_WORDS: dict[str, tuple[str, str]] = {
    "loss_title": WORDS["loss_title"],
    "steps_title": WORDS["steps_title"],
    "step": WORDS["step"],
    "start": WORDS["start"],
    "minimum": WORDS["minimum"],
    "diverged": WORDS["diverged"],
    "gap_axis": ("loss − f*  (log scale)", "손실 − f*  (로그 스케일)"),
    "loss_axis": ("loss  (symmetric log scale)", "손실  (대칭 로그 스케일)"),
    "steplen_axis": ("step length ‖θₜ − θₜ₋₁‖  (log)", "스텝 길이 ‖θₜ − θₜ₋₁‖  (로그)"),
    "examples_axis": ("examples seen (log)", "처리한 예제 수 (로그)"),
    "time_axis": ("wall time, s (log)", "실행 시간, 초 (로그)"),
    "settings": ("learning rates: {lrs}; {steps} steps", "학습률: {lrs}; {steps} 스텝"),
    "tuned_settings": ("learning rates tuned by one rule for all (log grid 1e-4…10, widened at an edge): {lrs}; "
                       "{steps} steps",
                       "모든 옵티마이저에 같은 규칙으로 튜닝한 학습률(로그 격자 1e-4…10, 끝에 걸리면 넓힘): {lrs}; "
                       "{steps} 스텝"),
}
"""The fixed words of a static figure (PNG and GIF)."""


def figure_word(key: str, lang: str, **values: object) -> str:
    """A fixed word of a static figure in ``lang``."""
    text = FIGURE_WORDS[key][1 if lang == "ko" else 0]
    return text.format(**values) if values else text
