"""One fixed colour per preset, the same in every picture and page (figures, the gallery, the reports).

The colours are keyed by preset name (:data:`optimlab.registry.PRESETS`) like the titles, so anything that draws
an optimizer (the verbs' figures, the report pages) takes them from here; this module imports nothing.
"""

from __future__ import annotations

__all__ = ["FALLBACK", "PALETTE", "color_of"]

PALETTE: dict[str, str] = {
    "gd": "#D55E00",
    "sgd": "#E69F00",
    "minibatch": "#882255",
    "momentum": "#0072B2",
    "nesterov": "#56B4E9",
    "adagrad": "#009E73",
    "rmsprop": "#CC79A7",
    "adadelta": "#999933",
    "adam": "#000000",
    "amsgrad": "#44AA99",
    "adamw": "#332288",
    "adamax": "#AA4499",
    "nadam": "#117733",
    "radam": "#997700",
    # The optimizers after Adam and the rest of torch.optim (Paul Tol's vibrant, high-contrast and light sets);
    # a cautious variant is a lighter tint of its base.
    "lion": "#EE3377",
    "cautious-lion": "#F78CB0",
    "signum": "#CC3311",
    "muon": "#BB5566",
    "adafactor": "#DDAA33",
    "schedulefree-adamw": "#004488",
    "schedulefree-sgd": "#6699CC",
    "soap": "#994455",
    "ademamix": "#EE8866",
    "prodigy": "#AAAA00",
    "adopt": "#33BBEE",
    "cautious-adamw": "#7766CC",
    "asgd": "#CC6677",
    "rprop": "#DDCC77",
    "sparseadam": "#8C564B",  # brown (matplotlib tab10): unlike every colour above
}
"""One fixed colour per preset in every picture (Okabe-Ito, then Paul Tol's muted set: colour-blind safe)."""

FALLBACK = "#444444"
"""The colour of a name that has none (a user's candidate label, an optimizer added without a colour)."""


def color_of(*names: str) -> str:
    """The colour of the first of ``names`` that has one (a candidate's label, then its optimizer), else
    :data:`FALLBACK`."""
    return next((PALETTE[n] for n in names if n in PALETTE), FALLBACK)
