"""The family tree of the optimizers: each preset's parent(s) and what it changed, in English and Korean.

One table, :data:`LINEAGE`, keyed by preset name (the registry's :data:`~optimlab.registry.PRESETS`),
lists every optimizer optimlab knows or is adding. The first parent is the one a node hangs under in
the terminal tree; further parents are drawn as "also from" edges (Adam hangs under Momentum, also from
RMSProp). Years and titles are not repeated here: they live in the explain cards.

Every view shows only the nodes whose preset exists, and drops a parent that does not exist (the node
then hangs under its next existing parent, or becomes a root). This module imports neither torch nor
the registry, so ``optimlab list --tree`` stays as light as the names it draws.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .explain.cards import load_card
from .text import display_width, wrap_text

__all__ = ["LINEAGE", "FamilyNode", "Lineage", "family_nodes", "generations", "render_text"]


@dataclass(frozen=True)
class Lineage:
    """Where one optimizer comes from: parents (first = main), the change in English and Korean, a short label."""

    parents: tuple[str, ...]
    change_en: str
    change_ko: str
    label: str
    label_ko: str = ""

    def change(self, lang: str) -> str:
        return self.change_ko if lang == "ko" else self.change_en

    def short(self, lang: str) -> str:
        return (self.label_ko or self.label) if lang == "ko" else self.label


def _l(parents: str, en: str, ko: str, label: str, label_ko: str = "") -> Lineage:
    return Lineage(tuple(parents.split()), en, ko, label, label_ko)


LINEAGE: dict[str, Lineage] = {
    # The classic family.
    "gd": _l("", "steps against the gradient of the whole training set",
             "학습 데이터 전체의 그래디언트 반대 방향으로 이동", "GD", "경사 하강법"),
    "sgd": _l("gd", "one random example per step instead of the whole set",
              "전체 데이터 대신 스텝마다 무작위 예제 하나의 그래디언트를 사용", "SGD"),
    "minibatch": _l("sgd", "averages the gradient over a mini-batch of b examples",
                    "예제 b개로 이루어진 미니배치의 평균 그래디언트를 사용", "Mini-batch GD", "미니배치 GD"),
    "momentum": _l("sgd", "adds momentum: a decaying sum of past gradients",
                   "모멘텀 추가: 지난 그래디언트를 감쇠시키며 누적", "Momentum", "모멘텀"),
    "nesterov": _l("momentum", "takes the gradient at the look-ahead point",
                   "모멘텀으로 한발 앞서 간 지점에서 그래디언트를 계산", "Nesterov", "네스테로프"),
    "adagrad": _l("", "per-coordinate steps: divides by the root of the summed squared gradients",
                  "좌표별 스텝: 제곱 그래디언트 누적합의 제곱근으로 나눔", "AdaGrad"),
    "rmsprop": _l("adagrad", "replaces the sum by a moving average",
                  "누적합을 지수이동평균으로 바꿈", "RMSProp"),
    "adadelta": _l("adagrad", "moving averages, and steps scaled by the RMS of past updates (unit-consistent)",
                   "이동평균을 쓰고, 지난 업데이트의 RMS로 스텝 단위를 맞춤", "AdaDelta"),
    "adam": _l("momentum rmsprop", "divides momentum by RMSProp's root mean square, with bias correction",
               "모멘텀을 RMSProp의 RMS로 나누고 편향을 보정", "Adam"),
    # Adam's descendants in torch.optim.
    "amsgrad": _l("adam", "divides by the running maximum of the second moment",
                  "2차 모멘트의 누적 최댓값으로 나눔", "AMSGrad"),
    "adamw": _l("adam", "decouples weight decay from the gradient",
                "가중치 감쇠를 그래디언트에서 분리(decoupled)", "AdamW"),
    "adamax": _l("adam", "replaces the root mean square by the infinity norm (a running max)",
                 "RMS 대신 무한 노름(누적 최댓값)으로 나눔", "Adamax"),
    "nadam": _l("adam nesterov", "applies Nesterov's look-ahead to Adam's momentum",
                "Adam의 모멘텀에 네스테로프식 미리 보기를 적용", "NAdam"),
    "radam": _l("adam", "rectifies the variance of the early adaptive steps (a built-in warm-up)",
                "초반 적응형 스텝의 분산을 보정(워밍업 내장)", "RAdam"),
    # The rest of torch.optim.
    "asgd": _l("sgd", "averages the iterates (Polyak–Ruppert averaging)",
               "반복점들의 평균을 취함(Polyak–Ruppert 평균)", "ASGD"),
    "rprop": _l("gd", "per-weight step sizes grown or shrunk by the gradient's sign (full batch)",
                "그래디언트 부호 변화에 따라 가중치마다 스텝 크기를 키우거나 줄임(전체 배치)", "Rprop"),
    "sparseadam": _l("adam", "updates only the rows a sparse gradient touches (lazy Adam)",
                     "희소 그래디언트가 건드린 행만 업데이트(lazy Adam)", "SparseAdam"),
    # After Adam.
    "signum": _l("momentum", "steps by the sign of the momentum",
                 "모멘텀의 부호만큼 이동", "Signum"),
    "lion": _l("adam signum", "steps by the sign of an interpolation of momentum and gradient",
               "모멘텀과 그래디언트를 보간한 값의 부호로 이동", "Lion"),
    "muon": _l("nesterov", "orthogonalizes each weight matrix's (Nesterov) momentum by Newton–Schulz",
               "가중치 행렬마다 (네스테로프) 모멘텀을 뉴턴–슐츠 반복으로 직교화", "Muon"),
    "adafactor": _l("adam", "factors the second moment into row and column averages (less memory)",
                    "2차 모멘트를 행·열 평균으로 분해해 메모리를 줄임", "Adafactor"),
    "schedulefree-adamw": _l("adamw", "replaces the learning-rate schedule by interpolation and averaging",
                             "학습률 스케줄 대신 보간과 반복점 평균을 사용", "Schedule-Free AdamW"),
    "schedulefree-sgd": _l("sgd momentum", "interpolation and iterate averaging in place of momentum and schedule",
                           "모멘텀과 학습률 스케줄 대신 보간과 반복점 평균을 사용", "Schedule-Free SGD"),
    "soap": _l("adam", "runs Adam in the eigenbasis of Shampoo's preconditioner",
               "Shampoo 전처리 행렬의 고유기저에서 Adam을 실행", "SOAP"),
    "ademamix": _l("adam", "adds a second, slow momentum and mixes the two",
                   "느린 두 번째 모멘텀을 더해 두 모멘텀을 섞음", "AdEMAMix"),
    "prodigy": _l("adam", "estimates the step size d while training (no learning rate to tune)",
                  "학습 중에 스텝 크기 d를 추정(학습률 튜닝 불필요)", "Prodigy"),
    "adopt": _l("adam", "normalizes by the second moment before the current gradient enters it",
                "현재 그래디언트가 들어가기 전의 2차 모멘트로 정규화", "ADOPT"),
    "cautious-adamw": _l("adamw", "masks update components whose sign disagrees with the gradient",
                         "그래디언트와 부호가 어긋나는 업데이트 성분을 0으로 마스킹", "Cautious AdamW"),
    "cautious-lion": _l("lion", "masks update components whose sign disagrees with the gradient",
                        "그래디언트와 부호가 어긋나는 업데이트 성분을 0으로 마스킹", "Cautious Lion"),
}
"""Every optimizer's parents and change; the first parent is the main one."""


