"""Money for a person: one format for every card, email, digest and table, and the display currency.

:func:`fmt_money` writes an amount in its currency with the symbol and the currency's fixed decimals
(``$2,203.20``, ``¥1,200 JPY``). :class:`DisplayConfig` (``display:`` in vigil.yaml) names a second
currency shown beside the billing amount (``$2,203.20 (≈ €2,026.94)``), at exchange rates written in the
config.

Why rates in the config and not the exports' own: Microsoft's FOCUS exports carry
``x_BillingExchangeRate`` (with ``x_PricingCurrency`` / ``PricingCurrency``) and MCA exports
``exchangeRatePricingToBilling``, but those convert the *pricing* currency (USD list prices) into the
*billing* currency of the same row; they say nothing about any other currency, EA exports
(``EA_ActualCost_Small.csv``) and AWS FOCUS files carry none, and every amount Vigil shows is already in the
billing currency. So the rate from a billing currency to the display currency is the reader's choice
(a finance team's month rate), written with its date, and a missing one is a config error.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from core.strict import StrictModel

__all__ = ["ISO_4217", "DisplayConfig", "fmt_money"]

# Active ISO 4217 alphabetic codes (the list maintained by SIX for the ISO 4217 maintenance agency).
ISO_4217 = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD
    CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ
    GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR
    LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN
    PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB
    TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
    """.split()  # noqa: SIM905 (a table to read, not a list literal)
)

_SYMBOLS = {
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "¥",
    "CNY": "¥",
    "INR": "₹",
    "AUD": "A$",
    "CAD": "C$",
    "CHF": "CHF ",
    "SEK": "kr ",
    "NOK": "kr ",
    "DKK": "kr ",
    "BRL": "R$",
    "KRW": "₩",
}
_UNAMBIGUOUS = frozenset({"USD", "EUR", "GBP", "INR"})  # the symbol alone says which currency
_ZERO_DECIMALS = frozenset({"JPY", "KRW", "CLP", "ISK", "VND", "XAF", "XOF", "XPF", "PYG", "UGX", "RWF"})


def fmt_money(amount: Any, currency: str) -> str:
    """``$2,203.20`` (symbol, thousands separators, the currency's fixed decimals); the ISO code
    after the figure when the symbol is ambiguous or unknown (``kr 10.00 SEK``, ``12.00 XYZ``)."""
    try:
        value = float(amount)
    except (TypeError, ValueError):
        return str(amount)
    code = (currency or "").strip().upper()
    decimals = 0 if code in _ZERO_DECIMALS else 2
    sign = "-" if value < 0 else ""
    figure = f"{abs(value):,.{decimals}f}"
    symbol = _SYMBOLS.get(code)
    if symbol is None:
        return f"{sign}{figure} {code}".strip()
    if code in _UNAMBIGUOUS:
        return f"{sign}{symbol}{figure}"
    return f"{sign}{symbol}{figure} {code}"


def _code(value: str, what: str) -> str:
    code = value.strip().upper()
    if code not in ISO_4217:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code ({what}, e.g. EUR, GBP, USD)")
    return code


def _rate_code(value: str) -> str:
    return _code(value, "the billing currency a rate converts from")


class DisplayConfig(StrictModel):
    """``display:``: the currency shown beside the billing amount on cards, emails and the digest."""

    currency: str | None = Field(
        default=None, description="ISO 4217 code shown beside the billing amount, e.g. EUR; unset: billing only."
    )
    rates: dict[Annotated[str, AfterValidator(_rate_code)], Annotated[float, Field(gt=0)]] = Field(
        default_factory=dict,
        validate_default=True,
        description="Exchange rates: 1 unit of each billing currency (the key, e.g. USD) in the display currency.",
    )
    rates_date: date | None = Field(default=None, description="The date the rates are for (shown in the digest).")

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str | None) -> str | None:
        return None if v is None else _code(v, "display currency")

    @field_validator("rates")
    @classmethod
    def _rates(cls, v: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        out = {code: float(rate) for code, rate in v.items()}
        currency = info.data.get("currency")
        if currency and not out:
            raise ValueError(
                f"missing: the display currency {currency} needs a rate from each billing currency, "
                f"e.g. rates: {{USD: 0.92}} (1 USD = 0.92 {currency})"
            )
        if "currency" in info.data and not currency and out:
            raise ValueError("rates are given but display.currency is not set")
        return out

    def convert(self, amount: float, currency: str) -> float | None:
        """``amount`` of ``currency`` in the display currency; ``None`` without a rate."""
        code = (currency or "").strip().upper()
        if self.currency is None:
            return None
        if code == self.currency:
            return amount
        rate = self.rates.get(code)
        return None if rate is None else amount * rate

    def beside(self, amount: Any, currency: str) -> str:
        """The display-currency figure written after a billing amount: `` (≈ €2,026.94)``; "" when no display
        currency is set or it is the billing currency; `` (no USD→EUR rate)`` when the rate is missing."""
        code = (currency or "").strip().upper()
        if self.currency is None or not code or code == self.currency:
            return ""
        try:
            value = float(amount)
        except (TypeError, ValueError):
            return ""
        converted = self.convert(value, code)
        if converted is None:
            return f" (no {code}→{self.currency} rate in display.rates)"
        return f" (≈ {fmt_money(converted, self.currency)})"

    def money(self, amount: Any, currency: str) -> str:
        """The billing amount and, beside it, the display-currency figure."""
        return fmt_money(amount, currency) + self.beside(amount, currency)


NO_DISPLAY = DisplayConfig()
