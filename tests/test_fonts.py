"""optimlab.report.fonts: a CJK font installed after matplotlib wrote its font cache is still found."""

from __future__ import annotations

import pytest
from matplotlib import font_manager

from optimlab.report import fonts


@pytest.mark.skipif(not fonts.cjk_font_files(), reason="no CJK font file on this machine (Debian: fonts-noto-cjk)")
def test_a_cjk_font_missing_from_the_cached_font_list_is_added(monkeypatch: pytest.MonkeyPatch) -> None:
    # As if matplotlib's cache had been written before fonts-noto-cjk was installed: no CJK family in the list.
    stale = [f for f in font_manager.fontManager.ttflist if f.name not in fonts.CJK_FAMILIES]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", stale)
    fonts.cjk_family.cache_clear()
    try:
        family = fonts.cjk_family()
        assert family in fonts.CJK_FAMILIES
        assert family in {f.name for f in font_manager.fontManager.ttflist}
        assert font_manager.findfont(family, fallback_to_default=False)  # the renderer finds it too
    finally:
        fonts.cjk_family.cache_clear()


def test_no_cjk_font_anywhere_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    stale = [f for f in font_manager.fontManager.ttflist if f.name not in fonts.CJK_FAMILIES]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", stale)
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *a, **k: [])
    fonts.cjk_family.cache_clear()
    try:
        with pytest.raises(fonts.MissingFontError, match="fonts-noto-cjk"):
            fonts.cjk_family()
    finally:
        fonts.cjk_family.cache_clear()
