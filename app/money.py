"""Money is integer cents everywhere; this is the one place that formats it."""

MINUS = "\u2212"


def format_cents(cents: int, *, signed: bool = False) -> str:
    """12345 -> "$123.45"; -1200 -> "−$12.00"; signed=True adds "+" to positive amounts."""
    if not isinstance(cents, int):
        raise TypeError("money is integer cents")
    sign = MINUS if cents < 0 else ("+" if signed and cents > 0 else "")
    dollars, rest = divmod(abs(cents), 100)
    return f"{sign}${dollars:,}.{rest:02d}"


def money_class(cents: int) -> str:
    """CSS class for an amount: negative amounts are muted red, positive ones green."""
    return "money-neg" if cents < 0 else ("money-pos" if cents > 0 else "money-zero")


def dollars(amount: int) -> int:
    """Whole dollars to cents."""
    return amount * 100
