"""Amounts: integers in minor units with a currency. Parsing and showing, never floats."""

from decimal import Decimal, InvalidOperation

from django.conf import settings

# Currencies whose minor unit is not a hundredth (ISO 4217 exponent 0).
ZERO_DECIMAL = frozenset({"jpy", "krw", "vnd", "clp", "isk", "ugx", "xaf", "xof"})


def default_currency() -> str:
    return str(settings.BILLING_CURRENCY).lower()


def exponent(currency: str) -> int:
    return 0 if currency.lower() in ZERO_DECIMAL else 2


def parse(text: str, currency: str) -> int:
    """ "12.34" → 1234 (minor units); ValueError for anything else, or too many decimals."""
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not an amount")
    minor = value.scaleb(exponent(currency))
    if minor != minor.to_integral_value():
        raise ValueError(f"{text!r} has more decimals than {currency.upper()} allows")
    return int(minor)


def show(amount: int, currency: str) -> str:
    """1234, "usd" → "12.34 USD"."""
    places = exponent(currency)
    sign = "-" if amount < 0 else ""
    units = abs(amount)
    if places == 0:
        return f"{sign}{units:,} {currency.upper()}"
    whole, cents = divmod(units, 10**places)
    return f"{sign}{whole:,}.{cents:0{places}d} {currency.upper()}"
