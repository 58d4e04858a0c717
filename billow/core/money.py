"""Money: currencies (ISO 4217, from Babel's CLDR data) and rounding to minor units.

Kill Bill rounds with HALF_UP to the currency's number of fraction digits
(`KillBillMoney.of`); amounts are `Decimal`, never float.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from babel.numbers import get_currency_precision, list_currencies

# Kill Bill's Currency enum has the ISO codes plus BTC.
_EXTRA = {"BTC": 8}


@lru_cache(maxsize=1)
def currencies() -> frozenset[str]:
    return frozenset(c for c in list_currencies() if len(c) == 3 and c.isupper()) | frozenset(_EXTRA)


def is_currency(code: str) -> bool:
    return code in currencies()


@lru_cache(maxsize=512)
def minor_units(currency: str) -> int:
    if currency in _EXTRA:
        return _EXTRA[currency]
    return int(get_currency_precision(currency))


@lru_cache(maxsize=512)
def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round to the currency's minor units, HALF_UP, as Kill Bill's `KillBillMoney.of`."""
    return amount.quantize(_quantum(currency), rounding=ROUND_HALF_UP)


# Kill Bill's money columns are NUMERIC(15, 9): at most 6 digits before the decimal point
# (`billow.core.db.types.Money`; `billow.core.limits.check_amount` refuses larger amounts).
AMOUNT_PRECISION = 15
AMOUNT_SCALE = 9
