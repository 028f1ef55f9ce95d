"""Symbol normalisation: ``BTCUSDT``, ``BTC/USDT`` and ``btc-usdt`` are one symbol.

Separators (``/ - _`` and spaces) go and letters are upper-cased, except a broker suffix written
in lower case after an upper-case name (MetaTrader's ``BTCUSDc``, ``EURUSDm``): that suffix marks a
different instrument (another account type, other spreads), so ``BTCUSDc`` stays distinct from
``BTCUSDC``. A futures settle part (``BTC/USDT:USDT``) is kept after a colon.

A symbol is used as a storage key, a channel name and a cache key, so the rules are strict: at
most ``MAX_SYMBOL_INPUT`` (40) characters as given (checked before any parsing or caching), and a
canonical form of letters and digits, with single dots between them (``BRK.B``,
``EURUSD.m``; ``":"``, ``"...."`` and ``".X"`` are not symbols), and an optional settle part of
letters and digits.
"""

from __future__ import annotations

import re

from tradewind.domain.errors import InvalidSymbol
from tradewind.domain.excerpt import excerpt

__all__ = ["MAX_SYMBOL_INPUT", "SYMBOL_PATTERN", "normalize_symbol"]

MAX_SYMBOL_INPUT = 40
"""Longest symbol text accepted as given (separators included), so the canonical form is at most 40 too."""

_S = r"[/_\s-]*"
_A = "[A-Za-z0-9]"
SYMBOL_PATTERN = rf"^{_S}{_A}{_S}(?:(?:\.{_S})?{_A}{_S})*(?::{_S}(?:{_A}{_S}){{1,12}})?$"
"""What ``normalize_symbol`` accepts (with at most ``MAX_SYMBOL_INPUT`` characters), as one regular
expression for the OpenAPI document: letters and digits with single dots between them, separators
anywhere, an optional settle part of 1-12 letters and digits after a colon."""

_SEPARATORS = re.compile(r"[/\-_\s]+")
_BROKER_SUFFIX = re.compile(r"([A-Z0-9]*[A-Z][A-Z0-9]*)([a-z][a-z0-9.]*)")
_VALID = re.compile(r"(?=[^:]{1,40}(?::|$))[A-Za-z0-9]+(?:\.[A-Za-z0-9]+)*(?::[A-Za-z0-9]{1,12})?")


def normalize_symbol(text: str, *, field: str = "symbol") -> str:
    """Return the canonical form of a symbol, or raise ``InvalidSymbol`` naming ``field``."""
    if isinstance(text, str):
        known = _normalized.get(text)
        if known is not None:
            return known
    canonical = _normalize(text, field)
    if len(_normalized) < 4096:  # hot path of every request; bounded so odd input cannot grow it
        _normalized[text] = canonical
    return canonical


_normalized: dict[str, str] = {}


def _normalize(text: str, field: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidSymbol("symbol must be a non-empty string", field=field)
    if len(text) > MAX_SYMBOL_INPUT:
        raise InvalidSymbol(
            f"symbol is too long: at most {MAX_SYMBOL_INPUT} characters, got {excerpt(text)}", field=field
        )
    compact = _SEPARATORS.sub("", text.strip())
    if not _VALID.fullmatch(compact):
        raise InvalidSymbol(
            f"invalid symbol {excerpt(text)}: use letters and digits, e.g. BTCUSDT or BTC/USDT", field=field
        )
    base, _, settle = compact.partition(":")
    suffixed = _BROKER_SUFFIX.fullmatch(base)
    base = suffixed.group(1) + suffixed.group(2) if suffixed else base.upper()
    return f"{base}:{settle.upper()}" if settle else base