@dataclass(frozen=True)
class FamilyNode:
    """One optimizer in the drawn tree: only parents that exist, its label, year (from its card) and change."""

    name: str
    label: str
    year: int | None
    parents: tuple[str, ...]
    change: str

    @property
    def parent(self) -> str | None:
        """The main parent (the one the node hangs under), or ``None`` for a root."""
        return self.parents[0] if self.parents else None


def family_nodes(names: Iterable[str], lang: str = "en") -> list[FamilyNode]:
    """The tree restricted to ``names`` (existing presets), in ``lang``; names without a lineage entry are left out.

    Order: depth-first from the roots, each node's children by year then name (the terminal tree's order).
    """
    present = [n for n in dict.fromkeys(names) if n in LINEAGE]
    keep = set(present)
    nodes = {
        n: FamilyNode(n, LINEAGE[n].short(lang), _year(n), tuple(p for p in LINEAGE[n].parents if p in keep),
                      LINEAGE[n].change(lang))
        for n in present
    }
    children: dict[str | None, list[FamilyNode]] = {}
    for node in nodes.values():
        children.setdefault(node.parent, []).append(node)
    for kids in children.values():
        kids.sort(key=lambda k: (k.year if k.year is not None else 9999, k.name))
    out: list[FamilyNode] = []

    def visit(node: FamilyNode) -> None:
        out.append(node)
        for child in children.get(node.name, []):
            visit(child)

    for root in children.get(None, []):
        visit(root)
    return out


