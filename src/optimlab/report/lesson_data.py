"""The playground's grids as compact JSON for the page: paths as 16-bit integers, curves as 8-bit, in base64.

Formats (what was traded for size): a point is two uint16 over the domain widened by one width on each side
(resolution 1/21845 of the domain's width; a point farther out is drawn at the edge, 65535 = no point, the path
ended); the loss curve and the step length are uint16 over each surface's range of log10 values (65535 = none; uint8
drew visible stairs); the contour background is a uint8 grid of 120 × 120. Learning rates kept: half
decades (1e-4 … 10) plus the marked one and the lesson's named ones; every step is kept (zig-zags are the story).
numpy only: no matplotlib, so the page costs no plotting library's import.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..compare.playground import Playground, SeriesGrid
    from ..problems.surfaces import Surface

GRID = 120


def grid_levels(
    surface: Surface, n: int = GRID
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, float] | None]:
    """Grid ``X, Y``, the values to colour (``f - min``, clipped at a floor, when log-scaled) and ``(floor, top)``."""
    gx, gy, z = surface.grid(n)
    zz = z.numpy()
    finite = np.isfinite(zz)
    if not surface.log_scale:
        return gx.numpy(), gy.numpy(), np.where(finite, zz, np.nan), None
    shifted = np.where(finite, zz - float(zz[finite].min()), np.nan)
    top = float(np.nanmax(shifted))
    floor = max(float(np.nanquantile(shifted, 0.002)), top * 1e-7, 1e-12)
    return gx.numpy(), gy.numpy(), np.clip(shifted, floor, None), (floor, top)


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def _u8(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    scaled = np.round((values - lo) / max(hi - lo, 1e-12) * 254)
    return np.where(np.isfinite(values), np.clip(scaled, 0, 254), 255).astype(np.uint8)


def _u16(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    scaled = np.round((values - lo) / max(hi - lo, 1e-12) * 65534)
    return np.where(np.isfinite(values), np.clip(scaled, 0, 65534), 65535).astype("<u2")


def curve_values(surface: Surface, losses: np.ndarray) -> tuple[np.ndarray, bool]:
    """What the loss chart draws: log10(loss − f*) when the minimum is known, else the loss on a symmetric log
    scale, sign(f)·log10(1 + |f|) (a surface without a minimum, the saddle, sends paths to -1e6 and beyond)."""
    f_star = surface.min_value
    if f_star is None:
        return np.sign(losses) * np.log10(1 + np.abs(losses)), False
    with np.errstate(invalid="ignore"):
        return np.log10(np.maximum(losses - f_star, 1e-16)), True


def step_lengths(paths: np.ndarray) -> np.ndarray:
    """log10 of ‖θₜ − θₜ₋₁‖ along the last axis but one (NaN at t = 0)."""
    moves = np.linalg.norm(np.diff(paths, axis=-2), axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log10(np.maximum(moves, 1e-16))
    return np.concatenate([np.full((*logs.shape[:-1], 1), np.nan), logs], axis=-1)


def kept_rows(series: SeriesGrid, lrs: Iterable[float]) -> list[int]:
    """The settings the page stores: at the default knobs only ``lrs`` (and the marked one); all others."""
    given = [float(v) for v in lrs]
    keep = set(given) | {series.settings[series.tuned]["lr"]}
    low, high = min(given, default=math.inf), max(given, default=-math.inf)

    def half_decade_beyond(lr: float) -> bool:  # where the grid was widened past the given rates (compare.widened)
        twice = 2 * math.log10(lr)
        return (lr > high * 1.01 or lr < low / 1.01) and abs(twice - round(twice)) < 0.01

    default = {k: d for k, _, d in series.knobs}
    return [c for c, st in enumerate(series.settings)
            if any(st[k] != v for k, v in default.items()) or any(math.isclose(st["lr"], v) for v in keep)
            or half_decade_beyond(st["lr"])]


def _range(chunks: list[np.ndarray]) -> tuple[float, float]:
    finite = [c[np.isfinite(c)] for c in chunks]
    values = np.concatenate(finite) if finite else np.zeros(1)
    if not values.size:
        return 0.0, 1.0
    return float(values.min()), float(values.max())


def encode_playground(pg: Playground, lrs: Iterable[float], names: dict[str, str], colors: dict[str, str],
                      extra: dict[str, Iterable[float]] | None = None) -> dict[str, Any]:
    """One surface's grids as the page's JSON (see the module docstring for the formats)."""
    surf = pg.surface
    (x0, x1), (y0, y1) = surf.domain
    _, _, zz, scale = grid_levels(surf)
    shown = np.log10(zz) if scale is not None else zz
    lo, hi = float(np.nanmin(shown)), float(np.nanmax(shown))
    base_lrs = list(lrs)
    rows = {n: kept_rows(g, [*base_lrs, *(extra or {}).get(n, ())]) for n, g in pg.series.items()}
    curves, logy = {}, False
    for n, g in pg.series.items():
        curves[n], logy = curve_values(surf, g.losses[rows[n]])
    lengths = {n: step_lengths(g.paths[rows[n]]) for n, g in pg.series.items()}
    c_lo, c_hi = _range(list(curves.values()))
    s_lo, s_hi = _range(list(lengths.values()))
    width, height = x1 - x0, y1 - y0
    series = {}
    for n, g in pg.series.items():
        p = g.paths[rows[n]]
        q = np.stack([_u16(p[..., 0], x0 - width, x1 + width), _u16(p[..., 1], y0 - height, y1 + height)], axis=-1)
        cv = np.stack([_u16(curves[n], c_lo, c_hi), _u16(lengths[n], s_lo, s_hi)], axis=-1)
        kept = [g.settings[c] for c in rows[n]]
        series[n] = {
            "label": names.get(n, n), "color": colors.get(n, "#444444"),
            "knobs": [{"key": k, "values": list(values), "default": d} for k, values, d in g.knobs],
            "settings": [[st["lr"], *(st[k] for k, _, _ in g.knobs)] for st in kept],
            "tuned": rows[n].index(g.tuned), "div": g.diverged[rows[n]].ravel().tolist(),
            "xy": _b64(q), "cv": _b64(cv), "perStep": g.examples_per_step,
        }
    return {
        "domain": [x0, x1, y0, y1], "n": GRID, "grid": _b64(_u8(shown, lo, hi)), "log": scale is not None,
        "minima": [list(m) for m in surf.minima], "starts": [list(s) for s in pg.starts], "steps": pg.steps,
        "xlabel": pg.axis_labels[0], "ylabel": pg.axis_labels[1], "formula": surf.formula,
        "curve": {"log": logy, "lo": c_lo, "hi": c_hi}, "steplen": {"lo": s_lo, "hi": s_hi}, "series": series,
    }


def encode_network(result: Any, names: dict[str, str], colors: dict[str, str]) -> dict[str, Any]:
    """A real network's PCA slice (a :class:`~optimlab.landscape.LandscapeResult`) in the playground's format, so
    the page draws it with the surfaces' code: the map is log10 of the loss on the plane (cut at its 97th
    percentile), every learning rate's run is a setting, the loss curve is each run's mini-batch loss and the step
    length is ‖θₜ − θₜ₋₁‖ over all parameters. Language-free: the page adds the words (see ``network``)."""
    piece = next(s for s in result.slices if s.kind == "pca")
    a, b = np.asarray(piece.a), np.asarray(piece.b)
    x0, x1, y0, y1 = float(a[0]), float(a[-1]), float(b[0]), float(b[-1])
    shown = np.log10(np.minimum(piece.losses, np.percentile(piece.losses, 97)))
    lo, hi = float(shown.min()), float(shown.max())
    nan_start = np.full((len(result.lr_grid), 1), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        curves = {o: np.log10(np.concatenate([v, nan_start], 1)) for o, v in result.train_loss.items()}
        lengths = {o: np.log10(np.concatenate([nan_start, np.maximum(v, 1e-16)], 1))
                   for o, v in result.step_length.items()}
    c_lo, c_hi = _range(list(curves.values()))
    s_lo, s_hi = _range(list(lengths.values()))
    width, height = x1 - x0, y1 - y0
    series = {}
    for o, runs in piece.grid_paths.items():
        q = np.stack([_u16(runs[..., 0], x0 - width, x1 + width), _u16(runs[..., 1], y0 - height, y1 + height)], -1)
        cv = np.stack([_u16(curves[o], c_lo, c_hi), _u16(lengths[o], s_lo, s_hi)], axis=-1)
        series[o] = {
            "label": names.get(o, o), "color": colors.get(o, "#444444"), "knobs": [],
            "settings": [[lr] for lr in result.lr_grid], "tuned": list(result.lr_grid).index(result.chosen[o]),
            "div": list(result.diverged[o]), "xy": _b64(q), "cv": _b64(cv), "perStep": result.batch_size,
        }
    start = next(iter(piece.grid_paths.values()))[0, 0]
    return {
        "domain": [x0, x1, y0, y1], "n": len(a), "grid": _b64(_u8(shown, lo, hi)),
        "log": True, "minima": [[0.0, 0.0]], "starts": [[float(start[0]), float(start[1])]], "steps": result.steps,
        "xlabel": "", "ylabel": "", "formula": "", "curve": {"log": True, "lo": c_lo, "hi": c_hi},
        "steplen": {"lo": s_lo, "hi": s_hi}, "series": series,
        "network": {
            "problem": result.problem, "description": result.description, "parameters": result.parameters,
            "steps": result.steps, "batch": result.batch_size, "seed": result.seed, "lrs": list(result.lr_grid),
            "chosen": dict(result.chosen), "center": result.center, "explained": list(piece.explained or (0, 0)),
            "kept": dict(piece.in_plane), "points": len(a), "examples": result.examples, "train": result.train_examples,
            "valid": {o: [None if not np.isfinite(v) else float(v) for v in vals]
                      for o, vals in result.valid_loss.items()},
            "seconds": dict(result.seconds),
        },
    }
