"""Foreign exchange for cross-border payments: a rate table, quotes, and exact conversion of minor units.

A ``RateTable`` holds, for each currency, how many of its major units one major unit of the base
currency buys (``{"USD": 1, "SGD": 1.34, "THB": 35.8}``), as Decimals read from text: never floats.
The price of a pair is the ratio of two rates. Converting rounds half up to the target's minor
unit, once, at the end, so SGD 10.00 at 26.716418 THB/SGD is THB 267.16.

A refund of part of a converted payment gives back the same share of the converted amount
(``share``), and the refund that completes the payment gives back exactly what is left, so refunds
of a cross-border payment always return, in sum, the wallet amount it took.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

from pos_sim.domain.errors import AmountError
from pos_sim.domain.money import Currency, Money, currency

PRICE_PLACES = 8
"""Decimal places of a quoted price (a cross rate is rounded to these before it is used)."""
MAX_SPREAD = Decimal("1e8")
"""The most one rate of a table may be of another (so of the base's 1, too): every cross rate is then
between 1e-8 and 1e8, a price PRICE_PLACES shows and Decimal's 28 digits hold. Real tables span less
than 1e6 (a Kuwaiti dinar is about 90,000 Lebanese pounds)."""

DEMO_RATES: Mapping[str, str] = {
    "USD": "1", "SGD": "1.34", "THB": "35.80", "JPY": "151.20", "MYR": "4.72", "HKD": "7.81", "CNY": "7.24",
    "IDR": "15850", "PHP": "56.40", "KRW": "1385", "EUR": "0.92", "GBP": "0.79", "AUD": "1.52", "MOP": "8.05",
}
"""Round demo rates per US dollar, not market rates: what the simulator quotes until told otherwise."""


@dataclass(frozen=True)
class Quote:
    """The price of ``target`` in ``source``: one major unit of source buys ``price`` major units of target."""

    source: Currency
    target: Currency
    price: Decimal

    @property
    def pair(self) -> str:
        return f"{self.source.code}/{self.target.code}"

    def convert(self, money: Money) -> Money:
        """``money`` (in the source currency) in the target currency, rounded half up to a minor unit."""
        if money.currency != self.source:
            raise AmountError(f"a {self.pair} quote converts {self.source.code}, not {money.currency.code}")
        if self.target == self.source and self.price == 1:  # a payment in the wallet's own currency: nothing to convert
            return money
        major = Decimal(money.minor).scaleb(-self.source.minor_units) * self.price
        minor = major.scaleb(self.target.minor_units).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        return Money.of_minor(int(minor), self.target)


class RateTable:
    """Exchange rates against one base currency; ``quote(source, target)`` prices any pair of them."""

    def __init__(self, base: str, rates: Mapping[str, object]) -> None:
        self.base = currency(base)
        parsed: dict[Currency, Decimal] = {}
        for code, value in rates.items():
            cur = currency(code)
            if isinstance(value, float) or isinstance(value, bool):
                raise AmountError(f"rate of {cur.code}: give it as text or an integer, not {value!r} (floats are inexact)")
            try:
                rate = Decimal(str(value))
            except InvalidOperation:
                raise AmountError(f"rate of {cur.code}: {value!r} is not a number") from None
            if not rate.is_finite() or rate <= 0:
                raise AmountError(f"rate of {cur.code}: {value!r} must be a number above 0")
            parsed[cur] = rate
        if parsed.get(self.base, Decimal(1)) != 1:
            raise AmountError(f"the base currency {self.base.code} must have the rate 1, not {parsed[self.base]}")
        parsed[self.base] = Decimal(1)
        for cur, rate in parsed.items():  # compared, never divided, until known to be in range
            if not 1 / MAX_SPREAD <= rate <= MAX_SPREAD:
                raise AmountError(f"rate of {cur.code}: {rate} is not between 0.00000001 and 100000000 (how many one {self.base.code} buys)")
        low, high = min(parsed.items(), key=lambda item: item[1]), max(parsed.items(), key=lambda item: item[1])
        if high[1] > low[1] * MAX_SPREAD:
            raise AmountError(f"rates of {low[0].code} ({low[1]}) and {high[0].code} ({high[1]}) are more than 100000000 times "
                              f"apart: their cross rate cannot be priced to {PRICE_PLACES} places")
        self.rates = parsed
        self._par = {cur: Quote(cur, cur, Decimal(1)) for cur in parsed}  # a currency's price in itself, made once

    @classmethod
    def demo(cls) -> RateTable:
        return cls("USD", DEMO_RATES)

    def quote(self, source: Currency, target: Currency) -> Quote:
        """The price of ``target`` in ``source``; AmountError naming the currency the table lacks."""
        for cur in (source, target):
            if cur not in self.rates:
                raise AmountError(f"no exchange rate for {cur.code} (rates are known for {', '.join(self.codes())})")
        if source == target:
            return self._par[source]
        with localcontext(prec=28):
            price = (self.rates[target] / self.rates[source]).quantize(Decimal(1).scaleb(-PRICE_PLACES), rounding=ROUND_HALF_UP)
        return Quote(source, target, price.normalize())

    def codes(self) -> list[str]:
        return sorted(cur.code for cur in self.rates)

    def as_json(self) -> dict[str, object]:
        return {"base": self.base.code, "rates": {cur.code: str(rate) for cur, rate in sorted(self.rates.items(), key=lambda i: i[0].code)}}


def share(converted: int, part: int, whole: int, converted_before: int, part_before: int) -> int:
    """The converted minor units that ``part`` of ``whole`` stands for, after ``part_before`` of it
    took ``converted_before``: proportional (half up), and exactly the rest for the part that completes it."""
    if not 0 < part <= whole - part_before:
        raise AmountError(f"{part} is not within the {whole - part_before} left of {whole}")
    if part_before + part == whole:
        return converted - converted_before
    proportional = (Decimal(converted) * part / whole).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return min(int(proportional), converted - converted_before)