def _year(name: str) -> int | None:
    try:
        return load_card(name).year
    except ValueError:  # no card (yet): the tree still draws the node, without a year
        return None


def generations(nodes: Iterable[FamilyNode]) -> dict[str, int]:
    """Each node's generation: 0 for a root, else one more than its latest parent (the longest path)."""
    by_name = {n.name: n for n in nodes}
    depth: dict[str, int] = {}

    def gen(name: str, seen: tuple[str, ...] = ()) -> int:
        if name in seen:
            raise ValueError(f"The family tree has a cycle through {' -> '.join((*seen, name))}.")
        if name not in depth:
            parents = by_name[name].parents
            depth[name] = 1 + max(gen(p, (*seen, name)) for p in parents) if parents else 0
        return depth[name]

    for name in by_name:
        gen(name)
    return depth


_WORDS: Mapping[str, Mapping[str, str]] = {
    "en": {"title": "The family tree: each optimizer under its parent, with what it changed.",
           "also": "also from {names}", "more": "More: `optimlab explain NAME`; the picture is in "
           "`optimlab compare`'s index.html and in every study report."},
    "ko": {"title": "계보: 각 옵티마이저를 부모 아래에 두고, 부모에서 무엇을 바꿨는지 적었다.",
           "also": "{names}에서도 이어짐", "more": "자세히: `optimlab explain NAME --lang ko`; 그림은 "
           "`optimlab compare`의 index.html과 각 연구 보고서에 있다."},
}


def render_text(nodes: list[FamilyNode], lang: str = "en", width: int = 100) -> str:
    """The tree in Unicode box drawing: ``├── adam (2015) — change  · also from rmsprop``, wrapped at ``width``."""
    words = _WORDS.get(lang, _WORDS["en"])
    children: dict[str | None, list[FamilyNode]] = {}
    for node in nodes:
        children.setdefault(node.parent, []).append(node)
    lines = [words["title"], ""]

    def draw(node: FamilyNode, lead: str, branch: str, rest: str) -> None:
        year = f" ({node.year})" if node.year is not None else ""
        text = f"{node.name}{year} — {node.change}"
        if len(node.parents) > 1:
            text += "  · " + words["also"].format(names=", ".join(node.parents[1:]))
        kids = children.get(node.name, [])
        cont = lead + rest + ("│   " if kids else "    ")
        lines.extend(wrap_text(text, max(width, display_width(cont) + 20), initial=lead + branch,
                               subsequent=cont + "  "))
        for i, kid in enumerate(kids):
            last = i == len(kids) - 1
            draw(kid, lead + rest, "└── " if last else "├── ", "    " if last else "│   ")

    for root in children.get(None, []):
        draw(root, "", "", "")
        lines.append("")
    lines.append(words["more"])
    return "\n".join(lines)
