"""The family tree (registry lineage), its terminal and SVG renderings, and the candidate sets."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from optimlab.cli import main
from optimlab.explain.cards import display_width
from optimlab.lineage import LINEAGE, FamilyNode, family_nodes, generations, render_text
from optimlab.registry import PRESETS, SET_DOCS, SETS, family_tree, resolve_set
from optimlab.report.family_tree import CHANGE_SIZE, GAP, PAD, WIDTH, family_figure, text_width, tree_svg

# The names issue 15 settles on, plus sparseadam (the last elementwise torch.optim algorithm).
ALL_NAMES = {
    "gd", "sgd", "minibatch", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "amsgrad", "adamw",
    "adamax", "nadam", "radam", "muon", "adafactor", "schedulefree-adamw", "schedulefree-sgd", "lion", "signum",
    "ademamix", "soap", "prodigy", "adopt", "asgd", "rprop", "cautious-adamw", "cautious-lion", "sparseadam",
}
HANGUL = re.compile("[\uac00-\ud7a3]")
SVG = "{http://www.w3.org/2000/svg}"


# ------------------------------------------------------------------------------------------------ the data


def test_every_preset_has_a_lineage_and_every_parent_is_known() -> None:
    assert set(PRESETS) == set(LINEAGE), f"presets and lineage differ: {sorted(set(PRESETS) ^ set(LINEAGE))}"
    assert set(LINEAGE) == ALL_NAMES
    for name, entry in LINEAGE.items():
        assert set(entry.parents) <= set(LINEAGE), f"{name} names an unknown parent: {entry.parents}"
        assert name not in entry.parents and len(set(entry.parents)) == len(entry.parents)
        assert entry.change_en.strip() and entry.label.strip()
        assert HANGUL.search(entry.change_ko), f"{name}: the Korean change is not in Korean"
    assert {n for n, e in LINEAGE.items() if not e.parents} == {"gd", "adagrad"}


def test_the_tree_has_no_cycles_and_generations_follow_parents() -> None:
    nodes = family_nodes(LINEAGE)
    gen = generations(nodes)
    for node in nodes:
        for parent in node.parents:
            assert gen[node.name] > gen[parent]
    assert gen["gd"] == 0 and gen["adam"] == 3 and gen["adamw"] == 4 and gen["cautious-lion"] == 5
    looped = [FamilyNode("a", "A", None, ("b",), "x"), FamilyNode("b", "B", None, ("a",), "y")]
    with pytest.raises(ValueError, match="cycle"):
        generations(looped)


def test_views_show_only_existing_presets_and_drop_missing_parents() -> None:
    nodes = family_nodes(["lion", "adam", "gd", "not-a-preset"])
    assert [n.name for n in nodes] == ["gd", "adam", "lion"]
    by_name = {n.name: n for n in nodes}
    assert by_name["lion"].parents == ("adam",)  # signum does not exist here
    assert by_name["adam"].parents == ()  # neither momentum nor rmsprop: a root
    today = family_tree()
    assert {n.name for n in today} == set(PRESETS)
    assert {n.name: n.parents for n in today}["adam"] == ("momentum", "rmsprop")
    assert all(n.year == PRESETS[n.name].card().year for n in today)  # years come from the cards


# ------------------------------------------------------------------------------------------------ the terminal


def _parsed_tree(text: str) -> dict[str, str | None]:
    """Each drawn node's parent, read back from the box-drawing indentation alone."""
    parent_of: dict[str, str | None] = {}
    stack: list[str] = []
    for line in text.splitlines():
        m = re.match(r"^((?:[│ ]   )*)(?:[├└]── )?([a-z][a-z0-9-]*) (?:\(\d{4}\) )?— ", line)
        if not m:
            continue
        depth = len(m.group(1)) // 4 + (1 if "── " in line[: len(m.group(1)) + 4] else 0)
        del stack[depth:]
        parent_of[m.group(2)] = stack[-1] if stack else None
        stack.append(m.group(2))
    return parent_of


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_list_tree_draws_every_preset_under_its_main_parent(lang: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--tree", "--lang", lang]) == 0
    out = capsys.readouterr().out
    assert _parsed_tree(out) == {n.name: n.parent for n in family_tree(lang)}
    assert set(_parsed_tree(out)) == set(PRESETS)
    adam = next(line for line in out.splitlines() if "── adam (" in line)
    assert "└── adam" in adam or "├── adam" in adam
    also = "also from rmsprop" if lang == "en" else "rmsprop에서도"
    assert also in out.split("── adam (")[1].split("── ")[0]
    change = LINEAGE["rmsprop"].change(lang)
    assert f"rmsprop (2012) — {change}" in out
    if lang == "ko":
        assert len(HANGUL.findall(out)) > 200


def test_the_full_tree_renders_and_wraps_inside_the_width() -> None:
    nodes = family_nodes(LINEAGE)
    for lang in ("en", "ko"):
        text = render_text(nodes, lang, width=90)
        assert _parsed_tree(text) == {n.name: n.parent for n in nodes}
        assert all(display_width(line) <= 90 for line in text.splitlines() if not line.startswith(("More", "자세히")))
    assert re.search(r"── lion( \(\d{4}\))? — ", text) and "signum에서도 이어짐" in text


def test_list_shows_every_set_with_what_it_is_for(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out.split("Sets (")[1]
    for name, doc in SET_DOCS.items():
        assert f"  {name}: {doc}." in out
    for members in SETS.values():
        assert f"= {', '.join(members)}" in out


def test_unknown_language_is_one_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--tree", "--lang", "fr"]) == 2
    assert "fr" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------ the picture


def _svg(nodes: list[FamilyNode], lang: str = "en", highlight: frozenset[str] = frozenset()) -> ET.Element:
    return ET.fromstring(tree_svg(nodes, lang, highlight))


def _rects(root: ET.Element) -> dict[str, tuple[float, ...]]:
    out = {}
    for a in root.iter(f"{SVG}a"):
        r = a.find(f"{SVG}rect")
        assert r is not None
        out[a.attrib["data-optimizer"]] = tuple(float(r.attrib[k]) for k in ("x", "y", "width", "height"))
    return out


@pytest.mark.parametrize("full", [False, True], ids=["today", "all-28"])
def test_svg_links_every_node_to_its_card_and_draws_every_edge(full: bool) -> None:
    nodes = family_nodes(LINEAGE) if full else family_tree()
    root = _svg(nodes, highlight=frozenset({"adam"}))
    links = {a.attrib["data-optimizer"]: a.attrib["href"] for a in root.iter(f"{SVG}a")}
    assert links == {n.name: f"#card-{n.name}" for n in nodes}
    edges = {(p.attrib["data-from"], p.attrib["data-to"]) for p in root.iter(f"{SVG}path")}
    assert edges == {(parent, n.name) for n in nodes for parent in n.parents}
    # boxes never overlap, and each generation is its own column, left to right
    rects = _rects(root)
    gen = generations(nodes)
    for a, (ax, ay, _, ah) in rects.items():
        assert ax == pytest.approx(rects["gd"][0] + gen[a] * (WIDTH + GAP))
        for b, (bx, by, _, bh) in rects.items():
            if a < b and ax == bx:
                assert ay + ah <= by or by + bh <= ay, f"{a} and {b} overlap"
    width, height = (float(v) for v in root.attrib["viewBox"].split()[2:])
    assert all(x + w <= width and y + h <= height for x, y, w, h in rects.values())
    fills = {a.attrib["data-optimizer"]: a.find(f"{SVG}rect").attrib["fill"] for a in root.iter(f"{SVG}a")}  # type: ignore[union-attr]
    assert [name for name, fill in fills.items() if fill == "#e3eefc"] == ["adam"]


def test_svg_labels_in_korean_and_every_change_line_fits_its_box() -> None:
    nodes = family_nodes(LINEAGE, "ko")
    svg = tree_svg(nodes, "ko")
    assert "경사 하강법" in svg and "네스테로프" in svg and "세대" in svg
    assert LINEAGE["rmsprop"].change_ko.split()[0] in svg
    for a in ET.fromstring(svg).iter(f"{SVG}a"):
        for t in a.findall(f"{SVG}text")[1:]:
            assert text_width(t.text or "", CHANGE_SIZE) <= WIDTH - 2 * PAD
    assert 'lang="ko"' in family_figure(nodes, "ko")


def test_gallery_page_has_the_tree_and_a_card_target_for_every_node() -> None:
    from optimlab.compare import compare

    page = compare(["gd", "adam"], "bowl", lr=0.1, steps=5).to_html()
    tree = page.split('id="family"')[1]
    for name in PRESETS:
        assert f'href="#card-{name}"' in tree
        assert page.count(f'id="card-{name}"') == 1
    on_page = page.split("The optimizers on this page")[1].split("The rest of the family")[0]
    assert on_page.count('class="optimlab-card"') == 2


# ------------------------------------------------------------------------------------------------ sets


def test_every_optimizer_of_the_family_has_its_own_colour() -> None:
    from optimlab.compare import PALETTE

    assert set(LINEAGE) <= set(PALETTE)
    assert len(set(PALETTE.values())) == len(PALETTE)


def test_sets_resolve_to_existing_presets() -> None:
    for name, members in SETS.items():
        assert members and set(members) <= set(PRESETS), name
        assert resolve_set(name) == list(members)
    assert set(SET_DOCS) == {*SETS, "all"}
    assert SETS["descendants"] == ("adam", "adamw", "amsgrad", "adamax", "nadam", "radam")
    modern = ["adamw", "lion", "muon", "adafactor", "schedulefree-adamw", "soap", "ademamix", "prodigy", "adopt",
              "cautious-adamw"]
    assert list(SETS["modern"]) == [n for n in modern if n in PRESETS]
    assert resolve_set("modern,seed")[0] == "adamw" and resolve_set("all") == list(PRESETS)
    from optimlab.advise import resolve_candidates

    assert [c.optimizer for c in resolve_candidates("modern")] == list(SETS["modern"])
