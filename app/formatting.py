"""Money as people read it: integer XOF, no minor unit ("125 000 F CFA" in French)."""

from __future__ import annotations

from flask_babel import format_currency


def money(amount: int) -> str:
    """125000 → "125 000 F CFA" (XOF has no minor unit in CLDR: no decimals are shown)."""
    return format_currency(amount, "XOF")
