"""Money is integer cents everywhere; this is the one place that formats it."""

from decimal import Decimal
from functools import lru_cache

from babel.numbers import format_currency, get_plus_sign_symbol

MINUS = "\u2212"
CURRENCY = "USD"


def format_cents(cents: int, *, signed: bool = False) -> str:
    """12345 -> "$123.45"; -1200 -> "−$12.00"; signed=True adds "+" to positive amounts.

    aTES's English format, also for the command line and the CSV export."""
    if not isinstance(cents, int):
        raise TypeError("money is integer cents")
    sign = MINUS if cents < 0 else ("+" if signed and cents > 0 else "")
    dollars, rest = divmod(abs(cents), 100)
    return f"{sign}${dollars:,}.{rest:02d}"


def decimal_text(cents: int) -> str:
    """12345 -> "123.45"; -1200 -> "-12.00": dollars as plain decimal text, from the
    integer cents (never through a float), for files a spreadsheet reads as numbers."""
    if not isinstance(cents, int):
        raise TypeError("money is integer cents")
    dollars, rest = divmod(abs(cents), 100)
    return f"{'-' if cents < 0 else ''}{dollars}.{rest:02d}"


def format_money(cents: int, signed: bool = False, *, whole: bool = False) -> str:
    """Cents as the request's language writes dollars: English as `format_cents` (and
    `whole` drops ".00" of whole dollars: "$28"); other languages by Babel's data
    ("1 234,56 $", "-12,00 $", "+28,00 $", "28 $")."""
    from app.i18n import speech

    if not isinstance(cents, int):
        raise TypeError("money is integer cents")
    spoken = speech()
    if spoken.locale is None or spoken.english:
        text = format_cents(cents, signed=signed)
        return text.removesuffix(".00") if whole else text
    return _babel_money(spoken.locale, cents, signed, whole)


@lru_cache(maxsize=8192)
def _babel_money(locale, cents: int, signed: bool, whole: bool) -> str:
    """Babel's formatting of an amount, remembered: a page shows the same fees and rewards
    again and again, and Babel takes about 0.1 ms for each."""
    if whole and cents % 100 == 0:
        pattern = locale.currency_formats["standard"].pattern.replace(".00", "")
        text = format_currency(cents // 100, CURRENCY, pattern, locale, currency_digits=False)
    else:
        text = format_currency(Decimal(cents) / 100, CURRENCY, locale=locale)
    return get_plus_sign_symbol(locale) + text if signed and cents > 0 else text


def money_class(cents: int) -> str:
    """CSS class for an amount: negative amounts are muted red, positive ones green."""
    return "money-neg" if cents < 0 else ("money-pos" if cents > 0 else "money-zero")
