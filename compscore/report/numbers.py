"""How figures are written in the report: zero as zero, shares as percentages, money in dollars, pay per
dollar in cents. Every function takes None (a null figure) and writes it as an en dash."""

from __future__ import annotations

MISSING = "–"


def _clean(value: float, decimals: int) -> float:
    """Rounded to `decimals`, with -0.0 (a tiny negative rounded) written as 0."""
    rounded = round(value, decimals)
    return 0.0 if rounded == 0 else rounded


def number(value: float | None, decimals: int = 1) -> str:
    return MISSING if value is None else f"{_clean(value, decimals):,.{decimals}f}"


def percent(share: float | None, decimals: int = 1) -> str:
    """A share 0-1 as a percentage: 0.4512 -> '45.1 %'."""
    return MISSING if share is None else f"{_clean(100 * share, decimals):.{decimals}f} %"


def dollars(value: float | None) -> str:
    return MISSING if value is None else f"${_clean(value, 0):,.0f}"


def cents(pay_per_dollar: float | None) -> str:
    """Pay per $1 in cents: 0.1 -> '10.0¢'; zero -> 'nothing'."""
    if pay_per_dollar is None:
        return MISSING
    value = _clean(100 * pay_per_dollar, 1)
    return "nothing" if value == 0 else f"{value:.1f}¢"


def interval(low: float | None, high: float | None, decimals: int = 1) -> str:
    if low is None or high is None:
        return MISSING
    return f"{number(low, decimals)}–{number(high, decimals)}"
