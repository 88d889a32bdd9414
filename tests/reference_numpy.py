"""Independent NumPy (float64) transcriptions of optimizer papers' algorithm boxes.

This module is a test oracle: it imports nothing from optimlab and nothing from torch. Each
algorithm is one small *step function* written from its paper::

    step(x, g, state, t, hp) -> new x

``x`` is the current point, ``g`` the gradient at ``x``, ``state`` a dict the function keeps its
buffers in (empty before the first step; a missing buffer means "zeros", the papers' initial
state), ``t`` the 1-based step count, and ``hp`` the hyperparameters. ``ALGORITHMS`` maps names
to step functions and ``HYPERPARAMETERS`` lists the names each one accepts.

Two entry points:

* ``run(name, hp, grad_fn, x0, steps)`` — the trajectory, shape ``(steps + 1, *x0.shape)``,
  ``x0`` first.
* ``run_with_states(...)`` — the same, plus a copy of the state after every step.

Coupled L2 ("l2" wrapper): for every algorithm except those in ``DECOUPLED_DECAY`` (``adamw``,
``lion``, their cautious forms, ``adopt_decoupled``, ``schedulefree_adamw``, ``muon``, ``adafactor``) a
``weight_decay`` hp λ adds λ·x to the gradient before the update (the classic L2 penalty ½λ‖x‖², as torch.optim's
``weight_decay`` does). For those ``weight_decay`` is the decoupled decay of their papers (or reference).

Schedule-Free steps return the point the next gradient is taken at (y); the averaged point to evaluate
(x) is ``state["x"]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
State = dict[str, Any]
HParams = Mapping[str, Any]
Step = Callable[[Array, Array, State, int, HParams], Array]


def _buf(state: State, key: str, like: Array, fill: float = 0.0) -> Array:
    """A state buffer, initialised to ``fill`` (the papers' zero vectors) on first use."""
    if key not in state:
        state[key] = np.full_like(like, fill, dtype=np.float64)
    buf: Array = state[key]
    return buf


# --------------------------------------------------------------------------- plain and momentum


def gd(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
    """Gradient descent (Cauchy 1847): x ← x − η g.  hp: lr."""
    return x - hp["lr"] * g


def heavy_ball(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
    """Polyak (1964) heavy ball, velocity form.  hp: lr (η), momentum (μ).

    v ← μ v + g   (v₀ = 0)
    x ← x − η v

    Polyak writes it as x_{t+1} = x_t − η ∇f(x_t) + μ (x_t − x_{t−1}); the two are the same
    sequence because x_t − x_{t−1} = −η v_{t−1}.
    """
    v = s["v"] = hp["momentum"] * _buf(s, "v", x) + g
    return x - hp["lr"] * v


def nesterov(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
    """Nesterov momentum, the reformulation of Sutskever et al. (2013) used by torch.

    hp: lr (η), momentum (μ).

    v ← μ v + g
    x ← x − η (g + μ v)

    Relation to the look-ahead form (Sutskever et al. 2013, eq. 3-4):
        u_{t+1} = μ u_t − η ∇f(θ_t + μ u_t),   θ_{t+1} = θ_t + u_{t+1}.
    Put φ_t = θ_t + μ u_t (the look-ahead point, where the gradient is taken) and v = −u/η.
    Then φ_{t+1} = φ_t + μ u_{t+1} − η ∇f(φ_t) = φ_t − η (g_t + μ v_{t+1}), which is the update
    above: this function's iterate ``x`` is the look-ahead point φ, not θ. With u₀ = 0 both
    start at the same point.
    """
    mu = hp["momentum"]
    v = s["v"] = mu * _buf(s, "v", x) + g
    return x - hp["lr"] * (g + mu * v)


# --------------------------------------------------------------------------- adaptive, no moment


def adagrad(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
    """AdaGrad, diagonal version (Duchi, Hazan & Singer 2011, Figure 1 with diag(G)).

    hp: lr (η), eps (δ), initial_accumulator_value (G₀, 0 in the paper).

    G ← G + g ⊙ g
    x ← x − η g / (δ + √G)        (δ is added outside the root, as in the paper)
    """
    acc = s["G"] = _buf(s, "G", x, hp.get("initial_accumulator_value", 0.0)) + g * g
    return x - hp["lr"] * g / (np.sqrt(acc) + hp["eps"])


def rmsprop(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
    """RMSprop (Tieleman & Hinton 2012, Coursera lecture 6e).  hp: lr (η), alpha (ρ), eps (ε).

    r ← ρ r + (1 − ρ) g²
    x ← x − η g / (√r + ε)
    """
    a = hp["alpha"]
    r = s["r"] = a * _buf(s, "r", x) + (1.0 - a) * g * g
    return x - hp["lr"] * g / (np.sqrt(r) + hp["eps"])


def rmsprop_momentum(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
    """RMSprop with momentum on the scaled gradient (lecture 6e's "rmsprop with momentum").

    hp: lr (η), alpha (ρ), eps (ε), momentum (μ).

    r ← ρ r + (1 − ρ) g²
    b ← μ b + g / (√r + ε)
    x ← x − η b
    """
    a = hp["alpha"]
    r = s["r"] = a * _buf(s, "r", x) + (1.0 - a) * g * g
    b = s["b"] = hp["momentum"] * _buf(s, "b", x) + g / (np.sqrt(r) + hp["eps"])
    return x - hp["lr"] * b


def rmsprop_centered(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
    """Centered RMSprop with momentum (Graves 2013, "Generating Sequences…", eq. 38-41).

    hp: lr (ℶ in Graves, here η), alpha (ℵ), eps (ε), momentum (μ, ℷ in Graves),
    eps_inside (default True, the paper's placement).

    n ← ℵ n + (1 − ℵ) g²                       (38)
    ĝ ← ℵ ĝ + (1 − ℵ) g                        (39)
    Δ ← μ Δ − η g / √(n − ĝ² + ε)              (40)
    x ← x + Δ                                   (41)

    Graves puts ε inside the square root (his values: ℵ = 0.95, μ = 0.9, η = 1e-4, ε = 1e-4).
    torch.optim.RMSprop(centered=True) adds ε after the root, g / (√(n − ĝ²) + ε): pass
    eps_inside=False for that. (torch also keeps b = −Δ/η instead of Δ; for a constant η the
    iterates are the same.)
    """
    a, eps = hp["alpha"], hp["eps"]
    n = s["n"] = a * _buf(s, "n", x) + (1.0 - a) * g * g
    gbar = s["gbar"] = a * _buf(s, "gbar", x) + (1.0 - a) * g
    var = n - gbar * gbar
    if hp.get("eps_inside", True):
        denom = np.sqrt(var + eps)
    else:
        denom = np.sqrt(var) + eps
    delta = s["delta"] = hp.get("momentum", 0.0) * _buf(s, "delta", x) - hp["lr"] * g / denom
    return x + delta


def adadelta(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
    """AdaDelta (Zeiler 2012, Algorithm 1), no learning rate.  hp: rho (ρ), eps (ε).

    E[g²] ← ρ E[g²] + (1 − ρ) g²                                       (line 4)
    Δx ← −(RMS[Δx]_{t−1} / RMS[g]_t) g,   RMS[y] = √(E[y²] + ε)           (line 5)
    E[Δx²] ← ρ E[Δx²] + (1 − ρ) Δx²                                    (line 6)
    x ← x + Δx                                                         (line 7)

    torch.optim.Adadelta multiplies Δx by its ``lr`` (default 1.0); lr = 1 is the paper.
    """
    rho, eps = hp["rho"], hp["eps"]
    eg2 = s["Eg2"] = rho * _buf(s, "Eg2", x) + (1.0 - rho) * g * g
    dx = -np.sqrt(_buf(s, "Edx2", x) + eps) / np.sqrt(eg2 + eps) * g
    s["Edx2"] = rho * s["Edx2"] + (1.0 - rho) * dx * dx
    return x + dx


# --------------------------------------------------------------------------- Adam family


def _moments(x: Array, g: Array, s: State, hp: HParams) -> tuple[Array, Array]:
    """Adam's two exponential moving averages: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²."""
    b1, b2 = hp["beta1"], hp["beta2"]
    m = s["m"] = b1 * _buf(s, "m", x) + (1.0 - b1) * g
    v = s["v"] = b2 * _buf(s, "v", x) + (1.0 - b2) * g * g
    return m, v


def adam(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
    """Adam (Kingma & Ba 2015, Algorithm 1).  hp: lr (α), beta1, beta2, eps (ε).

    m ← β₁ m + (1 − β₁) g ;  v ← β₂ v + (1 − β₂) g²
    m̂ = m / (1 − β₁ᵗ) ;  v̂ = v / (1 − β₂ᵗ)
    x ← x − α m̂ / (√v̂ + ε)

    (Section 2's "more efficient" ordering folds the corrections into α and so moves ε;
    this is the box.)
    """
    m, v = _moments(x, g, s, hp)
    m_hat = m / (1.0 - hp["beta1"] ** t)
    v_hat = v / (1.0 - hp["beta2"] ** t)
    return x - hp["lr"] * m_hat / (np.sqrt(v_hat) + hp["eps"])


def amsgrad(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
    """AMSGrad as used in practice (torch's Adam(amsgrad=True)).  hp: lr, beta1, beta2, eps.

    m, v as in Adam;  v_max ← max(v_max, v)   (on the raw, uncorrected v)
    x ← x − α m̂ / (√(v_max / (1 − β₂ᵗ)) + ε)

    Reddi, Kale & Kumar (2018), Algorithm 2, has *no* bias correction and a decreasing β₁ₜ
    (and step αₜ = α/√t in its analysis); ``amsgrad_paper`` is that box with constant β₁ and α.
    """
    m, v = _moments(x, g, s, hp)
    v_max = s["v_max"] = np.maximum(_buf(s, "v_max", x), v)
    m_hat = m / (1.0 - hp["beta1"] ** t)
    return x - hp["lr"] * m_hat / (np.sqrt(v_max / (1.0 - hp["beta2"] ** t)) + hp["eps"])


def amsgrad_paper(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
    """AMSGrad (Reddi et al. 2018, Algorithm 2) with constant β₁ and α, no projection.

    hp: lr (α), beta1, beta2, eps (ε, default 0: the box has none).

    m ← β₁ m + (1 − β₁) g ;  v ← β₂ v + (1 − β₂) g²
    v̂ ← max(v̂, v)
    x ← x − α m / (√v̂ + ε)          (no bias correction)
    """
    m, v = _moments(x, g, s, hp)
    v_hat = s["v_hat"] = np.maximum(_buf(s, "v_hat", x), v)
    return x - hp["lr"] * m / (np.sqrt(v_hat) + hp.get("eps", 0.0))


def adamw(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
    """AdamW (Loshchilov & Hutter 2019, Algorithm 2), schedule multiplier ηₜ = 1.

    hp: lr (α), beta1, beta2, eps, weight_decay (λ).

    x ← x (1 − α λ)          then the Adam step (m, v from the gradient at the old x)
    i.e. x ← x − α λ x − α m̂ / (√v̂ + ε).

    The paper's line 12 is x ← x − ηₜ (α m̂/(√v̂+ε) + λ x): its λ is *not* multiplied by α.
    torch (and this function) couple the decay to the learning rate, so the paper's λ equals
    α·weight_decay here. The decay never enters m or v (that is the "decoupling").
    """
    decayed = x * (1.0 - hp["lr"] * hp["weight_decay"])
    return adam(decayed, g, s, t, hp)


def adamax(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
    """AdaMax (Kingma & Ba 2015, Algorithm 2).  hp: lr (α), beta1, beta2, eps (default 0).

    m ← β₁ m + (1 − β₁) g
    u ← max(β₂ u, |g| + ε)          (ε = 0 is the paper; torch.optim.Adamax adds its eps here)
    x ← x − (α / (1 − β₁ᵗ)) m / u
    """
    b1 = hp["beta1"]
    m = s["m"] = b1 * _buf(s, "m", x) + (1.0 - b1) * g
    u = s["u"] = np.maximum(hp["beta2"] * _buf(s, "u", x), np.abs(g) + hp.get("eps", 0.0))
    return x - (hp["lr"] / (1.0 - b1**t)) * m / u


def _nadam_mu(beta1: float, psi: float, t: int) -> float:
    """Dozat's momentum schedule μₜ = β₁ (1 − ½ · 0.96^{t ψ}) (ψ = 1/250 in the paper)."""
    return beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))


def nadam(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
    """NAdam (Dozat 2016, Algorithm 2) with the momentum schedule, as torch implements it.

    hp: lr (α), beta1, beta2, eps, momentum_decay (ψ), scheduled_moment (default False).

    μₜ = β₁ (1 − ½ · 0.96^{t ψ})
    m ← β₁ m + (1 − β₁) g ;  v ← β₂ v + (1 − β₂) g² ;  v̂ = v / (1 − β₂ᵗ)
    x ← x − α [ (1 − μₜ)/(1 − ∏_{i≤t} μᵢ) · g + μₜ₊₁/(1 − ∏_{i≤t+1} μᵢ) · m ] / (√v̂ + ε)

    torch averages the moment with the constant β₁. Dozat's box writes the average with the
    momentum coefficient itself, which under the schedule is μₜ: scheduled_moment=True uses
    m ← μₜ m + (1 − μₜ) g instead, to show where torch departs.
    """
    b1, b2, psi = hp["beta1"], hp["beta2"], hp["momentum_decay"]
    mu_t, mu_next = _nadam_mu(b1, psi, t), _nadam_mu(b1, psi, t + 1)
    prod_t = s["mu_product"] = s.get("mu_product", 1.0) * mu_t
    prod_next = prod_t * mu_next
    c = mu_t if hp.get("scheduled_moment", False) else b1
    m = s["m"] = c * _buf(s, "m", x) + (1.0 - c) * g
    v = s["v"] = b2 * _buf(s, "v", x) + (1.0 - b2) * g * g
    v_hat = v / (1.0 - b2**t)
    direction = (1.0 - mu_t) / (1.0 - prod_t) * g + mu_next / (1.0 - prod_next) * m
    return x - hp["lr"] * direction / (np.sqrt(v_hat) + hp["eps"])


def radam(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
    """RAdam (Liu et al. 2020, Algorithm 2).  hp: lr (α), beta1, beta2, eps, threshold.

    m, v as in Adam;  m̂ = m / (1 − β₁ᵗ)
    ρ∞ = 2/(1 − β₂) − 1 ;  ρₜ = ρ∞ − 2 t β₂ᵗ / (1 − β₂ᵗ)
    if ρₜ > threshold:
        lₜ = √(1 − β₂ᵗ) / (√v + ε)          (the box: √((1 − β₂ᵗ)/v), i.e. ε = 0)
        rₜ = √( (ρₜ−4)(ρₜ−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρₜ) )
        x ← x − α rₜ lₜ m̂
    else:
        x ← x − α m̂                          (un-adapted momentum step)

    The box's test is ρₜ > 4; torch uses ρₜ > 5 (the default here, hp ``threshold``).
    ε: the box has none; the authors' code and torch add it to √v (the *uncorrected* v),
    so it acts like ε/√(1 − β₂ᵗ) would in Adam's √v̂ + ε.
    """
    b2 = hp["beta2"]
    m, v = _moments(x, g, s, hp)
    m_hat = m / (1.0 - hp["beta1"] ** t)
    rho_inf = 2.0 / (1.0 - b2) - 1.0
    rho_t = rho_inf - 2.0 * t * b2**t / (1.0 - b2**t)
    if rho_t > hp.get("threshold", 5.0):
        l_t = math.sqrt(1.0 - b2**t) / (np.sqrt(v) + hp["eps"])
        r_t = math.sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
        return x - hp["lr"] * r_t * l_t * m_hat
    return x - hp["lr"] * m_hat


# --------------------------------------------------------------------------- sign methods and the cautious mask


def lion(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
    """Lion (Chen et al. 2023, Program 1 / Algorithm 2).  hp: lr (η), beta1, beta2, weight_decay (λ).

    c ← β₁ m + (1 − β₁) g
    x ← x − η (sign(c) + λ x)
    m ← β₂ m + (1 − β₂) g
    """
    b1, b2 = hp["beta1"], hp["beta2"]
    m = _buf(s, "m", x)
    c = b1 * m + (1.0 - b1) * g
    s["m"] = b2 * m + (1.0 - b2) * g
    return x - hp["lr"] * (np.sign(c) + hp["weight_decay"] * x)


def signum(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
    """Signum (Bernstein et al. 2018, Algorithm 3).  hp: lr (δ), momentum (β; 0 is signSGD, Algorithm 1).

    m ← β m + (1 − β) g
    x ← x − δ sign(m)
    """
    b = hp["momentum"]
    m = s["m"] = b * _buf(s, "m", x) + (1.0 - b) * g
    return x - hp["lr"] * np.sign(m)


def _cautious(base: Step) -> Step:
    """Liang et al. (2024), Algorithm 1, around a base optimizer whose step u does not depend on x (coupled L2
    is already in g, decoupled decay is applied outside), so u = −base(0) exactly (x − base(x) would lose digits):

    φ = 𝟙(u ∘ g > 0) ;  x ← x − (d / (Σφ + 1)) · φ ∘ u        (d = number of coordinates)
    """

    def step(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
        u = -base(np.zeros_like(x), g, s, t, hp)
        keep = (u * g > 0).astype(np.float64)
        return x - u * keep * (x.size / (keep.sum() + 1.0))

    step.__doc__ = f"Cautious {base.__name__} (Liang et al. 2024, Algorithm 1)."
    return step


def _decay_then(base: Step) -> Step:
    """Decoupled weight decay x ← x (1 − η λ) first (unmasked), then ``base`` with λ = 0."""

    def step(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
        decayed = x * (1.0 - hp["lr"] * hp["weight_decay"])
        return base(decayed, g, s, t, {**hp, "weight_decay": 0.0})

    return step


def sparse_adam(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
    """Lazy Adam (torch.optim.SparseAdam): Adam in the form of Kingma & Ba's §2, on the coordinates present in g
    only (present: g ≠ 0, the dense reading of a sparse gradient).  hp: lr (α), beta1, beta2, eps (ε̂).

    for i with gᵢ ≠ 0:  mᵢ ← β₁ mᵢ + (1 − β₁) gᵢ ;  vᵢ ← β₂ vᵢ + (1 − β₂) gᵢ²
                        xᵢ ← xᵢ − α √(1 − β₂ᵗ)/(1 − β₁ᵗ) · mᵢ / (√vᵢ + ε̂)
    other coordinates: m, v and x unchanged;  t counts every step (the tensor's count, not the coordinate's).
    """
    m, v = _buf(s, "m", x), _buf(s, "v", x)
    present = g != 0
    m_new = hp["beta1"] * m + (1.0 - hp["beta1"]) * g
    v_new = hp["beta2"] * v + (1.0 - hp["beta2"]) * g * g
    s["m"], s["v"] = np.where(present, m_new, m), np.where(present, v_new, v)
    alpha_t = hp["lr"] * np.sqrt(1.0 - hp["beta2"] ** t) / (1.0 - hp["beta1"] ** t)
    return np.where(present, x - alpha_t * s["m"] / (np.sqrt(s["v"]) + hp["eps"]), x)


cautious_adam = _cautious(adam)
cautious_amsgrad = _cautious(amsgrad)
cautious_adamw = _decay_then(cautious_adam)
cautious_adamax = _cautious(adamax)
cautious_nadam = _cautious(nadam)
cautious_radam = _cautious(radam)
cautious_lion = _decay_then(_cautious(lion))
cautious_signum = _cautious(signum)
# --------------------------------------------------------------------------- averaging, sign-based, ADOPT


def asgd(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
    """Averaged SGD: Polyak & Juditsky (1992) averaging with Bottou's schedule ("Stochastic Gradient
    Descent Tricks", 2012, §5.3).  hp: lr (η₀), lambd (λ), alpha (α), t0 (t₀).

    Bottou counts k = 0, 1, ... and, for the objective λ/2‖w‖² + loss:
        w_{k+1} = w_k − η_k (λ w_k + g_k)
        ā_{k+1} = ā_k + μ_k (w_{k+1} − ā_k)
        η_k = η₀ / (1 + λ η₀ k)^α ,   μ_k = 1 / max(1, k − t₀)
    This driver's t is k + 1. The average is kept in the state as "average" (the point to evaluate).
    """
    k = t - 1
    eta = hp["lr"] / (1.0 + hp["lambd"] * hp["lr"] * k) ** hp["alpha"]
    mu = 1.0 / max(1.0, k - hp["t0"])
    x_new = x - eta * (hp["lambd"] * x + g)
    average = _buf(s, "average", x)
    s["average"] = average + mu * (x_new - average)
    return x_new


def rprop(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
    """Rprop (Riedmiller & Braun 1993, the pseudo-code of §3).  hp: lr (Δ₀), etaminus (η⁻), etaplus (η⁺),
    step_size_min (Δmin), step_size_max (Δmax), backtracking (default False).

    for each weight, with p = g_{t−1}·g_t (g_{t−1} = 0 at the start):
      p > 0:  Δ ← min(Δ·η⁺, Δmax);  Δw ← −sign(g)·Δ;  w ← w + Δw
      p < 0:  Δ ← max(Δ·η⁻, Δmin);  w ← w − Δw_{t−1} (backtracking);  g ← 0
      p = 0:  Δw ← −sign(g)·Δ;  w ← w + Δw
    The paper reverts the previous step after a sign change (weight-backtracking). Without it, the p < 0
    branch makes no step at all: that is torch.optim.Rprop (Igel & Hüsken 2000 call it Rprop⁻).
    """
    prev = _buf(s, "prev_g", x)
    size = _buf(s, "delta", x, hp["lr"])
    last_move = _buf(s, "last_move", x)
    p = prev * g
    grow, shrink = p > 0, p < 0
    size = np.where(grow, np.minimum(size * hp["etaplus"], hp["step_size_max"]), size)
    size = np.where(shrink, np.maximum(size * hp["etaminus"], hp["step_size_min"]), size)
    move = -np.sign(g) * size
    if hp.get("backtracking", False):
        move = np.where(shrink, -last_move, move)
    else:
        move = np.where(shrink, 0.0, move)
    s["delta"], s["last_move"], s["prev_g"] = size, move, np.where(shrink, 0.0, g)
    return x + move


def adopt(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
    """ADOPT (Taniguchi et al. 2024, arXiv:2411.02853, Algorithm 2 with clipping).

    hp: lr (α), beta1, beta2, eps (ε), clip (default True).

    v₀ = g₀ ⊙ g₀ ;  m₀ = 0
    for t ≥ 1:  m_t = β₁ m_{t−1} + (1 − β₁) Clip(g_t / max(√v_{t−1}, ε), c_t),   c_t = t^{1/4}
                θ_t = θ_{t−1} − α m_t
                v_t = β₂ v_{t−1} + (1 − β₂) g_t ⊙ g_t
    The first gradient g₀ only initialises v: this driver's t is the paper's t + 1.
    """
    if t == 1:
        s["v"] = g * g
        return x.copy()
    n = g / np.maximum(np.sqrt(s["v"]), hp["eps"])
    if hp.get("clip", True):
        c = (t - 1) ** 0.25
        n = np.clip(n, -c, c)
    b1, b2 = hp["beta1"], hp["beta2"]
    s["m"] = b1 * _buf(s, "m", x) + (1.0 - b1) * n
    x_new = x - hp["lr"] * s["m"]
    s["v"] = b2 * s["v"] + (1.0 - b2) * g * g
    return x_new


def adopt_decoupled(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
    """ADOPT with AdamW-style decay (torch-adopt's ``decouple=True``; not in the paper's box).

    hp: those of ``adopt`` and weight_decay (λ): θ ← θ (1 − α λ) before every step from the paper's t = 1 on.
    """
    decayed = x if t == 1 else x * (1.0 - hp["lr"] * hp["weight_decay"])
    return adopt(decayed, g, s, t, hp)
# --------------------------------------------------------------------------- schedule-free


def _schedule_free(x: Array, s: State, direction: Array, gamma: float, beta: float) -> Array:
    """The three sequences of Defazio et al. (2024), "The Road Less Scheduled", given the step γₜ·direction.

    z₁ = x₁ (the starting point); x is the weighted average, y the point the next gradient is taken at:
    zₜ₊₁ = zₜ − γₜ·direction,  cₜ₊₁ = γₜ² / Σᵢ₌₁ᵗ γᵢ²,  xₜ₊₁ = (1 − cₜ₊₁)·xₜ + cₜ₊₁·zₜ₊₁,
    yₜ₊₁ = (1 − β)·zₜ₊₁ + β·xₜ₊₁.  Returns y; ``s["x"]`` is the point to evaluate.
    """
    z = s.setdefault("z", x.copy())
    avg = s.setdefault("x", x.copy())
    s["z"] = z = z - gamma * direction
    s["gamma_sq_sum"] = s.get("gamma_sq_sum", 0.0) + gamma**2
    c = gamma**2 / s["gamma_sq_sum"] if s["gamma_sq_sum"] > 0 else 0.0
    s["x"] = avg = (1.0 - c) * avg + c * z
    return (1.0 - beta) * z + beta * avg


def _warmup(t: int, hp: HParams) -> float:
    """min(1, t/T_warmup), 1 without warmup."""
    warmup = hp.get("warmup_steps", 0)
    return min(1.0, t / warmup) if warmup else 1.0


def schedulefree_sgd(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
    """Schedule-Free SGD (Defazio et al. 2024, eq. (1)–(3) with the warmup weighting of §3).

    hp: lr (γ), momentum (β), warmup_steps.  x here is y, where g was taken; γₜ = γ·min(1, t/T).
    """
    return _schedule_free(x, s, g, hp["lr"] * _warmup(t, hp), hp["momentum"])


def schedulefree_adamw(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
    """Schedule-Free AdamW (Defazio et al. 2024, Algorithm 1).  hp: lr (γ), beta1, beta2, eps, weight_decay (λ),
    warmup_steps (T).

    vₜ = β₂vₜ₋₁ + (1 − β₂)gₜ²,  γₜ = γ·√(1 − β₂ᵗ)·min(1, t/T),
    zₜ₊₁ = zₜ − γₜ·gₜ/(√vₜ + ε) − γₜ·λ·yₜ, then the averaging and interpolation above.
    """
    v = _buf(s, "v", x)
    s["v"] = v = hp["beta2"] * v + (1.0 - hp["beta2"]) * g * g
    gamma = hp["lr"] * math.sqrt(1.0 - hp["beta2"] ** t) * _warmup(t, hp)
    direction = g / (np.sqrt(v) + hp["eps"]) + hp.get("weight_decay", 0.0) * x
    return _schedule_free(x, s, direction, gamma, hp["beta1"])
# --------------------------------------------------------------------------- matrix optimizers


def _rms(a: Array) -> float:
    return float(np.sqrt(np.mean(a * a)))


def muon(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
    """Muon (Jordan et al. 2024, kellerjordan.github.io/posts/muon), for a matrix x (A×B).
    hp: lr (η), momentum (μ), nesterov, weight_decay (λ, decoupled), ns_coefficients (a, b, c), ns_steps (k),
    eps, adjust_lr_fn (None/"original": s = √max(1, A/B); "match_rms_adamw": s = 0.2·√max(A, B), Liu et al. 2025).

    B ← μ B + (1 − μ) g          (the average form of Jordan's code; the blog writes B ← μB + g)
    M = (1 − μ) g + μ B  if nesterov else B
    X = M (Mᵀ when A > B);  X ← X / max(‖X‖_F, ε)
    k times:  X ← a X + (b XXᵀ + c (XXᵀ)²) X
    x ← x (1 − η λ) − η s O,   O = X (transposed back)

    Computed in float64 here; torch.optim.Muon runs the iteration in bfloat16.
    """
    mu = hp["momentum"]
    buf = _buf(s, "momentum_buffer", x)
    buf[...] = mu * buf + (1.0 - mu) * g
    m = (1.0 - mu) * g + mu * buf if hp.get("nesterov", True) else buf
    tall = m.shape[0] > m.shape[1]
    z = m.T if tall else m
    z = z / max(float(np.linalg.norm(z)), hp.get("eps", 1e-7))
    a, b, c = hp.get("ns_coefficients", (3.4445, -4.7750, 2.0315))
    for _ in range(hp.get("ns_steps", 5)):
        gram = z @ z.T
        z = a * z + (b * gram + c * gram @ gram) @ z
    o = z.T if tall else z
    rows, cols = x.shape
    if hp.get("adjust_lr_fn") == "match_rms_adamw":
        scale = 0.2 * math.sqrt(max(rows, cols))
    else:
        scale = math.sqrt(max(1.0, rows / cols))
    lr = hp["lr"]
    return x * (1.0 - lr * hp.get("weight_decay", 0.0)) - lr * scale * o


def adafactor(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
    """Adafactor (Shazeer & Stern 2018, Algorithms 4 (matrix, factored) and 5 (vector), relative step size §8,
    update clipping §6). hp: eps1 (ε₁), eps2 (ε₂), d, decay (τ), rho_max, eps1_placement, weight_decay.

    β̂₂ = 1 − t^τ ;  ρ = min(rho_max, 1/√t) ;  α = max(ε₂, RMS(x)) ρ
    matrix:  R ← β̂₂ R + (1 − β̂₂) (G² + ε₁) 1ₘ        (row sums, n×1)
             C ← β̂₂ C + (1 − β̂₂) 1ₙᵀ (G² + ε₁)       (column sums, 1×m)
             V̂ = R C / (1ₙᵀ R)
    vector:  V̂ ← β̂₂ V̂ + (1 − β̂₂) (G² + ε₁)
    U = G / √V̂ ;  Û = U / max(1, RMS(U)/d) ;  x ← x − α Û

    The paper's constants: ε₁ = 10⁻³⁰, ε₂ = 10⁻³, d = 1, τ = −0.8, rho_max = 10⁻². Options for torch.optim's
    departures: ``eps1_placement="torch"`` (ε₁ bounds 1ₙᵀR/(n·m) and V̂ ≥ ε₁² instead of joining G²), and a
    decoupled ``weight_decay`` λ: x ← x (1 − rho_max λ) after α is taken (torch's rho_max is its lr).
    """
    eps1, placement = hp.get("eps1", 1e-30), hp.get("eps1_placement", "paper")
    beta2 = 1.0 - t ** hp.get("decay", -0.8)
    rho = min(hp.get("rho_max", 1e-2), 1.0 / math.sqrt(t))
    alpha = max(hp.get("eps2", 1e-3), _rms(x)) * rho
    x = x * (1.0 - hp.get("rho_max", 1e-2) * hp.get("weight_decay", 0.0))
    sq = g * g + (eps1 if placement == "paper" else 0.0)
    if x.ndim == 2:
        r = _buf(s, "R", sq[:, :1])
        c = _buf(s, "C", sq[:1, :])
        r[...] = beta2 * r + (1.0 - beta2) * sq.sum(axis=1, keepdims=True)
        c[...] = beta2 * c + (1.0 - beta2) * sq.sum(axis=0, keepdims=True)
        total = r.sum()
        if placement == "torch":  # torch holds means: mean(R/m) >= ε₁, i.e. ΣR >= ε₁·n·m
            total = max(total, eps1 * sq.size)
        v_hat = r @ c / total
    else:
        v = _buf(s, "V", x)
        v[...] = beta2 * v + (1.0 - beta2) * sq
        v_hat = v
    if placement == "torch":
        v_hat = np.maximum(v_hat, eps1 * eps1)
    u = g / np.sqrt(v_hat)
    u_hat = u / max(1.0, _rms(u) / hp.get("d", 1.0))
    return x - alpha * u_hat
def prodigy(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
    """Prodigy (Mishchenko & Defazio 2024, Algorithm 4, the Adam version).

    hp: lr (γ), beta1, beta2, eps, d0, and beta3 (optional; the box uses √β₂).  d starts at d₀,
    x₀ is the first point, r, s, m, v start at zero:

    m ← β₁ m + (1 − β₁) d g
    v ← β₂ v + (1 − β₂) d² g²
    r ← β₃ r + (1 − β₃) γ d² ⟨g, x₀ − x⟩
    s ← β₃ s + (1 − β₃) γ d² g
    d̂ ← r / ‖s‖₁ ;  d_next ← max(d, d̂)
    x ← x − γ d m / (√v + d ε)      (with the d of this step, not d_next)

    ``x`` is the whole model: the inner product and the norm run over all of it.
    """
    b1, b2 = hp["beta1"], hp["beta2"]
    b3 = hp.get("beta3", math.sqrt(b2))
    gamma, d = hp["lr"], s.get("d", hp["d0"])
    x0 = s.setdefault("x0", x.copy())
    m = s["m"] = b1 * _buf(s, "m", x) + (1.0 - b1) * d * g
    v = s["v"] = b2 * _buf(s, "v", x) + (1.0 - b2) * d * d * g * g
    r = s["r"] = b3 * s.get("r", 0.0) + (1.0 - b3) * gamma * d * d * float(np.sum(g * (x0 - x)))
    acc = s["s"] = b3 * _buf(s, "s", x) + (1.0 - b3) * gamma * d * d * g
    s["d"] = max(d, r / float(np.sum(np.abs(acc))))
    return x - gamma * d * m / (np.sqrt(v) + d * hp["eps"])


# --------------------------------------------------------------------------- registry and driver


# --------------------------------------------------------------------------- after Adam: AdEMAMix, SOAP


def ademamix(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
    """AdEMAMix (Pagliardini, Ablin & Grangier 2024, Algorithm 1).

    hp: lr (η), beta1, beta2, beta3, alpha, warmup (T_{α,β₃}; 0 = no warm-up), eps, weight_decay (λ).

    α(t)  = min(t α / T, α)
    β₃(t) = min(exp(ln β₁ ln β₃ / ((1 − t/T) ln β₃ + (t/T) ln β₁)), β₃)
    m₁ ← β₁ m₁ + (1 − β₁) g ;  m₂ ← β₃(t) m₂ + (1 − β₃(t)) g ;  ν ← β₂ ν + (1 − β₂) g²
    x ← x − η ((m₁/(1 − β₁ᵗ) + α(t) m₂) / (√(ν/(1 − β₂ᵗ)) + ε) + λ x)
    """
    b1, b2, b3, alpha, warmup = hp["beta1"], hp["beta2"], hp["beta3"], hp["alpha"], hp["warmup"]
    if warmup:
        alpha = min(t * alpha / warmup, alpha)
        r = t / warmup
        b3 = min(math.exp(math.log(b1) * math.log(b3) / ((1 - r) * math.log(b3) + r * math.log(b1))), b3)
    m1 = s["m1"] = b1 * _buf(s, "m1", x) + (1 - b1) * g
    m2 = s["m2"] = b3 * _buf(s, "m2", x) + (1 - b3) * g
    nu = s["nu"] = b2 * _buf(s, "nu", x) + (1 - b2) * g * g
    m1_hat, nu_hat = m1 / (1 - b1**t), nu / (1 - b2**t)
    return x - hp["lr"] * ((m1_hat + alpha * m2) / (np.sqrt(nu_hat) + hp["eps"]) + hp["weight_decay"] * x)


def soap(x: Array, g: Array, s: State, t: int, hp: HParams) -> Array:
    """SOAP (Vyas et al. 2024, Algorithm 3, with Algorithm 4 for the refresh) for one m×n matrix.

    hp: lr (η), beta1, beta2, shampoo_beta (β_s), eps, weight_decay (λ), frequency (f).

    The box, with what it leaves to the authors' code (nikhilvyas/SOAP) written in:
    step 1: L = (1 − β_s) G Gᵀ, R = (1 − β_s) Gᵀ G, Q_L, Q_R their eigenvectors (largest eigenvalue first); no step.
    step t ≥ 2 (n = t − 1 Adam steps):
        G' = Q_Lᵀ G Q_R ;  M ← β₁ M + (1 − β₁) G ;  M' = Q_Lᵀ M Q_R ;  V ← β₂ V + (1 − β₂) G'²
        N = Q_L (M' / (√V + ε)) Q_Rᵀ ;  x ← x − η √(1 − β₂ⁿ)/(1 − β₁ⁿ) N ;  x ← x (1 − η λ)
        L ← β_s L + (1 − β_s) G Gᵀ ;  R ← β_s R + (1 − β_s) Gᵀ G
        if n mod f = 0: for each side, S = P Q, columns ordered by the estimates diag(Qᵀ S) (largest first) and
        V's rows (left) / columns (right) the same way, Q ← the Q factor of S.
    """
    bs = hp["shampoo_beta"]
    left = s["L"] = bs * _buf(s, "L", np.zeros((g.shape[0],) * 2)) + (1 - bs) * g @ g.T
    right = s["R"] = bs * _buf(s, "R", np.zeros((g.shape[1],) * 2)) + (1 - bs) * g.T @ g
    if t == 1:
        s["QL"], s["QR"] = (np.linalg.eigh(p + 1e-30 * np.eye(len(p)))[1][:, ::-1] for p in (left, right))
        return x
    # The statistics above already hold this step's G; the Adam part below uses only the bases, as in the box.
    n, ql, qr = t - 1, s["QL"], s["QR"]
    b1, b2 = hp["beta1"], hp["beta2"]
    m = s["M"] = b1 * _buf(s, "M", x) + (1 - b1) * g
    rotated = ql.T @ g @ qr
    v = s["V"] = b2 * _buf(s, "V", x) + (1 - b2) * rotated**2
    direction = ql @ ((ql.T @ m @ qr) / (np.sqrt(v) + hp["eps"])) @ qr.T
    x = x - hp["lr"] * math.sqrt(1 - b2**n) / (1 - b1**n) * direction
    x = x * (1 - hp["lr"] * hp["weight_decay"])
    if n % hp["frequency"] == 0:
        for axis, (p, key) in enumerate(((left, "QL"), (right, "QR"))):
            product = p @ s[key]
            order = np.argsort(-np.sum(s[key] * product, axis=0), kind="stable")
            s["V"] = np.take(s["V"], order, axis=axis)
            s[key] = np.linalg.qr(product[:, order])[0]
    return x


ALGORITHMS: dict[str, Step] = {
    "gd": gd,
    "heavy_ball": heavy_ball,
    "nesterov": nesterov,
    "adagrad": adagrad,
    "rmsprop": rmsprop,
    "rmsprop_centered": rmsprop_centered,
    "rmsprop_momentum": rmsprop_momentum,
    "adadelta": adadelta,
    "adam": adam,
    "amsgrad": amsgrad,
    "amsgrad_paper": amsgrad_paper,
    "adamw": adamw,
    "adamax": adamax,
    "nadam": nadam,
    "radam": radam,
    "lion": lion,
    "signum": signum,
    "cautious_adam": cautious_adam,
    "cautious_amsgrad": cautious_amsgrad,
    "cautious_adamw": cautious_adamw,
    "cautious_adamax": cautious_adamax,
    "cautious_nadam": cautious_nadam,
    "cautious_radam": cautious_radam,
    "cautious_lion": cautious_lion,
    "cautious_signum": cautious_signum,
    "asgd": asgd,
    "rprop": rprop,
    "adopt": adopt,
    "adopt_decoupled": adopt_decoupled,
    "schedulefree_sgd": schedulefree_sgd,
    "schedulefree_adamw": schedulefree_adamw,
    "muon": muon,
    "adafactor": adafactor,
    "prodigy": prodigy,
    "ademamix": ademamix,
    "soap": soap,
    "sparse_adam": sparse_adam,
}

_ADAM = frozenset({"lr", "beta1", "beta2", "eps"})
_ADOPT = _ADAM | {"clip"}
HYPERPARAMETERS: dict[str, frozenset[str]] = {
    "gd": frozenset({"lr"}),
    "heavy_ball": frozenset({"lr", "momentum"}),
    "nesterov": frozenset({"lr", "momentum"}),
    "adagrad": frozenset({"lr", "eps", "initial_accumulator_value"}),
    "rmsprop": frozenset({"lr", "alpha", "eps"}),
    "rmsprop_centered": frozenset({"lr", "alpha", "eps", "momentum", "eps_inside"}),
    "rmsprop_momentum": frozenset({"lr", "alpha", "eps", "momentum"}),
    "adadelta": frozenset({"rho", "eps"}),
    "adam": _ADAM,
    "amsgrad": _ADAM,
    "amsgrad_paper": _ADAM,
    "adamw": _ADAM,  # weight_decay is always accepted; for adamw it is the decoupled decay
    "adamax": _ADAM,
    "nadam": _ADAM | {"momentum_decay", "scheduled_moment"},
    "radam": _ADAM | {"threshold"},
    "lion": frozenset({"lr", "beta1", "beta2"}),
    "signum": frozenset({"lr", "momentum"}),
    "cautious_adam": _ADAM,
    "cautious_amsgrad": _ADAM,
    "cautious_adamw": _ADAM,
    "cautious_adamax": _ADAM,
    "cautious_nadam": _ADAM | {"momentum_decay"},
    "cautious_radam": _ADAM,
    "cautious_lion": frozenset({"lr", "beta1", "beta2"}),
    "cautious_signum": frozenset({"lr", "momentum"}),
    "asgd": frozenset({"lr", "lambd", "alpha", "t0"}),
    "rprop": frozenset({"lr", "etaminus", "etaplus", "step_size_min", "step_size_max", "backtracking"}),
    "adopt": _ADOPT,
    "adopt_decoupled": _ADOPT,
    "schedulefree_sgd": frozenset({"lr", "momentum", "warmup_steps"}),  # weight_decay: L2 at y, the package's
    "schedulefree_adamw": _ADAM | {"warmup_steps"},
    "muon": frozenset({"lr", "momentum", "nesterov", "ns_coefficients", "ns_steps", "eps", "adjust_lr_fn"}),
    "adafactor": frozenset({"eps1", "eps2", "d", "decay", "rho_max", "eps1_placement"}),
    "prodigy": _ADAM | {"d0", "beta3"},
    "ademamix": _ADAM | {"beta3", "alpha", "warmup"},
    "soap": _ADAM | {"shampoo_beta", "frequency"},
    "sparse_adam": _ADAM,
}

#: Algorithms whose ``weight_decay`` is their own (decoupled) decay, not the coupled L2 wrapper.
DECOUPLED_DECAY = frozenset({
    "adamw", "lion", "cautious_adamw", "cautious_lion", "adopt_decoupled", "schedulefree_adamw", "muon", "adafactor",
    "ademamix", "soap",
})


def masked(grad_fn: Callable[[Array], Array], share: float = 0.4, seed: int = 11) -> Callable[[Array], Array]:
    """``grad_fn`` with each coordinate kept with probability ``share`` and zeroed otherwise, drawn anew at every
    call (a sparse gradient's absent rows: some steps keep none, some all); a fresh call restarts the draws."""
    gen = np.random.default_rng(seed)

    def grad(x: Array) -> Array:
        return grad_fn(x) * (gen.random(x.shape) < share)

    return grad


def run_with_states(
    name: str,
    hp: HParams,
    grad_fn: Callable[[Array], Array],
    x0: Array,
    steps: int,
) -> tuple[Array, list[State]]:
    """Run ``steps`` updates of algorithm ``name``; return the trajectory and per-step states.

    The trajectory has shape ``(steps + 1, *x0.shape)`` with ``x0`` first; ``states[k]`` is a
    deep copy of the state after step k + 1. ``grad_fn`` is called once per step, in order.
    """
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}; known: {sorted(ALGORITHMS)}")
    unknown = set(hp) - HYPERPARAMETERS[name] - {"weight_decay"}
    if unknown:
        raise ValueError(f"{name} does not take hyperparameter(s) {sorted(unknown)}")
    if name == "adamw" and "weight_decay" not in hp:
        raise ValueError(f"{name} needs weight_decay")
    step = ALGORITHMS[name]
    l2 = 0.0 if name in DECOUPLED_DECAY else float(hp.get("weight_decay", 0.0))

    x = np.array(x0, dtype=np.float64)  # a copy: the caller's x0 is never changed
    trajectory = np.empty((steps + 1, *x.shape), dtype=np.float64)
    trajectory[0] = x
    state: State = {}
    states: list[State] = []
    for t in range(1, steps + 1):
        g = np.asarray(grad_fn(x.copy()), dtype=np.float64)
        if l2:
            g = g + l2 * x  # coupled L2: the gradient of ½λ‖x‖² joins the loss gradient
        x = step(x, g, state, t, hp)
        trajectory[t] = x
        states.append({k: np.copy(v) if isinstance(v, np.ndarray) else v for k, v in state.items()})
    return trajectory, states


def run(
    name: str,
    hp: HParams,
    grad_fn: Callable[[Array], Array],
    x0: Array,
    steps: int,
) -> Array:
    """Trajectory of algorithm ``name`` from ``x0``: shape ``(steps + 1, *x0.shape)``."""
    return run_with_states(name, hp, grad_fn, x0, steps)[0]
