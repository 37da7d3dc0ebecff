"""The Portfolio Composition File of a published basket: a CSV modelled on NSCC's PCF.

Records, one per line, each preceded by its own column-header line so the file reads in a
spreadsheet as three small tables:

- ``H`` header: file type, format version, creation time (UTC), Fund ticker, trade date, basket
  version, the version it supersedes and the correction reason;
- ``F`` fund: ticker, CUSIP, trade date, Creation Unit size, NAV per Creation Unit, estimated Cash
  Amount per Creation Unit, shares outstanding, component count;
- ``D`` one per component: CUSIP, ticker, description, quantity per Creation Unit, weight (percent),
  cash-in-lieu flag (Y/N).

Only public fields: no holdings, no protected set, no engine report. Every text cell is escaped
against spreadsheet formula injection (a leading =, +, -, @, tab or carriage return gets a leading
apostrophe), following OWASP's CSV-injection guidance; numbers are written by us and left as numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from backoffice.csv_safety import safe_text  # noqa: F401  (re-exported for callers)
from baskets.models import SubstituteBasket

PCF_FORMAT_VERSION = "1.0"

HEADER_COLUMNS = ["record_type", "file_type", "format_version", "created_at_utc", "fund_ticker", "trade_date",
                  "basket_version", "supersedes_version", "correction_reason"]
FUND_COLUMNS = ["record_type", "fund_ticker", "fund_cusip", "trade_date", "creation_unit_size", "nav_per_creation_unit",
                "estimated_cash_per_creation_unit", "shares_outstanding", "component_count"]
COMPONENT_COLUMNS = ["record_type", "cusip", "ticker", "description", "quantity_per_creation_unit", "weight_pct", "cash_in_lieu"]



def pcf_filename(basket: SubstituteBasket) -> str:
    suffix = f"_v{basket.version}" if basket.version > 1 else ""
    return f"{basket.fund.ticker}_PCF_{basket.trade_date.isoformat()}{suffix}.csv"


def pcf_rows(basket: SubstituteBasket, components, *, created_at: dt.datetime) -> list[list[str]]:
    fund = basket.fund
    rows = [
        HEADER_COLUMNS,
        ["H", "PCF", PCF_FORMAT_VERSION, created_at.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
         safe_text(fund.ticker), basket.trade_date.isoformat(), str(basket.version),
         str(basket.supersedes.version) if basket.supersedes_id else "", safe_text(basket.correction_reason)],
        FUND_COLUMNS,
        ["F", safe_text(fund.ticker), safe_text(fund.cusip), basket.trade_date.isoformat(), str(basket.creation_unit_size),
         f"{basket.nav_per_creation_unit:.2f}", f"{basket.cash_amount:.2f}", f"{basket.shares_outstanding:.0f}",
         str(basket.component_count)],
        COMPONENT_COLUMNS,
    ]
    for component in components:
        security = component.security
        rows.append([
            "D", safe_text(security.cusip), safe_text(security.ticker), safe_text(security.description), str(component.quantity),
            f"{component.weight_pct:.4f}", "Y" if component.cash_in_lieu else "N",
        ])
    return rows


def pcf_csv(basket: SubstituteBasket, components, *, created_at: dt.datetime) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(pcf_rows(basket, components, created_at=created_at))
    return buffer.getvalue()
