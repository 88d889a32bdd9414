"""Static pictures of optimizer paths on a 2-D surface: a PNG (contour, paths, curves) and an animated GIF.

matplotlib (Agg backend) draws the PNG. The GIF draws its background once with matplotlib and then only the
growing paths per frame with Pillow, so an animation of 40 frames costs about as much as one picture.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap, LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, NullFormatter, NullLocator
from PIL import Image, ImageDraw, ImageFont

from .fonts import cjk_family, figure_font_family
from .lesson_data import grid_levels
from .lesson_text import figure_word

if TYPE_CHECKING:
    from ..compare._run import CompareResult
    from ..problems.surfaces import Surface

BACKGROUND = ListedColormap(plt.get_cmap("Greys")(np.linspace(0.0, 0.32, 256)))
STAR = {"marker": "*", "s": 260, "color": "#FFD700", "edgecolors": "black", "linewidths": 0.9, "zorder": 6}


def contour_levels(surface: Surface, n: int = 120) -> tuple[np.ndarray, np.ndarray, np.ndarray, Any]:
    """Grid ``X, Y``, the values to colour (``f - min`` when log-scaled) and the matching norm (or None)."""
    gx, gy, zz, scale = grid_levels(surface, n)
    return gx, gy, zz, (LogNorm(*scale) if scale is not None else None)


def draw_contour(ax: Any, surface: Surface) -> None:
    gx, gy, zz, norm = contour_levels(surface)
    if norm is not None:
        levels = np.geomspace(norm.vmin, norm.vmax, 24)
        ax.contourf(gx, gy, zz, levels=levels, norm=norm, cmap=BACKGROUND)
        ax.contour(gx, gy, zz, levels=levels, norm=norm, colors="#7a7a7a", linewidths=0.4)
    else:
        ax.contourf(gx, gy, zz, levels=24, cmap=BACKGROUND)
        ax.contour(gx, gy, zz, levels=24, colors="#7a7a7a", linewidths=0.4)
    if surface.minima:
        mx, my = zip(*surface.minima, strict=True)
        ax.scatter(mx, my, **STAR)
    (x0, x1), (y0, y1) = surface.domain
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)


def _finite_end(path: np.ndarray) -> int:
    ok = np.nonzero(np.isfinite(path).all(axis=1))[0]
    return int(ok[-1]) if ok.size else 0


def _clip(point: np.ndarray, surface: Surface) -> np.ndarray:
    (x0, x1), (y0, y1) = surface.domain
    return np.array([np.clip(point[0], x0, x1), np.clip(point[1], y0, y1)])


def draw_paths(ax: Any, result: CompareResult, upto: int | None = None) -> None:
    """Every path with its start, end and (for a diverged trial) an × at its last point and a note."""
    surf = result.surface
    for k in range(len(result.trials)):
        end = min(_finite_end(result.paths[k]), result.steps if upto is None else upto)
        path = result.paths[k, : end + 1]
        ax.plot(path[:, 0], path[:, 1], color=result.colors[k], lw=1.7, alpha=0.9, zorder=4)
        last = _clip(path[-1], surf)
        if result.diverged_at[k] is not None and upto is None:
            ax.scatter(*last, marker="X", s=110, color=result.colors[k], edgecolors="white", zorder=7)
            ax.annotate(
                figure_word("diverged", result.lang, n=result.diverged_at[k]), last, xytext=(6, -12),
                textcoords="offset points",
                fontsize=8, color=result.colors[k], zorder=8,
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.8},
            )
        else:
            ax.scatter(*last, s=34, color=result.colors[k], edgecolors="white", linewidths=0.8, zorder=7)
    sx, sy = zip(*result.starts, strict=True)
    ax.scatter(sx, sy, s=60, facecolors="white", edgecolors="black", linewidths=1.3, zorder=8)


def _legend_handles(result: CompareResult) -> list[Line2D]:
    seen: dict[str, Line2D] = {}
    for label, color in zip(result.labels, result.colors, strict=True):
        seen.setdefault(label, Line2D([], [], color=color, lw=2.2, label=label))
    words = {k: figure_word(k, result.lang) for k in ("start", "minimum")}
    extra = [Line2D([], [], ls="", marker="o", mfc="white", mec="black", label=words["start"])]
    if result.surface.minima:
        extra.append(Line2D([], [], ls="", marker="*", ms=13, mfc="#FFD700", mec="black", label=words["minimum"]))
    return [*seen.values(), *extra]


def _gap(result: CompareResult) -> tuple[np.ndarray, str, bool]:
    """Loss curves to draw, their axis label and whether a log axis suits them."""
    f_star = result.surface.min_value
    if f_star is not None:
        return np.maximum(result.losses - f_star, 1e-16), figure_word("gap_axis", result.lang), True
    return result.losses, figure_word("loss_axis", result.lang), False


def figure(result: CompareResult) -> Figure:
    """The static picture: contour map with every path, beside loss curves and step lengths."""
    with matplotlib.rc_context({"font.family": figure_font_family(result.lang)}):
        return _figure(result)


def _figure(result: CompareResult) -> Figure:
    fig = Figure(figsize=(13.5, 6.6), dpi=100)
    subtitle = "\n".join(textwrap.wrap(result.story, 170) + textwrap.wrap(result.settings, 170))
    # The caption's lines (9 pt, about 2.4% of the height each) sit under the axes' tick labels and x labels.
    grid = fig.add_gridspec(
        2, 2, width_ratios=(1.25, 1.0), left=0.05, right=0.985, top=0.9, bottom=0.105 + 0.024 * subtitle.count("\n"),
        wspace=0.14, hspace=0.38,
    )
    ax = fig.add_subplot(grid[:, 0])
    top, bottom = fig.add_subplot(grid[0, 1]), fig.add_subplot(grid[1, 1])
    draw_contour(ax, result.surface)
    draw_paths(ax, result)
    ax.set_xlabel(result.axis_labels[0])
    ax.set_ylabel(result.axis_labels[1])
    formula = result.surface.formula
    ax.set_title(f"f = {formula}" if len(formula) < 70 else textwrap.shorten(f"f = {formula}", 70), fontsize=10)
    if result.notes:
        ax.text(
            0.02, 0.02, "\n".join(result.notes), transform=ax.transAxes, fontsize=8, va="bottom",
            bbox={"boxstyle": "round", "fc": "white", "ec": "#999999", "alpha": 0.9}, zorder=9,
        )
    gap, ylabel, logy = _gap(result)
    steps = np.arange(result.steps + 1)
    curves = result.curves_x or {"step": np.broadcast_to(steps, gap.shape)}
    axes = [top, bottom] if len(curves) >= 2 else [top]
    for cax, (xlabel, xs) in zip(axes, curves.items(), strict=False):
        for k in range(len(result.trials)):
            cax.plot(xs[k], gap[k], color=result.colors[k], lw=1.5)
            if result.diverged_at[k] is not None:
                end = _finite_end(result.paths[k])
                cax.scatter(xs[k][end], gap[k][end], marker="X", s=60, color=result.colors[k], zorder=5)
        cax.set_xlabel(_axis_word(xlabel, result.lang))
        cax.set_ylabel(ylabel)
        if logy:
            _log_axis(cax.yaxis)
        else:
            cax.set_yscale("symlog", linthresh=1.0)
        if xlabel != "step":
            _log_axis(cax.xaxis)
        cax.grid(alpha=0.3)
    top.set_title(figure_word("loss_title", result.lang), fontsize=10)
    if len(curves) < 2:
        moves = np.linalg.norm(np.diff(result.paths, axis=1), axis=2)
        for k in range(len(result.trials)):
            bottom.plot(steps[1:], np.maximum(moves[k], 1e-16), color=result.colors[k], lw=1.3)
        _log_axis(bottom.yaxis)
        bottom.set_xlabel(figure_word("step", result.lang))
        bottom.set_ylabel(figure_word("steplen_axis", result.lang))
        bottom.set_title(figure_word("steps_title", result.lang), fontsize=10)
        bottom.grid(alpha=0.3)
    top.legend(handles=_legend_handles(result), fontsize=8, loc="best", framealpha=0.9)
    fig.suptitle(result.title, fontsize=14, fontweight="bold")
    fig.text(0.5, 0.015, subtitle, ha="center", va="bottom", fontsize=9, color="#333333")
    return fig


def _log_axis(axis: Any) -> None:
    """A log scale labelled in plain text (1e-03): mathtext labels cost most of a figure's drawing time."""
    axis.axes.set_xscale("log") if axis is axis.axes.xaxis else axis.axes.set_yscale("log")
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0e}".replace("e+0", "e").replace("e-0", "e-")))
    axis.set_minor_formatter(NullFormatter())
    axis.set_minor_locator(NullLocator())


