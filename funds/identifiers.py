"""Security identifier checks (CUSIP and ISIN check digits). Pure Python, no Django."""

from __future__ import annotations

import string

_CUSIP_VALUES = {c: i for i, c in enumerate(string.digits + string.ascii_uppercase)}
_CUSIP_VALUES.update({"*": 36, "@": 37, "#": 38})


def cusip_check_digit(base8: str) -> str:
    """Check digit of the first eight CUSIP characters (modulus 10, double-add-double)."""
    if len(base8) != 8 or any(c not in _CUSIP_VALUES for c in base8.upper()):
        raise ValueError(f"CUSIP base must be 8 characters of 0-9, A-Z, *, @, #: {base8!r}")
    total = 0
    for position, char in enumerate(base8.upper(), start=1):
        value = _CUSIP_VALUES[char]
        if position % 2 == 0:
            value *= 2
        total += value // 10 + value % 10
    return str((10 - total % 10) % 10)


def is_valid_cusip(cusip: str) -> bool:
    if not isinstance(cusip, str) or len(cusip) != 9 or not cusip[8].isdigit():
        return False
    try:
        return cusip_check_digit(cusip[:8]) == cusip[8]
    except ValueError:
        return False


def isin_check_digit(base11: str) -> str:
    """Check digit of the first eleven ISIN characters (Luhn over letters expanded to numbers)."""
    if len(base11) != 11 or not base11[:2].isalpha() or not base11.isalnum():
        raise ValueError(f"ISIN base must be a 2-letter country code and 9 alphanumerics: {base11!r}")
    digits = "".join(str(int(c, 36)) for c in base11.upper())
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
        total += value // 10 + value % 10
    return str((10 - total % 10) % 10)


def is_valid_isin(isin: str) -> bool:
    if not isinstance(isin, str) or len(isin) != 12 or not isin[11].isdigit():
        return False
    try:
        return isin_check_digit(isin[:11]) == isin[11]
    except ValueError:
        return False


def synthetic_cusip(prefix: str, serial: int) -> str:
    """A well-formed but made-up CUSIP: prefix, zero-padded serial, check digit (demo, tests, benchmarks).

    Records built with it must say so (``Security.identifiers_synthetic``); never present one as real.
    """
    base = f"{prefix}{serial:0{8 - len(prefix)}d}"
    if len(base) != 8:
        raise ValueError(f"prefix {prefix!r} and serial {serial} do not fit the 8 CUSIP base characters")
    return base + cusip_check_digit(base)


def synthetic_isin(cusip: str, country: str = "US") -> str:
    """The ISIN wrapping a (synthetic) CUSIP: country code, CUSIP, check digit."""
    return country + cusip + isin_check_digit(country + cusip)
