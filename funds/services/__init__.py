"""Writes and workflows of the fund core. Import from here: ``from funds.services import nav_strike``."""

from funds.services.fund_setup import fund_create, fund_update, security_create, security_update
from funds.services.nav import (
    NavStrikeOutcome,
    nav_strike,
    nav_strike_batch,
    nav_strike_request,
    nav_strikes_due,
    strike_instant,
)
from funds.services.portfolio import portfolio_book, shares_outstanding_launch

__all__ = [
    "NavStrikeOutcome",
    "fund_create",
    "fund_update",
    "nav_strike",
    "nav_strike_batch",
    "nav_strike_request",
    "nav_strikes_due",
    "portfolio_book",
    "security_create",
    "security_update",
    "shares_outstanding_launch",
    "strike_instant",
]
