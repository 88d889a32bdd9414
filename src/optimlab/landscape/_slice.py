"""The geometry of a loss slice: flat parameter vectors, the two directions of a plane, projecting points on it,
and the loss on a grid of that plane.

A plane through the solution ``θ*`` is ``θ* + a·d₁ + b·d₂``. Its directions come either from the paths themselves
(:func:`pca_directions`: the two principal directions of every recorded point relative to ``θ*``, orthonormal) or
at random (:func:`filter_normalized`, Li et al. 2018: a Gaussian direction whose every filter — a row of a weight
matrix, one unit's incoming weights — is rescaled to the norm of the same row of ``θ*``; biases are not moved).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from ..problems.base import Params, Problem


def flatten(params: Params) -> Tensor:
    """One trial's parameters as one vector ``[D]`` (in the dict's order)."""
    return torch.cat([p.detach().reshape(-1) for p in params.values()])


def unflatten(vectors: Tensor, like: Params) -> Params:
    """Vectors ``[K, D]`` back into stacked parameters ``{name: [K, ...]}`` shaped like one trial's ``like``."""
    out: Params = {}
    start = 0
    for name, p in like.items():
        out[name] = vectors[:, start : start + p.numel()].reshape(len(vectors), *p.shape)
        start += p.numel()
    return out


def filter_normalized(center: Params, generator: torch.Generator) -> Tensor:
    """A random direction ``[D]`` with each filter (row) scaled to the norm of ``center``'s row; biases get 0."""
    parts = []
    for p in center.values():
        if p.dim() <= 1:  # biases: Li et al. leave them where they are
            parts.append(torch.zeros(p.numel()))
            continue
        rows = p.detach().reshape(p.shape[0], -1)
        d = torch.randn(rows.shape, generator=generator, dtype=rows.dtype)
        d = d * (rows.norm(dim=1, keepdim=True) / d.norm(dim=1, keepdim=True).clamp_min(1e-12))
        parts.append(d.reshape(-1))
    return torch.cat(parts)


def pca_directions(points: Tensor, center: Tensor) -> tuple[Tensor, np.ndarray]:
    """The two principal directions ``[2, D]`` (orthonormal) of ``points [N, D]`` relative to ``center``, and the
    share of the points' squared distance from the centre that each of the two carries."""
    rel = (points - center).double()
    # From the N × N Gram matrix, not an SVD of [N, D]: N²·D work instead of about 4·N²·D + 8·N³ (1,206 points of
    # 2,698 parameters: 9.8 s by SVD, under a second this way); its top eigenvectors give the same directions.
    values, vectors = torch.linalg.eigh(rel @ rel.T)
    top = values.flip(0)[:2].clamp_min(1e-300)
    directions = (vectors.flip(1)[:, :2].T @ rel) / top.sqrt()[:, None]
    directions = directions / directions.norm(dim=1, keepdim=True)
    share = (top / (rel**2).sum()).numpy()
    return directions.to(points.dtype), share


def project(points: Tensor, center: Tensor, directions: Tensor) -> Tensor:
    """Coordinates ``[N, 2]`` of ``points [N, D]`` on the plane ``center + span(directions)``: the least-squares
    ``(a, b)`` (the dot products when the directions are orthonormal)."""
    rel = (points - center).double()
    d = directions.double()
    gram = d @ d.T
    return torch.linalg.solve(gram, d @ rel.T).T.to(points.dtype)


def in_plane_share(points: Tensor, center: Tensor, directions: Tensor) -> float:
    """How much of the points' squared distance from ``center`` the plane keeps (1 = the path lies in it)."""
    rel = (points - center).double()
    coords = project(points, center, directions).double()
    kept = coords @ directions.double()
    total = float((rel**2).sum())
    return float((kept**2).sum()) / total if total > 0 else 1.0


def plane_points(center: Tensor, directions: Tensor, coords: Tensor) -> Tensor:
    """The parameter vectors ``[N, D]`` at plane coordinates ``coords [N, 2]``."""
    return center + coords.to(center.dtype) @ directions


@torch.no_grad()
def losses_at(problem: Problem, vectors: Tensor, like: Params, inputs: Tensor, targets: Tensor,
              chunk: int = 128) -> np.ndarray:
    """The loss of every parameter vector ``[N, D]`` on one shared batch, as a population of N models (vmap)."""
    out = []
    for start in range(0, len(vectors), chunk):
        part = unflatten(vectors[start : start + chunk], like)
        out.append(problem.shared_losses(part, inputs, targets).float())
    return torch.cat(out).numpy()


def grid(lows: Sequence[float], highs: Sequence[float], points: int) -> tuple[np.ndarray, np.ndarray, Tensor]:
    """The two axes of a ``points × points`` grid and its coordinates ``[points², 2]`` (row-major: b, then a)."""
    a = np.linspace(lows[0], highs[0], points)
    b = np.linspace(lows[1], highs[1], points)
    bb, aa = np.meshgrid(b, a, indexing="ij")
    return a, b, torch.tensor(np.stack([aa.ravel(), bb.ravel()], axis=1), dtype=torch.float32)
