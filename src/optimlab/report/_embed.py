"""Pieces every self-contained page shares."""

from __future__ import annotations

import base64
import html
from pathlib import Path


def png_img(path: Path, alt: str) -> str:
    """An ``<img>`` tag carrying the PNG itself as a data URI, so the page needs no other file."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt, quote=True)}">'