def _axis_word(key: str, lang: str) -> str:
    """A curve's x-axis label in ``lang`` (the keys of ``CompareResult.curves_x`` are the English labels)."""
    known = {"step": "step", "examples seen (log)": "examples_axis", "wall time, s (log)": "time_axis"}
    return figure_word(known[key], lang) if key in known else key


def save_png(result: CompareResult, path: str | Path) -> Path:
    figure(result).savefig(path, dpi=100)
    return Path(path)


def gif_frames(steps: int, n: int = 40) -> list[int]:
    """Frame steps spaced logarithmically: early steps, where most happens, get more frames."""
    return sorted({0, steps, *np.unique(np.round(np.geomspace(1, max(steps, 1), n)).astype(int)).tolist()})


def save_gif(result: CompareResult, path: str | Path, frames: int = 40) -> Path:
    """The paths growing step by step (log-spaced frames), last frame held."""
    with matplotlib.rc_context({"font.family": figure_font_family(result.lang)}):
        return _save_gif(result, path, frames)


def _step_font(lang: str) -> Any:
    """Pillow's font for the frame counter: a CJK font file for Korean (Pillow's default has no Hangul)."""
    if lang != "ko":
        return ImageFont.load_default(size=13)
    from matplotlib import font_manager

    return ImageFont.truetype(font_manager.findfont(font_manager.FontProperties(family=cjk_family())), 13)


