"""Per-optimizer explain cards (math, intuition, strengths, weaknesses) in English and Korean.

:mod:`.cards` finds and loads a card by name, :mod:`.markdown` parses the card files, :mod:`.card` is the
`Card` record and :mod:`.render` draws it as Markdown, HTML or terminal text.
"""

from optimlab.explain.cards import Card, UnknownNameError, available_cards, load_card

__all__ = ["Card", "UnknownNameError", "available_cards", "load_card"]
