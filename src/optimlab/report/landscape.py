"""The landscape page: two slices of a small network's loss with every tuned optimizer's path, the loss along the
paths against the loss under their shadows, and what such a slice can and cannot show; in English or Korean.

``result`` is an :class:`optimlab.landscape.LandscapeResult`. The page is one offline file (PNGs as data URIs,
no scripts).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from ._embed import png_img, pyplot, save_png
from ._i18n import Messages, check_lang, figure_style
from ._study_common import color
from .landscape_text import TEXT
from .style import page_css

DPI = 110

CSS = page_css(1100) + """
img { border: 1px solid #eee; }
ul.limits li { margin: .3em 0; }
"""
"""The page's whole style sheet (one constant, for the shared style module to take over)."""


def slices_png(result: Any, path: Path, lang: str = "en") -> Path:
    """The PCA slice and the random slice side by side: filled contours of the loss, each path on top."""
    words = Messages(TEXT, lang)
    with figure_style(lang):
        fig, axes = pyplot().subplots(1, 2, figsize=(11.5, 5.0))
        for ax, piece in zip(axes, result.slices, strict=True):
            levels = np.geomspace(piece.losses.min(), np.percentile(piece.losses, 97), 24)
            filled = ax.contourf(piece.a, piece.b, np.minimum(piece.losses, levels[-1]), levels=levels,
                                 cmap="viridis", extend="max")
            ax.contour(piece.a, piece.b, piece.losses, levels=levels[::3], colors="white", linewidths=0.4, alpha=0.5)
            for name, xy in piece.paths.items():
                c = color(name)
                ax.plot(xy[:, 0], xy[:, 1], color="white", lw=3.2, alpha=0.8)
                ax.plot(xy[:, 0], xy[:, 1], color=c, lw=1.7, label=name)
                ax.plot(xy[-1, 0], xy[-1, 1], "o", color=c, mec="white", ms=6)
            start = next(iter(piece.paths.values()))[0]
            ax.plot(start[0], start[1], "s", color="white", mec="black", ms=7, label=words("start"))
            ax.plot(0, 0, "*", color="#ffdd00", mec="black", ms=13, label=words("center", name=result.center))
            if piece.kind == "pca":
                ax.set_aspect("equal", adjustable="box")  # orthonormal directions: distances in the plane stay true
                ax.set_xlabel(words("pc_axis", n=1, share=f"{100 * piece.explained[0]:.0f}"))
                ax.set_ylabel(words("pc_axis", n=2, share=f"{100 * piece.explained[1]:.0f}"))
                ax.set_title(words("pca_title"), fontsize=10)
            else:
                ax.set_xlabel(words("random_axis", n=1))
                ax.set_ylabel(words("random_axis", n=2))
                ax.set_title(words("random_title"), fontsize=10)
            fig.colorbar(filled, ax=ax, shrink=0.85, label=words("loss_label", n=result.examples),
                         format="%.2f")
        axes[0].legend(fontsize=7.5, loc="best", framealpha=0.85)
        fig.suptitle(words("suptitle", problem=result.problem, parameters=f"{result.parameters:,}"), fontsize=11)
        fig.tight_layout()
        return save_png(fig, path, DPI)


def losses_png(result: Any, path: Path, lang: str = "en") -> Path:
    """Each path's true loss against the loss of its shadow on the PCA plane, step by step."""
    words = Messages(TEXT, lang)
    pca = next(s for s in result.slices if s.kind == "pca")
    with figure_style(lang):
        fig, ax = pyplot().subplots(figsize=(8.4, 3.9))
        for name, values in result.path_losses.items():
            c = color(name)
            ax.plot(result.loss_steps, values, color=c, lw=1.7, label=name)
            ax.plot(result.loss_steps, pca.shadow_losses[name], color=c, lw=1.2, ls="--")
        ax.plot([], [], color="#555", lw=1.7, label=words("true_loss"))
        ax.plot([], [], color="#555", lw=1.2, ls="--", label=words("shadow_loss"))
        ax.set_xlabel(words("step"))
        ax.set_ylabel(words("loss_label", n=result.examples))
        ax.set_title(words("losses_title"), fontsize=10)
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=7.5, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        fig.tight_layout()
        return save_png(fig, path, DPI)


def _table(result: Any, words: Messages) -> str:
    """Per optimizer: the tuned lr, the final loss, and how much of its path each plane keeps."""
    pca, random = (next(s for s in result.slices if s.kind == k) for k in ("pca", "random"))
    edge = {o for o, lr in result.chosen.items() if lr in (min(result.lr_grid), max(result.lr_grid))}
    rows = []
    for name, lr in result.chosen.items():
        valid = result.valid_loss[name][list(result.lr_grid).index(lr)]
        rows.append(
            f'<tr><td><span class="swatch" style="background:{color(name)}"></span>{html.escape(name)}</td>'
            f'<td class="n">{lr:.3g}{" *" if name in edge else ""}</td><td class="n">{float(valid):.4g}</td>'
            f'<td class="n">{result.path_losses[name][-1]:.4g}</td>'
            f'<td class="n">{100 * pca.in_plane[name]:.1f}%</td><td class="n">{100 * random.in_plane[name]:.2f}%</td>'
            "</tr>")
    head = "".join(f"<th>{words(k)}</th>" for k in ("optimizer", "lr", "valid_loss", "train_loss", "pca_kept",
                                                     "random_kept"))
    note = f'<p class="note">{words("edge_note")}</p>' if edge else ""
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>{note}"


def write_landscape(result: Any, out_dir: str | Path, lang: str = "en") -> dict[str, Path]:
    """Write ``landscape.png``, ``landscape-losses.png`` and ``landscape.html`` into ``out_dir`` in ``lang``."""
    words = Messages(TEXT, check_lang(lang))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"slices": slices_png(result, out / "landscape.png", lang),
             "losses": losses_png(result, out / "landscape-losses.png", lang)}
    pca = next(s for s in result.slices if s.kind == "pca")
    grid = f"{min(result.lr_grid):.3g} … {max(result.lr_grid):.3g}"
    setup = words("setup", problem=html.escape(result.problem), description=html.escape(result.description.rstrip(".")),
                  parameters=f"{result.parameters:,}", steps=result.steps, batch=result.batch_size,
                  seed=result.seed, n=len(result.lr_grid), grid=grid, center=html.escape(result.center),
                  examples=result.examples, points=len(pca.a))
    limits = "".join(f"<li>{words(key)}</li>" for key in ("limit_slice", "limit_projection", "limit_minima",
                                                          "limit_random", "limit_pca"))
    share = f"{100 * sum(pca.explained):.0f}"
    timing = ", ".join(f"{words('phase_' + k.replace(' ', '_'))} {v:.1f}" for k, v in result.seconds.items())
    page = f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(words('title'))}</title><style>{CSS}</style></head><body>
<h1>{words('title')}</h1>
<p>{words('intro')}</p>
<p class="note">{setup}</p>
<h2>{words('slices')}</h2>
{png_img(files['slices'], words('alt_slices'))}
<p>{words('read_slices', share=share)}</p>
<h2>{words('along')}</h2>
{png_img(files['losses'], words('alt_losses'))}
<p>{words('read_losses')}</p>
<h2>{words('table')}</h2>
{_table(result, words)}
<h2>{words('limits')}</h2>
<ul class="limits">{limits}</ul>
<p class="note">{words('timing', timing=timing)}</p>
</body></html>
"""
    files["html"] = out / "landscape.html"
    files["html"].write_text(page, encoding="utf-8")
    return files
