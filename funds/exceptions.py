from rest_framework import status

from backoffice.exceptions import DomainError, InvalidInput


class NotABusinessDay(InvalidInput):
    code = "not_a_business_day"


class StrikeNotDue(DomainError):
    code = "strike_not_due"
    http_status = status.HTTP_409_CONFLICT


class NavStrikeRefused(DomainError):
    """The NAV could not be struck correctly; ``details`` names what was missing."""

    code = "nav_strike_refused"
    http_status = status.HTTP_409_CONFLICT


class PennyStockPurchase(InvalidInput):
    code = "penny_stock_purchase"


class ImpermissibleInvestment(InvalidInput):
    code = "impermissible_investment"


class PriceImportError(InvalidInput):
    code = "price_import_error"
