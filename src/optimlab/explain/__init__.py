"""Per-optimizer explain cards (math, intuition, strengths, weaknesses) in English and Korean.

:mod:`.cards` finds and loads a card by name, :mod:`.markdown` parses the card files, :mod:`.card` is the
`Card` record and :mod:`.render` draws it as Markdown, HTML or terminal text.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

__all__ = ["Card", "UnknownNameError", "available_cards", "load_card"]
__getattr__, __dir__ = lazy_exports(__name__, dict.fromkeys(__all__, ".cards"))

if TYPE_CHECKING:
    from .cards import Card, UnknownNameError, available_cards, load_card
