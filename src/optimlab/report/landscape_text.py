"""Every word of the landscape page and its figures, in English and Korean, keyed by message id."""

from __future__ import annotations

from ._i18n import Table

TEXT: Table = {
    "en": {
        "title": "The optimizers on a real network's loss landscape",
        "intro": "On the 2-D surfaces of the gallery we can draw the whole loss. A network has thousands of "
                 "parameters, so we can only cut the loss along a plane through the solution and draw the paths' "
                 "shadows on it. Below are two such planes: one spanned by the paths' own principal directions, "
                 "one by random directions scaled filter by filter (Li et al., 2018).",
        "setup": "Network: {problem} ({description}; {parameters} parameters). Every optimizer starts from the same "
                 "weights (seed {seed}) and trains {steps} steps at batch size {batch}. Its learning rate is the one "
                 "of {n} log-spaced values ({grid}) with the lowest validation loss after those steps; all those "
                 "runs train as one population that records every step's parameters, and each optimizer's path is "
                 "its tuned run's. The centre θ* of both planes is the "
                 "final point of the optimizer with the lowest validation loss ({center}). Losses are the mean "
                 "cross-entropy on the first {examples} training examples, on a {points} × {points} grid. Where a best "
                 "rate sat at an end of the grid, every optimizer also ran the three decades beyond it.",
        "slices": "Two slices through the solution",
        "alt_slices": "loss on the PCA plane and on a random filter-normalized plane, with each optimizer's path",
        "read_slices": "Left: the plane of the two principal directions of all recorded points (relative to θ*); "
                       "together they hold {share}% of the paths' squared distance from θ*, so the paths' shapes are "
                       "mostly real, but the contours are the loss on the plane, not under the paths. Right: two "
                       "random directions, each row rescaled to the norm of the same row of θ* (biases not moved), "
                       "±1 in those units: this shows the basin around θ*, and the paths collapse to a dot near the "
                       "centre because they are almost orthogonal to random directions in thousands of dimensions.",
        "along": "The loss along a path is not the loss under its shadow",
        "alt_losses": "true loss along each path and loss at its projection on the PCA plane",
        "read_losses": "Solid: each optimizer's true loss at the points it visited. Dashed: the loss at the same "
                       "points projected on the PCA plane, which is what the left map shows under the path. Where "
                       "the two differ the map misleads: the path was off the plane there.",
        "table": "Tuned settings and how much of each path a plane keeps",
        "optimizer": "optimizer",
        "lr": "tuned lr",
        "valid_loss": "validation loss",
        "train_loss": "final loss (slice examples)",
        "pca_kept": "path kept by the PCA plane",
        "random_kept": "path kept by the random plane",
        "edge_note": "* the best learning rate sits at an end of the grid; a wider grid may find a better one.",
        "limits": "What such a slice can and cannot show",
        "limit_slice": "It is a 2-D slice of a loss over thousands of dimensions: every direction not in the plane is "
                       "held at θ*'s value. Valleys and walls across those directions are invisible.",
        "limit_projection": "Projection distorts distances: two points far apart can land on the same spot, and a "
                            "path drawn short may have travelled far off the plane. The table says how much of each "
                            "path the plane keeps.",
        "limit_minima": "A minimum in the slice is not a minimum of the loss: the loss can still fall in a "
                        "direction outside the plane. Only θ* is a trained solution; the other low spots are not.",
        "limit_random": "A random-direction slice shows the shape of the basin around θ* (wide or sharp, in units of "
                        "the weights' own scale) but almost none of the paths: random directions in high dimension "
                        "are nearly orthogonal to any path.",
        "limit_pca": "A PCA slice is chosen from the paths, so it shows their shapes well, but the plane depends on "
                     "which optimizers were run, and its contours hold for the plane alone.",
        "timing": "Measured on this machine (seconds): {timing}.",
        "phase_tuning_and_recording": "tuning and recording",
        "phase_slices": "slices",
        # figures
        "start": "start (same for all)",
        "center": "θ* (end of {name})",
        "pc_axis": "PC{n} ({share}% of the paths' spread)",
        "pca_title": "Plane of the paths' principal directions",
        "random_axis": "random direction {n} (filter-normalized)",
        "random_title": "Plane of two random filter-normalized directions",
        "loss_label": "training loss ({n} examples)",
        "suptitle": "{problem} ({parameters} parameters): the loss on two planes through the solution θ*",
        "true_loss": "along the path",
        "shadow_loss": "under its shadow on the PCA plane",
        "step": "step",
        "losses_title": "True loss along each path vs. the PCA plane's loss under it",
    },
    "ko": {
        "title": "실제 신경망의 손실 지형 위의 옵티마이저",
        "intro": "갤러리의 2차원 곡면에서는 손실 전체를 그릴 수 있습니다. 신경망에는 파라미터가 수천 개 있으므로, "
                 "해를 지나는 평면 하나로 손실을 잘라 그 위에 경로의 그림자를 그리는 수밖에 없습니다. 아래에 그런 "
                 "평면 두 개를 보입니다. 하나는 경로 자체의 주성분 방향으로, 다른 하나는 필터 단위로 크기를 맞춘 "
                 "무작위 방향(Li et al., 2018)으로 만든 평면입니다.",
        "setup": "신경망: {problem} ({description}, 파라미터 {parameters}개). 모든 옵티마이저가 같은 가중치(시드 "
                 "{seed})에서 출발해 배치 크기 {batch}로 {steps} 스텝 학습합니다. 학습률은 로그 간격 후보 "
                 "{n}개({grid}) 중 그 스텝 뒤의 검증 손실이 가장 낮은 값입니다. 후보 전체를 한 population으로 함께 "
                 "학습하면서 매 스텝의 파라미터를 기록했고, 각 옵티마이저의 경로는 튜닝된 설정의 실행입니다. 두 "
                 "평면의 중심 θ*는 검증 손실이 가장 낮은 옵티마이저({center})의 최종 지점입니다. 손실은 학습 데이터 "
                 "앞쪽 {examples}개 예제의 평균 교차 엔트로피이고, {points} × {points} 격자에서 계산했습니다. 가장 "
                 "좋은 학습률이 격자 끝에 걸린 경우에는 모든 옵티마이저가 그 바깥 세 자릿수도 돌렸습니다.",
        "slices": "해를 지나는 두 단면",
        "alt_slices": "PCA 평면과 필터 정규화된 무작위 평면 위의 손실, 그리고 옵티마이저별 경로",
        "read_slices": "왼쪽: 기록된 모든 지점(θ* 기준)의 두 주성분 방향이 만드는 평면입니다. 두 방향이 θ*로부터 "
                       "경로까지의 제곱 거리의 {share}%를 담으므로 경로의 모양은 대체로 실제와 같습니다. 다만 "
                       "등고선은 평면 위의 손실이지 경로 아래의 손실이 아닙니다. 오른쪽: 무작위 방향 두 개를 행마다 "
                       "θ*의 같은 행의 노름으로 맞추고(편향은 움직이지 않음) 그 단위로 ±1 범위를 그렸습니다. θ* "
                       "주변 분지의 모양은 보이지만, 경로는 중심 근처의 점으로 뭉칩니다. 수천 차원에서 무작위 "
                       "방향은 경로와 거의 직교하기 때문입니다.",
        "along": "경로를 따라간 손실은 그림자 아래의 손실과 다릅니다",
        "alt_losses": "각 경로의 실제 손실과 PCA 평면에 투영한 지점의 손실",
        "read_losses": "실선: 각 옵티마이저가 실제로 지나간 지점의 손실. 점선: 같은 지점을 PCA 평면에 투영한 곳의 "
                       "손실로, 왼쪽 지도가 경로 아래에 보여 주는 값입니다. 둘이 벌어지는 구간에서는 지도가 오해를 "
                       "부릅니다. 그때 경로는 평면 밖에 있었습니다.",
        "table": "튜닝된 설정과 평면이 담는 경로의 비율",
        "optimizer": "옵티마이저",
        "lr": "튜닝된 학습률",
        "valid_loss": "검증 손실",
        "train_loss": "최종 손실(단면 계산용 예제)",
        "pca_kept": "PCA 평면이 담는 경로 비율",
        "random_kept": "무작위 평면이 담는 경로 비율",
        "edge_note": "* 가장 좋은 학습률이 후보 범위의 끝에 있습니다. 범위를 넓히면 더 좋은 값이 나올 수 있습니다.",
        "limits": "이런 단면이 보여 주는 것과 보여 주지 못하는 것",
        "limit_slice": "수천 차원 손실의 2차원 단면입니다. 평면에 없는 방향은 모두 θ*의 값에 고정되어 있으므로, 그 "
                       "방향들로 놓인 골짜기와 벽은 보이지 않습니다.",
        "limit_projection": "투영은 거리를 왜곡합니다. 멀리 떨어진 두 지점이 같은 곳에 찍힐 수 있고, 짧게 그려진 "
                            "경로가 실제로는 평면 밖으로 멀리 움직였을 수 있습니다. 평면이 각 경로를 얼마나 "
                            "담는지는 표에 있습니다.",
        "limit_minima": "단면의 최솟점은 손실의 최솟점이 아닙니다. 평면 밖의 방향으로는 손실이 더 내려갈 수 "
                        "있습니다. 학습으로 얻은 해는 θ*뿐이고, 다른 낮은 곳은 해가 아닙니다.",
        "limit_random": "무작위 방향 단면은 θ* 주변 분지의 모양(가중치 자체의 스케일로 잰 넓이나 날카로움)을 보여 "
                        "주지만 경로는 거의 보여 주지 못합니다. 고차원에서 무작위 방향은 어떤 경로와도 거의 "
                        "직교합니다.",
        "limit_pca": "PCA 단면은 경로로부터 고른 평면이라 경로의 모양은 잘 보여 주지만, 평면 자체가 어떤 "
                     "옵티마이저를 돌렸는지에 따라 달라지고, 등고선은 그 평면 위에서만 성립합니다.",
        "timing": "이 머신에서 잰 시간(초): {timing}.",
        "phase_tuning_and_recording": "튜닝과 경로 기록",
        "phase_slices": "단면 계산",
        "start": "출발점(모두 같음)",
        "center": "θ* ({name}의 최종 지점)",
        "pc_axis": "주성분 {n} (경로 분산의 {share}%)",
        "pca_title": "경로의 주성분 방향이 만드는 평면",
        "random_axis": "무작위 방향 {n} (필터 정규화)",
        "random_title": "필터 정규화된 무작위 방향 두 개가 만드는 평면",
        "loss_label": "학습 손실 (예제 {n}개)",
        "suptitle": "{problem} (파라미터 {parameters}개): 해 θ*를 지나는 두 평면 위의 손실",
        "true_loss": "경로를 따라간 손실",
        "shadow_loss": "PCA 평면 위 그림자의 손실",
        "step": "스텝",
        "losses_title": "경로를 따라간 실제 손실과 그 아래 PCA 평면의 손실",
    },
}
