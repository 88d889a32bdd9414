"""The learning-rate range test, every candidate in one population.

Each candidate trains with a learning rate that grows exponentially from ``RANGE_LR[0]`` to ``RANGE_LR[1]``
over the run (Smith, "Cyclical Learning Rates", 2017; fastai's ``lr_find``), on several seeds. The loss is
averaged over seeds and smoothed with a *centred* moving median (no lag, unlike an exponential average, so
the curve's features stay at the learning rate that caused them). What we read from it is a *range*, not a
single argmin:

* ``lr_low``: where the smoothed loss has fallen by a tenth of its total drop (learning starts);
* the near-minimum region: the contiguous learning rates around the minimum whose smoothed loss is within a
  fifth of the drop from the bottom; ``lr_high`` is its upper end (beyond it the loss climbs or diverges);
* ``anchor``: the geometric centre of the near-minimum region, a noise-robust stand-in for the argmin.

A candidate whose loss never drops by more than its own noise has no usable range.

The tournament then tries learning rates around ``anchor / 10`` (the usual advice: the best constant rate
for a long run sits about a decade below where a short ramp bottoms out), half a decade apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..engine.tuning import lrs_around
from ..schedules import Schedule
from ._plan import RANGE_LR


@dataclass(frozen=True)
class LrRamp(Schedule):
    """``lr(step) = lr_base · span^(step / (total − 1))``: an exponential ramp over ``span`` (a factor)."""

    span: float = RANGE_LR[1] / RANGE_LR[0]

    def factor(self, step: int, total: int) -> float:
        return float(self.span ** (step / max(1, total - 1)))


def ramp_lrs(steps: int) -> np.ndarray:
    """The learning rate of each of ``steps`` ramp steps."""
    lo, hi = RANGE_LR
    return lo * (hi / lo) ** (np.arange(steps) / max(1, steps - 1))


@dataclass(frozen=True)
class RangeFinding:
    """What one candidate's range test showed; ``usable`` is False when no learning rate lowered the loss."""

    usable: bool
    lr_low: float
    lr_high: float
    anchor: float
    lr: np.ndarray
    """The learning rate that produced each point of the curves."""
    mean_loss: np.ndarray
    smooth_loss: np.ndarray
    start_loss: float
    best_loss: float

    def lrs_to_try(self, count: int, fallback: float) -> list[float]:
        """``count`` learning rates half a decade apart around ``anchor / 10`` (around ``fallback`` — the
        preset's default — when the test found no usable range)."""
        centre = self.anchor / 10.0 if self.usable else fallback
        # an even count leans up: the ramp's minimum is the better-measured end
        return lrs_around(centre, count, decades_apart=0.5, lean_up=True)


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving median over ``window`` points (shrinking at the ends); NaN stays NaN."""
    out = np.full_like(values, np.nan, dtype=float)
    half = window // 2
    for i in range(len(values)):
        if not math.isfinite(values[i]):
            continue
        part = values[max(0, i - half) : i + half + 1]
        part = part[np.isfinite(part)]
        out[i] = float(np.median(part))
    return out


def analyze(losses: np.ndarray) -> RangeFinding:
    """Read a range test: ``losses[seed, step]`` (NaN after a seed diverged) on the ramp of :func:`ramp_lrs`."""
    steps = losses.shape[1]
    lrs = ramp_lrs(steps)
    # The loss before update t comes from the updates at lr(0..t-1): pair it with lr(t-1).
    mean = losses[:, 1:].mean(axis=0)  # NaN as soon as any seed diverged: the curve ends there
    lr = lrs[:-1]
    bad = ~np.isfinite(mean)
    if bad.any():
        end = int(np.argmax(bad))
        mean = mean.copy()
        mean[end:] = np.nan
    window = max(3, (steps // 12) | 1)
    smoothed = smooth(mean, window)
    finite = np.isfinite(smoothed)
    if finite.sum() < 3:
        return RangeFinding(False, math.nan, math.nan, math.nan, lr, mean, smoothed, math.nan, math.nan)
    head = mean[: max(3, steps // 20)]
    start = float(np.median(head[np.isfinite(head)])) if np.isfinite(head).any() else float(smoothed[finite][0])
    best_at = int(np.nanargmin(smoothed))
    best = float(smoothed[best_at])
    drop = start - best
    # A drop must stand out of the curve's own noise (a batch of one makes the loss jump by more than the
    # ramp ever lowers it): twice the robust spread of the points around their smoothing.
    residual = (mean - smoothed)[finite]
    noise = 1.4826 * float(np.median(np.abs(residual - np.median(residual))))
    if not drop > max(0.02 * max(abs(start), 1e-12), 2.0 * noise):
        return RangeFinding(False, math.nan, math.nan, math.nan, lr, mean, smoothed, start, best)
    near = np.isfinite(smoothed) & (smoothed <= best + 0.2 * drop)
    a = best_at
    while a > 0 and near[a - 1]:
        a -= 1
    b = best_at
    while b + 1 < len(near) and near[b + 1]:
        b += 1
    started = np.isfinite(smoothed) & (smoothed <= start - 0.1 * drop)
    low = float(lr[int(np.argmax(started))])
    anchor = math.sqrt(float(lr[a]) * float(lr[b]))
    return RangeFinding(True, low, float(lr[b]), anchor, lr, mean, smoothed, start, best)
