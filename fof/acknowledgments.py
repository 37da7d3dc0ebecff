"""The acknowledgments an FOF Participation Agreement carries (application 812-15070), in one place.

``code -> (version, text)``. An Investing Fund accepts each one separately, naming the version it read;
changing a text means raising its version, so agreements signed on the old text keep what they accepted.
"""

from __future__ import annotations

ACKNOWLEDGMENTS: dict[str, tuple[int, str]] = {
    # Condition B.9.
    "ORDER_TERMS_UNDERSTOOD": (1, (
        "The boards of directors or trustees of the Investing Fund and of the Fund and their investment advisers "
        "(or, for an Investing Trust, its Trustee and Sponsor) understand the terms and conditions of the Order "
        "and agree to fulfill their responsibilities under the Order."
    )),
    # Section V.A and footnote 71 context: the relief covers the Funds only.
    "ORDER_ONLY_FOR_FUNDS": (1, (
        "The Investing Fund may rely on the Order only to invest in the Funds and not in any other investment company."
    )),
    # Footnote 71.
    "SECTION_17E1_COMPENSATION": (1, (
        "The receipt of compensation by (a) an affiliated person of an Investing Fund, or an affiliated person of such "
        "person, for the purchase by the Investing Fund of Shares of a Fund or (b) an affiliated person of a Fund, or an "
        "affiliated person of such person, for the sale by the Fund of its Shares to an Investing Fund, may be prohibited "
        "by Section 17(e)(1) of the 1940 Act."
    )),
    # Section V.B.
    "CREATION_UNIT_PURCHASES_CONSISTENT": (1, (
        "Any purchase of Creation Units directly from a Fund by the Investing Fund will be accomplished in accordance "
        "with the investment restrictions of the Investing Fund and will be consistent with the investment policies set "
        "forth in the Investing Fund's registration statement."
    )),
}

REQUIRED = tuple(ACKNOWLEDGMENTS)


def current_version(code: str) -> int:
    return ACKNOWLEDGMENTS[code][0]


def text(code: str) -> str:
    return ACKNOWLEDGMENTS[code][1]