def _save_gif(result: CompareResult, path: str | Path, frames: int) -> Path:
    fig = Figure(figsize=(6.4, 5.4), dpi=80)
    ax = fig.add_subplot()
    fig.subplots_adjust(left=0.11, right=0.97, top=0.93, bottom=0.1)
    draw_contour(ax, result.surface)
    sx, sy = zip(*result.starts, strict=True)
    ax.scatter(sx, sy, s=50, facecolors="white", edgecolors="black", linewidths=1.2, zorder=8)
    ax.set_xlabel(result.axis_labels[0])
    ax.set_ylabel(result.axis_labels[1])
    ax.set_title(textwrap.shorten(result.title, 60), fontsize=10, fontweight="bold")
    ax.legend(handles=_legend_handles(result), fontsize=7, loc="upper left", framealpha=0.85)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    base = Image.fromarray(np.asarray(canvas.buffer_rgba())).convert("RGB")
    height = base.height
    box = ax.get_window_extent()
    clip = (int(box.x0) + 1, int(height - box.y1) + 1, int(box.x1), int(height - box.y0))
    pixels = []
    for k in range(len(result.trials)):
        xy = ax.transData.transform(np.nan_to_num(result.paths[k], nan=np.inf))
        pixels.append(np.column_stack([xy[:, 0], height - xy[:, 1]]))
    ends = [_finite_end(result.paths[k]) for k in range(len(result.trials))]
    font = _step_font(result.lang)
    step_word = figure_word("step", result.lang)
    palette = _palette(base, result.colors)
    images = []
    for t in gif_frames(result.steps, frames):
        layer = base.copy()
        draw = ImageDraw.Draw(layer)
        for k, px in enumerate(pixels):
            upto = min(t, ends[k])
            pts = [(float(a), float(b)) for a, b in px[: upto + 1] if np.isfinite(a) and np.isfinite(b)]
            pts = [(min(max(a, -1e4), 1e4), min(max(b, -1e4), 1e4)) for a, b in pts]
            if len(pts) > 1:
                draw.line(pts, fill=result.colors[k], width=2, joint="curve")
            if pts:
                a, b = pts[-1]
                marker = "x" if result.diverged_at[k] is not None and t >= ends[k] else "o"
                if marker == "o":
                    draw.ellipse((a - 4, b - 4, a + 4, b + 4), fill=result.colors[k], outline="white")
                else:
                    draw.line((a - 5, b - 5, a + 5, b + 5), fill=result.colors[k], width=3)
                    draw.line((a - 5, b + 5, a + 5, b - 5), fill=result.colors[k], width=3)
        frame = base.copy()
        frame.paste(layer.crop(clip), clip[:2])
        ImageDraw.Draw(frame).text((clip[2] - 110, clip[3] - 22), f"{step_word} {t:>4d}", fill="black", font=font)
        images.append(frame.quantize(palette=palette, dither=Image.Dither.NONE))
    durations = [90] * (len(images) - 1) + [1800]
    images[0].save(path, save_all=True, append_images=images[1:], duration=durations, loop=0, optimize=False)
    return Path(path)


def _palette(base: Image.Image, colors: list[str]) -> Image.Image:
    """One palette for every frame: the background's colours plus the path colours, exactly."""
    from PIL import ImageColor

    ground = base.quantize(colors=200, dither=Image.Dither.NONE).getpalette() or []
    extra = [c for color in dict.fromkeys(colors) for c in ImageColor.getrgb(color)[:3]]
    flat = [*extra, 0, 0, 0, 255, 255, 255, *ground[: 3 * 200]][: 3 * 256]
    image = Image.new("P", (1, 1))
    image.putpalette(flat + [0] * (3 * 256 - len(flat)))
    return image
