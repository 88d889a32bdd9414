"""Pieces every self-contained page shares."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any


def png_img(path: Path, alt: str) -> str:
    """An ``<img>`` tag carrying the PNG itself as a data URI, so the page needs no other file."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt, quote=True)}">'


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (no display needed), imported on first use."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save_png(fig: Any, path: Path, dpi: int) -> Path:
    """Write ``fig`` to ``path`` (tight bounding box) and close it."""
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    pyplot().close(fig)
    return path
