"""Per-optimizer explain cards (math, intuition, strengths, weaknesses) in English and Korean."""

from optimlab.explain.cards import Card, UnknownNameError, available_cards, load_card

__all__ = ["Card", "UnknownNameError", "available_cards", "load_card"]
